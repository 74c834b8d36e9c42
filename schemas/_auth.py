"""Who is calling: the roles API keys carry and ``GET /v1/me``."""

import enum

import msgspec


# What a key may do: admin everything, seller act for one seller, claims check coverage.
# (No docstring: OpenAPI would publish it as the enum's description, a contract change.)
class Role(enum.StrEnum):
    ADMIN = "admin"
    SELLER = "seller"
    CLAIMS = "claims"


class Principal(msgspec.Struct, frozen=True):
    """The caller behind an API key (``GET /v1/me``); ``seller_id`` is set for seller keys."""

    key_id: str
    role: Role
    seller_id: str | None = None
    name: str = ""


__all__ = ["Principal", "Role"]
