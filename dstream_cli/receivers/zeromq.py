"""ZeroMQ input: ``-i NAME=zmq://HOST:PORT?socket=sub|pull[&topic=PREFIX][&bind=1]`` (pyzmq, ``dstream-cli[zmq]``).

Each message is one record: its last frame, as text (earlier frames of a multipart message are the
envelope, a topic among them); a one-frame message that starts with the subscribed topic has the topic,
and one space after it, taken off. A frame that is not UTF-8 is a bad record, never dropped.

ZeroMQ keeps nothing for a peer that was away, so a restart does not get back what was in flight: with
``--wal`` what was received is logged before it is processed, and survives a SIGKILL as for ``--listen``.
Held back by ``--max-rate`` or ``--backpressure``, the receiving thread stops reading: a PUSH peer then
blocks at its high-water mark (nothing lost), while a PUB peer drops what its subscribers cannot take
(ZeroMQ's own publish-subscribe rule).
"""
from __future__ import annotations

import threading
import urllib.parse
from typing import NamedTuple

from ..errors import UsageError
from .base import Receiver, ReceiverFailed
from .blocks import BadRaw

#: messages taken from the socket at most per store: a burst goes to the batch in one part
BURST_MESSAGES = 10_000
POLL_MS = 200


class ZmqSource(NamedTuple):
    endpoint: str  # tcp://HOST:PORT
    kind: str  # "sub" or "pull"
    topic: bytes
    bind: bool


def parse_zmq_uri(uri: str, name: str) -> ZmqSource:
    """``zmq://HOST:PORT?socket=sub|pull&topic=PREFIX&bind=1`` as a ZmqSource; a usage error naming the input."""
    parsed = urllib.parse.urlsplit(uri)
    query = dict(urllib.parse.parse_qsl(parsed.query, keep_blank_values=True))
    unknown = set(query) - {"socket", "topic", "bind"}
    host, _, port = parsed.netloc.rpartition(":")
    if not host or not port.isdigit() or unknown or parsed.path not in ("", "/"):
        raise UsageError(f"-i {name}: {uri!r} should be zmq://HOST:PORT?socket=sub|pull[&topic=PREFIX][&bind=1]"
                         + (f" (unknown: {', '.join(sorted(unknown))})" if unknown else ""))
    kind = query.get("socket", "sub")
    if kind not in ("sub", "pull"):
        raise UsageError(f"-i {name}: socket={kind!r} should be sub or pull")
    if "topic" in query and kind != "sub":
        raise UsageError(f"-i {name}: topic= needs socket=sub")
    if query.get("bind", "0") not in ("0", "1"):
        raise UsageError(f"-i {name}: bind={query['bind']!r} should be 0 or 1")
    return ZmqSource(f"tcp://{host}:{port}", kind, query.get("topic", "").encode(), query.get("bind") == "1")


def zmq_module():
    """pyzmq, or a one-line usage error (exit 2) naming the extra to install."""
    try:
        import zmq
    except ImportError:
        raise UsageError("ZeroMQ needs pyzmq: pip install 'dstream-cli[zmq]'") from None
    return zmq


class ZmqReceiver(Receiver):
    """Receives from a SUB or PULL socket, connected to the peer or bound for peers to connect."""

    def __init__(self, source: ZmqSource) -> None:
        self.source = source
        self.zmq = zmq_module()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def on_start(self) -> None:
        zmq = self.zmq
        socket = zmq.Context.instance().socket(zmq.SUB if self.source.kind == "sub" else zmq.PULL)
        socket.setsockopt(zmq.LINGER, 0)
        try:
            if self.source.bind:
                socket.bind(self.source.endpoint)
            else:
                socket.connect(self.source.endpoint)
        except zmq.ZMQError as exc:  # a taken port, an address that is not ours: retrying cannot help
            socket.close()
            raise ReceiverFailed(f"cannot {'bind' if self.source.bind else 'connect'} {self.source.endpoint}: "
                                 f"{exc}") from None
        if self.source.kind == "sub":
            socket.setsockopt(zmq.SUBSCRIBE, self.source.topic)
        self._stop = threading.Event()  # this start's own: a thread of an earlier start still sees its stop
        self._thread = threading.Thread(target=self._run, args=(socket, self._stop), daemon=True,
                                        name=f"zmq-{self.source.endpoint}")
        self._thread.start()

    def on_stop(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=1.0)  # it closes the socket (a ZeroMQ socket belongs to one thread)

    def _run(self, socket, stop: threading.Event) -> None:
        zmq = self.zmq
        try:
            while not self.is_stopped() and not stop.is_set():
                if socket.poll(POLL_MS):
                    records, bad = self._burst(socket)
                    self._require_supervisor().push(records, bad)
        except zmq.ZMQError as exc:
            if not self.is_stopped() and not stop.is_set():
                self.restart(f"ZeroMQ: {exc}", exc)
        finally:
            socket.close()

    def _burst(self, socket) -> tuple[list[str], list[BadRaw]]:
        """The messages waiting, as records, up to BURST_MESSAGES (frames taken without copying, for their
        ``more`` flag: asking the socket whether more follows would cost a call per message)."""
        zmq, topic = self.zmq, self.source.topic
        records, bad = [], []
        try:
            while len(records) + len(bad) < BURST_MESSAGES:
                frame = socket.recv(zmq.NOBLOCK, copy=False)
                if frame.more:  # a multipart message arrives whole: its later frames are there, the last kept
                    while frame.more:
                        frame = socket.recv(copy=False)
                    payload = frame.bytes
                else:
                    payload = frame.bytes
                    if topic and payload.startswith(topic):
                        payload = payload[len(topic):]
                        payload = payload[1:] if payload.startswith(b" ") else payload
                try:
                    records.append(payload.decode("utf-8"))
                except UnicodeDecodeError as exc:
                    bad.append(BadRaw(payload, f"not valid UTF-8 ({exc.reason} at byte {exc.start})"))
        except zmq.Again:
            pass
        return records, bad
