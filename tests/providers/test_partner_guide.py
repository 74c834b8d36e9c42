"""docs/partners.md is what a partner integrates from: its field tables, event catalogue and
examples must say what the contract types are, so they are read against the types here."""

from __future__ import annotations

import itertools
import json
import os
import re
import shutil
import subprocess
import textwrap
import time
import typing
from pathlib import Path

import msgspec
import pytest

import providers
import schemas
from schemas import InsurerEvent, Offer, decode_event

GUIDE = (Path(__file__).parents[2] / "docs" / "partners.md").read_text()


def _section(heading: str) -> str:
    start = GUIDE.index(heading + "\n")
    rest = GUIDE[start + len(heading) + 1 :]
    following = re.search(r"^#{2,3} ", rest, re.MULTILINE)
    return rest[: following.start()] if following else rest


def _first_column_names(section: str) -> set[str]:
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    # A cell names one or more members: `premium`, `taxes` or `quote_call(request, …) -> …`.
    return {name for row in rows for name in re.findall(r"`([a-z_]+)[`:(]", row.split(" | ")[0])}


@pytest.mark.parametrize(
    "type_",
    [
        schemas.Money,
        schemas.QuoteRequest,
        schemas.SellerSnapshot,
        schemas.DesiredCover,
        schemas.AdditionalInsured,
        schemas.Offer,
        providers.BindRequest,
        schemas.PolicyTerms,
        providers.ProviderSettings,
        providers.Appetite,
    ],
    ids=lambda t: t.__name__,
)
def test_each_field_table_lists_exactly_the_types_fields(type_: type) -> None:
    heading = f"### `{type_.__name__}`" if type_ is not providers.Appetite else "### Appetite"
    if isinstance(type_, type) and issubclass(type_, msgspec.Struct):
        fields = {f.name for f in msgspec.structs.fields(type_)}
    else:
        fields = set(typing.get_type_hints(type_))
    assert _first_column_names(_section(heading)) == fields


def test_the_protocol_table_lists_every_member_of_the_adapter_protocol() -> None:
    protocol = providers.InsurerAdapter
    members = set(typing.get_type_hints(protocol)) | {
        name for name, value in vars(protocol).items() if callable(value) and name[0] != "_"
    }
    assert _first_column_names(_section("## 2. Writing an adapter")) == members


def test_the_event_catalogue_lists_every_event_type() -> None:
    tags = {event.__struct_config__.tag for event in typing.get_args(InsurerEvent)}
    listed = set(
        re.findall(r"^\| `([a-z_]+\.[a-z_]+)` \|", _section("## 4. The event catalogue"), re.M)
    )
    assert listed == tags


def test_every_json_example_is_a_valid_event_or_offer() -> None:
    blocks = re.findall(r"```json\n(.*?)```", GUIDE, re.DOTALL)
    assert len(blocks) >= 4
    for block in blocks:
        document = json.loads(block)
        if "type" in document:
            decode_event(block.encode())
        else:
            msgspec.convert(document, Offer)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="the example needs openssl")
def test_the_shell_signing_example_makes_a_signature_the_service_accepts(tmp_path: Path) -> None:
    [block] = re.findall(r"```sh\n(  SERVICE=.*?)  ```", GUIDE, re.DOTALL)
    script = textwrap.dedent(block)
    # curl is replaced by a function that writes down what would be sent.
    fake_curl = 'curl() { for a in "$@"; do printf "%s\\n" "$a"; done > "$OUT"; }\n'
    out = tmp_path / "sent"
    subprocess.run(  # noqa: S603 - the guide's own example
        ["bash", "-euc", fake_curl + script],  # noqa: S607
        check=True,
        env={**os.environ, "OUT": str(out)},
    )
    sent = out.read_text().splitlines()
    headers = dict(value.split(": ", 1) for flag, value in itertools.pairwise(sent) if flag == "-H")
    body = sent[sent.index("-d") + 1].encode()
    secret = re.search(r"secret='(whsec_[^']+)'", script)
    assert secret is not None
    providers.verify([secret.group(1)], headers, body, now=int(time.time()))
    assert isinstance(decode_event(body), schemas.PolicyCancelled)
