"""Identifiers in console URLs, checked before any query: an address edited into something no
id can be (a NUL byte, which PostgreSQL refuses outright) is a page not found, never a 500."""

from __future__ import annotations

import re
from typing import Final

from litestar.exceptions import NotFoundException

# Every id the console puts in a URL: provider ids, key and policy UUIDs, endpoint ids.
_ID: Final = re.compile(r"[A-Za-z0-9._:-]{1,64}")
# Free text operators type (reasons): no control characters but tab, line feed, carriage return.
CONTROL: Final = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def checked_id(value: str) -> str:
    if not _ID.fullmatch(value):
        raise NotFoundException()
    return value


def checked_number(value: int) -> int:
    """A row number in a URL, within the columns' range (a larger one overflows the driver)."""
    if not 1 <= value <= 2**31 - 1:
        raise NotFoundException()
    return value
