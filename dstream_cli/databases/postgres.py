"""PostgreSQL through psycopg 3: COPY for every bulk write (into a staging table, then INSERT ... ON CONFLICT,
for upsert); one connection kept across batches."""
from __future__ import annotations

import re
from typing import Iterable

from ..errors import UsageError
from . import DatabaseURL, json_text, last_per_key, numbered_column, on_conflict, quote_name, tab_separated_text
from .rows import RecordDoesNotFit

TYPES = {"bool": "BOOLEAN", "int": "BIGINT", "bigint": "NUMERIC", "float": "DOUBLE PRECISION", "text": "TEXT",
         "bytes": "BYTEA", "json": "JSONB", "timestamp": "TIMESTAMP", "any": "TEXT"}
STAGING = "dstream_staged"
COPY_SLICE = 100_000  # rows formatted at once: bounds the text held beside the batch


def driver():
    try:
        import psycopg
    except ImportError:
        raise UsageError("save-to-db postgresql:// needs psycopg 3: pip install 'dstream-cli[postgres]'") from None
    return psycopg


class PostgresDatabase:
    placeholder = "%s"

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.psycopg = driver()
        self.connection = None

    # --- connection -------------------------------------------------------------------------------------
    def connect(self) -> None:
        from psycopg.adapt import Dumper

        class JsonTextDumper(Dumper):
            """dict, list and tuple values as JSON text, of no declared type: the column's type decides."""

            def dump(self, obj):
                return json_text(obj)

        # libpq reads what the URL leaves out (password, service, sslmode...) from PG* variables and ~/.pgpass
        connection = self.psycopg.connect(self.url.text, connect_timeout=10, application_name="dstream")
        for kind in (dict, list, tuple):
            connection.adapters.register_dumper(kind, JsonTextDumper)
        self.connection = connection

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except self.psycopg.Error:
                pass
            self.connection = None

    def is_connection_error(self, exc: BaseException) -> bool:
        return isinstance(exc, (self.psycopg.OperationalError, self.psycopg.InterfaceError)) or (
            self.connection is not None and self.connection.closed)

    def is_record_error(self, exc: BaseException) -> bool:
        """The values of a row are at fault: a data exception or constraint (SQLSTATE classes 22 and 23), a value
        of another type than its column's (42804), or a value psycopg cannot send (text with NUL, JSON too big)."""
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return sqlstate[:2] in ("22", "23") or sqlstate == "42804" or isinstance(exc, RecordDoesNotFit) or (
            not sqlstate and isinstance(exc, self.psycopg.DataError)) or (
            isinstance(exc, self.psycopg.ProgrammingError) and not sqlstate and "adapt" in str(exc))

    def column_of(self, exc: BaseException, columns: tuple[str, ...]) -> str | None:
        diag = getattr(exc, "diag", None)
        if diag is not None and diag.column_name:
            return diag.column_name
        context = (diag.context if diag is not None else None) or ""
        match = re.search(r"COPY \S+, line \d+, column (\w+)", context)
        if match:
            return match.group(1)
        return numbered_column(context, r"parameter \$(\d+)", columns)

    # --- tables -----------------------------------------------------------------------------------------
    def columns(self, table: str) -> dict[str, str] | None:
        rows = self.read("SELECT a.attname, format_type(a.atttypid, a.atttypmod), c.oid IS NOT NULL "
                         "FROM (SELECT to_regclass(%s) AS oid) c LEFT JOIN pg_attribute a ON a.attrelid = c.oid "
                         "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum", (quote_name(table),))
        if not rows or not rows[0][2]:
            return None
        return {name: kind for name, kind, _ in rows if name is not None}

    def create_table(self, table: str, columns: list[tuple[str, str]], key: tuple[str, ...]) -> None:
        body = ", ".join(f"{quote_name(name)} {TYPES[kind]}" + (" NOT NULL" if name in key else "")
                         for name, kind in columns)
        if key:
            body += f", PRIMARY KEY ({', '.join(map(quote_name, key))})"
        self._create(f"CREATE TABLE IF NOT EXISTS {quote_name(table)} ({body})")

    def create_bookkeeping(self, table: str) -> None:
        self._create(f"CREATE TABLE IF NOT EXISTS {quote_name(table)} (job TEXT PRIMARY KEY, table_name TEXT NOT "
                     "NULL, batch_time BIGINT NOT NULL, row_count BIGINT NOT NULL, "
                     "written_at TIMESTAMPTZ DEFAULT now())")

    def _create(self, sql: str) -> None:
        try:
            self.execute(sql)
            self.connection.commit()
        except (self.psycopg.errors.UniqueViolation, self.psycopg.errors.DuplicateObject,
                self.psycopg.errors.DuplicateTable):  # another process (a partition's task) created it at once
            self.connection.rollback()

    def check_table(self, table: str, key: tuple[str, ...]) -> str | None:
        """Nothing to check before writing: an upsert without a unique key fails by itself (ON CONFLICT names
        the missing constraint)."""
        return None

    def upsert_clause(self, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
        return on_conflict(columns, key)

    # --- a batch ----------------------------------------------------------------------------------------
    def execute(self, sql: str, params=()) -> list:
        cursor = self.connection.execute(sql, params)
        return cursor.fetchall() if cursor.description is not None else []

    def read(self, sql: str, params=()) -> list:
        """A query outside any batch's transaction (ended at once: no snapshot held between batches)."""
        rows = self.execute(sql, params)
        self.connection.commit()
        return rows

    def begin(self) -> None:
        pass  # psycopg opens the transaction at the first statement

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        if self.connection is not None and not self.connection.closed:
            self.connection.rollback()

    def insert_parts(self, table: str, columns: tuple[str, ...], parts: Iterable[list]) -> None:
        """Rows arriving a list at a time, all through one COPY."""
        self._copy(quote_name(table), columns, parts)

    def upsert_rows(self, table: str, columns: tuple[str, ...], key: tuple[str, ...], rows: list) -> None:
        latest = last_per_key(rows, [columns.index(k) for k in key])  # one statement may touch a row only once
        names = ", ".join(map(quote_name, columns))
        self.execute(f"CREATE TEMP TABLE {STAGING} ON COMMIT DROP AS SELECT {names} FROM {quote_name(table)} "
                     "WITH NO DATA")
        self._copy(STAGING, columns, [latest])
        self.execute(f"INSERT INTO {quote_name(table)} ({names}) SELECT {names} FROM {STAGING}"
                     + on_conflict(columns, key))

    def _copy(self, target: str, columns: tuple[str, ...], parts: Iterable[list]) -> None:
        with self.connection.cursor() as cursor:
            with cursor.copy(f"COPY {target} ({', '.join(map(quote_name, columns))}) FROM STDIN") as copy:
                for rows in parts:
                    for start in range(0, len(rows), COPY_SLICE):
                        part = rows[start:start + COPY_SLICE]
                        text = tab_separated_text(part, len(columns))
                        if text is not None:
                            copy.write(text)
                        else:
                            write = copy.write_row
                            for row in part:
                                write(row)

