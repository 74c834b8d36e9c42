"""The path parameters the controllers share, bounded once so every route refuses the same
values the same way (a problem naming the parameter, never a lookup of a 10 MB id)."""

from __future__ import annotations

from typing import Annotated

from litestar.params import Parameter

from schemas import ONE_LINE_PATTERN

#: A seller id: the marketplace's, so a conservative alphabet (it appears in URLs and logs).
SellerId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")]
#: A seller id as an optional query filter: ``str | None`` inside the annotation, so that the
#: constraints hold (outside it, Litestar documents them without enforcing them).
SellerIdFilter = Annotated[
    str | None, Parameter(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._:-]+$")
]
#: Ids the service issues (UUIDs): bounded, otherwise opaque but for control characters (a NUL
#: would reach PostgreSQL's lookup and fail there, where SQLite finds nothing).
PolicyId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=ONE_LINE_PATTERN)]
OfferId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=ONE_LINE_PATTERN)]
ReceiptId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=ONE_LINE_PATTERN)]
RequestId = Annotated[str, Parameter(min_length=1, max_length=64, pattern=ONE_LINE_PATTERN)]
#: Where a page of a list starts: bounded, since a huge offset failed in the database driver (a
#: 500 that the schemathesis drill found).
PageOffset = Annotated[int, Parameter(ge=0, le=2**31 - 1)]
#: An insurer's provider id: bounded; looked up among the configured insurers, never in the
#: database, so the webhook receive path pays for no pattern.
ProviderId = Annotated[str, Parameter(min_length=1, max_length=64)]
