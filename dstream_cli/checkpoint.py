"""Checkpoints: every checkpoint interval, the recoverable state of the graph as tagged JSON.

Format (version 2), one file ``checkpoint-<BATCH_TIME_MS>.json`` per checkpoint, each written to a
temporary file, fsynced and renamed, readable by the owner only::

    {"format": "dstream-checkpoint", "version": 2, "batch_ms": 1000, "zero_ms": 0,
     "time": 5000, "chain": ["QueueInputDStream input stdin slide=1000", ...],
     "nodes": [<snapshot of node 0>, <snapshot of node 1>, ...]}

A checkpoint may hold, for some nodes (update-state), only what changed since the previous one: it
then says ``"changes_since": <that checkpoint's time>, "changed_nodes": [<their indexes>]``, and is
restored by restoring the previous one first. Every ``FULL_EVERY``-th checkpoint is whole, so a
restore reads at most that many files; a file is deleted only when no kept checkpoint builds on it.
Version 1 files (always whole) are read too.

Values are encoded so they round-trip exactly and load without running code: JSON scalars as
they are; a list as a JSON array; a tuple as ``{"t": [...]}``, a dict as ``{"d": [[k, v], ...]}``,
a set as ``{"s": [...]}``, bytes as ``{"b": "<base64>"}``, an int beyond 64 bits as
``{"ix": "<hex digits>"}`` (``{"i": "<decimal digits>"}`` is read too) and a non-finite float as
``{"f": "nan"}``. Anything else cannot be saved,
and the error names where it was found and its type.
"""
from __future__ import annotations

import base64
import contextlib
import glob
import math
import os
import re
import sys
from typing import NamedTuple

import orjson

from .errors import DstreamError, UsageError
from .fsio import DirectoryLock, append_durably, complete_lines, write_atomically

FORMAT = "dstream-checkpoint"
VERSION = 2
READABLE_VERSIONS = (1, 2)
KEEP = 2
#: a whole checkpoint at least every this many, so that a restore reads a bounded number of files
FULL_EVERY = 10
ALLOCATIONS = "allocations.jsonl"
_NAME = re.compile(r"checkpoint-(\d+)\.json$")


class CheckpointInvalid(DstreamError):
    """One checkpoint file cannot be resumed from (unreadable, or wrong inside): the previous one is tried."""


class Unsaveable(DstreamError):
    """A state value or record that has no checkpoint encoding."""


_PLAIN_TYPES = frozenset({str, int, float, bool, type(None)})


def is_plain_list(values: list) -> bool:
    """Every item is a JSON scalar that orjson writes exactly: checked in C-level passes, no Python per item."""
    types = set(map(type, values))
    if not types <= _PLAIN_TYPES:
        return False
    if int in types:
        ints = values if len(types) == 1 else [v for v in values if type(v) is int]
        if min(ints) < -(1 << 63) or max(ints) >= 1 << 63:
            return False
    if float in types:
        floats = values if len(types) == 1 else [v for v in values if type(v) is float]
        if not all(map(math.isfinite, floats)):
            return False
    return True


def encode(value, where: str = "value"):
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, int):
        # hex, because str() of an int is refused past 4,300 digits and hex has no such limit
        return value if -(1 << 63) <= value < (1 << 63) else {"ix": format(value, "x")}
    if isinstance(value, float):
        return value if math.isfinite(value) else {"f": repr(value)}
    if isinstance(value, list):
        return value if is_plain_list(value) else [encode(v, where) for v in value]
    if isinstance(value, tuple):
        return {"t": [encode(v, where) for v in value]}
    if isinstance(value, dict):
        return {"d": [[encode(k, where), encode(v, f"{where}[{k!r}]")] for k, v in value.items()]}
    if isinstance(value, (set, frozenset)):
        return {"s" if isinstance(value, set) else "fs": [encode(v, where) for v in value]}
    if isinstance(value, (bytes, bytearray)):
        return {"b": base64.b64encode(value).decode()}
    raise Unsaveable(
        f"cannot checkpoint {where}: a value of type {type(value).__name__} ({value!r:.60})"
        " has no checkpoint form; map it to str, numbers, lists, tuples or dicts first"
    )


def decode(value):
    if isinstance(value, list):
        if set(map(type, value)) <= _PLAIN_TYPES:  # nothing tagged inside: the list as orjson read it
            return value
        return [decode(v) for v in value]
    if isinstance(value, dict):
        (tag, body), = value.items()
        if tag == "t":
            return tuple(decode(v) for v in body)
        if tag == "d":
            return {decode(k): decode(v) for k, v in body}
        if tag == "s":
            return {decode(v) for v in body}
        if tag == "fs":
            return frozenset(decode(v) for v in body)
        if tag == "b":
            return base64.b64decode(body)
        if tag == "ix":
            return int(body, 16)
        if tag == "i":  # written by earlier versions
            return int(body)
        if tag == "f":
            return float(body)
        raise ValueError(f"unknown tag {tag!r}")
    return value


class Allocation(NamedTuple):
    """One line of the allocation log: what batch *time* of the stream started at *zero_ms* was given."""

    time: int
    zero_ms: int
    positions: list


class CheckpointUnusable(DstreamError):
    """Checkpoints are there but none can be resumed from: refuse rather than silently start over (exit 1)."""


class CheckpointStore:
    """The checkpoints of one directory, which this process holds locked while it runs.

    Only checkpoints this run wrote (and the one it resumed from) are ever deleted, once a newer
    one is complete; recovering never deletes anything.
    """

    def __init__(self, directory: str, stderr=None, start_fresh: bool = False) -> None:
        self.directory = directory
        self.stderr = stderr or sys.stderr
        self.start_fresh = start_fresh
        os.makedirs(directory, mode=0o700, exist_ok=True)
        self.lock = DirectoryLock(directory, "--checkpoint")
        for partial in glob.glob(os.path.join(directory, ".checkpoint-*.tmp")):
            os.unlink(partial)  # a write that a crash cut short; the checkpoint before it is complete
        self._allocations: int | None = None  # file descriptor of ALLOCATIONS, once written to
        self._allocated: list[tuple[int, bytes]] = []  # (batch time, line) of what ALLOCATIONS holds
        self._kept: list[str] = []  # oldest first: what this run may delete once no kept checkpoint needs it
        self._older: list[str] = []  # checkpoints older than the one resumed from, deleted after the first write
        self._needs: dict[str, list[str]] = {}  # checkpoint -> the files restoring it reads, oldest first
        self._previous: tuple[str, int] | None = None  # path and time of the newest checkpoint, to build on

    def close(self) -> None:
        if self._allocations is not None:
            os.close(self._allocations)
            self._allocations = None
        self.lock.release()

    # --- the allocation log: what each batch was given, before its outputs run -----------------------
    def log_allocation(self, t: int, zero_ms: int, positions: list) -> None:
        """Record, durably, the input positions that batch *t* was allocated up to (Spark logs its block
        allocations the same way): after a crash the batch is recomputed with the same time and records."""
        positions = encode(positions, f"the input positions of batch {t}")
        line = orjson.dumps({"time": t, "zero_ms": zero_ms, "positions": positions}) + b"\n"
        try:
            append_durably(self._allocation_log(), line, os.fstat(self._allocations).st_size)
            os.fsync(self._allocations)
        except OSError as exc:
            raise DstreamError(f"--checkpoint {self.directory}: cannot write {ALLOCATIONS}: {exc.strerror or exc}"
                               ) from None
        self._allocated.append((t, line))

    def _allocation_log(self) -> int:
        if self._allocations is None:
            path = os.path.join(self.directory, ALLOCATIONS)
            self._allocations = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        return self._allocations

    def _drop_allocations_until(self, t: int) -> None:
        """A checkpoint of batch *t* is complete: the log keeps only the batches after it (those still being
        redone after a crash), rewritten whole before the old log is replaced."""
        later = [(time, line) for time, line in self._allocated if time > t]
        if len(later) == len(self._allocated):
            return
        self._allocated = later
        if not later:
            os.ftruncate(self._allocation_log(), 0)
            return
        write_atomically(os.path.join(self.directory, ALLOCATIONS), b"".join(line for _, line in later), 0o600)
        if self._allocations is not None:
            os.close(self._allocations)  # the file it had open was replaced
            self._allocations = None

    def pending_allocations(self) -> list[Allocation]:
        """The batches allocated since the last checkpoint was written (entries older than it are left by a
        crash between the two writes), oldest first; read once, at the start."""
        path = os.path.join(self.directory, ALLOCATIONS)
        if not os.path.exists(path):
            return []
        found = []
        for number, line in enumerate(complete_lines(path)[0].splitlines(), 1):
            try:
                entry = orjson.loads(line)
                found.append(Allocation(entry["time"], entry["zero_ms"], decode(entry["positions"])))
                self._allocated.append((entry["time"], line + b"\n"))
            except (ValueError, KeyError, TypeError) as exc:
                raise CheckpointUnusable(f"--checkpoint {self.directory}: {ALLOCATIONS} line {number} is "
                                         f"unreadable ({exc}); move the file away to resume without it") from None
        return found

    def _paths_newest_first(self) -> list[str]:
        paths = [p for p in glob.glob(os.path.join(self.directory, "checkpoint-*.json")) if _NAME.search(p)]
        return sorted(paths, key=lambda p: int(_NAME.search(p).group(1)), reverse=True)

    def write(self, graph, t: int, batch_ms: int, zero_ms: int, stream_id: str | None = None,
              last_received: int | None = None) -> None:
        nodes = graph.stateful_nodes()
        base = self._previous if self._previous and len(self._needs[self._previous[0]]) < FULL_EVERY else None
        entries, changed = [], []
        for index, node in enumerate(nodes):
            where = f"stage {node.label!r} at batch {t}"
            changes = node.changes(t) if base is not None else None
            if changes is not None:
                changed.append(index)
            entries.append(encode(node.snapshot(t) if changes is None else changes, where))
        document = {"format": FORMAT, "version": VERSION, "batch_ms": batch_ms, "zero_ms": zero_ms,
                    "time": t, "chain": graph.fingerprint(), "nodes": entries}
        if last_received is not None:
            document["last_received"] = last_received  # the windows' last slide after the end of input follows it
        if stream_id is not None:
            document["stream"] = stream_id  # which stream this is, across restarts (outputs keyed on it)
        if changed:
            document.update(changes_since=base[1], changed_nodes=changed)
        name = f"checkpoint-{t}.json"
        path = os.path.join(self.directory, name)
        try:
            write_atomically(path, orjson.dumps(document), 0o600)
        except OSError as exc:
            raise DstreamError(f"--checkpoint {self.directory}: cannot write {name}: {exc.strerror or exc}") from None
        for node in nodes:
            node.checkpoint_saved()
        self._drop_allocations_until(t)
        self._needs[path] = [*self._needs[base[0]], path] if changed else [path]
        self._previous = (path, t)
        if path not in self._kept:
            self._kept.append(path)
        needed = {p for kept in self._kept[-KEEP:] for p in self._needs[kept]}
        doomed, self._older = [p for p in self._older if p not in needed], []
        doomed += [p for p in self._kept if p not in needed]
        self._kept = [p for p in self._kept if p in needed]
        for old in doomed:
            try:
                os.unlink(old)
            except FileNotFoundError:
                pass

    def load_into(self, graph, batch_ms: int) -> dict | None:
        """Restore *graph* from the newest checkpoint that is readable and whole, falling back to older ones;
        None when there is none. Checkpoints that are all unusable are refused unless ``start_fresh``."""
        paths = self._paths_newest_first()
        unusable: list[str] = []
        for index, path in enumerate(paths):
            try:
                chain = self._chain(path)
                for link, document in chain:
                    self._check_compatible(document, graph, batch_ms, link)
                for link, document in chain:
                    self._restore(graph, document, link)
            except CheckpointInvalid as exc:
                unusable.append(os.path.basename(path))
                print(f"dstream: warning: {exc}; trying the previous one", file=self.stderr, flush=True)
                continue
            needs = [p for p, _ in chain]
            self._kept, self._needs[path], self._previous = needs, needs, (path, document["time"])
            self._older = [p for p in paths[index + 1:] if p not in needs]
            return document
        if unusable and not self.start_fresh:
            raise CheckpointUnusable(
                f"--checkpoint {self.directory}: no checkpoint can be resumed from ({', '.join(unusable)}"
                " unreadable); move them away, or pass --start-fresh to start from nothing beside them")
        if unusable:
            print(f"dstream: warning: --start-fresh: starting from nothing; {', '.join(unusable)} left in place",
                  file=self.stderr, flush=True)
            with contextlib.suppress(FileNotFoundError):  # its positions follow a checkpoint that is gone
                os.unlink(os.path.join(self.directory, ALLOCATIONS))
        return None

    def _chain(self, path: str) -> list[tuple[str, dict]]:
        """The checkpoint at *path* and those it builds on, each read and checked, the whole one first."""
        chain = [(path, self._read(path))]
        while (since := chain[-1][1].get("changes_since")) is not None:
            later, document = chain[-1]
            changed = document.get("changed_nodes")
            if (type(since) is not int or since >= document["time"] or not isinstance(changed, list)
                    or not all(type(i) is int and 0 <= i < len(document["nodes"]) for i in changed)):
                raise CheckpointInvalid(f"checkpoint {later}: fields 'changes_since' and 'changed_nodes' should be "
                                        "an earlier checkpoint's time and indexes of 'nodes'")
            base = os.path.join(self.directory, f"checkpoint-{since}.json")
            if not os.path.exists(base):
                raise CheckpointInvalid(f"checkpoint {later} builds on checkpoint-{since}.json, which is missing")
            chain.append((base, self._read(base)))
        return chain[::-1]

    @staticmethod
    def _read(path: str) -> dict:
        """The document at *path*, its fields checked (not the nodes: restoring them checks those)."""
        try:
            with open(path, "rb") as handle:
                document = orjson.loads(handle.read())
        except (OSError, ValueError) as exc:
            raise CheckpointInvalid(f"checkpoint {path} is unreadable ({exc})") from None
        if not isinstance(document, dict) or document.get("format") != FORMAT:
            raise CheckpointInvalid(f"checkpoint {path} is not a dstream checkpoint")
        for field, kind in (("version", int), ("batch_ms", int), ("zero_ms", int), ("time", int), ("chain", list),
                            ("nodes", list)):
            if not isinstance(document.get(field), kind) or isinstance(document.get(field), bool):
                found = "missing" if field not in document else f"a {type(document[field]).__name__}"
                raise CheckpointInvalid(f"checkpoint {path}: field {field!r} should be a {kind.__name__}, is {found}")
        if document["batch_ms"] <= 0 or (document["time"] - document["zero_ms"]) % document["batch_ms"]:
            raise CheckpointInvalid(f"checkpoint {path}: field 'time' {document['time']} is not a batch time "
                                    f"(zero {document['zero_ms']} plus a multiple of {document['batch_ms']} ms)")
        return document

    @staticmethod
    def _restore(graph, document: dict, path: str) -> None:
        """Restore every node from *document*: whole, or, for its ``changed_nodes``, on top of what is there."""
        nodes = graph.stateful_nodes()
        if len(document["nodes"]) != len(nodes):
            raise CheckpointInvalid(f"checkpoint {path}: field 'nodes' has {len(document['nodes'])} entries, "
                                    f"the chain has {len(nodes)}")
        changed = set(document.get("changed_nodes", ()))
        for index, (node, data) in enumerate(zip(nodes, document["nodes"])):
            try:
                if index in changed:
                    node.restore_changes(decode(data))
                else:
                    node.restore(decode(data))
            except (KeyError, TypeError, ValueError, AttributeError) as exc:
                what = f"missing {exc}" if isinstance(exc, KeyError) else str(exc)
                raise CheckpointInvalid(f"checkpoint {path}: field 'nodes[{index}]' ({node.label}): {what}") from None

    def _check_compatible(self, document: dict, graph, batch_ms: int, path: str) -> None:
        from .duration import format_duration

        if document.get("version") not in READABLE_VERSIONS:
            raise UsageError(f"checkpoint {path} has format version {document.get('version')}, "
                             f"this dstream reads versions {', '.join(map(str, READABLE_VERSIONS))}")
        if document["batch_ms"] != batch_ms:
            raise UsageError(
                f"checkpoint in {self.directory} was written with --batch {format_duration(document['batch_ms'])},"
                f" not {format_duration(batch_ms)}; use the same interval or another --checkpoint directory")
        saved, current = document["chain"], graph.fingerprint()
        if saved != current:
            where = next((i for i, (a, b) in enumerate(zip(saved, current)) if a != b), min(len(saved), len(current)))
            was = saved[where] if where < len(saved) else "(nothing)"
            now = current[where] if where < len(current) else "(nothing)"
            raise UsageError(
                f"checkpoint in {self.directory} was written for another chain: node {where} was {was!r},"
                f" now {now!r}; use the same stages or another --checkpoint directory")

