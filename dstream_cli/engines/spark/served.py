"""Inputs Spark cannot read itself (stdin, ``file:``, ``--listen``, ``--receiver``): dstream's own receiver runs
in the driver process and serves its lines on a TCP port to a ``socketTextStream`` receiver on an executor.

The executor connects to the driver's address (``spark.driver.host``), so that address and the port must
be reachable from the executors, as Spark's own driver port is. A served line is counted when the receiver
hands it over (before it is written: the executor's receiver may not have connected yet); the runner compares
that count with what Spark reports processed to know the input is done, or a stop complete.
"""
from __future__ import annotations

import socket
import sys
import threading

from ...errors import DstreamError
from ...receivers.base import Receiver, ReceiverSupervisor
from ...receivers.blocks import BlockBuffer
from ...receivers.chunks import LineChunk
from ...scheduler.rate import RateLimiter


class ServedInputFailed(DstreamError):
    """A served input cannot hand its lines to Spark (bad input, or stopped before they were taken)."""


class LineForwarder(ReceiverSupervisor):
    """Supervises *receiver* like the local engine does, but what it stores goes to the connected executor."""

    def __init__(self, receiver: Receiver, name: str, server: LineServer, stderr) -> None:
        # Spark's receiver applies --max-rate and backpressure; here the rate is unlimited
        super().__init__(receiver, name, BlockBuffer(), lambda: 0, RateLimiter(), stderr)
        self.server = server

    def _push(self, records, bad, position, sync: bool) -> None:
        if bad:
            raw, reason = bad[0]
            raise ServedInputFailed(f"input {self.name}: {reason}: {raw[:80]!r} (the Spark engine has no "
                                    "--on-error skip; fix the input or run with --engine local)")
        if isinstance(records, LineChunk):
            self.server.send(records.data() + b"\n", records.count)
        elif records:
            if not all(isinstance(r, str) for r in records):
                kind = type(next(r for r in records if not isinstance(r, str))).__name__
                raise ServedInputFailed(f"input {self.name} stored a {kind}: the Spark engine serves a receiver's "
                                        "records as lines of text, so store str lines (and use --format json)")
            self.server.send(("\n".join(records) + "\n").encode("utf-8", "surrogateescape"), len(records))
        self.received += len(records)

    def _fail(self, failure: BaseException) -> None:
        self.server.failure = str(failure)
        super()._fail(failure)


class LineServer:
    """One listening socket on the driver; the executor's receiver connects (again, after a restart)."""

    def __init__(self, name: str, receiver: Receiver, host: str, port: int = 0, stderr=None) -> None:
        self.name = name
        self.listener = socket.create_server((host, port))
        self.address = self.listener.getsockname()[:2]
        self.failure: str | None = None
        self.handed = 0  # lines the receiver handed over to be sent
        self._connection: socket.socket | None = None
        self._connected = threading.Condition()
        self._closed = False
        if hasattr(receiver, "chunked"):
            receiver.chunked = True  # whole reads as bytes: nothing here logs records one by one
        self.supervisor = LineForwarder(receiver, name, self, stderr or sys.stderr)

    def start(self) -> None:
        threading.Thread(target=self._accept, name=f"serve-{self.name}", daemon=True).start()
        self.supervisor.start()

    def _accept(self) -> None:
        while not self._closed:
            try:
                connection, _ = self.listener.accept()
            except OSError:
                return
            with self._connected:
                if self._connection is not None:
                    self._connection.close()
                self._connection = connection
                self._connected.notify_all()

    def send(self, data: bytes, lines: int) -> None:
        """Write *data* to the executor, waiting for one to connect; after a lost connection, to the next."""
        self.handed += lines
        while True:
            with self._connected:
                while self._connection is None and not self._closed:
                    self._connected.wait(0.5)
                if self._closed:
                    raise ServedInputFailed(f"input {self.name}: stopped before Spark's receiver took its lines")
                connection = self._connection
            try:
                connection.sendall(data)
                return
            except OSError:
                with self._connected:
                    if self._connection is connection:
                        self._connection = None

    @property
    def ended(self) -> bool:
        """The receiver reached the end of its input (a finite one: stdin, a file) and every line was sent."""
        return self.supervisor.finished.is_set() and self.failure is None

    def close(self) -> None:
        self._closed = True
        self.supervisor.stop()
        self.listener.close()
        with self._connected:
            if self._connection is not None:
                self._connection.close()
            self._connected.notify_all()
