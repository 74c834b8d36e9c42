"""Logging set-up and the request id that ties a response to its log lines.

Nothing logged blocks the event loop on the terminal or a full pipe: records are put on a queue
where they are logged (with the request id, and the trace and span ids when tracing, read there
from the context) and written by a thread of their own (:class:`LogWriter`). The writer is
drained when the app stops and at exit, so no line is lost; after that, lines are written where
they are logged.
"""

from __future__ import annotations

import atexit
import contextlib
import contextvars
import copy
import json
import logging
import os
import queue
import random
import sys
import threading
from datetime import UTC, datetime
from logging.handlers import QueueHandler, QueueListener
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from litestar.types import ASGIApp, Message, Receive, Scope, Send

REQUEST_ID_HEADER = "x-request-id"
request_id_var: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "request_id", default=None
)

#: The loggers routed through the writer (ours and uvicorn's).
LOGGERS = ("accelerator", "providers", "uvicorn", "uvicorn.access", "uvicorn.error")


class _ContextFilter(logging.Filter):
    """Stamps what only the context of the code that logs knows (the writer thread has its
    own): the request id, and the current span's trace and span ids."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = request_id_var.get() or "-"
        # Never imported for the logs' sake: a process without OpenTelemetry loaded skips this,
        # and with tracing off the current span is the invalid one, so nothing is added.
        otel = sys.modules.get("opentelemetry.trace")
        if otel is not None:
            context = otel.get_current_span().get_span_context()
            if context.is_valid:
                record.trace_id = format(context.trace_id, "032x")
                record.span_id = format(context.span_id, "016x")
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object per line, for log shippers."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", "-"),
        }
        trace_id = getattr(record, "trace_id", None)
        if trace_id is not None:
            entry["trace_id"] = trace_id
            entry["span_id"] = getattr(record, "span_id", None)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:  # formatted where it was logged (LogWriter)
            entry["exception"] = record.exc_text
        return json.dumps(entry)


class _Enqueue(QueueHandler):
    """Puts records on the writer's queue while it runs, writes them itself once it stopped."""

    def __init__(self, writer: LogWriter) -> None:
        super().__init__(writer.queue)
        self._writer = writer

    def prepare(self, record: logging.LogRecord) -> logging.LogRecord:
        # Done where the record is logged, as QueueHandler does, but leaving the formatting to
        # the writer: only the message's arguments (which may change once we return) and a
        # traceback (whose frames must not be kept) are turned into text here.
        prepared = copy.copy(record)
        prepared.msg = record.getMessage()
        prepared.args = None
        if record.exc_info:
            prepared.exc_text = record.exc_text or _EXCEPTIONS.formatException(record.exc_info)
            prepared.exc_info = None
        return prepared

    def emit(self, record: logging.LogRecord) -> None:
        with self._writer.lock:
            if self._writer.running:
                super().emit(record)
                return
        self._writer.target.handle(record)


_EXCEPTIONS = logging.Formatter()


class LogWriter:
    """The thread that writes the log: started by :func:`configure_logging`, drained and
    stopped by :meth:`flush` (the app's shutdown) and at exit."""

    def __init__(self, target: logging.Handler) -> None:
        self.target = target
        self.queue: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self.lock = threading.Lock()
        self.running = False
        self.handler = _Enqueue(self)
        self.handler.addFilter(_ContextFilter())
        self._listener = QueueListener(self.queue, target)

    def start(self) -> None:
        with self.lock:
            if not self.running:
                self._listener.start()
                self.running = True

    def flush(self) -> None:
        """Write every line logged so far and stop the thread; lines logged later are written
        where they are logged."""
        with self.lock:
            if self.running:
                self.running = False
                self._listener.stop()  # writes what is queued, then ends the thread
        with contextlib.suppress(ValueError, OSError):  # a stream already closed at exit
            self.target.flush()


_current: LogWriter | None = None


def configure_logging(
    level: str = "INFO", *, json_logs: bool = False, stream: IO[str] | None = None
) -> LogWriter:
    """Route our loggers and uvicorn's through one queue to a writer thread; each line carries
    the request id (and in JSON, the trace and span ids when tracing). ``stream``: stderr."""
    global _current
    if _current is not None:
        _current.flush()  # the lines of the previous set-up come first, all of them
    target = logging.StreamHandler(stream if stream is not None else sys.stderr)
    target.setFormatter(
        JsonFormatter()
        if json_logs
        else logging.Formatter("%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s")
    )
    writer = LogWriter(target)
    writer.start()
    for name in LOGGERS:
        log = logging.getLogger(name)
        log.handlers[:] = [writer.handler]
        log.setLevel(level)
        log.propagate = False
    _current = writer
    return writer


@atexit.register
def _flush_at_exit() -> None:
    if _current is not None:
        _current.flush()


# Request ids name a request in the logs; they guard nothing (a caller may send its own), so
# they come from a generator seeded once per process from the system's randomness rather than
# from os.urandom per request: that system call let go of the GIL on every request, and taking
# it back waited on the SQLite driver's threads (9% of a served batch's samples, docs/
# performance.md). Reseeded in a forked child, so that two workers never share a sequence.
_ids = random.Random()  # noqa: S311 - not a secret (above)
os.register_at_fork(after_in_child=_ids.seed)


def new_request_id() -> str:
    """16 hex digits, as ``secrets.token_hex(8)`` gave."""
    return f"{_ids.getrandbits(64):016x}"


def request_id_middleware(app: ASGIApp) -> ASGIApp:
    """Take the caller's ``X-Request-ID`` (if sane) or make one; echo it on the response."""
    # Litestar is imported here, as the app is built, not with the module: the processes that
    # only log (`accelerator sandbox`, `worker`) would load it for nothing (docs/performance.md).
    from litestar.datastructures import MutableScopeHeaders
    from litestar.enums import ScopeType

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        incoming = next(
            (v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), ""
        )
        request_id = (
            incoming if 0 < len(incoming) <= 64 and incoming.isprintable() else new_request_id()
        )
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)

        async def send_with_id(message: Message) -> None:
            if message["type"] == "http.response.start":
                MutableScopeHeaders.from_message(message)[REQUEST_ID_HEADER] = request_id
            await send(message)

        try:
            await app(scope, receive, send_with_id)
        finally:
            request_id_var.reset(token)

    return middleware
