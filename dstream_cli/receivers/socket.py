"""TCP inputs: ``--socket`` connects to a server (Spark ``socketTextStream``); ``--listen`` accepts producers."""
from __future__ import annotations

import socket
import sys
import threading
import time

from .base import Receiver, ReceiverFailed
from .lines import DEFAULT_MAX_LINE_BYTES, LineSplitter

RECV_BYTES = 1 << 16
MAX_BACKOFF_S = 5.0


def _read_lines(connection: socket.socket, receiver: Receiver, max_line_bytes: int, ack: bool = False,
                idle_timeout_s: float | None = None) -> None:
    """Store the lines of one connection, in order, until it closes or the receiver stops.

    Lines already received are stored before the connection is given up, never dropped; the
    last one even without its newline. Under a rate limit, ``push`` blocks, this loop stops
    calling ``recv``, and TCP flow control slows the producer. With *ack*, each time lines are
    durable in the write-ahead log, ``ack N`` goes back: the first N lines of this connection
    (bad ones included, they reach the dead letter) need never be sent again. With *idle_timeout_s*, a
    connection that completes no line for that long (idle, or trickling bytes) is given up.
    """
    splitter = LineSplitter(max_line_bytes, quoted=receiver.quoted_newlines)
    supervisor = receiver._require_supervisor()
    connection.settimeout(0.2)
    taken = 0

    def store(lines: list, bad: list) -> None:
        nonlocal taken
        supervisor.push(lines, bad, sync=ack)
        if supervisor.failure is not None:
            return  # not stored: never acknowledged
        taken += len(lines) + len(bad)
        if ack:
            _send_all(connection, f"ack {taken}\n".encode())

    last_line = time.monotonic()
    while not receiver.is_stopped():
        if idle_timeout_s is not None and time.monotonic() - last_line > idle_timeout_s:
            break
        try:
            data = connection.recv(RECV_BYTES)
        except TimeoutError:
            continue
        except OSError:
            break
        if not data:
            break
        lines, bad = splitter.feed(data)
        if lines or bad:
            store(lines, bad)
            last_line = time.monotonic()
    lines, bad = splitter.finish()
    if lines or bad:
        store(lines, bad)


def _send_all(connection: socket.socket, data: bytes, attempts: int = 10) -> None:
    """Send an acknowledgement; a producer that has gone away, or reads none for seconds, misses it."""
    for _ in range(attempts):
        try:
            data = data[connection.send(data):]
        except TimeoutError:
            continue
        except OSError:
            return
        if not data:
            return


class SocketReceiver(Receiver):
    """Connects to HOST:PORT and reads lines; reconnects with capped exponential backoff, saying so once per outage."""

    def __init__(self, host: str, port: int, max_line_bytes: int = DEFAULT_MAX_LINE_BYTES, stderr=None) -> None:
        self.host, self.port = host, port
        self.max_line_bytes = max_line_bytes
        self.stderr = stderr or sys.stderr
        self._stop = threading.Event()

    def on_start(self) -> None:
        self._stop.clear()
        threading.Thread(target=self._run, name=f"socket-{self.port}", daemon=True).start()

    def on_stop(self) -> None:
        self._stop.set()

    def _say(self, message: str) -> None:
        print(f"dstream: input {self.host}:{self.port}: {message}", file=self.stderr, flush=True)

    def _run(self) -> None:
        backoff, outage = 0.1, False
        while not self.is_stopped() and not self._stop.is_set():
            try:
                connection = socket.create_connection((self.host, self.port), timeout=2)
            except OSError as exc:
                if not outage:
                    self._say(f"cannot connect ({exc.strerror or exc}); retrying every {backoff:.1f}s up to "
                              f"{MAX_BACKOFF_S:.0f}s")
                    outage = True
                if self._stop.wait(backoff):
                    return
                backoff = min(backoff * 2, MAX_BACKOFF_S)
                continue
            if outage:
                self._say("connected")
            backoff, outage = 0.1, False
            with connection:
                _read_lines(connection, self, self.max_line_bytes)
            if not self.is_stopped() and not self._stop.is_set():
                self._say("the server closed the connection; reconnecting")
                outage = True


class ListenReceiver(Receiver):
    """Accepts producers on HOST:PORT, each connection read on its own thread, its lines kept in order.

    At most *max_connections* at once: beyond that new producers wait in the kernel's backlog. A
    connection that completes no line for *client_timeout_s* is closed, so a silent or trickling client
    cannot hold a slot for ever.
    With *ack* (and a write-ahead log), each connection is told ``ack N`` as its lines become durable.
    """

    def __init__(self, host: str, port: int, max_line_bytes: int, max_connections: int, ack: bool,
                 client_timeout_s: float | None) -> None:
        self.host, self.port = host, port
        self.client_timeout_s = client_timeout_s
        self.max_line_bytes = max_line_bytes
        self.ack = ack
        self.slots = threading.BoundedSemaphore(max_connections)
        self.server: socket.socket | None = None

    def on_start(self) -> None:
        try:
            server = socket.create_server((self.host, self.port), reuse_port=False, backlog=128)
        except OSError as exc:  # retrying cannot help a taken port or an address that is not ours
            raise ReceiverFailed(f"cannot listen on {self.host}:{self.port}: {exc.strerror or exc}") from None
        server.settimeout(0.2)
        self.server = server
        self.port = server.getsockname()[1]
        threading.Thread(target=self._accept, name=f"listen-{self.port}", daemon=True).start()

    def on_stop(self) -> None:
        if self.server is not None:
            self.server.close()

    def _accept(self) -> None:
        server = self.server
        while not self.is_stopped():
            if not self.slots.acquire(timeout=0.2):
                continue
            try:
                connection, _ = server.accept()
            except TimeoutError:
                self.slots.release()
                continue
            except OSError:
                self.slots.release()
                return
            threading.Thread(target=self._serve, args=(connection,), daemon=True).start()

    def _serve(self, connection: socket.socket) -> None:
        try:
            with connection:
                _read_lines(connection, self, self.max_line_bytes, self.ack, self.client_timeout_s)
        finally:
            self.slots.release()
