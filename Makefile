# Two commands from a fresh clone: `make run` and `make test`. Each sets itself up first:
# a private uv (pinned) builds .venv from uv.lock, so the machine needs only Python 3.11+ and make.
PYTHON ?= python3
UV_VERSION := 0.13.9
UV := .tools/bin/uv
VENV := .venv
export UV_PYTHON_DOWNLOADS := never

.PHONY: install run test lint help bench

help:  ## list the targets
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

$(UV):
	$(PYTHON) -m venv .tools
	.tools/bin/pip install --quiet uv==$(UV_VERSION)

# --compile-bytecode: uv leaves the dependencies' bytecode to their first import, and where
# bytecode is not written (PYTHONDONTWRITEBYTECODE, a read-only tree) every command compiled
# SQLAlchemy & co. again, seconds before `accelerator keys create` could answer.
$(VENV)/.synced: $(UV) pyproject.toml uv.lock
	$(UV) sync --locked --compile-bytecode --python $(PYTHON)
	@touch $@

install: $(VENV)/.synced  ## create .venv with the locked dependencies

# PORT: the API's port; SANDBOX_PORT: the sandbox insurers' (else ACCELERATOR_SANDBOX_PORT, 8765).
PORT ?= 8000
run: install  ## start the service on the embedded SQLite database, with the sandbox insurers (PORT=8000, SANDBOX_PORT=8765)
	$(if $(SANDBOX_PORT),ACCELERATOR_SANDBOX_PORT=$(SANDBOX_PORT) )$(VENV)/bin/accelerator serve --port $(PORT)

# pytest-xdist workers (TEST_WORKERS), each with its own PostgreSQL database; a module
# stays on one worker, so its module-scoped service and browser start once (each drill test is a
# unit of its own). Modules go out longest first (a measured list in tests/conftest.py, the
# drills among them), not xdist's biggest-module-first, which left the one-test drills, the
# longest tests, for the end.
#
# PYTHONDONTWRITEBYTECODE is cleared for the run: where it is set (as in many containers), each
# of the suite's Python processes (the controller, the workers, and the servers, workers and
# schemathesis the drills start) compiled the project's modules again and pytest rewrote every
# test module again, about 3 s of CPU per pytest process. The bytecode goes to the
# (git-ignored) __pycache__ directories; a read-only tree only loses the saving.
#
# One worker more than the cores: the drills and browser journeys spend much of their time
# waiting on the processes they start and on quote deadlines, and a third worker on 2 cores
# fills those waits (alternated on a quiet 2-core machine: 3:45 and 3:29 against 4:00 with two).
TEST_WORKERS ?= $(shell $(PYTHON) -c 'import os; print((os.cpu_count() or 1) + 1)')
test: install  ## run the whole test suite (SQLite and PostgreSQL), one worker per core and one more
	scripts/ensure-chromium  # Debian's Chromium for the browser tests (apt, first run only)
	PYTHONDONTWRITEBYTECODE= $(VENV)/bin/pytest -n $(TEST_WORKERS) --dist loadscope --no-loadscope-reorder

# QUICK=1: short measurements, a 100,000-policy registry; BENCH_ARGS: more options of
# `python -m bench run` (see `.venv/bin/python -m bench run --help` and docs/performance.md).
bench: install  ## benchmarks with ratios against baselines -> bench/results/ (QUICK=1, BENCH_ARGS=...)
	$(VENV)/bin/python -m bench run $(if $(QUICK),--quick) $(BENCH_ARGS)

lint: install  ## ruff (lint + format check) and mypy --strict
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy
