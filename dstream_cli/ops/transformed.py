"""Stateless nodes: a run of stateless stages fused into one node, and the two-stream combinations."""
from __future__ import annotations

import itertools
from typing import Callable, Iterable, Iterator

from ..dstream import DStream
from ..duration import require_same_slide
from ..errors import RECORD_ERRORS, UsageError
from ..formats import ChunkLines
from ..receivers.chunks import LineBatch, LineChunk
from .batch import Fold, Step, as_list, as_pair, count_pairs_step, require_pairs, sum_items_step, with_time

#: records taken through the fused steps at a time when a batch is larger
SLICE_RECORDS = 4096
#: characters of text split into words at a time
TEXT_SLICE = 1 << 16


class TransformedDStream(DStream):
    """Consecutive stateless steps over one parent, run as one batch function (PySpark folds them too)."""

    reads_parents_once = True

    def __init__(self, parent: DStream, steps: list[Step], fusable: bool = True) -> None:
        super().__init__(parent.context, [parent])
        self.steps = steps
        self.fusable = fusable
        self.label = steps[-1].label
        self.workers = None  # a WorkerPool (workers.py) that runs the map side of big batches, with --workers

    @classmethod
    def chain(cls, parent: DStream, step: Step, fuse: bool = True) -> "TransformedDStream":
        if fuse and isinstance(parent, TransformedDStream) and parent.fusable:
            steps = parent.steps
            if step.shape == ("sum",) and steps[-1].shape[:1] == ("pair",):
                return cls(parent.dependencies[0], [*steps[:-1], count_pairs_step(steps[-1], step)])
            if step.shape == ("sum",) and steps[-1].shape[:1] == ("items",) and len(steps[-1].shape[2]) == 2:
                return cls(parent.dependencies[0], [*steps[:-1], sum_items_step(steps[-1], step)])
            return cls(parent.dependencies[0], [*steps, step])
        return cls(parent, [step], fusable=fuse)

    def compute(self, t: int) -> list | None:
        batch = self.dependencies[0].get_or_compute(t)
        if batch is None:
            return None
        if self.steps[0].sliceable and (len(batch) > SLICE_RECORDS or self._expands):
            try:
                if self.workers is not None and self.workers.takes(batch):
                    partial = self.workers.map_side(self, batch, t)
                    if partial is not None:
                        return self.reduce_side(partial, t)
                return self.reduce_side(self.map_side(self._slices(batch), t), t)
            except RECORD_ERRORS:  # noqa: BLE001 - redo the batch step by step, where bad records are named
                pass
        return self._run_steps(self.steps, batch, t)

    def _slices(self, batch) -> Iterator[list]:
        """*batch* a slice at a time; a batch of line chunks (receivers/chunks.py) a chunk at a time."""
        if isinstance(batch, LineBatch):
            return (part for piece in batch.pieces
                    for part in (self.chunk_parts(piece.data()) if isinstance(piece, LineChunk) else [piece]))
        return slices(batch)

    def chunk_parts(self, data: bytes) -> Iterator[list]:
        """The lines of one chunk (UTF-8, joined by newlines) as the first step takes them best: texts of
        about TEXT_SLICE characters for a split on whitespace (the same words, and no line is made), the
        lines as bytes for the JSON parser (orjson reads them without a decode), else the lines."""
        first = self.steps[0].shape
        if first == ("split",):
            return ([text] for text in _cut(data.decode("utf-8", "surrogatepass"), TEXT_SLICE))
        if first == ("parse", "json"):
            return iter([ChunkLines(data)])
        return iter([data.decode("utf-8", "surrogatepass").split("\n")])

    @property
    def _expands(self) -> bool:
        """A record-by-record step at the head may give any number of records per record (a flat-map)."""
        return any(step.lazy is not None for step in itertools.takewhile(lambda s: s.sliceable, self.steps))

    @property
    def head_length(self) -> int:
        """How many steps from the first are record by record (the map side, before any reduction)."""
        return next((i for i, step in enumerate(self.steps) if not step.sliceable), len(self.steps))

    @property
    def fold(self) -> Fold | None:
        """The reduction right after the head, if it can take its records in slices."""
        count = self.head_length
        return self.steps[count].fold if count < len(self.steps) else None

    def map_side(self, parts: Iterable[list], t: int):
        """The record-by-record steps over one slice at a time, fed to the reduction after them if it can
        fold, so a big batch's intermediate lists (parsed events, split words, a flat-map's outputs) never
        exist all at once: the fold's accumulator, or the head's output when there is no fold."""
        parts = self._head(parts, t)
        fold = self.fold
        if fold is None:
            out: list = []
            for part in parts:
                out += part
            return out
        accumulated = fold.start()
        for part in parts:
            fold.add(accumulated, part)
        return accumulated

    def parts(self, t: int) -> Iterator[list] | None:
        """Batch *t* as slices made as they are taken, for an output that is this node's only reader, so a big
        batch is never held whole; None where it must be (a reduction, --workers) or was already computed.
        Only the fast paths run: a record they fail on raises, and the caller then computes the batch whole
        (``get_or_compute``), where bad records are named or skipped."""
        if (t in self.generated or self.head_length < len(self.steps) or not self.steps[0].sliceable
                or self.workers is not None or not self.is_time_valid(t)):
            return None
        batch = self.dependencies[0].get_or_compute(t)
        return None if batch is None else self._head(self._slices(batch), t)

    def _head(self, parts: Iterable[list], t: int) -> Iterator[list]:
        """The record-by-record steps over *parts*, lazily, a slice at a time."""
        for step in self.steps[:self.head_length]:
            parts = _through(step, parts, t)
        return parts

    def reduce_side(self, partial, t: int) -> list:
        """The batch from what ``map_side`` gave (or several of them merged with ``fold.merge``)."""
        count = self.head_length
        fold = self.fold
        out, rest = (partial, self.steps[count:]) if fold is None else (fold.finish(partial), self.steps[count + 1:])
        for step in rest:
            out = step.fast(out, t)
        return out

    def _run_steps(self, steps: list[Step], batch: list, t: int) -> list:
        reject = None
        for step in steps:
            try:
                batch = step.fast(batch, t)
            except RECORD_ERRORS:  # noqa: BLE001 - redo record by record to name or skip the bad ones
                reject = reject or self.context.record_errors.rejecter(t, ",".join(self.input_names))
                batch = step.slow(batch, t, reject)
        return batch


class TransformedWithDStream(DStream):
    """``func(time_ms, left_batch, right_batch)`` per batch time: union, the joins, cogroup, transform_with."""

    reads_parents_once = True

    def __init__(self, left: DStream, right: DStream, func: Callable[[int, list, list], list], label: str,
                 needs_pairs: bool = True) -> None:
        require_same_slide(label, left.slide_ms, right.slide_ms)
        super().__init__(left.context, [left, right])
        self.func = func
        self.label = label
        self.needs_pairs = needs_pairs  # the joins and cogroup; union and transform_with take any records

    def compute(self, t: int) -> list | None:
        left, right = (parent.get_or_compute(t) for parent in self.dependencies)
        if left is None and right is None:
            return None
        left, right = as_list(left or []), as_list(right or [])
        if not self.needs_pairs:
            return _as_batch(self.func(t, left, right))
        try:
            require_pairs(left), require_pairs(right)
            return self.func(t, left, right)
        except RECORD_ERRORS:  # noqa: BLE001 - a record that is not a (key, value) pair
            reject = self.context.record_errors.rejecter(t, ",".join(self.input_names))
            return self.func(t, _pairs_only(left, self.label, reject), _pairs_only(right, self.label, reject))


class TransformedManyDStream(DStream):
    """``func(batches)`` or ``func(time_ms, batches)`` over several streams at each batch time (Spark's
    ``StreamingContext.transform``)."""

    def __init__(self, streams: list[DStream], func: Callable, label: str) -> None:
        if not streams:
            raise UsageError(f"{label}: give at least one stream")
        for other in streams[1:]:
            require_same_slide(label, streams[0].slide_ms, other.slide_ms)
        super().__init__(streams[0].context, streams)
        self.func = with_time(func, 2)
        self.label = label

    def compute(self, t: int) -> list | None:
        batches = [parent.get_or_compute(t) for parent in self.dependencies]
        if all(batch is None for batch in batches):
            return None
        return _as_batch(self.func(t, [as_list(batch or []) for batch in batches]))


def _as_batch(result) -> list:
    """What a user's function gave, as a batch: None is an empty one."""
    return [] if result is None else list(result)


def _cut(text: str, size: int) -> Iterator[str]:
    """*text* in pieces of about *size* characters, each ending at a line's end (a longer line is one piece)."""
    start = 0
    while len(text) - start > size:
        end = text.rfind("\n", start, start + size)
        if end < 0:
            end = text.find("\n", start + size)
            if end < 0:
                break
        yield text[start:end]
        start = end + 1
    yield text[start:]


def slices(batch) -> Iterator[list]:
    """*batch* (a list or any sequence) as lists of SLICE_RECORDS records, in order."""
    records = iter(batch)
    return iter(lambda: list(itertools.islice(records, SLICE_RECORDS)), [])


def _through(step: Step, parts: Iterator[list], t: int) -> Iterator[list]:
    """*step* over each slice; a lazy step's outputs cut into slices again as they come."""
    for part in parts:
        if step.lazy is None:
            out = step.fast(part, t)
            del part  # not held while the next step works on what it gave
            yield out
            continue
        outputs = step.lazy(part)
        while chunk := list(itertools.islice(outputs, SLICE_RECORDS)):
            yield chunk


def _pairs_only(batch: list, label: str, reject) -> list:
    pairs = []
    for record in batch:
        try:
            key, value = as_pair(record)
            hash(key)
            pairs.append((key, value))
        except RECORD_ERRORS as exc:  # noqa: BLE001
            reject(label, record, exc)
    return pairs
