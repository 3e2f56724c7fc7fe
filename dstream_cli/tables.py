"""Batches as DuckDB tables, for the ``sql`` stage (``pip install 'dstream-cli[sql]'``).

A batch reaches DuckDB as JSON that DuckDB parses itself (vectorised, in C++), never a row at a time
through Python: an input's own JSON lines as they arrived, or the records dumped by orjson in one
call. Each table keeps the columns and types it has had, so a query sees the same table from batch
to batch: a new key adds a column, a column seen only as null takes the first type it gets, whole
numbers widen to DOUBLE when a fraction appears, and anything fits a VARCHAR column. A record whose
value fits none of that (text in a BIGINT column) is a bad record, named with its column.
"""
from __future__ import annotations

import itertools
import math
import operator
import os
import re
import shutil
import tempfile
import weakref
from typing import Callable, Iterable

import orjson

from .errors import StageFailed, UsageError

#: DuckDB's integer types, which widen to DOUBLE
_WHOLE = {"TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "UTINYINT", "USMALLINT", "UINTEGER", "UBIGINT",
          "UHUGEINT"}
_FRACTION = {"FLOAT", "DOUBLE"}
_NULL = '"NULL"'  # the type DuckDB gives a column that holds only nulls: any function takes it, until it is typed
_PREPARED = "dstream_query"


def duckdb_module():
    try:
        import duckdb
    except ImportError:
        raise UsageError("the sql stage needs DuckDB: pip install 'dstream-cli[sql]'") from None
    return duckdb


class SqlQuery:
    """A query checked once, before any input is read: one SELECT that parses, and the tables it reads."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.connection = duckdb_module().connect(config={"threads": os.cpu_count() or 1})
        parsed = orjson.loads(self.connection.execute("select json_serialize_sql(?)", [text]).fetchone()[0])
        if parsed.get("error"):
            if parsed.get("error_type") != "parser":  # DuckDB serialises SELECT statements only
                raise UsageError("give one SELECT query: the sql stage runs nothing else")
            raise UsageError(_position_message(text, parsed))
        statements = parsed["statements"]
        if len(statements) != 1:
            raise UsageError(f"give one SELECT query, not {len(statements)} statements")
        tables: set[str] = set()
        ctes: set[str] = set()
        _walk(statements[0], tables, ctes)
        self.tables = sorted(tables - ctes)  # the names it reads as tables, in FROM and JOIN
        self.prepared = False

    def run(self) -> list[dict]:
        """The query's rows over the tables loaded now, as dicts by column name. It is prepared once, when every
        table has columns; DuckDB binds it again by itself when a table gains a column or widens one."""
        try:
            if not self.prepared:
                # on a line of its own, so DuckDB's line numbers in a message are the query's, one on
                self.connection.execute(f"PREPARE {_PREPARED} AS\n{self.text}")
                self.prepared = True
            result = self.connection.execute(f"EXECUTE {_PREPARED}")
            names = [column[0] for column in result.description]
            return [dict(zip(names, row)) for row in result.fetchall()]
        except Exception as exc:  # noqa: BLE001 - DuckDB's errors have no common base worth naming here
            raise StageFailed(_one_line(exc, lines_before=1)) from None


def _walk(node, tables: set[str], ctes: set[str]) -> None:
    """The base tables and the CTE names anywhere in DuckDB's serialised syntax tree."""
    if isinstance(node, dict):
        if node.get("type") == "BASE_TABLE" and not node.get("schema_name"):
            tables.add(node["table_name"])
        for entry in node.get("cte_map", {}).get("map", []) if isinstance(node.get("cte_map"), dict) else []:
            ctes.add(entry["key"])
        for value in node.values():
            _walk(value, tables, ctes)
    elif isinstance(node, list):
        for value in node:
            _walk(value, tables, ctes)


def _position_message(text: str, parsed: dict) -> str:
    """DuckDB's parser error with where it is: line and column, and the text from there."""
    message = parsed.get("error_message", "syntax error")
    position = int(parsed.get("position") or 0)
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    return f"{message} (line {line}, column {column}: {text[position:position + 30]!r})"


def _one_line(exc: BaseException, lines_before: int = 0) -> str:
    """DuckDB's message on one line: its first line, the candidates it suggests, and where (its LINE and caret
    lines said as a line and column of the query, which DuckDB ran after *lines_before* lines of its own)."""
    lines = str(exc).splitlines()
    said = [lines[0] if lines else type(exc).__name__]
    said += [line for line in lines[1:] if line.startswith("Candidate bindings")]
    for index, line in enumerate(lines[:-1]):
        match = re.match(r"LINE (\d+): ", line)
        caret = lines[index + 1].find("^")
        if match and caret >= match.end():
            said.append(f"(line {int(match.group(1)) - lines_before}, column {caret - match.end() + 1})")
            break
    return " ".join(said)


class BatchTable:
    """One table the query reads (``batch`` or a stream's name), filled anew at every batch."""

    def __init__(self, query: SqlQuery, name: str) -> None:
        self.query = query
        self.name = name
        self.columns: dict[str, str] = {}  # name -> DuckDB type, in the order they appeared
        self.created = False
        self.scratch = scratch_directory()
        weakref.finalize(self, shutil.rmtree, self.scratch, True)
        self.path = os.path.join(self.scratch, f"{len(name)}-{re.sub(r'[^A-Za-z0-9_]', '_', name)}.json")

    # --- loading ---------------------------------------------------------------------------------
    def load_json_lines(self, pieces: Iterable[bytes], count: int) -> bool:
        """Load an input's JSON lines as they arrived (*pieces* of whole lines, without their last newline);
        False if DuckDB read other than *count* records (a blank line, a value that is not an object, text that
        does not fit): the caller then loads the parsed records, where such lines are named."""
        with open(self.path, "wb") as handle:
            for piece in pieces:
                handle.write(piece)
                handle.write(b"\n")
        try:
            self._fit("newline_delimited")
            return self._insert("newline_delimited") == count
        except _Misfit:
            return False

    def load_records(self, records: list, reject: Callable[[object, str], None]) -> None:
        """Load Python records: dicts by key, tuples (and Rows) as _1, _2, ..., anything else as one column
        ``value``; a record that does not fit the table's columns goes to *reject* with the reason."""
        rows = [_as_row(record) for record in records]
        try:
            data = _dumped(rows)
        except TypeError:  # an integer beyond 64 bits, somewhere: find it, record by record
            rows, records = self._dumpable(rows, records, reject)
            data = _dumped(rows)
        self._write(data)  # typed with NaN and the infinities as nulls (orjson's), loaded with their names
        non_finite = _non_finite_columns(rows)
        loaded = rows
        try:
            self._fit("array", non_finite)
        except _Misfit as misfit:
            # DuckDB typed the column anew from all its values, a text among them: widen by the records' own
            self._change([(name, "DOUBLE", False) for name in misfit.columns if self.columns.get(name) in _WHOLE
                          and any(type(row.get(name)) is float for row in rows)])
            kept = []
            for record, row in zip(records, rows):
                reason = self._misfit(row, misfit.columns)
                if reason is None:
                    kept.append(row)
                else:
                    reject(record, reason)
            if kept and not self.created:  # nothing to widen from, and no record named: say so, drop nothing
                raise StageFailed(f"table {self.name}: DuckDB cannot type these records, for example "
                                  f"{str(kept[0])[:80]}") from misfit
            loaded = kept
        if non_finite:
            loaded = [with_float_names(row) for row in loaded]
        if loaded is not rows:
            self._write(_dumped(loaded))
        self._insert("array")

    def empty(self) -> None:
        if self.created:
            self.query.connection.execute(f"delete from {_quote(self.name)}")

    @property
    def known(self) -> bool:
        """The table has columns: it has had records (until then a query cannot name its columns)."""
        return self.created

    # --- the table's columns ------------------------------------------------------------------------
    def _fit(self, fmt: str, non_finite: frozenset[str] = frozenset()) -> None:
        """Make the table's columns take this batch's, widening where the rules allow; raise _Misfit naming the
        columns where they do not. A column in *non_finite* holds a NaN or an infinity, written as null: it is
        at least DOUBLE."""
        try:
            described = self.query.connection.execute(
                f"describe select * from read_json(?, format='{fmt}')", [self.path]).fetchall()
        except Exception as exc:  # noqa: BLE001 - not JSON DuckDB can type (mixed kinds of values, say)
            raise _Misfit(set(self.columns)) from exc
        changes, misfits = [], set()
        for name, kind, *_ in described:
            if name in non_finite and (kind == _NULL or kind in _WHOLE):
                kind = "DOUBLE"
            had = self.columns.get(name)
            if had is None or had == _NULL and kind != _NULL:
                changes.append((name, kind, had is None))
            elif kind == had or kind == _NULL or had == "VARCHAR" or had in _FRACTION and kind in _WHOLE:
                continue
            elif had in _WHOLE and kind in _FRACTION:
                changes.append((name, "DOUBLE", False))
            else:
                misfits.add(name)
        self._change(changes)
        if misfits:
            raise _Misfit(misfits)

    def _change(self, changes: list[tuple[str, str, bool]]) -> None:
        connection = self.query.connection
        for name, kind, new in changes:
            self.columns[name] = kind
            if not self.created:
                continue
            if new:
                connection.execute(f"alter table {_quote(self.name)} add column {_quote(name)} {kind}")
            else:
                connection.execute(f"alter table {_quote(self.name)} alter {_quote(name)} type {kind}")
        if not self.created and self.columns:
            columns = ", ".join(f"{_quote(n)} {k}" for n, k in self.columns.items())
            connection.execute(f"create or replace temp table {_quote(self.name)} ({columns})")
            self.created = True

    def _insert(self, fmt: str) -> int:
        if not self.created:
            return 0
        try:
            return _insert_json(self.query.connection, self.name, self.columns, self.path, fmt)
        except Exception as exc:  # noqa: BLE001 - a value DuckDB cannot cast to its column's type
            if fmt == "newline_delimited":
                raise _Misfit(set(self.columns)) from exc
            raise StageFailed(f"table {self.name}: {_one_line(exc)}") from None

    def _misfit(self, row: dict, columns: set[str]) -> str | None:
        for name in columns:
            value = row.get(name)
            kind = self.columns.get(name, "")
            if value is None or _fits(value, kind):
                continue
            return f"column {name} of table {self.name} is {kind}, not {type(value).__name__} {value!r:.40}"
        return None

    def _dumpable(self, rows: list, records: list, reject) -> tuple[list, list]:
        kept_rows, kept_records = [], []
        for row, record in zip(rows, records):
            try:
                _dumped(row)
            except TypeError as exc:
                reject(record, f"not a value a table holds: {exc}")
                continue
            kept_rows.append(row)
            kept_records.append(record)
        return kept_rows, kept_records

    def _write(self, data: bytes) -> None:
        with open(self.path, "wb") as handle:
            handle.write(data)

    # --- checkpoint: the columns, so a restarted run sees the tables it saw -------------------------------
    def snapshot(self) -> dict:
        return dict(self.columns)

    def restore(self, columns: dict) -> None:
        self._change([(name, kind, True) for name, kind in columns.items()])


def create_table(connection, name: str, columns: dict[str, str], rows: list[dict], scratch: str) -> None:
    """Table *name* with *columns* (name -> DuckDB type) holding *rows* (dicts by column), loaded as BatchTable
    loads a batch: orjson's JSON, read by DuckDB."""
    path = os.path.join(scratch, "rows.json")
    with open(path, "wb") as handle:
        handle.write(_dumped(rows))
    definition = ", ".join(f"{_quote(n)} {k}" for n, k in columns.items()) or '"_" VARCHAR'
    connection.execute(f"create or replace temp table {_quote(name)} ({definition})")
    if rows and columns:
        _insert_json(connection, name, columns, path, "array")


def _insert_json(connection, table: str, columns: dict[str, str], path: str, fmt: str) -> int:
    """Append the JSON at *path* to *table*, each value cast to its column's type: the number of rows."""
    types = ", ".join(f"{_literal(n)}: {_literal(k)}" for n, k in columns.items())
    return connection.execute(f"insert into {_quote(table)} by name select * from "
                              f"read_json(?, format='{fmt}', columns={{{types}}})", [path]).fetchone()[0]


def _non_finite_columns(rows: list[dict]) -> frozenset[str]:
    """The columns where a row holds a float NaN or infinity, which JSON has no form for: found in C-level passes
    (the floats' sum is finite when none is), and by looking at each value only when one is."""
    values = list(itertools.chain.from_iterable(map(dict.values, rows)))
    floats = list(itertools.compress(values, map(operator.is_, map(type, values), itertools.repeat(float))))
    if math.isfinite(sum(floats)):
        return frozenset()
    return frozenset(name for row in rows for name, value in row.items()
                     if type(value) is float and not math.isfinite(value))


def with_float_names(row: dict) -> dict:
    """*row* with each float NaN or infinity as its name, which DuckDB casts to the float (JSON has no form
    for them)."""
    return {name: _float_name(value) if isinstance(value, float) and not math.isfinite(value) else value
            for name, value in row.items()}


def _float_name(value: float) -> str:
    return "NaN" if math.isnan(value) else "Infinity" if value > 0 else "-Infinity"


def _dumped(rows) -> bytes:
    """Rows as one JSON document; values JSON has no form for, as their text."""
    return orjson.dumps(rows, default=str, option=orjson.OPT_NON_STR_KEYS)


class _Misfit(Exception):
    def __init__(self, columns: set[str]) -> None:
        super().__init__(", ".join(sorted(columns)))
        self.columns = columns


def _fits(value, kind: str) -> bool:
    if kind in _WHOLE:
        return type(value) is int
    if kind in _FRACTION:
        return type(value) in (int, float)
    if kind == "BOOLEAN":
        return type(value) is bool
    if kind.endswith("[]"):
        return isinstance(value, list)
    if kind.startswith("STRUCT"):
        return isinstance(value, dict)
    return True  # VARCHAR, dates and times (DuckDB casts their text), JSON


def _as_row(record) -> dict:
    if isinstance(record, dict):
        return record
    fields = getattr(record, "_fields", None) or getattr(record, "__fields__", None)
    if fields is not None:
        return dict(zip(fields, record))
    if isinstance(record, (tuple, list)):
        return {f"_{i}": value for i, value in enumerate(record, 1)}
    return {"value": record}


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def scratch_directory() -> str:
    """Where batches are handed to DuckDB: memory-backed where the system has it, removed with the table."""
    base = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
    return tempfile.mkdtemp(prefix="dstream-sql-", dir=base)

