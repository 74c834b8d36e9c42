"""Serve the bench app the way ``accelerator serve`` serves the service, pinned to some cores.

``python -m bench.serve --port 8100 --cpus 0``: uvicorn, one worker, uvloop and httptools, no
access log; settings from the ``ACCELERATOR_*`` environment. The database must be migrated.
"""

from __future__ import annotations

import argparse
import os

import uvicorn


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.serve", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--cpus", default="", help="comma-separated cores to run on")
    parser.add_argument(
        "--app", default="bench.app:create_bench_app", help="the app factory to serve"
    )
    args = parser.parse_args()
    if args.cpus and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {int(c) for c in args.cpus.split(",")})
    uvicorn.run(
        args.app,
        factory=True,
        host=args.host,
        port=args.port,
        workers=1,
        loop="uvloop",
        http="httptools",
        log_config=None,
        access_log=False,
    )


if __name__ == "__main__":
    main()
