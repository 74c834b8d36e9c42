"""Who is calling: the principal every guarded handler receives."""

from __future__ import annotations

import schemas
from schemas import Role

__all__ = ["Principal", "Role"]


class Principal(schemas.Principal, frozen=True):
    """The caller behind an API key (``GET /v1/me`` serves it as ``schemas.Principal``)."""

    def may_act_for_seller(self, seller_id: str) -> bool:
        """Admins act for every seller; a seller key only for its own seller."""
        return self.role is Role.ADMIN or (self.role is Role.SELLER and self.seller_id == seller_id)
