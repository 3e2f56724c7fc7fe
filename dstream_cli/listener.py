"""Spark's ``StreamingListener``: the run's events, for ``StreamingContext.add_streaming_listener``.

The live view and ``--metrics`` are listeners too. A listener overrides the methods it needs; each is
called with one info object, one event at a time (receivers' events come from their threads), so it
should be quick. A listener that raises is reported once on stderr and not called again; the run goes
on (Spark logs it and goes on too).
"""
from __future__ import annotations

import dataclasses
import sys
import threading


@dataclasses.dataclass
class BatchInfo:
    """One batch's figures (Spark's ``BatchInfo``): what --metrics writes, the live view shows and the rate
    estimator reads."""

    batch_time: int
    records_in: int
    processing_ms: int
    scheduling_delay_ms: int
    total_delay_ms: int
    backlog: int | None  # None where the engine does not report it (Spark)
    skipped: int
    keys_in_state: int | None
    rate_limit: float | None = None
    late: int = 0  # --event-time: records that came after their batch was computed
    # inputs read from files of known size: bytes given to batches so far, and their size (None: no such input)
    read_bytes: int | None = None
    total_bytes: int | None = None
    inputs: dict | None = None  # by input name: {"records": this batch's, "backlog": waiting after it}
    # on the run's clock: when the batch was submitted, and when its processing started and ended (None: not yet)
    submission_ms: int | None = None
    processing_start_ms: int | None = None
    processing_end_ms: int | None = None
    watermark_ms: int | None = None  # --event-time: the lowest input watermark

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclasses.dataclass
class OutputOperationInfo:
    """One output's job for one batch: ``end_ms`` and ``failure`` are set when it completes."""

    batch_time: int
    id: int  # the output's index in the graph, in the order the outputs were declared
    name: str
    start_ms: int | None  # None: not started yet
    end_ms: int | None = None
    failure: str | None = None

    @property
    def duration_ms(self) -> int | None:
        return None if self.end_ms is None else self.end_ms - self.start_ms


@dataclasses.dataclass
class ReceiverInfo:
    """An input's receiver: *active* while it runs; *last_error* the message of its latest failure."""

    stream_id: int
    name: str
    active: bool
    last_error: str | None = None


class StreamingListener:
    """Override any of these; the defaults do nothing."""

    def on_streaming_started(self, time_ms: int) -> None:
        """The run began; *time_ms* is its first batch time minus one interval (its zero time)."""

    def on_batch_submitted(self, info: BatchInfo) -> None:
        """Batch *info.batch_time* has its records (``records_in``); its figures are not known yet."""

    def on_batch_started(self, info: BatchInfo) -> None:
        """Its output jobs start."""

    def on_batch_completed(self, info: BatchInfo) -> None:
        """Its outputs are written, with all its figures."""

    def on_output_operation_started(self, info: OutputOperationInfo) -> None:
        pass

    def on_output_operation_completed(self, info: OutputOperationInfo) -> None:
        pass

    def on_receiver_started(self, info: ReceiverInfo) -> None:
        pass

    def on_receiver_error(self, info: ReceiverInfo) -> None:
        pass

    def on_receiver_stopped(self, info: ReceiverInfo) -> None:
        pass

    def close(self) -> None:
        """The run ended (not a Spark event: where the live view and --metrics release what they hold)."""


class ListenerBus:
    """The listeners of one run, and the one way events reach them."""

    def __init__(self, listeners: list, stderr=None) -> None:
        self.listeners: list = []
        self.stderr = stderr or sys.stderr
        self._lock = threading.Lock()
        # some listener takes more than completed batches (the live view and --metrics do not): only then
        # are a batch's other events made
        self.wants_details = False
        for listener in listeners:
            self.add(listener)

    def add(self, listener) -> None:
        self.listeners.append(listener)
        self.wants_details = self.wants_details or any(
            getattr(type(listener), event, None) is not getattr(StreamingListener, event)
            for event in ("on_batch_submitted", "on_batch_started", "on_output_operation_started",
                          "on_output_operation_completed"))

    def post(self, event: str, info) -> None:
        with self._lock:
            self._post(event, info)

    def _post(self, event: str, info) -> None:
        for listener in list(self.listeners):
            method = getattr(listener, event, None)  # a listener need not subclass StreamingListener
            if method is None:
                continue
            try:
                method(info)
            except Exception as exc:  # noqa: BLE001 - a user's listener may fail in any way
                self.listeners.remove(listener)
                print(f"dstream: listener {type(listener).__name__}.{event} raised {type(exc).__name__}: {exc};"
                      " it is not called again", file=self.stderr, flush=True)

    def close(self) -> None:
        for listener in self.listeners:
            close = getattr(listener, "close", None)
            if close is not None:
                close()
