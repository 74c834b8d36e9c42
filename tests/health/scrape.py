"""Reading ``/metrics`` in tests: every sample by its name and labels."""

from __future__ import annotations

from litestar import Litestar
from litestar.testing import AsyncTestClient
from prometheus_client.parser import text_string_to_metric_families

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def parse(text: str) -> Samples:
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def scrape(client: AsyncTestClient[Litestar]) -> Samples:
    response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("text/plain")
    return parse(response.text)


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sample's value, 0 when it has none yet (a counter not moved in this process)."""
    return samples.get((name, frozenset(labels.items())), 0.0)


def with_label(samples: Samples, name: str, label: str) -> set[str]:
    """Every value ``label`` takes among the samples of ``name``."""
    return {
        dict(labels)[label] for (each, labels) in samples if each == name and label in dict(labels)
    }
