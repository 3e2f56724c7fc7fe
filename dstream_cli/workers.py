"""--workers N: the map side of a chain's big batches in N worker processes (Spark's map-side combine).

Each worker is ``python -m dstream_cli.workers``. It rebuilds the same chain from the stage specs,
which are text (so no code is pickled), and for its part of a batch's input lines runs the
record-by-record steps up to the first reduction and that reduction's fold over the part. The main
process cuts a batch into N contiguous parts, streams each to its worker in chunks of UTF-8 (the
bytes stdin and ``file:`` were read in, as they are: see receivers/chunks.py), and merges the
parts' accumulators in part order: the one-process result, in the same order, for any
associative reduction (Spark requires reductions to be associative too; float sums may differ in
their last digits, as in Spark). Small batches are not worth the trip and stay here.

A part that raises (a bad record) is done again here, where bad records are named or skipped, so
--on-error and --dead-letter behave as without workers. A worker that dies makes the pool fall
back to doing everything here, with one warning: nothing is lost.

Messages on the pipes: one kind byte, an 8-byte little-endian length, the payload. Main to
worker: ``S`` the recipe (a Python literal), ``C`` a chunk (node index and batch time as two 8-byte
fields, then the lines as UTF-8 joined by newlines), ``E`` the end of a part. Worker to main:
``R`` the part's result (pickled data from our own child: accumulators of keys and values), or
``X`` and a reason when the part must be done in the main process.
"""
from __future__ import annotations

import ast
import functools
import itertools
import os
import pickle
import signal
import subprocess
import sys

from .errors import RECORD_ERRORS
from .receivers.chunks import LineBatch, LineChunk
from .scheduler import collect_garbage_rarely

#: batches smaller than this are mapped here: sending them costs more than it saves
MIN_RECORDS = 50_000
#: lines per chunk sent to a worker
CHUNK_RECORDS = 32_768
_HEADER = 9


def _send(stream, kind: bytes, payload: bytes) -> None:
    stream.write(kind + len(payload).to_bytes(8, "little"))
    stream.write(payload)


def _receive(stream) -> tuple[bytes, bytes]:
    header = stream.read(_HEADER)
    if len(header) < _HEADER:
        raise EOFError("the pipe closed")
    size = int.from_bytes(header[1:], "little")
    payload = stream.read(size)
    if len(payload) < size:
        raise EOFError("the pipe closed mid-message")
    return header[:1], payload


class WorkerPool:
    """N worker processes, started with the run when some node can use them, shared by those nodes."""

    def __init__(self, count: int, recipe: dict, stderr) -> None:
        self.count = count
        self.recipe = repr(recipe).encode()
        self.stderr = stderr
        self.processes: list[subprocess.Popen] = []
        self.broken = False
        self.index: dict[int, int] = {}  # id(node) -> its index in graph.nodes(), which the workers share

    def attach(self, graph, line_inputs: set[str]) -> None:
        """Give the pool to every fused node that reads lines straight from an input and starts record by
        record: the nodes whose map side a worker can rebuild and run on raw lines."""
        from .inputs import InputDStream
        from .ops.transformed import TransformedDStream

        for index, node in enumerate(graph.nodes()):
            parent = node.dependencies[0] if node.dependencies else None
            if (isinstance(node, TransformedDStream) and isinstance(parent, InputDStream)
                    and parent.name in line_inputs and node.steps[0].sliceable):
                node.workers = self
                self.index[id(node)] = index
        if self.index:
            self._start()  # now, so that the workers start up while the input is being read

    def takes(self, batch) -> bool:
        return not self.broken and isinstance(batch, (list, LineBatch)) and len(batch) >= MIN_RECORDS

    def _start(self) -> None:
        for _ in range(self.count):
            process = subprocess.Popen([sys.executable, "-m", "dstream_cli.workers"], stdin=subprocess.PIPE,
                                       stdout=subprocess.PIPE, bufsize=1 << 16)
            _send(process.stdin, b"S", self.recipe)
            self.processes.append(process)

    def map_side(self, node, batch: list, t: int):
        """The merged map side of *batch* for *node*; None when it must be done here instead."""
        try:
            parts = self._parts(batch)
            header = self.index[id(node)].to_bytes(8, "little") + t.to_bytes(8, "little", signed=True)
            for round_ in itertools.zip_longest(*parts):  # round robin, so that every worker starts at once
                for process, chunk in zip(self.processes, round_):
                    if chunk is not None:
                        _send(process.stdin, b"C", header + chunk())
            for process, _ in zip(self.processes, parts):
                _send(process.stdin, b"E", b"")
                process.stdin.flush()
            results = [_receive(process.stdout) for process, _ in zip(self.processes, parts)]
        except (OSError, EOFError, ValueError) as exc:
            self._give_up(f"a worker stopped ({exc})")
            return None
        if any(kind != b"R" for kind, _ in results):
            return None  # a bad record, or a value that cannot travel: the batch is done here
        partials = [pickle.loads(payload) for _, payload in results]  # noqa: S301 - from our own workers
        merged = partials[0]
        for later in partials[1:]:
            if node.fold is None:
                merged += later
            else:
                node.fold.merge(merged, later)
        return merged

    def _parts(self, batch) -> list[list]:
        """*batch* cut into up to N contiguous parts, each a list of chunks (functions giving a chunk's UTF-8
        bytes when it is sent): a batch of line chunks keeps its chunks, which go as they are."""
        if isinstance(batch, LineBatch):
            pieces = batch.pieces
            sizes = [piece.size if isinstance(piece, LineChunk) else len(piece) * 16 for piece in pieces]
            total, before, parts = max(sum(sizes), 1), 0, [[] for _ in range(self.count)]
            for piece, size in zip(pieces, sizes):
                parts[min(before * self.count // total, self.count - 1)].append(functools.partial(_bytes_of, piece))
                before += size
            return [part for part in parts if part]
        size = -(-len(batch) // self.count)
        return [[functools.partial(_joined, batch[offset:min(offset + CHUNK_RECORDS, start + size)])
                 for offset in range(start, min(start + size, len(batch)), CHUNK_RECORDS)]
                for start in range(0, len(batch), size)]

    def _give_up(self, why: str) -> None:
        print(f"dstream: warning: --workers: {why}; running every batch in this process from now on",
              file=self.stderr, flush=True)
        self.broken = True
        self.close()

    def close(self) -> None:
        for process in self.processes:
            try:
                process.stdin.close()
            except OSError:
                pass
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            process.stdout.close()
        self.processes = []


def _joined(lines: list) -> bytes:
    return "\n".join(lines).encode("utf-8", "surrogatepass")


def _bytes_of(piece) -> bytes:
    return piece.data() if isinstance(piece, LineChunk) else _joined(piece)


# --- the worker process ----------------------------------------------------------------------------
def _rebuild(recipe: dict) -> list:
    """The graph's nodes, built from the same specs as the main process's, on stand-in inputs."""
    from .chain import ChainBuilder, StageSpec
    from .context import StreamingContext
    from .expr import Namespace
    from .inputs import QueueInputDStream

    context = StreamingContext(f"{recipe['batch_ms']}ms", stderr=open(os.devnull, "w"))  # noqa: SIM115

    def stand_in(name: str):
        return lambda: QueueInputDStream(context, name, iter(()), recipe["fmt"]).formatted()

    factories = {name: stand_in(name) for name in recipe["inputs"]}
    specs = [StageSpec(name, args) for name, args in recipe["specs"]]
    ChainBuilder(context, factories, recipe["main_input"], Namespace(recipe["imports"])).build(specs)
    return context.graph.nodes()


def _chunks(stream, first: bytes):
    """The chunks of one part (UTF-8 lines joined by newlines), until its end message."""
    payload = first
    while True:
        yield payload[16:]
        kind, payload = _receive(stream)
        if kind == b"E":
            return


def serve(incoming, outgoing) -> None:
    kind, payload = _receive(incoming)
    nodes = _rebuild(ast.literal_eval(payload.decode()))
    while True:
        try:
            kind, payload = _receive(incoming)
        except EOFError:
            return
        if kind == b"E":  # a part with no chunk
            _send(outgoing, b"X", b"empty part")
            outgoing.flush()
            continue
        node = nodes[int.from_bytes(payload[:8], "little")]
        t = int.from_bytes(payload[8:16], "little", signed=True)
        chunks = _chunks(incoming, payload)
        parts = (part for data in chunks for part in node.chunk_parts(data))
        try:
            reply = b"R", pickle.dumps(node.map_side(parts, t), protocol=pickle.HIGHEST_PROTOCOL)
        except RECORD_ERRORS as exc:  # noqa: BLE001 - the main process redoes the part and names the record
            for _ in chunks:  # the rest of the part, unread
                pass
            reply = b"X", f"{type(exc).__name__}: {exc}".encode()
        _send(outgoing, *reply)
        outgoing.flush()


def main() -> None:
    # The main process decides how to stop; a worker ends when its pipe closes.
    for number in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(number, signal.SIG_IGN)
    sys.set_int_max_str_digits(0)
    collect_garbage_rarely()
    serve(sys.stdin.buffer, sys.stdout.buffer)


if __name__ == "__main__":
    main()
