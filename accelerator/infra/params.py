"""The path parameters the controllers share, bounded once so every route refuses the same
values the same way (a problem naming the parameter, never a lookup of a 10 MB id)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

#: A seller id: the marketplace's, so a conservative alphabet (it appears in URLs and logs).
SellerId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
#: Ids the service issues (UUIDs) or an insurer's provider id: bounded, otherwise opaque.
PolicyId = Annotated[str, Parameter(min_length=1, max_length=64)]
OfferId = Annotated[str, Parameter(min_length=1, max_length=64)]
RequestId = Annotated[str, Parameter(min_length=1, max_length=64)]
ProviderId = Annotated[str, Parameter(min_length=1, max_length=64)]
