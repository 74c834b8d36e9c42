"""The page number a console list is asked for (``?page=``, from 1)."""

from __future__ import annotations

import re
from typing import Any

from litestar import Request

# A link edited by hand to nonsense shows the first page rather than an error.
_NUMBER = re.compile(r"[1-9][0-9]{0,5}")


def page_number(request: Request[Any, Any, Any]) -> int:
    asked = request.query_params.get("page", "")
    return int(asked) if _NUMBER.fullmatch(asked) else 1
