"""Logging never blocks the event loop: lines go through a queue to a writer thread, every one
arrives, in order, including the last ones before the process exits; JSON lines carry the
request id and, inside a trace, the trace and span ids."""

from __future__ import annotations

import io
import json
import logging
import os
import subprocess
import sys
import textwrap
import threading
from collections.abc import Iterator

import pytest
from opentelemetry.sdk.trace import TracerProvider

from accelerator.infra.logging import (
    LogWriter,
    configure_logging,
    new_request_id,
    request_id_var,
)
from accelerator.infra.spans import OtelTracing

log = logging.getLogger("accelerator.test")


class GatedStream(io.StringIO):
    """A stream whose writes wait until it is opened: a terminal or pipe nobody reads."""

    def __init__(self) -> None:
        super().__init__()
        self.open = threading.Event()

    def write(self, text: str) -> int:
        self.open.wait(timeout=60)
        return super().write(text)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Each test configures logging its own way; the next one starts from the default."""
    yield
    configure_logging("INFO")


def _writer(stream: io.StringIO, *, json_logs: bool = False) -> LogWriter:
    return configure_logging("INFO", json_logs=json_logs, stream=stream)


@pytest.mark.usefixtures("restore_logging")
def test_a_burst_of_lines_all_arrive_in_order() -> None:
    stream = io.StringIO()
    writer = _writer(stream)
    for number in range(5000):
        log.info("line %d", number)
    writer.flush()
    lines = stream.getvalue().splitlines()
    assert [line.rsplit(" ", 1)[1] for line in lines] == [str(n) for n in range(5000)]


@pytest.mark.usefixtures("restore_logging")
def test_logging_returns_while_the_stream_cannot_be_written() -> None:
    stream = GatedStream()
    writer = _writer(stream)
    for number in range(100):
        log.info("waiting %d", number)
    # Every call above returned although nothing could be written yet.
    assert stream.getvalue() == ""
    stream.open.set()
    writer.flush()
    assert len(stream.getvalue().splitlines()) == 100


@pytest.mark.usefixtures("restore_logging")
def test_lines_logged_after_the_writer_stopped_are_still_written_in_order() -> None:
    stream = io.StringIO()
    writer = _writer(stream)
    log.info("before the app stopped")
    writer.flush()  # what the app's shutdown does
    log.info("after the app stopped")
    assert [line.rsplit(": ", 1)[1] for line in stream.getvalue().splitlines()] == [
        "before the app stopped",
        "after the app stopped",
    ]


def test_the_last_lines_before_exit_are_written() -> None:
    """In a process of its own, which logs and exits without stopping anything itself."""
    script = textwrap.dedent(
        """
        import logging
        from accelerator.infra.logging import configure_logging

        configure_logging("INFO")
        log = logging.getLogger("accelerator.exiting")
        for number in range(2000):
            log.info("line %d", number)
        log.warning("the very last line")
        """
    )
    done = subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", script],
        env={k: v for k, v in os.environ.items() if not k.startswith("OTEL_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    lines = done.stderr.splitlines()
    assert len(lines) == 2001
    assert lines[-2].endswith("line 1999")
    assert lines[-1].endswith("the very last line")


@pytest.mark.usefixtures("restore_logging")
def test_json_lines_carry_the_request_id_and_inside_a_trace_its_ids() -> None:
    stream = io.StringIO()
    writer = _writer(stream, json_logs=True)
    provider = TracerProvider()
    tracing = OtelTracing(provider)
    token = request_id_var.set("req-42")
    try:
        log.info("outside any span")
        with tracing.span("request") as span:
            log.info("inside a span")
            context = span.get_span_context()
        try:
            raise ValueError("broken")
        except ValueError:
            log.exception("it failed")
    finally:
        request_id_var.reset(token)
        provider.shutdown()
    log.info("no request")
    writer.flush()
    outside, inside, failed, none = (json.loads(line) for line in stream.getvalue().splitlines())
    assert outside["request_id"] == "req-42"
    assert "trace_id" not in outside
    assert inside["request_id"] == "req-42"
    assert inside["trace_id"] == format(context.trace_id, "032x")
    assert inside["span_id"] == format(context.span_id, "016x")
    assert inside["message"] == "inside a span"
    assert inside["level"] == "INFO"
    assert inside["logger"] == "accelerator.test"
    assert failed["message"] == "it failed"
    assert "ValueError: broken" in failed["exception"]
    assert none["request_id"] == "-"


@pytest.mark.usefixtures("restore_logging")
def test_the_message_is_what_its_arguments_were_when_logged() -> None:
    stream = io.StringIO()
    writer = _writer(stream)
    changing = ["first"]
    log.info("value %s", changing)
    changing[0] = "changed"
    writer.flush()
    assert stream.getvalue().rstrip().endswith("value ['first']")


@pytest.mark.usefixtures("restore_logging")
def test_configuring_again_writes_the_earlier_lines_first() -> None:
    first, second = io.StringIO(), io.StringIO()
    _writer(first)
    log.info("to the first")
    writer = _writer(second)
    log.info("to the second")
    writer.flush()
    assert first.getvalue().rstrip().endswith("to the first")
    assert second.getvalue().rstrip().endswith("to the second")


def test_a_forked_worker_makes_request_ids_of_its_own() -> None:
    # Without a fresh seed the child would go on with the parent's sequence, so its first id
    # would be the parent's next one.
    read, write = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.write(write, new_request_id().encode())
        os._exit(0)
    os.close(write)
    child = os.read(read, 64).decode()
    os.close(read)
    os.waitpid(pid, 0)
    parent = new_request_id()
    assert len(child) == len(parent) == 16
    assert child != parent
    assert all(c in "0123456789abcdef" for c in child + parent)
