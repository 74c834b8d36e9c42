"""The body examples the OpenAPI document shows are bodies the service accepts or serves."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import msgspec
import pytest

import accelerator.server
import schemas

EXAMPLES = sorted((Path(accelerator.server.__file__).parent / "examples").glob("*.json"))


def test_there_is_an_example_of_every_request_body() -> None:
    names = {path.stem for path in EXAMPLES}
    assert names >= {
        "SellerFacts",
        "QuoteRequestBody",
        "BindBody",
        "CoverageCheckRequest",
        "CoverageBatchBody",
        "CertificateSubmission",
        "ReviewBody",
        "RecordCancellation",
        "PolicyLinkBody",
        "ReprocessRange",
    }


def within(example: Any, encoded: Any) -> bool:
    """Every field of ``example`` is in ``encoded`` with the same value (``encoded`` may add
    the defaults an example leaves out)."""
    if isinstance(example, dict):
        return isinstance(encoded, dict) and all(
            key in encoded and within(value, encoded[key]) for key, value in example.items()
        )
    if isinstance(example, list):
        return (
            isinstance(encoded, list)
            and len(example) == len(encoded)
            and all(within(a, b) for a, b in zip(example, encoded, strict=True))
        )
    return bool(example == encoded)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda path: path.stem)
def test_each_example_decodes_to_its_type_and_back_unchanged(path: Path) -> None:
    # Strict decoding checks every constraint (and refuses unknown fields where the type does);
    # encoded again, every field of the example must be there unchanged, so none is unknown,
    # misspelled or in a form the service would not serve.
    # An operation's own example of a shared type is named <Type>.<case>.json.
    kind: Any = getattr(schemas, path.stem.split(".")[0])
    value = msgspec.json.decode(path.read_bytes(), type=kind)
    assert within(json.loads(path.read_text()), json.loads(msgspec.json.encode(value)))


def test_an_example_with_an_unknown_field_is_caught() -> None:
    example = json.loads((EXAMPLES[0].parent / "Health.json").read_text())
    value = msgspec.convert({**example, "colour": "blue"}, schemas.Health)
    assert not within({**example, "colour": "blue"}, msgspec.to_builtins(value))
