"""The suite's own schedule (tests/conftest.py): the modules handed out first must exist, or a
renamed long module silently drops to the end of the run, where it decides the wall time."""

from __future__ import annotations

from tests.conftest import _LONGEST_MODULES, _TESTS


def test_every_module_of_the_longest_first_list_exists_once() -> None:
    missing = [name for name in _LONGEST_MODULES if not (_TESTS / name).is_file()]
    assert not missing, f"not in tests/: {missing}"
    assert len(set(_LONGEST_MODULES)) == len(_LONGEST_MODULES), "a module listed twice"
