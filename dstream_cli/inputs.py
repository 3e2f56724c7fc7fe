"""Input DStreams: every batch time the scheduler allocates what each input received to that time.

Allocation happens for every input at every batch time, used or not, as Spark's
ReceivedBlockTracker does, so a window that skips times never shifts a queue out of step.
"""
from __future__ import annotations

import time
from typing import Iterable, Iterator

from .dstream import DStream
from .errors import BadRecord, DstreamError
from .formats import HeaderRows
from .receivers.base import Receiver, ReceiverSupervisor
from .receivers.blocks import BadRaw, Block, BlockBuffer
from .receivers.lines import LineSplitter, as_line_position, read_chunk


class InputDStream(DStream):
    replayable = False

    def __init__(self, context, name: str, fmt: str | None = "text") -> None:
        super().__init__(context, [], context.batch_ms)
        self.name = name
        self.label = f"input {name}" + (f" (--format {fmt})" if fmt not in (None, "text") else "")
        self.fmt = fmt
        # --header: the input's lines become dicts here, where they come in order, not in a parse step
        self.header = HeaderRows(fmt) if context.header and fmt in ("csv", "tsv") else None
        self.allocated: dict[int, Block] = {}
        self.records_in = 0
        context.graph.add_input(self)

    @property
    def input_names(self) -> tuple[str, ...]:
        return (self.name,)

    def allocate(self, t: int) -> int:
        """Give batch *t* everything received up to *t*; return the number of records."""
        return self._allocated(t, self._receive(t))

    def _allocated(self, t: int, block: Block) -> int:
        self.allocated[t] = block
        self.records_in = len(block.records) + len(block.bad)
        return self.records_in

    def compute(self, t: int) -> list:
        block = self.allocated.pop(t, None)
        return [] if block is None else self._records(block, t)

    def _records(self, block: Block, t: int) -> list:
        """The block's records; its bad input is reported as batch *t*'s (--on-error decides)."""
        if not block.bad and self.header is None:
            return block.records
        reject = self.context.record_errors.rejecter(t, self.name)
        for bad in block.bad:
            reject(self.label, bad.raw, BadRecord(bad.reason))
        if self.header is None:
            return block.records
        return self.header.rows(block.records, lambda raw, reason: reject(self.label, raw, BadRecord(reason)))

    def take(self, arrival_ms: int, report_as: int) -> list:
        """Everything received up to *arrival_ms*, outside any batch: --event-time cuts batches by the records'
        own times instead. Bad input is reported as batch *report_as*'s."""
        block = self._receive(arrival_ms)
        self.records_in = len(block.records) + len(block.bad)
        return self._records(block, report_as)

    def limit_read_ahead(self, max_bytes: int) -> None:
        """Hold the receiver back once *max_bytes* of text wait here (fewer, if --max-backlog-bytes says so)."""

    def formatted(self) -> DStream:
        """The stream a user builds on: this input, or its lines parsed by ``--format``, fused with what follows;
        with ``event_time``, its records in the batches of their own times."""
        from .ops.batch import parse_step

        parse = None if self.fmt in (None, "text") or self.header else parse_step(self.fmt, self.label)
        if self.context.event_time is not None:
            from .eventtime import EventTimeDStream

            return EventTimeDStream(self, parse, self.context.event_time)
        if parse is None:
            return self
        from .ops.transformed import TransformedDStream

        return TransformedDStream.chain(self, parse)

    # --- lifecycle, overridden by inputs that have one ---
    def start(self) -> None:
        pass

    def stop(self) -> None:
        pass

    def close(self) -> None:
        """After the last batch: release what the input holds (files, logs)."""

    def check(self) -> None:
        """Raise if the input failed in a way that must end the run."""

    @property
    def ended(self) -> bool:
        """Nothing more will ever arrive (a finite source read to its end and fully allocated)."""
        return False

    def backlog(self) -> int:
        return 0

    def bytes_read(self) -> tuple[int, int] | None:
        """(bytes given to batches so far, size) of an input read from a file of known size; else None."""
        return None

    def position(self):
        """Where a replayable input stands after the last allocated batch (for checkpoints)."""
        return None

    def seek(self, position) -> None:
        """Resume after *position* (None: the start); lazily, so a later restore can still replace it."""

    @property
    def can_replay(self) -> bool:
        """What this input gave a batch can be given again, from its position (replayable, or logged)."""
        return self.replayable

    def replay(self, t: int, position) -> int:
        """Allocate to batch *t* again exactly what it had before a crash: everything from this input's
        position to *position*, which the allocation log recorded for *t*. Returns the record count."""
        raise NotImplementedError

    def recover(self) -> int | None:
        """Put back what the write-ahead log holds beyond the replayed batches; return its latest arrival time."""
        return None

    def checkpoint_written(self) -> None:
        """A checkpoint recording ``position()`` is complete."""

    def batch_completed(self, t: int) -> None:
        """Batch *t*'s outputs are all written (Kafka commits its offsets to the consumer group here)."""

    def snapshot(self, t: int) -> dict:
        data = super().snapshot(t)
        data["position"] = self.position()
        if self.header is not None:
            data["header"] = self.header.line  # a file resumed past its first line still has its columns
        return data

    def restore(self, data: dict) -> None:
        super().restore(data)
        self.seek(data.get("position"))  # None: from the start (a checkpoint written before any input)
        if self.header is not None:
            self.header.restore(data.get("header"))


class InputFailed(DstreamError):
    """An input could not keep what it received (exit 1)."""


class QueueInputDStream(InputDStream):
    """Spark's ``queueStream``: one prepared batch per batch time, then empty batches."""

    replayable = True

    def __init__(self, context, name: str, batches: Iterable[Block], fmt: str | None = None,
                 endless: bool = False) -> None:
        super().__init__(context, name, fmt)
        self.endless = endless  # a default batch follows the queue for ever (queue_stream's default=)
        self._batches: Iterator[Block] = iter(batches)
        self._next: Block | None = None
        self._consumed = 0
        self._exhausted = False
        self._skip_to = 0

    def _peek(self) -> Block | None:
        while self._consumed < self._skip_to and not self._exhausted:  # a restored position, applied once
            self._exhausted = next(self._batches, None) is None
            self._consumed += not self._exhausted
        self._skip_to = 0
        if self._next is None and not self._exhausted:
            self._next = next(self._batches, None)
            self._exhausted = self._next is None
        return self._next

    def _receive(self, t: int) -> Block:
        block = self._peek()
        if block is None:
            return Block([], [], None)
        self._next = None
        self._consumed += 1
        return block

    @property
    def ended(self) -> bool:
        # a context run until stopped gives empty batches after its queues, as Spark does
        return not self.endless and not self.context.until_stopped and self._peek() is None

    def replay(self, t: int, position: int) -> int:
        records: list = []
        bad: list = []
        while self._consumed < position and (block := self._peek()) is not None:
            self._next = None
            self._consumed += 1
            records += block.records
            bad += block.bad
        return self._allocated(t, Block(records, bad, position))

    def backlog(self) -> int:
        return 0

    def position(self) -> int:
        return self._consumed

    def seek(self, position: int | None) -> None:
        if position is not None and (type(position) is not int or position < 0):
            raise ValueError(f"position {position!r} should be a count of queue batches")
        self._skip_to = position or 0


#: how often an input's size is looked up for the progress figures: a system call lets the reading thread
#: take the interpreter, which with a batch every few records (a log by event time) is a cost per batch
SIZE_LOOKUP_S = 0.25


class ReceiverInputDStream(InputDStream):
    """An input fed by a Receiver on its own threads, through a BlockBuffer cut by arrival time.

    A receiver that can seek is replayable and its position is its own; any other one, under
    ``--wal``, logs every block first and its position is the log seq of the last block allocated.
    """

    def __init__(self, context, name: str, receiver: Receiver, fmt: str | None = "text") -> None:
        super().__init__(context, name, fmt)
        self.receiver = receiver
        self.replayable = hasattr(receiver, "seek")
        self.log = None if self.replayable else context.write_ahead_log(name)
        self.buffer = BlockBuffer(self.log, context.max_backlog, context.max_backlog_bytes)
        # a CSV record may hold newlines inside quotes: it is cut where the quotes close, line by line
        receiver.quoted_newlines = fmt == "csv"
        if self.log is None and hasattr(receiver, "chunked") and fmt != "csv" and self.header is None:
            receiver.chunked = True
        self.supervisor: ReceiverSupervisor | None = None
        self._seek_to = None
        self._size: tuple[float, int | None] = (float("-inf"), None)  # (when looked up, the input's size)
        self._logged = None  # blocks the write-ahead log holds beyond the checkpoint, while recovering

    def limit_read_ahead(self, max_bytes: int) -> None:
        self.buffer.max_bytes = min(max_bytes, self.buffer.max_bytes or max_bytes)

    def start(self) -> None:
        self.supervisor = self.context.make_supervisor(self.receiver, self.name, self.buffer)
        if self._seek_to is not None and self.replayable:
            self.receiver.seek(self._seek_to)
        self.supervisor.start()

    def stop(self) -> None:
        if self.supervisor is not None:
            self.supervisor.stop()

    def close(self) -> None:
        if self.log is not None:
            self.log.close()

    @property
    def can_replay(self) -> bool:
        return self.replayable or self.log is not None

    def replay(self, t: int, position) -> int:
        if position is None:  # allocated before anything had arrived
            return self._allocated(t, Block([], [], self.buffer.position))
        if self.log is not None:
            if self._logged is None:
                self._logged = self.log.recover(self._seek_to or 0)
            blocks = [b for b in self._logged if b.seq <= position]
            self._logged = self._logged[len(blocks):]
            records = [r for b in blocks for r in b.records]
            bad = [x for b in blocks for x in b.bad]
        else:
            records, bad = self.receiver.read_between(self.buffer.position, position)
        self.seek(position)
        return self._allocated(t, Block(records, bad, position))

    def recover(self) -> int | None:
        if self.log is None:
            return None
        logged = self._logged if self._logged is not None else self.log.recover(self._seek_to or 0)
        self._logged = []
        return self.buffer.put_back(logged)

    def checkpoint_written(self) -> None:
        if self.log is not None and self.buffer.position is not None:
            self.log.checkpointed(self.buffer.position)

    def _receive(self, t: int) -> Block:
        return self.buffer.cut(t)

    def check(self) -> None:
        """Raise what made the receiver unable to store what it received."""
        failure = self.supervisor.failure if self.supervisor is not None else None
        if failure is not None:
            raise InputFailed(f"input {self.name}: {failure}") from failure

    @property
    def finished(self) -> bool:
        """The receiver will store nothing more (end of input, or stopped)."""
        return self.supervisor is None or self.supervisor.finished.is_set() or self.supervisor.stopped.is_set()

    @property
    def ended(self) -> bool:
        return self.receiver.finite and self.finished and not self.buffer

    def backlog(self) -> int:
        return self.buffer.backlog()

    def bytes_read(self) -> tuple[int, int] | None:
        looked_up, size = self._size
        now = time.monotonic()
        if now - looked_up >= SIZE_LOOKUP_S:
            self._size = (now, size := self.receiver.size())
        if size is None or self.log is not None:  # a logged input's position is the log's, not an offset
            return None
        return as_line_position(self.buffer.position)[0], size

    def position(self):
        return self.buffer.position if self.replayable or self.log is not None else None

    def seek(self, position) -> None:
        if self.log is not None and position is not None and (type(position) is not int or position < 0):
            raise ValueError(f"position {position!r} should be a write-ahead log seq")
        if self.replayable and hasattr(self.receiver, "check_position"):
            self.receiver.check_position(position)
        self._seek_to = position
        self.buffer.position = position


def queue_file_batches(stream, max_line_bytes: int, quoted: bool = False) -> Iterator[Block]:
    """Batches of a ``--queue`` file, read lazily: an empty line ends a batch, so a leading one or two in
    a row make an empty batch; the last batch needs no empty line after it."""
    splitter = LineSplitter(max_line_bytes, quoted=quoted)
    records: list = []
    bad: list[BadRaw] = []
    while True:
        chunk = read_chunk(stream)
        lines, chunk_bad = splitter.feed(chunk) if chunk else splitter.finish()
        bad.extend(chunk_bad)
        for line in lines:
            if line:
                records.append(line)
            else:
                yield Block(records, bad, None)
                records, bad = [], []
        if not chunk:
            break
    if records or bad:
        yield Block(records, bad, None)
