"""``GET /v1/me``: who the presented key belongs to."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, get

import schemas
from accelerator.auth.guards import requires
from accelerator.auth.principal import Principal, Role


class MeController(Controller):
    path = "/v1/me"
    tags = ["auth"]
    guards = [requires(Role.SELLER, Role.CLAIMS, Role.PARTNER)]

    @get(
        operation_id="getMe",
        summary="The calling principal",
        description=(
            "Returns the role and, for seller keys, the seller the key is bound to; for partner "
            "keys, the insurer (`provider_id`)."
        ),
    )
    async def me(self, request: Request[Principal, Any, Any]) -> schemas.Principal:
        return request.user
