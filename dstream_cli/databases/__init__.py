"""``save-to-db``: each batch into a table of SQLite, PostgreSQL or MySQL/MariaDB, exactly once.

A batch is written in one transaction together with a row of the bookkeeping table
``dstream_batches`` saying which batch this output wrote last; a batch recomputed after a crash
that the database already holds is skipped. ``writer`` holds that logic and the modes, ``rows``
how records become rows, ``sqlite``, ``postgres`` and ``mysql`` what differs between the databases.
"""
from __future__ import annotations

import dataclasses
import itertools
import operator
import re
import urllib.parse

import orjson

from ..errors import UsageError
from .rows import RecordDoesNotFit


@dataclasses.dataclass(frozen=True)
class DatabaseURL:
    """``sqlite:///relative.db``, ``sqlite:////absolute.db``, ``postgresql://USER[:PASSWORD]@HOST:PORT/DB`` or
    ``mysql://USER[:PASSWORD]@HOST:PORT/DB`` (also ``mariadb://``).

    ``shown`` is the URL as messages print it: never with its password."""

    scheme: str
    text: str
    path: str = ""
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> "DatabaseURL":
        try:
            parts = urllib.parse.urlsplit(url)
        except ValueError as exc:  # "Invalid IPv6 URL": a bracket left open
            raise UsageError(f"the database URL is not a URL: {exc}") from None  # not shown: it may hold a password
        scheme = parts.scheme.lower()
        if scheme == "sqlite":
            if parts.netloc or parts.path in ("", "/") or not url[len("sqlite:"):].startswith("///"):
                raise UsageError(f"database URL {url!r}: write sqlite:///RELATIVE/PATH.db or sqlite:////ABSOLUTE/PATH.db")
            if parts.query or parts.fragment:
                raise UsageError(f"database URL {url!r}: a SQLite URL takes a path only, no "
                                 f"{'?' + parts.query if parts.query else '#' + parts.fragment} (dstream opens the "
                                 "file to write)")
            path = urllib.parse.unquote(parts.path[1:])
            if path == ":memory:" or not path.strip("/"):
                raise UsageError(f"database URL {url!r}: an in-memory database would be thrown away with the run; "
                                 "give a file")
            return cls("sqlite", url, path=path)
        password = parts.password or dict(urllib.parse.parse_qsl(parts.query)).get("password")
        if scheme in ("postgresql", "postgres"):
            return cls("postgresql", url, password=password)
        if scheme in ("mysql", "mariadb"):
            from .mysql import check_url

            check_url(cls._without_password(url), parts)
            return cls("mysql", url, password=password)
        raise UsageError(f"database URL {cls._without_password(url)!r}: the scheme should be sqlite://, postgresql:// "
                         "or mysql://")

    @property
    def shown(self) -> str:
        return self._without_password(self.text)

    @staticmethod
    def _without_password(url: str) -> str:
        parts = urllib.parse.urlsplit(url)
        if parts.password is not None:
            user, _, host = parts.netloc.rpartition("@")
            url = url.replace(parts.netloc, f"{user.partition(':')[0]}@{host}", 1)
        if "password=" in parts.query:
            query = urllib.parse.urlencode([(k, v) for k, v in urllib.parse.parse_qsl(parts.query) if k != "password"])
            url = url.replace(parts.query, query, 1)
        return url

    def scrub(self, message: str) -> str:
        """*message* with the password, should a driver quote it, blanked out; its first line only."""
        line = message.strip().split("\n", 1)[0]
        if self.password:
            line = line.replace(self.password, "***")
        return line

    def open(self):
        """The database behind this URL, not yet connected; a missing driver is a usage error."""
        if self.scheme == "sqlite":
            from .sqlite import SqliteDatabase

            return SqliteDatabase(self)
        if self.scheme == "mysql":
            from .mysql import MysqlDatabase

            return MysqlDatabase(self)
        from .postgres import PostgresDatabase

        return PostgresDatabase(self)


def quote_name(name: str) -> str:
    """An SQL identifier, quoted; ``schema.table`` names a table in a schema."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def insert_sql(table: str, columns: tuple[str, ...], placeholder: str) -> str:
    names = ", ".join(map(quote_name, columns))
    return f"INSERT INTO {quote_name(table)} ({names}) VALUES ({', '.join([placeholder] * len(columns))})"


def on_conflict(columns: tuple[str, ...], key: tuple[str, ...]) -> str:
    """``ON CONFLICT`` that makes an insert an upsert (the same words in SQLite and PostgreSQL); its SET list ends
    the clause, so a caller may add assignments."""
    others = [c for c in columns if c not in key]
    target = ", ".join(map(quote_name, key))
    if not others:
        return f" ON CONFLICT ({target}) DO NOTHING"
    return f" ON CONFLICT ({target}) DO UPDATE SET " + ", ".join(
        f"{quote_name(c)} = excluded.{quote_name(c)}" for c in others)


def json_text(value) -> bytes:
    """A dict, list or tuple in a column: as JSON text (a jsonb or text column takes it alike); RecordDoesNotFit
    for what JSON here cannot hold (an integer beyond 64 bits), so that --on-error takes the record."""
    try:
        return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    except TypeError as exc:
        raise RecordDoesNotFit(f"its value cannot be JSON here: {exc}") from None


def numbered_column(text: str, pattern: str, columns: tuple[str, ...]) -> str | None:
    """The column a driver's message names by its 1-based number (a parameter's), matched by *pattern*."""
    match = re.search(pattern, text)
    if match and 0 < int(match.group(1)) <= len(columns):
        return columns[int(match.group(1)) - 1]
    return None


def last_per_key(rows: list, positions: list[int]) -> list:
    """The last row for each key (at *positions*), in order of first appearance: one bulk statement may touch a
    row only once."""
    get = operator.itemgetter(*positions)
    try:
        return list(dict(zip(map(get, rows), rows)).values())
    except TypeError:  # a key that cannot be hashed (a list): left to the database, row by row if need be
        return rows


def tab_separated_text(rows: list, width: int) -> str | None:
    """The rows as the tab-separated text that PostgreSQL's COPY and MySQL's LOAD DATA read, for rows of text,
    integers and floats, in one C-level formatting pass; None when a value is of another kind (None, a bool...)
    or a text holds what that format escapes (the driver then sends the rows itself)."""
    flat = tuple(itertools.chain.from_iterable(rows))
    if not set(map(type, flat)) <= {str, int, float}:
        return None
    text = (("%s\t" * (width - 1) + "%s\n") * len(rows)) % flat
    # a tab or newline inside a text shows as one too many; a backslash or CR needs escaping
    if ("\\" in text or "\r" in text or text.count("\n") != len(rows)
            or text.count("\t") != len(rows) * (width - 1)):
        return None
    return text
