"""DatabaseWriter: the ``save-to-db`` output, exactly once across crashes.

Each batch is one transaction: (for replace) the old rows deleted, the new rows written, and this output's
row in ``dstream_batches`` set to the batch's time. Batches commit in time order, so a recomputed batch
whose time is not after that row's is already in the table and is skipped: with a checkpoint, a run
killed at any moment and restarted writes every batch once. The connection is kept across batches; a lost
one fails the batch (retried with backoff per --output-retries) and is opened again by the retry, which
reads the bookkeeping row afresh, since a commit whose answer was lost may or may not have happened.
"""
from __future__ import annotations

import uuid

from ..errors import RECORD_ERRORS, BadRecord, DstreamError, OutputFailed, UsageError
from . import DatabaseURL, insert_sql, quote_name
from .rows import RecordDoesNotFit, RowShape, column_kinds, misfit_column

BOOKKEEPING = "dstream_batches"
MODES = ("append", "upsert", "replace")


class _RedoWhole(Exception):
    """A slice holds a record that does not fit: the batch is written whole instead, which names it."""


def _names(text: str | list | tuple | None, option: str) -> tuple[str, ...] | None:
    if text is None:
        return None
    names = tuple(n.strip() for n in (text.split(",") if isinstance(text, str) else text))
    if not all(names) or len(set(names)) != len(names):
        raise UsageError(f"{option} {','.join(names)!r}: give distinct column names separated by commas")
    return names


class DatabaseWriter:
    """Writes each batch to *table* of the database at *url* (see ``DStream.save_to_db``)."""

    def __init__(self, url: str, table: str, mode: str = "append", key=None, columns=None,
                 create: bool = False) -> None:
        if mode not in MODES:
            raise UsageError(f"--mode {mode!r}: choose append, upsert or replace")
        if not table.strip():
            raise UsageError("save-to-db: the TABLE name is empty")
        self.url = DatabaseURL.parse(url)
        self.table = table
        self.mode = mode
        self.create = create
        self.columns = _names(columns, "--columns")
        self.key = _names(key, "--key")
        if self.key and mode != "upsert":
            raise UsageError("--key is for --mode upsert: the columns that identify a row")
        if mode == "upsert" and not self.key:
            if self.columns and "key" not in self.columns:
                raise UsageError("--mode upsert needs --key COLS: the columns that identify a row")
            self.key = ("key",)
        if self.columns and self.key and (missing := [k for k in self.key if k not in self.columns]):
            raise UsageError(f"--key {missing[0]}: not among --columns {','.join(self.columns)}")
        self.database = self.url.open()  # a missing driver says so now, before any input is read
        self.node = None
        self.label = "save-to-db"
        self.job = ""
        self.connected = False
        self.committed: int | None = None  # the newest batch time the table holds from this output
        self.declared: dict[str, str] | None = None  # the table's columns and their SQL types; None: no table
        self.shape: RowShape | None = None
        self.reported: int | None = None  # the batch whose rejected records went to --on-error already

    # --- the output's life: ForEachDStream calls these ----------------------------------------------------
    def attach(self, node) -> None:
        self.node = node
        self.label = node.label

    def start(self) -> None:
        """Connect and check the table before any input is read; a database that is down is waited for by
        the first batch instead (its retries)."""
        try:
            self._guarded(self._connect)
        except OutputFailed:
            pass

    def close(self) -> None:
        if self.connected and self.node.context.checkpoints is None:
            try:  # no checkpoint: nothing will resume this run, so its bookkeeping row is of no more use
                self.database.begin()
                self.database.execute(f"DELETE FROM {BOOKKEEPING} WHERE job = {self.database.placeholder}",
                                      (self.job,))
                self.database.commit()
            except Exception:
                pass
        self.database.close()
        self.connected = False

    def __call__(self, batch: list, t: int) -> None:
        if self._already_written(t):
            return  # written before a crash; recomputed now only to rebuild what follows
        if not batch and self.mode != "replace":
            return
        self._guarded(lambda: self._write(batch, t))

    def _already_written(self, t: int) -> bool:
        if not self.connected:
            self._guarded(self._connect)
        return self.committed is not None and t <= self.committed

    # --- connecting -----------------------------------------------------------------------------------------
    def _guarded(self, action) -> None:
        """Run *action*; a lost connection becomes OutputFailed (retried), any other database error one line."""
        database = self.database
        try:
            action()
        except DstreamError:
            self._rollback()
            raise
        except Exception as exc:
            self._rollback()
            message = self.url.scrub(str(exc)) or type(exc).__name__
            if database.is_connection_error(exc):
                database.close()
                self.connected = False
                raise OutputFailed(f"{self.url.shown}: {message}") from None
            raise DstreamError(f"{self.label}: {self.url.shown}, table {self.table}: {message}") from None

    def _rollback(self) -> None:
        try:
            self.database.rollback()
        except Exception:
            self.database.close()
            self.connected = False

    def _connect(self) -> None:
        database = self.database
        if not self.job:
            context = self.node.context
            stream = context.stream_id or uuid.uuid4().hex
            self.job = f"{stream}/{context.graph.outputs.index(self.node)}:{self.table}"
        database.connect()
        database.create_bookkeeping(BOOKKEEPING)
        self._read_committed()
        self.declared = database.columns(self.table)
        self.connected = True
        if self.declared is None and not self.create:
            raise DstreamError(f"{self.label}: table {self.table} does not exist in {self.url.shown}; "
                               "create it, or add --create")
        if self.declared is not None:
            if self.columns:
                self._check_columns(self.columns)
            problem = database.check_table(self.table, self.key if self.mode == "upsert" else ())
            if problem:
                raise DstreamError(f"{self.label}: table {self.table} in {self.url.shown} {problem}")

    def _read_committed(self) -> None:
        """The newest batch time this output's bookkeeping row says the table holds."""
        database = self.database
        found = database.read(f"SELECT batch_time FROM {BOOKKEEPING} WHERE job = {database.placeholder}", (self.job,))
        self.committed = found[0][0] if found else None

    def _check_columns(self, columns: tuple[str, ...]) -> None:
        missing = [c for c in columns if c not in self.declared]
        if missing:
            raise DstreamError(f"{self.label}: table {self.table} in {self.url.shown} has no column {missing[0]!r} "
                               f"(it has {', '.join(self.declared)}); name the columns with --columns")

    # --- one batch ----------------------------------------------------------------------------------------
    def _shape_of(self, record) -> RowShape:
        try:
            shape = RowShape.of(record, self.columns)
        except UsageError as exc:
            raise UsageError(f"{self.label}: {exc}") from None
        missing = [k for k in self.key or () if k not in shape.columns]
        if self.mode == "upsert" and missing:
            raise UsageError(f"{self.label}: --key {missing[0]}: the records have no such field (they have "
                             f"{', '.join(shape.columns)}); name the key with --key")
        if self.declared is not None:
            self._check_columns(shape.columns)
        return shape

    def write_parts(self, t: int, parts, whole) -> None:
        """Batch *t* given as ``parts()``, its slices as they are made (None: not to be had so), or ``whole()``.
        Append and replace write the slices as they come, so a big batch is never held; anything going wrong
        on the way (a record a stage or the table refuses, a lost connection) rolls that back, and the batch
        is then computed whole and written as ``__call__`` writes it, which names or skips the bad records."""
        if self._already_written(t):
            return  # not even computed: written before a crash
        sliced = parts() if self.mode != "upsert" else None
        if sliced is None or not self._write_sliced(sliced, t):
            self(whole() or [], t)

    def _write_sliced(self, parts, t: int) -> bool:
        """Write the slices in one transaction; False (and nothing written) if the batch must be redone whole.
        No slice is referenced once written, so only the few in the chain's pipeline exist at a time."""
        written = 0
        first: list = []  # the first slice's rows, held only until they are written

        def rows_of(slices):
            nonlocal written
            if first:
                rows = first.pop()
                written += len(rows)
                yield rows
            for records in slices:
                rows = self.shape.rows(records)
                if rows is None:
                    raise _RedoWhole  # a record that does not fit: the whole batch's path names it
                records = None
                written += len(rows)
                yield rows

        try:
            parts = iter(parts)
            head = next((records for records in parts if records), None)
            if head is None and self.mode != "replace":
                return True
            if head is not None:
                if self.shape is None:
                    self.shape = self._shape_of(head[0])
                rows = self.shape.rows(head)
                if rows is None:
                    return False
                self._ensure_table(rows)
                first.append(rows)
                head = rows = None
            self._begin()
            if first:
                self.database.insert_parts(self.table, self.shape.columns, rows_of(parts))
            self._finish(t, written)
            return True
        except DstreamError:
            self._rollback()
            raise
        except RECORD_ERRORS:  # noqa: BLE001 - a stage's fast path, the database, the connection: redo it whole
            self._rollback()
            return False

    def _write(self, batch: list, t: int) -> None:
        records, rows, misfits = batch, None, []
        if batch:
            if self.shape is None:
                self.shape = self._shape_of(batch[0])
            rows = self.shape.rows(batch)
            if rows is None:
                records, rows, misfits = self._fit_each(batch)
        if rows:
            self._ensure_table(rows)
        self._begin()
        written = self._write_rows(records, rows, misfits) if rows else 0
        self._report(misfits, t)
        self._finish(t, written)

    def _ensure_table(self, rows: list) -> None:
        """With --create, a missing table made from *rows*, the first of the stream."""
        if self.declared is None:
            kinds = column_kinds(rows, len(self.shape.columns))
            self.database.create_table(self.table, list(zip(self.shape.columns, kinds)),
                                       self.key if self.mode == "upsert" else ())
            self.declared = self.database.columns(self.table)

    def _begin(self) -> None:
        self.database.begin()
        if self.mode == "replace" and self.declared is not None:
            self.database.execute(f"DELETE FROM {quote_name(self.table)}")

    def _finish(self, t: int, written: int) -> None:
        """This output's bookkeeping row set to *t*, and the commit: the batch is in the table, once."""
        database = self.database
        columns = ("job", "table_name", "batch_time", "row_count")
        mark = (insert_sql(BOOKKEEPING, columns, database.placeholder) + database.upsert_clause(columns, ("job",))
                + ", written_at = CURRENT_TIMESTAMP")
        database.execute(mark, (self.job, self.table, t, written))
        database.commit()
        self.committed = t

    def _fit_each(self, batch: list) -> tuple[list, list, list]:
        """The records that make rows, their rows, and (record, reason) for the others."""
        records, rows, misfits = [], [], []
        for record in batch:
            try:
                rows.append(self.shape.row(record))
                records.append(record)
            except RecordDoesNotFit as exc:
                misfits.append((record, f"does not fit table {self.table}: {exc}"))
        return records, rows, misfits

    def _write_rows(self, records: list, rows: list, misfits: list) -> int:
        """All rows at once; if the database refuses some, row by row, leaving out (into *misfits*) those it
        refuses. Returns the rows written."""
        database, columns = self.database, self.shape.columns
        key = self.key if self.mode == "upsert" else None
        database.execute("SAVEPOINT dstream_bulk")
        try:
            if key:
                database.upsert_rows(self.table, columns, key, rows)
            else:
                database.insert_parts(self.table, columns, [rows])
            database.execute("RELEASE SAVEPOINT dstream_bulk")
            return len(rows)
        except Exception as exc:
            if not database.is_record_error(exc):
                raise
            database.execute("ROLLBACK TO SAVEPOINT dstream_bulk")
        one_row = insert_sql(self.table, columns, database.placeholder) + (
            database.upsert_clause(columns, key) if key else "")
        written = 0
        for record, row in zip(records, rows):
            database.execute("SAVEPOINT dstream_row")
            try:
                database.execute(one_row, row)
            except Exception as exc:
                if not database.is_record_error(exc):
                    raise
                database.execute("ROLLBACK TO SAVEPOINT dstream_row")
                column = database.column_of(exc, columns) or misfit_column(row, columns, self.declared or {})
                where = f"column {column!r}: " if column else ""
                misfits.append((record, f"does not fit table {self.table}: {where}{self.url.scrub(str(exc))}"))
                continue
            database.execute("RELEASE SAVEPOINT dstream_row")
            written += 1
        return written

    def _report(self, misfits: list, t: int) -> None:
        """Hand the records left out to --on-error (once per batch, however often the batch is tried)."""
        if not misfits or self.reported == t:
            return
        reject = self.node.context.record_errors.rejecter(t, ",".join(self.node.dependencies[0].input_names))
        for record, reason in misfits:
            reject(self.label, record, BadRecord(reason))
        self.reported = t
