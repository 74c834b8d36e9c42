"""``GET /health/live`` and ``GET /health/ready``: whether the service can serve."""

import msgspec


class Health(msgspec.Struct, omit_defaults=True):
    """``status`` is ``ok`` or ``unavailable``; readiness adds whether the database is
    ``reachable``, the schema's ``migration``, and the ``reason`` it is not ready."""

    status: str
    database: str | None = None
    migration: str | None = None
    reason: str | None = None


__all__ = ["Health"]
