"""Plugin paths: adapters installed outside the service's own environment.

A partner's adapter package installed into ``.venv`` is removed by the next ``uv sync`` (which
makes the environment exactly the lock file). Installed instead into a directory of its own
(``uv pip install --target DIR ./my-adapter``) and named in the ``plugin_paths`` setting, it
stays: this module puts those directories on ``sys.path`` so that their ``*.dist-info`` entry
points join the ``accelerator.providers`` group that ``providers.available_adapters()`` reads.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from pathlib import Path

from accelerator.settings import invalid_setting

__all__ = ["use_plugin_paths"]


def use_plugin_paths(paths: Sequence[str]) -> list[str]:
    """Make the plugin distributions in ``paths`` importable and their entry points visible.

    Each directory is appended to ``sys.path`` once (after the service's own environment, so a
    plugin directory cannot shadow the service's packages). Call it before adapters are looked
    up; it is idempotent. Returns the absolute directories. Raises SettingsError, one line naming
    ``plugin_paths``, for a path that is not a directory.
    """
    resolved: list[str] = []
    for raw in paths:
        directory = Path(raw).expanduser()
        if not directory.is_dir():
            problem = "not a directory" if directory.exists() else "no such directory"
            raise invalid_setting("plugin_paths", f"{raw}: {problem}")
        resolved.append(str(directory.resolve()))
    added = [entry for entry in resolved if entry not in sys.path]
    if added:
        sys.path.extend(added)
        # Finders cache what they saw of sys.path; a directory new to it must be looked at.
        importlib.invalidate_caches()
    return resolved
