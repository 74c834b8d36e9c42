"""Serve the bench app the way ``accelerator serve`` serves the service, pinned to some cores.

``python -m bench.serve --port 8100 --cpus 0 [--workers 2]``: uvicorn, uvloop and httptools, no
access log; settings from the ``ACCELERATOR_*`` environment. The database must be migrated.
With ``--workers 2`` uvicorn forks two worker processes that share the port, and their metrics
go to a multiprocess directory, as ``accelerator serve --workers 2`` does.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import signal

import uvicorn

from accelerator.infra.metrics import prepare_multiprocess_dir, remove_multiprocess_dir
from accelerator.settings import load_settings


def _exit_on_sigterm(signum: int, _frame: object) -> None:
    # As in ``accelerator serve``: unwinds the stack, so the metrics directory is removed.
    raise SystemExit(128 + signum)


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpus", default="", help="comma-separated cores to run on")
    parser.add_argument("--workers", type=int, default=1, help="uvicorn worker processes")
    parser.add_argument(
        "--app", default="bench.app:create_bench_app", help="the app factory to serve"
    )
    args = parser.parse_args()
    if args.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    with contextlib.ExitStack() as stack:
        if args.workers > 1 and load_settings().metrics_enabled:
            if (metrics_dir := prepare_multiprocess_dir()) is not None:
                stack.callback(remove_multiprocess_dir, metrics_dir)
            signal.signal(signal.SIGTERM, _exit_on_sigterm)
        uvicorn.run(
            args.app,
            factory=True,
            host=args.host,
            port=args.port,
            workers=args.workers,
            loop="uvloop",
            http="httptools",
            log_config=None,
            access_log=False,
        )


if __name__ == "__main__":
    main()
