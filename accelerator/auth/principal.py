"""Who is calling: the principal every guarded handler receives."""

from __future__ import annotations

import enum

import msgspec


class Role(enum.StrEnum):
    ADMIN = "admin"
    SELLER = "seller"
    CLAIMS = "claims"


class Principal(msgspec.Struct, frozen=True):
    """The caller behind an API key."""

    key_id: str
    role: Role
    seller_id: str | None = None
    name: str = ""

    def may_act_for_seller(self, seller_id: str) -> bool:
        """Admins act for every seller; a seller key only for its own seller."""
        return self.role is Role.ADMIN or (self.role is Role.SELLER and self.seller_id == seller_id)
