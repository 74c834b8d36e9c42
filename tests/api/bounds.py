"""Table-driven tests of the contract's bounds: a case puts one value at one place of a valid
body, and says whether it passes or which problem it gets (docs/architecture.md, "Input
bounds")."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from httpx import Response

#: The largest amount, and the least above it.
MAX = "1000000000000000"
OVER_MAX = "1000000000000000.0001"
#: Neighbours of the instants' and dates' window.
FIRST_INSTANT, BEFORE_FIRST_INSTANT = "1970-01-01T00:00:00Z", "1969-12-31T23:59:59.999999Z"
LAST_INSTANT, AFTER_LAST_INSTANT = "2200-12-31T23:59:59.999999Z", "2201-01-01T00:00:00Z"
FIRST_DATE, BEFORE_FIRST_DATE = "1970-01-01", "1969-12-31"
LAST_DATE, AFTER_LAST_DATE = "2200-12-31", "2201-01-01"

_STEP = re.compile(r"([^.\[\]]+)|\[(\d+)\]")


@dataclass(frozen=True)
class Case:
    """``value`` at ``path`` (a problem's field syntax: ``monthly_sales[0].gross_sales``);
    ``refused`` is the problem's code (``invalid``: a bound of the type), or None when the body
    must be accepted; ``field`` is where the problem is when that is not ``path``."""

    id: str
    path: str
    value: Any
    refused: str | None = "invalid"
    field: str | None = None

    def applied_to(self, body: dict[str, Any]) -> dict[str, Any]:
        steps: list[str | int] = [
            name if name else int(index) for name, index in _STEP.findall(self.path)
        ]
        parent: Any = body
        for step in steps[:-1]:
            parent = parent[step]
        parent[steps[-1]] = self.value
        return body

    @property
    def expected_field(self) -> str:
        return self.field or self.path


def ids(cases: list[Case]) -> list[str]:
    return [case.id for case in cases]


def problems_of(response: Response) -> list[tuple[str, str]]:
    """(field, code) of every problem a 422 lists."""
    assert response.status_code == 422, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    return [(error["field"], error["code"]) for error in response.json()["errors"]]


def assert_outcome(case: Case, response: Response, accepted: tuple[int, ...]) -> None:
    """The case's outcome: accepted with one of ``accepted``, or a 422 naming its field."""
    if case.refused is None:
        assert response.status_code in accepted, response.text
    else:
        assert (case.expected_field, case.refused) in problems_of(response), response.text
