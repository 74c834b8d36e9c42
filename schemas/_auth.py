"""Who is calling: the roles API keys carry and ``GET /v1/me``."""

import enum

import msgspec


# What a key may do: admin everything, seller act for one seller, claims check coverage,
# partner read one insurer's own webhook deliveries and quote calls.
# (No docstring: OpenAPI would publish it as the enum's description, a contract change.)
class Role(enum.StrEnum):
    ADMIN = "admin"
    SELLER = "seller"
    CLAIMS = "claims"
    PARTNER = "partner"


class Principal(msgspec.Struct, frozen=True):
    """The caller behind an API key (``GET /v1/me``); ``seller_id`` is set for seller keys,
    ``provider_id`` (the insurer's configured id) for partner keys."""

    key_id: str
    role: Role
    seller_id: str | None = None
    name: str = ""
    provider_id: str | None = None


__all__ = ["Principal", "Role"]
