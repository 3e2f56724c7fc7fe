"""SQLite through Python's sqlite3: WAL mode (dashboards read while batches are written), executemany."""
from __future__ import annotations

import re
import sqlite3
from typing import Iterable

from . import DatabaseURL, insert_sql, json_text, numbered_column, on_conflict, quote_name
from .rows import RecordDoesNotFit

TYPES = {"bool": "INTEGER", "int": "INTEGER", "bigint": "ANY", "float": "REAL", "text": "TEXT", "bytes": "BLOB",
         "json": "TEXT", "timestamp": "TEXT", "any": "ANY"}
#: STRICT tables refuse a value of the wrong type, as PostgreSQL does (SQLite 3.37 and later)
STRICT = sqlite3.sqlite_version_info >= (3, 37)
_RETRYABLE = ("locked", "busy", "unable to open", "disk i/o")


def _register_json_adapters() -> None:
    for kind in (dict, list, tuple):
        if (kind, sqlite3.PrepareProtocol) not in sqlite3.adapters:  # a user's own adapter wins
            sqlite3.register_adapter(kind, lambda value: json_text(value).decode())


class SqliteDatabase:
    placeholder = "?"

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.connection: sqlite3.Connection | None = None
        _register_json_adapters()

    # --- connection -------------------------------------------------------------------------------------
    def connect(self) -> None:
        # autocommit (isolation_level None): each batch's BEGIN IMMEDIATE ... COMMIT is ours
        connection = sqlite3.connect(self.url.path, isolation_level=None, timeout=30, check_same_thread=False)
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=FULL")  # a commit survives power loss, as the checkpoint after it
        except sqlite3.Error:
            connection.close()
            raise
        self.connection = connection

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except sqlite3.Error:
                pass
            self.connection = None

    def is_connection_error(self, exc: BaseException) -> bool:
        return isinstance(exc, sqlite3.OperationalError) and any(w in str(exc).lower() for w in _RETRYABLE)

    def is_record_error(self, exc: BaseException) -> bool:
        """The values of a row are at fault (a constraint, a type, a value that cannot be bound)."""
        return isinstance(exc, (sqlite3.IntegrityError, sqlite3.DataError, sqlite3.InterfaceError, OverflowError,
                                sqlite3.ProgrammingError, RecordDoesNotFit))

    def column_of(self, exc: BaseException, columns: tuple[str, ...]) -> str | None:
        text = str(exc)
        match = re.search(r"(?:column|failed:) \S+?\.(\w+)", text)
        if match:
            return match.group(1)
        return numbered_column(text, r"parameter (\d+)", columns)

    # --- tables -----------------------------------------------------------------------------------------
    def columns(self, table: str) -> dict[str, str] | None:
        schema, _, name = table.rpartition(".")
        pragma = f"PRAGMA {quote_name(schema)}.table_info({quote_name(name)})" if schema else \
            f"PRAGMA table_info({quote_name(name)})"
        found = self.connection.execute(pragma).fetchall()
        return {row[1]: row[2] for row in found} or None

    def create_table(self, table: str, columns: list[tuple[str, str]], key: tuple[str, ...]) -> None:
        body = ", ".join(f"{quote_name(name)} {TYPES[kind]}" + (" NOT NULL" if name in key else "")
                         for name, kind in columns)
        if key:
            body += f", PRIMARY KEY ({', '.join(map(quote_name, key))})"
        strict = " STRICT" if STRICT else ""
        self.connection.execute(f"CREATE TABLE IF NOT EXISTS {quote_name(table)} ({body}){strict}")

    def create_bookkeeping(self, table: str) -> None:
        self.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {quote_name(table)} (job TEXT PRIMARY KEY, table_name TEXT NOT NULL, "
            "batch_time INTEGER NOT NULL, row_count INTEGER NOT NULL, written_at TEXT DEFAULT CURRENT_TIMESTAMP)")

    def check_table(self, table: str, key: tuple[str, ...]) -> str | None:
        """Nothing to check before writing: an upsert without a unique key fails by itself (ON CONFLICT names
        the missing constraint)."""
        return None

    def upsert_clause(self, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
        return on_conflict(columns, key)

    # --- a batch ----------------------------------------------------------------------------------------
    def execute(self, sql: str, params=()) -> list:
        return self.connection.execute(sql, params).fetchall()

    def read(self, sql: str, params=()) -> list:
        """A query outside any batch's transaction."""
        return self.execute(sql, params)

    def begin(self) -> None:
        self.connection.execute("BEGIN IMMEDIATE")  # the write lock now, not at the first insert

    def commit(self) -> None:
        self.connection.execute("COMMIT")

    def rollback(self) -> None:
        if self.connection is not None and self.connection.in_transaction:
            self.connection.execute("ROLLBACK")

    def insert_parts(self, table: str, columns: tuple[str, ...], parts: Iterable[list]) -> None:
        """Rows arriving a list at a time."""
        statement = insert_sql(table, columns, "?")
        for rows in parts:
            self.connection.executemany(statement, rows)

    def upsert_rows(self, table: str, columns: tuple[str, ...], key: tuple[str, ...], rows: list) -> None:
        # one statement per row, in order: the last row of a key wins
        self.connection.executemany(insert_sql(table, columns, "?") + on_conflict(columns, key), rows)
