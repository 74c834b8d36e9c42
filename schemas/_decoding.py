"""Markers for values the service decodes itself, after the body around them."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class DecodedAs:
    """``Annotated`` metadata for a value that travels undecoded in its body and that the
    handler decodes as ``type`` on its own, so that one bad item fails alone (a batch answers
    each item's errors in place instead of refusing the whole body). msgspec ignores it; the
    OpenAPI document shows the value as ``type``."""

    type: Any


__all__ = ["DecodedAs"]
