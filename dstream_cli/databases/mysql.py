"""MySQL and MariaDB through PyMySQL: ``LOAD DATA LOCAL INFILE`` for every bulk write (a multi-row INSERT where
the server refuses local files), one connection kept across batches, InnoDB transactions.

The session runs with ANSI_QUOTES, so the writer's double-quoted names mean what they mean in SQLite and
PostgreSQL, and with STRICT_ALL_TABLES, so a value that does not fit is an error, never a silent truncation.
LOAD DATA LOCAL turns such errors into warnings (the server cannot stop the client's file midway), so a load
that leaves any is undone and the rows go one by one, which names the record at fault.
"""
from __future__ import annotations

import itertools
import os
import re
import tempfile
import urllib.parse
from typing import Iterable

from ..errors import UsageError
from . import DatabaseURL, json_text, last_per_key, quote_name, tab_separated_text
from .rows import RecordDoesNotFit

TYPES = {"bool": "BOOLEAN", "int": "BIGINT", "bigint": "DECIMAL(65,0)", "float": "DOUBLE", "text": "LONGTEXT",
         "bytes": "LONGBLOB", "json": "JSON", "timestamp": "DATETIME(6)", "any": "LONGTEXT"}
#: a key column must have a bounded length to be indexed: 255 characters of utf8mb4 fit InnoDB's limit twice over
KEY_TYPES = dict(TYPES, text="VARCHAR(255)", bytes="VARBINARY(255)", json="VARCHAR(255)", any="VARCHAR(255)")
STAGING = "dstream_staged"
LOAD_SLICE = 100_000  # rows formatted at once: bounds the text held beside the batch
SESSION = "SET SESSION sql_mode = CONCAT_WS(',', @@sql_mode, 'ANSI_QUOTES', 'STRICT_ALL_TABLES')"
QUERY_OPTIONS = ("password", "unix_socket")
#: the server or the link went away, or a lock gave up: a retry on a new connection may succeed
CONNECTION_ERRORS = {1040, 1053, 1205, 1213, 1927, 2002, 2003, 2005, 2006, 2013, 2014, 2055}
#: the server refuses LOAD DATA LOCAL: local_infile was turned off after connecting (retried without it)
LOCAL_REFUSED = {1148, 3948, 2068}
#: a value at fault that PyMySQL classes as neither DataError nor IntegrityError: CHECK constraints (MariaDB's JSON
#: columns are LONGTEXT with one), invalid JSON, an out-of-range result
VALUE_ERRORS = {1690, 3140, 3819, 4025}


class LoadLeftWarnings(Exception):
    """LOAD DATA LOCAL accepted rows with values it had to change: the load is undone and redone row by row."""


def driver():
    try:
        import pymysql
    except ImportError:
        raise UsageError("save-to-db mysql:// needs PyMySQL: pip install 'dstream-cli[mysql]'") from None
    return pymysql


def check_url(shown: str, parts) -> None:
    """A usage error for what a mysql:// URL cannot mean; *shown* is the URL without its password."""
    database = parts.path.lstrip("/")
    if not database or "/" in database:
        raise UsageError(f"database URL {shown!r}: name the database, mysql://USER@HOST:PORT/DATABASE")
    try:
        _ = parts.port  # urllib checks it only when asked
    except ValueError:
        raise UsageError(f"database URL {shown!r}: the port is not a number") from None
    unknown = [k for k, _ in urllib.parse.parse_qsl(parts.query) if k not in QUERY_OPTIONS]
    if unknown:
        raise UsageError(f"database URL {shown!r}: unknown option {unknown[0]!r} (a mysql:// URL takes "
                         f"{' and '.join(QUERY_OPTIONS)})")


class MysqlDatabase:
    placeholder = "%s"

    def __init__(self, url: DatabaseURL) -> None:
        self.url = url
        self.pymysql = driver()
        self.connection = None
        self.load_local = True  # read from the server at each connection

    # --- connection -------------------------------------------------------------------------------------
    def connect(self) -> None:
        parts = urllib.parse.urlsplit(self.url.text)
        query = dict(urllib.parse.parse_qsl(parts.query))
        options = {"host": urllib.parse.unquote(parts.hostname or "localhost"), "port": parts.port or 3306,
                   "user": urllib.parse.unquote(parts.username) if parts.username else None,
                   "database": urllib.parse.unquote(parts.path.lstrip("/")), "charset": "utf8mb4",
                   "connect_timeout": 10, "autocommit": False, "local_infile": True,
                   "init_command": SESSION, "program_name": "dstream"}
        password = urllib.parse.unquote(self.url.password) if self.url.password else os.environ.get("MYSQL_PWD")
        if password is not None:
            options["password"] = password
        elif os.path.exists(os.path.expanduser("~/.my.cnf")):  # as the mysql client: its [client] section
            options["read_default_file"] = os.path.expanduser("~/.my.cnf")
        if "unix_socket" in query:
            options["unix_socket"] = query["unix_socket"]
        connection = self.pymysql.connect(**options)
        # a server may ask for a local file at any answer; only our own LOAD DATA's file is sent
        connection._local_infile = False
        self.connection = connection
        self.load_local = bool(self.read("SELECT @@GLOBAL.local_infile")[0][0])  # MySQL 8 turns it off

    def close(self) -> None:
        if self.connection is not None:
            try:
                self.connection.close()
            except self.pymysql.Error:
                pass
            self.connection = None

    def is_connection_error(self, exc: BaseException) -> bool:
        if isinstance(exc, self.pymysql.err.OperationalError):
            return _code(exc) in CONNECTION_ERRORS | LOCAL_REFUSED
        return isinstance(exc, (self.pymysql.err.InterfaceError, ConnectionError, TimeoutError))

    def is_record_error(self, exc: BaseException) -> bool:
        """The values of a row are at fault: a data exception or a constraint (SQLSTATE classes 22 and 23), or a
        load that had to change values."""
        sqlstate = getattr(exc, "sqlstate", None) or ""
        return isinstance(exc, (RecordDoesNotFit, LoadLeftWarnings, self.pymysql.err.DataError,
                                self.pymysql.err.IntegrityError)) or sqlstate[:2] in ("22", "23") or (
            isinstance(exc, self.pymysql.Error) and _code(exc) in VALUE_ERRORS)

    def column_of(self, exc: BaseException, columns: tuple[str, ...]) -> str | None:
        text = str(exc)
        # MariaDB: for column `db`.`table`.`name`; MySQL: for column 'name'; a JSON column's CHECK: CONSTRAINT `name`
        match = re.search(r"[Cc]olumn (?:`[^`]*`\.)*`([^`]*)`|[Cc]olumn '([^']*)'|CONSTRAINT `(?:[^`]*\.)?([^`.]*)`",
                          text)
        if match:
            return next(group for group in match.groups() if group is not None)
        return None

    # --- tables -----------------------------------------------------------------------------------------
    def _where(self, table: str) -> tuple[str, tuple]:
        schema, _, name = table.rpartition(".")
        if schema:
            return "table_schema = %s AND table_name = %s", (schema, name)
        return "table_schema = DATABASE() AND table_name = %s", (name,)

    def columns(self, table: str) -> dict[str, str] | None:
        where, params = self._where(table)
        rows = self.read(f"SELECT column_name, column_type FROM information_schema.columns WHERE {where} "
                         "ORDER BY ordinal_position", params)
        return {name: kind for name, kind in rows} or None

    def check_table(self, table: str, key: tuple[str, ...]) -> str | None:
        """What keeps *table* from taking the writes, if anything: each batch and its bookkeeping row must commit
        together (InnoDB), and ON DUPLICATE KEY UPDATE without a unique index on the key would add rows, not
        replace them."""
        where, params = self._where(table)
        found = self.read(f"SELECT engine FROM information_schema.tables WHERE {where}", params)
        engine = found[0][0] if found else None
        if engine is not None and engine.lower() != "innodb":
            return (f"uses {engine}, which has no transactions, so a batch and the record that it was written "
                    f"cannot commit together: ALTER TABLE {table} ENGINE=InnoDB")
        if not key:
            return None
        indexes: dict[str, set] = {}
        for index, column in self.read(f"SELECT index_name, column_name FROM information_schema.statistics WHERE "
                                       f"{where} AND non_unique = 0", params):
            indexes.setdefault(index, set()).add(column)
        if set(key) not in indexes.values():
            return (f"has no PRIMARY KEY or UNIQUE index on ({', '.join(key)}), which --mode upsert needs (INSERT "
                    "... ON DUPLICATE KEY UPDATE); add one, or name its columns with --key")
        return None

    def create_table(self, table: str, columns: list[tuple[str, str]], key: tuple[str, ...]) -> None:
        body = ", ".join(f"{quote_name(name)} " + (f"{KEY_TYPES[kind]} NOT NULL" if name in key else TYPES[kind])
                         for name, kind in columns)
        if key:
            body += f", PRIMARY KEY ({', '.join(map(quote_name, key))})"
        self._create(f"CREATE TABLE IF NOT EXISTS {quote_name(table)} ({body}) ENGINE=InnoDB "
                     "DEFAULT CHARSET=utf8mb4")

    def create_bookkeeping(self, table: str) -> None:
        self._create(f"CREATE TABLE IF NOT EXISTS {quote_name(table)} (job VARCHAR(255) PRIMARY KEY, table_name "
                     "VARCHAR(255) NOT NULL, batch_time BIGINT NOT NULL, row_count BIGINT NOT NULL, written_at "
                     "TIMESTAMP DEFAULT CURRENT_TIMESTAMP) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4")

    def _create(self, sql: str) -> None:
        self.execute(sql)  # DDL commits by itself in MySQL: never inside a batch's transaction
        self.connection.commit()

    def upsert_clause(self, columns: tuple[str, ...], key: tuple[str, ...]) -> str:
        others = [c for c in columns if c not in key] or list(key)  # nothing else to set: a no-op keeps the row
        return " ON DUPLICATE KEY UPDATE " + ", ".join(f"{quote_name(c)} = VALUES({quote_name(c)})" for c in others)

    # --- a batch ----------------------------------------------------------------------------------------
    def execute(self, sql: str, params=()) -> list:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, _as_sent([params])[0] if params else None)
            return list(cursor.fetchall()) if cursor.description is not None else []

    def read(self, sql: str, params=()) -> list:
        """A query outside any batch's transaction (ended at once: no snapshot held between batches)."""
        rows = self.execute(sql, params)
        self.connection.commit()
        return rows

    def begin(self) -> None:
        self.connection.begin()

    def commit(self) -> None:
        self.connection.commit()

    def rollback(self) -> None:
        if self.connection is not None and self.connection.open:
            self.connection.rollback()

    def insert_parts(self, table: str, columns: tuple[str, ...], parts: Iterable[list]) -> None:
        """Rows arriving a list at a time: written to one file as they come and loaded at the end, or (rows that
        need the driver's escaping, or a server that refuses local files) sent as multi-row INSERTs."""
        names = ", ".join(map(quote_name, columns))
        load = _LoadFile() if self.load_local else None
        try:
            for rows in parts:
                for start in range(0, len(rows), LOAD_SLICE):  # formatted a slice at a time: bounds the text held
                    part = rows[start:start + LOAD_SLICE]
                    if load is None or not load.add(part, len(columns)):
                        with self.connection.cursor() as cursor:  # PyMySQL makes multi-row INSERTs of it
                            cursor.executemany(f"INSERT INTO {quote_name(table)} ({names}) VALUES "
                                               f"({', '.join(['%s'] * len(columns))})", _as_sent(part))
            if load is not None and load.rows:
                self._load(load.close(), quote_name(table), names)
        finally:
            if load is not None:
                load.remove()

    def upsert_rows(self, table: str, columns: tuple[str, ...], key: tuple[str, ...], rows: list) -> None:
        latest = last_per_key(rows, [columns.index(k) for k in key])
        names = ", ".join(map(quote_name, columns))
        self.execute(f"DROP TEMPORARY TABLE IF EXISTS {STAGING}")  # dropping a temporary table commits nothing
        self.execute(f"CREATE TEMPORARY TABLE {STAGING} ENGINE=InnoDB AS SELECT {names} FROM {quote_name(table)} "
                     "LIMIT 0")
        try:
            self.insert_parts(STAGING, columns, [latest])
            self.execute(f"INSERT INTO {quote_name(table)} ({names}) SELECT {names} FROM {STAGING}"
                         + self.upsert_clause(columns, key))
        finally:
            if self.connection.open:
                self.execute(f"DROP TEMPORARY TABLE IF EXISTS {STAGING}")

    def _load(self, path: str, target: str, names: str) -> None:
        self.connection._local_infile = True
        try:
            with self.connection.cursor() as cursor:
                cursor.execute(f"LOAD DATA LOCAL INFILE {self.connection.escape(path)} INTO TABLE {target} "
                               f"CHARACTER SET utf8mb4 ({names})")
                if cursor.warning_count:
                    cursor.execute("SHOW WARNINGS LIMIT 1")
                    raise LoadLeftWarnings(cursor.fetchone()[2])
        except self.pymysql.Error as exc:
            if _code(exc) in LOCAL_REFUSED:  # turned off since connecting: the batch is retried without it
                self.load_local = False
            raise
        finally:
            self.connection._local_infile = False


class _LoadFile:
    """A temporary file of tab-separated rows for LOAD DATA, filled a slice at a time."""

    def __init__(self) -> None:
        descriptor, self.path = tempfile.mkstemp(prefix="dstream-load-", suffix=".tsv")
        self.handle = os.fdopen(descriptor, "w", encoding="utf-8")
        self.rows = 0

    def add(self, rows: list, width: int) -> bool:
        """Append *rows*; False (nothing written) when they need escaping that the fast formatting does not do."""
        text = tab_separated_text(rows, width)
        if text is None:
            return False
        self.handle.write(text)
        self.rows += len(rows)
        return True

    def close(self) -> str:
        self.handle.close()
        return self.path

    def remove(self) -> None:
        self.handle.close()
        os.unlink(self.path)


def _as_sent(rows: list) -> list:
    """The rows with dict, list and tuple values as JSON text, which a JSON or a text column takes alike (PyMySQL
    would send a list as a parenthesised list of values)."""
    if not {dict, list, tuple} & set(map(type, itertools.chain.from_iterable(rows))):
        return rows
    return [tuple(json_text(v).decode() if type(v) in (dict, list, tuple) else v for v in row) for row in rows]


def _code(exc: BaseException) -> int | None:
    return exc.args[0] if exc.args and isinstance(exc.args[0], int) else None
