"""Who is calling: the principal every guarded handler receives."""

from __future__ import annotations

import schemas
from accelerator.errors import Forbidden
from schemas import Role

__all__ = ["Principal", "Role", "ensure_acts_for"]


class Principal(schemas.Principal, frozen=True):
    """The caller behind an API key (``GET /v1/me`` serves it as ``schemas.Principal``)."""

    def may_act_for_seller(self, seller_id: str) -> bool:
        """Admins act for every seller; a seller key only for its own seller."""
        return self.role is Role.ADMIN or (self.role is Role.SELLER and self.seller_id == seller_id)

    def may_read_seller(self, seller_id: str) -> bool:
        """Admins and the claims engine read every seller; a seller key only its own; a partner
        key none."""
        if self.role is Role.SELLER:
            return self.seller_id == seller_id
        return self.role in (Role.ADMIN, Role.CLAIMS)


def ensure_acts_for(principal: Principal, seller_id: str) -> None:
    """The one rule for seller-scoped work, applied by every service that does it: refuse a
    seller key another seller's resources (403: the seller id is the caller's to know, so there
    is nothing to hide)."""
    if not principal.may_act_for_seller(seller_id):
        raise Forbidden(f"This key may not act for seller {seller_id!r}.")
