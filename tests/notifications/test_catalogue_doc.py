"""docs/notifications.md cannot drift from the code: every event example in it decodes to its
type, and every type of the catalogue has one."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import msgspec

from schemas import NotificationType, decode_notification, notification_type

DOC = Path(__file__).parents[2] / "docs" / "notifications.md"


def examples() -> list[str]:
    return re.findall(r"```json\n(.*?)```", DOC.read_text(), flags=re.DOTALL)


def within(example: Any, encoded: Any) -> bool:
    """Every field of ``example`` is in ``encoded`` with the same value (``encoded`` may add the
    defaults an example leaves out)."""
    if isinstance(example, dict):
        return isinstance(encoded, dict) and all(
            key in encoded and within(value, encoded[key]) for key, value in example.items()
        )
    return bool(example == encoded)


def test_every_event_example_in_the_guide_decodes_to_its_type_and_back() -> None:
    found = examples()
    assert len(found) >= len(NotificationType)
    for text in found:
        event = decode_notification(text)  # refuses an unknown type or a field of the wrong shape
        assert within(msgspec.json.decode(text), msgspec.to_builtins(event)), text


def test_every_type_of_the_catalogue_has_an_example_in_the_guide() -> None:
    documented = {notification_type(decode_notification(text)) for text in examples()}
    assert documented == set(NotificationType)
