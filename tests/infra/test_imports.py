"""What a process serving the API loads when it starts: not the libraries of paths most
processes never take (rendering a certificate's PDF, reading an uploaded one, migrating), each
a tenth to a quarter of a second of CPU per process (docs/performance.md, the test suite's
ninth round)."""

from __future__ import annotations

import re
import subprocess
import sys

#: Imported where they are used: the first certificate a process renders or reads, the first
#: migration or readiness probe.
DEFERRED = ("fpdf", "pypdf", "alembic")


def test_importing_the_app_loads_no_pdf_library_and_no_migration_tool() -> None:
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import accelerator.server.app"],
        capture_output=True,
        text=True,
        check=True,
    )
    imported = re.findall(r"^import time:.*\|\s*(\S+)$", done.stderr, re.MULTILINE)
    assert "accelerator.certificates.controller" in imported  # the report is read right
    assert [name for name in imported if name.startswith(DEFERRED)] == []
