"""The ``sql`` stage: a SQL query over each batch, run by DuckDB (tables.py), its rows the next records."""
from __future__ import annotations

from typing import Callable, Iterator

from ..dstream import DStream
from ..duration import require_same_slide
from ..errors import BadRecord, StageFailed, UsageError
from ..inputs import InputDStream
from ..receivers.chunks import LineBatch, LineChunk
from ..tables import BatchTable, SqlQuery
from .batch import as_list
from .transformed import TransformedDStream

#: the table a query reads the stream's own batch from
BATCH_TABLE = "batch"


class SqlDStream(DStream):
    """The rows of *query*, as dicts, over the batch as the table ``batch`` and each stream in *others* as a table
    of its name. Every table has the stream's batch at the same time (they must slide together)."""

    reads_parents_once = True

    def __init__(self, parent: DStream, query: SqlQuery, others: dict[str, DStream], label: str) -> None:
        for name, other in others.items():
            require_same_slide(f"{label}, table {name}", parent.slide_ms, other.slide_ms)
        streams = {BATCH_TABLE: parent, **others}
        super().__init__(parent.context, list(streams.values()))
        self.query = query
        self.label = label
        self.tables = {name: (stream, BatchTable(query, name)) for name, stream in streams.items()}
        self.waiting_for: set[str] = set()  # tables said to have had no records yet

    def compute(self, t: int) -> list | None:
        loaded = [self._load(t, stream, table) for stream, table in self.tables.values()]
        if not any(loaded):
            return None
        unknown = [name for name, (_, table) in self.tables.items() if not table.known]
        if unknown:
            self._say_waiting(unknown)
            return []
        try:
            return self.query.run()
        except StageFailed as failure:
            raise StageFailed(f"{self.label}: {failure}") from None

    def _load(self, t: int, stream: DStream, table: BatchTable) -> bool:
        """Batch *t* of *stream* into *table*; False where *t* is not one of the stream's times."""
        source = _json_lines_input(stream)
        if source is not None:  # DuckDB parses the input's JSON lines itself
            lines = source.get_or_compute(t)
            if lines is None:
                return False
            table.empty()
            if not lines:
                return True
            if table.load_json_lines(_pieces(lines), len(lines)):
                return True
            table.empty()  # a line DuckDB did not take as one record: the parsed records say which
        batch = stream.get_or_compute(t)
        if batch is None:
            return False
        table.empty()
        if len(batch):
            reject = self.context.record_errors.rejecter(t, ",".join(stream.input_names))
            table.load_records(as_list(batch), lambda record, reason: reject(self.label, record, BadRecord(reason)))
        return True

    def _say_waiting(self, unknown: list[str]) -> None:
        known = [name for name, (_, table) in self.tables.items() if table.known]
        new = set(unknown) - self.waiting_for
        if known and new:
            self.waiting_for |= new
            print(f"dstream: {self.label}: no records yet in table {', '.join(sorted(new))}, so the query cannot "
                  "name its columns: batches give no rows until it has had some", file=self.context.stderr())

    # --- checkpoint: the tables' columns, so a restarted run types them as before ----------------------
    def snapshot(self, t: int) -> dict:
        return {**super().snapshot(t), "columns": {name: table.snapshot() for name, (_, table) in self.tables.items()}}

    def restore(self, data: dict) -> None:
        super().restore(data)
        for name, columns in data.get("columns", {}).items():
            if name in self.tables:
                self.tables[name][1].restore(columns)


def sql_stream(parent: DStream, text: str, resolve: Callable[[str], DStream], label: str) -> SqlDStream:
    """The ``sql`` stage over *parent*: the query is checked now, and *resolve* gives the stream of every table it
    names other than ``batch`` (raising UsageError for a name it does not know)."""
    query = SqlQuery(text)
    others = {name: resolve(name) for name in query.tables if name != BATCH_TABLE}
    if BATCH_TABLE not in query.tables and not others:
        raise UsageError(f"the query reads no table: name the batch as {BATCH_TABLE!r} "
                         f"(select ... from {BATCH_TABLE})")
    return SqlDStream(parent, query, others, label)


def _json_lines_input(stream: DStream) -> InputDStream | None:
    """The input whose JSON lines *stream* is, parsed and nothing more, if it is one."""
    if (isinstance(stream, TransformedDStream) and len(stream.steps) == 1
            and stream.steps[0].shape == ("parse", "json")):
        parent = stream.dependencies[0]
        if isinstance(parent, InputDStream) and parent.header is None:
            return parent
    return None


def _pieces(lines) -> Iterator[bytes]:
    """The batch's lines as UTF-8, a piece of whole lines at a time: a chunk's bytes as they arrived."""
    if isinstance(lines, LineBatch):
        for piece in lines.pieces:
            yield piece.data() if isinstance(piece, LineChunk) else "\n".join(piece).encode("utf-8", "surrogatepass")
    else:
        yield "\n".join(lines).encode("utf-8", "surrogatepass")

