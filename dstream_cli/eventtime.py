"""--event-time: batches cut by the records' own timestamps instead of their arrival.

A record whose time is ``ts`` ms goes to the batch whose interval ``(t - batch, t]`` holds it, the
convention of the arrival-time engine, so ``t = ceil(ts / batch) * batch``. Each input's watermark is
the largest time it has seen minus the allowed lateness; with several inputs the smallest counts. An
interval is computed once the watermark has passed its end. Whether a record is late is decided in
input order, against the watermark before it, so the same input gives the same batches however it
was read in chunks (and after a restart).
"""
from __future__ import annotations

import bisect
import collections
import dataclasses
import datetime
import itertools
import math
import operator
from typing import Callable

from .dstream import DStream
from .errors import RECORD_ERRORS, BadRecord, StageFailed, UsageError, shorten
from .expr import over_records
from .formats import ChunkLines
from .receivers.blocks import SPILL_AFTER_BYTES
from .receivers.chunks import LineBatch, LineChunk
from .texttime import text_time_reader, time_format_problem

LATE_POLICIES = ("dead-letter", "drop", "fail")
_DAY_MS = 86_400_000
#: the times a record may have: what a date can show (years 1 to 9999), less a day at each end, so that a
#: batch time shown in any local time zone is a date too; a time outside is a bad record, never a watermark
MIN_TIME_MS = round(datetime.datetime(1, 1, 1, tzinfo=datetime.timezone.utc).timestamp() * 1000) + _DAY_MS
MAX_TIME_MS = round(datetime.datetime(9999, 12, 31, tzinfo=datetime.timezone.utc).timestamp() * 1000) - _DAY_MS
#: text an input reads ahead of the records taken into batches: well within what it keeps in memory, unspilled
READ_AHEAD_BYTES = SPILL_AFTER_BYTES // 2
TIME_UNITS = ("s", "ms")


@dataclasses.dataclass
class EventTime:
    """How to read a record's time and what to do with late records (the library's ``event_time=``)."""

    extract: Callable  # record -> number, datetime or text
    unit: str = "s"  # of a number: epoch seconds or milliseconds
    time_format: str | None = None  # strptime format of text; None: ISO 8601
    allowed_lateness_ms: int = 0
    late: str | None = None  # None: to the dead letter when there is one, else counted and reported per batch
    idle_timeout_ms: int | None = None  # live input: close the open intervals after this long with nothing new
    label: str = "--event-time"

    def __post_init__(self) -> None:
        if self.unit not in TIME_UNITS:
            raise UsageError(f"--time-unit {self.unit!r}: use one of {', '.join(TIME_UNITS)}")
        if self.late is not None and self.late not in LATE_POLICIES:
            raise UsageError(f"--late {self.late!r}: use one of {', '.join(LATE_POLICIES)}")
        if self.allowed_lateness_ms < 0:
            raise UsageError("--allowed-lateness must not be negative")
        problem = self.time_format and time_format_problem(self.time_format)
        if problem:
            raise UsageError(f"--time-format {self.time_format!r}: {problem}")
        from .ops.batch import item_getter_of

        getter = item_getter_of(self.extract)  # x['ts'] as an itemgetter: the same, in C
        self._reads_an_item = getter is not None
        self._read_all = ((lambda records: list(map(getter, records))) if getter
                          else over_records(self.extract) or (lambda records: list(map(self.extract, records))))
        self._read_text = text_time_reader(self.time_format) if self.time_format else datetime.datetime.fromisoformat
        self._text_ms = TextTimes(self.value_millis)  # a log repeats each second's text for every record in it

    def millis(self, record) -> int:
        """The record's time in epoch milliseconds; BadRecord names what could not be read."""
        return self.value_millis(self.extract(record))

    def times_all(self, records: list, parsed: bool = False) -> tuple[list, Callable | None, bool] | None:
        """Every record's time, read in C-level passes where they are all numbers or all text: the times as read,
        the function taking one to epoch milliseconds (None: they are milliseconds already), and whether they are
        in order. Numbers stay as read, so that a log in time order is split by bisection without converting each
        (in order as numbers, in order as milliseconds). None when one fails, or numbers are mixed with other
        kinds or are not finite (the caller then goes record by record). *parsed*: the records are what --format
        gave, so an item of one is a number, a bool, text, null, a list or a dict."""
        try:
            values = self._read_all(records)
        except RECORD_ERRORS:  # noqa: BLE001 - found again, and named, record by record
            return None
        if not values:
            return [], None, True
        if type(values[0]) is str:
            try:  # each distinct value converted once, whatever its kind: text, as a log has it, or not
                times = list(map(self._text_ms.__getitem__, values))
            except (BadRecord, TypeError):  # TypeError: a value that cannot be a key (a list)
                return None
            return times, None, times == sorted(times)  # a C-level sort of times in order is a single pass
        plain = parsed and self._reads_an_item
        if not plain and not _only_numbers(values):
            return None
        try:  # nan or an infinity among them makes the sum one
            if not math.isfinite(sum(values)):
                return None
        except (TypeError, OverflowError):  # text, null, a list or a dict among them; an integer too big for a time
            return None
        in_order = values == sorted(values)
        low, high = (values[0], values[-1]) if in_order else (min(values), max(values))
        if not MIN_TIME_MS <= self._number_millis(low) <= self._number_millis(high) <= MAX_TIME_MS:
            return None  # a time beyond the dates: record by record names it
        # of plain kinds, only a bool is left to rule out; in order, one would be 1 (True) or less at the start
        if plain and not (in_order and values[0] > 1) and not _only_numbers(values):
            return None
        return values, self._number_millis, in_order

    def _number_millis(self, value: float) -> int:
        return round(value * 1000) if self.unit == "s" else round(value)

    def value_millis(self, value) -> int:
        ms = self._value_millis(value)
        if not MIN_TIME_MS <= ms <= MAX_TIME_MS:
            raise BadRecord(f"event time {shorten(value)} is not a date of the years 1 to 9999")
        return ms

    def _value_millis(self, value) -> int:
        if isinstance(value, bool):
            raise BadRecord(f"event time {value!r} is a bool, not a time")
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise BadRecord(f"event time {value!r} is not a finite number")
            return self._number_millis(value)
        if isinstance(value, datetime.datetime):
            return round(value.timestamp() * 1000)  # naive: local time, as print shows batch times
        if isinstance(value, str):
            try:
                parsed = self._read_text(value)
            except ValueError:
                expected = f"--time-format {self.time_format!r}" if self.time_format else "ISO 8601"
                raise BadRecord(f"event time {shorten(value)} is not {expected}") from None
            return round(parsed.timestamp() * 1000)
        raise BadRecord(f"event time {shorten(value)} is not a number, a datetime or a text time")


def _only_numbers(values: list) -> bool:
    return set(map(type, values)) <= {int, float}


class TextTimes(dict):
    """Text times in epoch milliseconds, each text parsed once (``times[text]``): a hit is a plain dict lookup, in C.
    Emptied past 100,000 texts, so a long log does not keep every second it has named. A value of another kind
    is converted, not kept."""

    def __init__(self, parse: Callable[[str], int]) -> None:
        super().__init__()
        self.parse = parse

    def __missing__(self, value) -> int:
        if type(value) is not str:
            return self.parse(value)  # not kept: True would find 1's time, as equal keys
        if len(self) > 100_000:
            self.clear()
        ms = self[value] = self.parse(value)
        return ms


def zero_before_every_time(batch_ms: int, periods: list[int]) -> int:
    """The zero time of a run by event time: before the batch of every time a record may have, so that no
    record is in a batch 'at or before the zero time' (which never runs), and a multiple of the batch interval
    and of every slide and checkpoint interval, so that slides and checkpoints fall where a zero time of 0
    puts them (at whole minutes for a minute's slide)."""
    step = math.lcm(batch_ms, *periods)
    return (MIN_TIME_MS - batch_ms) // step * step


def batch_time_of(ms: int, batch_ms: int) -> int:
    return -(-ms // batch_ms) * batch_ms


class EventTimeDStream(DStream):
    """The records of one input in the batch their own time names; an input to the chain built on it.

    The scheduler ``ingest``s what the input received so far, runs every batch the watermark has passed
    (``closable``), and asks each batch's records here as the input's batch."""

    cut_by_event_time = True

    def __init__(self, source, parse, event_time: EventTime) -> None:
        super().__init__(source.context, [source], source.context.batch_ms)
        self.source = source
        # Its records wait in the open intervals, which take them as fast as they are computed: read further
        # ahead, a log would go to a spill file and back, and the reading thread would take the interpreter
        # from the computing one at every read (with a 1 GB log, a quarter more time), for nothing.
        source.limit_read_ahead(READ_AHEAD_BYTES)
        self.name = source.name
        self.label = f"{event_time.label} of input {source.name}"
        self.parse = parse  # the --format Step, or None for text
        self.event_time = event_time
        self.pending: dict[int, list] = {}
        self.newest_ms: int | None = None  # the largest event time seen
        self.closed_through: int | None = None  # the latest batch time already computed
        self.late = 0  # late records since the last batch
        self.late_seen = 0  # late records in all, in input order
        self._in_order, self._last_opened = True, 0  # every open batch was opened after the earlier ones
        self._unsorted: set[int] = set()  # open batches whose records may not be in event-time order
        # what was taken from the input and is not in batches yet: its pieces (LineChunks, or lists of lines)
        self.unread: collections.deque = collections.deque()

    @property
    def input_names(self) -> tuple[str, ...]:
        return (self.name,)

    @property
    def watermark(self) -> int | None:
        return None if self.newest_ms is None else self.newest_ms - self.event_time.allowed_lateness_ms

    def closable(self) -> int | None:
        """The latest batch time whose interval the watermark has passed (None: none yet)."""
        watermark = self.watermark
        return None if watermark is None else batch_time_of(watermark, self.context.batch_ms) - self.context.batch_ms

    def ingest(self, now_ms: int) -> int:
        """Take one part of what the input received up to *now_ms* (a read's lines) into the batches of its times;
        return how many records. A part at a time, with the batches it closes run before the next, keeps the
        records held (and the memory touched) near what the open intervals need."""
        report_as = self._report_batch()
        if not self.unread:
            lines = self.source.take(now_ms, report_as)
            if not lines:
                return 0
            # the pieces as they are: a chunk is read back (from its spill file, if it went there) at its turn
            self.unread.extend(lines.pieces if isinstance(lines, LineBatch) else [list(lines)])
        part = self._lines_of(self.unread.popleft())
        records = part if self.parse is None else self._parsed(part, report_as)
        read = self.event_time.times_all(records, parsed=self.parse is not None)
        try:
            taken = read is not None and self._take_in_order(records, *read)
        except (ValueError, OverflowError):  # a number too big for a time, found before any record was taken
            taken = False
        if not taken:
            self._take_one_by_one(records, report_as)
        return len(records)

    def _lines_of(self, piece) -> list:
        """A piece's lines: a chunk's as UTF-8 bytes where the JSON parser takes them so (orjson reads bytes)."""
        if not isinstance(piece, LineChunk):
            return piece
        return ChunkLines(piece.data()) if self.parse is not None and self.parse.shape == ("parse", "json") \
            else piece.lines()

    @property
    def exhausted(self) -> bool:
        """The input has ended and every line it gave is in a batch."""
        return self.source.ended and not self.unread

    def _parsed(self, part: list, t: int) -> list:
        try:
            return self.parse.fast(part, t)
        except RECORD_ERRORS:  # noqa: BLE001 - again line by line, to name or skip the bad ones
            text = [line.decode("utf-8", "surrogatepass") if type(line) is bytes else line for line in part]
            return self.parse.slow(text, t, self.context.record_errors.rejecter(t, self.name))

    def _take_in_order(self, records: list, times: list, to_ms: Callable[[object], int] | None,
                       in_order: bool) -> bool:
        """The records into their batches in C-level passes; False (nothing taken) when one of them is late,
        which record by record then names. *times* are as read, taken to milliseconds by *to_ms*."""
        if not records:
            return True
        if in_order:
            return self._take_sorted(records, times, to_ms)
        if to_ms is not None:
            times = list(map(to_ms, times))
        batch_ms, lateness = self.context.batch_ms, self.event_time.allowed_lateness_ms
        neg, repeat = operator.neg, itertools.repeat
        buckets = list(map(operator.mul, map(neg, map(operator.floordiv, map(neg, times), repeat(batch_ms))),
                           repeat(batch_ms)))  # -(-ms // batch) * batch: the batch time of each, in C
        start = times[0] if self.newest_ms is None else self.newest_ms
        before = itertools.accumulate(times[:-1], max, initial=start)  # the newest time before each record
        # late: its batch is already computed (or at the zero time, never computed), or the watermark before it
        # has passed the batch's end
        if min(buckets) <= self._closed() or any(map(operator.lt, buckets, map(operator.sub, before,
                                                                                  repeat(lateness)))):
            return False
        for t, group in itertools.groupby(zip(buckets, records), key=operator.itemgetter(0)):
            self._add(t, list(map(operator.itemgetter(1), group)))
            self._unsorted.add(t)
        newest = max(times)
        self.newest_ms = newest if self.newest_ms is None else max(self.newest_ms, newest)
        return True

    def _take_sorted(self, records: list, times: list, to_ms: Callable[[object], int] | None) -> bool:
        """Records in time order (a log, as it usually is): only the first can be late, and each batch's records
        are one slice, found by bisection (which converts only the times it looks at); all of them, not a copy,
        when they are one batch's."""
        batch_ms = self.context.batch_ms
        first_ms, last_ms = (times[0], times[-1]) if to_ms is None else (to_ms(times[0]), to_ms(times[-1]))
        first = batch_time_of(first_ms, batch_ms)
        before = first_ms if self.newest_ms is None else self.newest_ms
        if first <= self._closed() or first < before - self.event_time.allowed_lateness_ms:
            return False
        start, count = 0, len(times)
        while start < count:
            t = batch_time_of(times[start] if to_ms is None else to_ms(times[start]), batch_ms)
            end = bisect.bisect_right(times, t, start, key=to_ms)
            self._add(t, records if end - start == count else records[start:end])
            start = end
        self.newest_ms = max(before, last_ms)
        return True

    def _take_one_by_one(self, records: list, report_as: int) -> None:
        """Record by record: each time read or rejected (--on-error), each late record handled as --late says."""
        batch_ms, lateness = self.context.batch_ms, self.event_time.allowed_lateness_ms
        if self.closed_through is None and self.newest_ms is None:  # the log's first times: report in their batch
            report_as = next((t for t in map(self._batch_or_none, records) if t is not None), report_as)
        reject = None
        newest = self.newest_ms
        for record in records:
            try:
                ms = self.event_time.millis(record)
            except RECORD_ERRORS as exc:  # noqa: BLE001 - an expression may fail in any way: --on-error decides
                reject = reject or self.context.record_errors.rejecter(report_as, self.name)
                reject(self.label, record, exc)
                continue
            t = batch_time_of(ms, batch_ms)
            closed = self._closed()
            if newest is not None:
                closed = max(closed, batch_time_of(newest - lateness, batch_ms) - batch_ms)
            if t <= closed:
                self._late(record, ms, closed, report_as)
                continue
            self._add(t, [record])
            if newest is None or ms > newest:
                newest = ms
            elif ms < newest:
                self._unsorted.add(t)  # older than a record before it, which its batch may hold
        self.newest_ms = newest

    def _report_batch(self) -> int:
        """The batch a record is reported in when it cannot be placed (messages, the dead letter's batch_time and
        entry ids): the next one to be computed; before any was, the batch of the newest time read; before any
        time was read, the epoch's first (ingest then looks for the first time in what it reads)."""
        batch_ms = self.context.batch_ms
        if self.closed_through is not None:
            return self.closed_through + batch_ms
        return batch_ms if self.newest_ms is None else batch_time_of(self.newest_ms, batch_ms)

    def _batch_or_none(self, record) -> int | None:
        try:
            return batch_time_of(self.event_time.millis(record), self.context.batch_ms)
        except RECORD_ERRORS:  # noqa: BLE001 - only looking for a time that reads
            return None

    def _closed(self) -> int:
        """The latest batch time computed; the zero time's batch counts as one, since it never runs (the zero
        time of a run by event time is before every time a record may have)."""
        return self.context.zero_ms if self.closed_through is None else self.closed_through

    def _late(self, record, ms: int, closed: int, report_as: int) -> None:
        policy = self.event_time.late or ("dead-letter" if self.context.record_errors.dead_letter else "count")
        reason = f"late: event time {ms} ms is in a batch already computed (through {closed} ms)"
        if policy == "fail":
            raise StageFailed(f"{self.label}: {reason}; record {shorten(record)} (--late fail)")
        self.late += 1
        self.late_seen += 1
        if policy == "dead-letter":
            # named by its place among the input's late records, which the checkpoint keeps: a record found late
            # again after a restart is the same entry, whatever batch was running when it was read
            self.context.record_errors.write_dead_letter(self.label, record, reason, report_as, self.name,
                                                         entry_id=f"late-{self.name}-{self.late_seen}")

    def snapshot(self, t: int) -> dict:
        """The open batches and the watermark, beside the source's position after what they hold."""
        data = super().snapshot(t)
        unread = [piece.lines() if isinstance(piece, LineChunk) else piece for piece in self.unread]
        data.update(pending=[[u, records] for u, records in sorted(self.pending.items())], newest=self.newest_ms,
                    closed=self.closed_through, late_seen=self.late_seen, unread=unread)
        return data

    def restore(self, data: dict) -> None:
        super().restore(data)
        self.pending = {u: list(records) for u, records in data.get("pending", [])}
        self._unsorted = set(self.pending)
        self._in_order, self._last_opened = False, 0
        self.newest_ms, self.closed_through = data.get("newest"), data.get("closed")
        self.unread = collections.deque(data.get("unread", []))
        self.late_seen = data.get("late_seen", 0)

    def next_pending(self) -> int | None:
        if not self.pending:
            return None
        first = next(iter(self.pending))  # batches are opened in time order but for out-of-order records
        return first if self._in_order else min(self.pending)

    def _add(self, t: int, records: list) -> None:
        """*records* (a list this node may keep) into batch *t*, which is opened if it was not. Each pass over
        the records touches every one of them, which for a big log costs more than the work done there."""
        opened = self.pending.get(t)
        if opened is not None:
            opened += records
            return
        if self.pending and t < self._last_opened:
            self._in_order = False
        self._last_opened = t
        self.pending[t] = records

    def allocate(self, t: int) -> int:
        """Batch *t* runs: its records leave the open intervals for the memo, where a window that asks for them
        only at its slide finds them, the checkpoint saves them, and ``forget`` drops them. They are in event-time
        order, so that what shows order inside a batch (``update-state last``) does not depend on arrival."""
        records = self.generated[t] = self.pending.pop(t, [])
        if t in self._unsorted:  # a batch's records in event-time order (stable), however they arrived
            self._unsorted.discard(t)
            records.sort(key=self.event_time.millis)
        if not self.pending:
            self._in_order = True
        return len(records)

    def compute(self, t: int) -> list:
        return []  # a batch time that was never allocated: nothing had that time

    def batch_done(self, t: int) -> int:
        """Batch *t* is computed: its interval is closed. Returns the late records counted since the last one."""
        self.closed_through = t if self.closed_through is None else max(self.closed_through, t)
        late, self.late = self.late, 0
        return late
