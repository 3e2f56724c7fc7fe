"""Spark's receiver contract, word for word: ``on_start`` must not block, then ``store``.

A user writes a Receiver subclass (``on_start``/``on_stop``, calling ``store``, ``restart``,
``stop``, ``is_stopped``); the ReceiverSupervisor owns the threads, restarts a failed receiver with
backoff, applies the rate limit and stamps what is stored into the input's BlockBuffer.
"""
from __future__ import annotations

import sys
import threading
from typing import Iterable

from ..errors import DstreamError
from ..scheduler.rate import RateLimiter
from .blocks import BadRaw, BlockBuffer


#: how long start() waits for on_start to return before going on without it, and stop() for it to end
ON_START_WAIT_S = 1.0


class ReceiverFailed(DstreamError):
    """A receiver cannot work at all (its port is taken, its log cannot be written): the run ends, exit 1."""


class Receiver:
    """Base class for custom receivers (Spark ``Receiver``)."""

    #: a receiver whose source can end (a file, stdin); socket-like receivers run until stopped
    finite = False
    #: a line receiver's records are CSV records: a newline inside double quotes does not end one (set by the input)
    quoted_newlines = False

    _supervisor: "ReceiverSupervisor | None" = None

    def on_start(self) -> None:
        """Start threads that receive and call ``store``; must return at once."""
        raise NotImplementedError

    def on_stop(self) -> None:
        """Release what on_start acquired; threads should notice ``is_stopped()``."""

    def size(self) -> int | None:
        """How many bytes the source holds in all, where that is known (a file): the live view's percent."""
        return None

    # --- called by the receiver's own threads ---
    def store(self, record_or_records) -> None:
        """Store one record, or a list of records, into the current batch (blocking under a rate limit)."""
        records = record_or_records if isinstance(record_or_records, list) else [record_or_records]
        self._require_supervisor().push(records)

    def store_bad(self, raw, reason: str) -> None:
        """Report input that could not become a record; it is processed by --on-error, never dropped."""
        self._require_supervisor().push([], [BadRaw(raw, reason)])

    def restart(self, message: str, error: BaseException | None = None) -> None:
        """Stop and start again after a backoff, reporting *message* once."""
        self._require_supervisor().restart(message, error)

    def stop(self, message: str = "") -> None:
        """Stop this receiver for good; a finite receiver's input is then complete."""
        self._require_supervisor().stop_receiver(message)

    def is_stopped(self) -> bool:
        return self._supervisor is None or self._supervisor.stopped.is_set()

    def _require_supervisor(self) -> "ReceiverSupervisor":
        if self._supervisor is None:
            raise RuntimeError("this receiver has not been started by a StreamingContext")
        return self._supervisor


def load_receiver(target: str) -> Receiver:
    """An instance of the receiver class named ``MODULE:CLASS`` (``--receiver``, ``-i NAME=receiver:...``)."""
    from ..expr import compile_function

    return compile_function(target, (), f"receiver {target}")()


class ReceiverSupervisor:
    """Runs one receiver: start, restart with capped exponential backoff, rate limit, store."""

    max_backoff_s = 5.0

    def __init__(self, receiver: Receiver, name: str, buffer: BlockBuffer, now_ms, rate: RateLimiter,
                 stderr=None, on_finished=None, post=None) -> None:
        self.receiver = receiver
        self.post = post or (lambda event, active, error=None: None)  # to the run's streaming listeners
        self.name = name
        self.buffer = buffer
        self.now_ms = now_ms
        self.rate = rate
        self.stderr = stderr or sys.stderr
        self.stopped = threading.Event()
        self.finished = threading.Event()  # the source ended or the receiver stopped itself
        self.on_finished = on_finished or (lambda: None)
        self._backoff_s = 0.1
        self._restarting = threading.Lock()
        self.received = 0
        self.failure: BaseException | None = None
        self._on_start: threading.Thread | None = None
        receiver._supervisor = self

    def start(self) -> None:
        """Run ``on_start`` on a thread of its own: one that breaks the contract and blocks must not hold up
        the batches of the other inputs (it is reported, and left behind at the stop)."""
        returned = threading.Event()

        def run() -> None:
            try:
                self.receiver.on_start()
                self.post("on_receiver_started", True)
            except ReceiverFailed as exc:
                self._fail(exc)
            except Exception as exc:  # noqa: BLE001 - a user receiver may fail in any way
                self.restart(f"could not start: {exc}", exc)
            finally:
                returned.set()

        self._on_start = threading.Thread(target=run, name=f"start-{self.name}", daemon=True)
        self._on_start.start()
        if not returned.wait(ON_START_WAIT_S):
            print(f"dstream: warning: input {self.name}: on_start has not returned after {ON_START_WAIT_S:.0f}s;"
                  " it must start a thread and return at once", file=self.stderr, flush=True)

    def _fail(self, failure: BaseException) -> None:
        self.post("on_receiver_error", False, str(failure))
        self.failure = failure
        self.stopped.set()
        self.on_finished()

    def push(self, records: list, bad: Iterable[BadRaw] = (), position=None, sync: bool = False) -> None:
        """Store records as the rate allows; *sync*: return only once they are durable in the write-ahead log.

        *position* is where a replayable source stands after these records; when the rate limit stores
        them in parts, it may be a function of the number stored so far, so that every part has its own
        (a checkpoint between two parts then resumes between them). Bad input goes with the last part.
        If they cannot be stored (the write-ahead log's disk is full, a record has no log encoding),
        the receiver stops and the failure ends the run with exit 1: never a record silently lost.
        """
        try:
            self._push(records, list(bad), position, sync)
        except (OSError, DstreamError) as exc:
            self._fail(ReceiverFailed(f"cannot store received records: {exc}"))

    def _push(self, records: list, bad: list, position, sync: bool) -> None:
        total, stored = len(records), 0
        if callable(position):
            position_after = position
        else:  # a part before the last has no position of its own: it stands where the previous push left off
            position_after = lambda count: position if count == total else None  # noqa: E731
        while stored < total and not self.stopped.is_set():
            self.buffer.wait_for_room(self.stopped)
            granted = self.rate.acquire(total - stored, self.stopped)
            end = min(total, stored + granted)
            part = records if stored == 0 and end == total else records[stored:end]
            self.buffer.store(self.now_ms(), part, bad if end == total else None, position_after(end))
            stored = end
        if stored < total or (not total and (bad or (position is not None and not self.buffer))):
            # stopped while held back (what was read is still kept, never dropped), or no records to carry them
            self.buffer.store(self.now_ms(), records[stored:], bad, position_after(total))
        self.received += total
        if sync:
            self.buffer.sync()
        self._backoff_s = 0.1

    def restart(self, message: str, error: BaseException | None = None) -> None:
        if self.stopped.is_set() or not self._restarting.acquire(blocking=False):
            return
        delay = self._backoff_s
        self._backoff_s = min(self._backoff_s * 2, self.max_backoff_s)
        print(f"dstream: input {self.name}: {message}; retrying in {delay:.1f}s", file=self.stderr, flush=True)
        self.post("on_receiver_error", True, message)

        def again():
            try:
                self._safe(self.receiver.on_stop)
                if not self.stopped.wait(delay):
                    self.start()
            finally:
                self._restarting.release()

        threading.Thread(target=again, name=f"restart-{self.name}", daemon=True).start()

    def stop_receiver(self, message: str = "") -> None:
        """The receiver is done (end of input, or it stopped itself): wake the scheduler for the last batch."""
        self.finished.set()
        self.on_finished()

    def stop(self) -> None:
        """Stop receiving: called by the scheduler at a graceful stop."""
        if not self.stopped.is_set():
            self.post("on_receiver_stopped", False)
        self.stopped.set()
        self._safe(self.receiver.on_stop)
        if self._on_start is not None and self._on_start.is_alive():
            self._on_start.join(ON_START_WAIT_S)
            if self._on_start.is_alive():
                print(f"dstream: input {self.name}: on_start never returned (it must not block); stopping without it",
                      file=self.stderr, flush=True)
                self._on_start = None

    def _safe(self, function) -> None:
        try:
            function()
        except Exception as exc:  # noqa: BLE001
            print(f"dstream: input {self.name}: on_stop failed: {exc}", file=self.stderr, flush=True)
