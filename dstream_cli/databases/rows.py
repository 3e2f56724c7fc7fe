"""How the records of a batch become rows: which columns, one tuple per record, and column types for --create.

Pairs are ``key, value``; ``--columns a,b,c`` names the fields of tuples (or picks the fields of dicts);
without it a dict's fields are the first record's, and anything else is one ``value`` column.
"""
from __future__ import annotations

import datetime
import operator

PAIR_COLUMNS = ("key", "value")
INT64 = (-(1 << 63), 1 << 63)


class RecordDoesNotFit(Exception):
    """Why a record cannot be a row."""


class RowShape:
    """The columns a batch fills, and how each record gives a row: ``fields`` (tuples and lists, by position),
    ``dict`` (by name) or ``scalar`` (the record is the one value)."""

    def __init__(self, columns: tuple[str, ...], kind: str, named: bool) -> None:
        self.columns = columns
        self.kind = kind
        self.named = named  # the columns came from --columns, not from the first record
        self._get = operator.itemgetter(*columns) if kind == "dict" else None

    @classmethod
    def of(cls, record, columns: list[str] | None) -> "RowShape":
        """The shape of a batch whose first record is *record*."""
        if columns:
            names = tuple(columns)
            if isinstance(record, dict):
                return cls(names, "dict", True)
            if isinstance(record, (tuple, list)) and (len(names) > 1 or len(record) == 1):
                return cls(names, "fields", True)
            return cls(names, "scalar", True)
        if isinstance(record, dict) and record:
            return cls(tuple(map(str, record)), "dict", False)
        if isinstance(record, (tuple, list)):
            if len(record) == 2:
                return cls(PAIR_COLUMNS, "fields", False)
            from ..errors import UsageError

            raise UsageError(f"records are {len(record)}-tuples: name their fields with --columns "
                             f"(e.g. --columns {','.join(f'c{i}' for i in range(1, len(record) + 1))})")
        return cls(("value",), "scalar", False)

    def rows(self, batch: list) -> list | None:
        """One row per record, in order, when every record fits (checked in bulk); else None."""
        n = len(self.columns)
        if self.kind == "fields":
            if set(map(type, batch)) <= {tuple, list} and set(map(len, batch)) == {n}:
                return batch
            return None
        if self.kind == "dict":
            if set(map(type, batch)) != {dict} or (not self.named and set(map(len, batch)) != {n}):
                return None
            try:
                values = list(map(self._get, batch))
            except KeyError:
                return None
            return values if n > 1 else [(v,) for v in values]
        return [(record,) for record in batch]

    def row(self, record) -> tuple | list:
        """The row of one record, or RecordDoesNotFit saying why not."""
        n, columns = len(self.columns), ", ".join(self.columns)
        if self.kind == "fields":
            if not isinstance(record, (tuple, list)):
                raise RecordDoesNotFit(f"is a {type(record).__name__}, not a tuple of {n} fields ({columns})")
            if len(record) != n:
                raise RecordDoesNotFit(f"has {len(record)} fields, the columns are {n} ({columns})")
            return record
        if self.kind == "dict":
            if not isinstance(record, dict):
                raise RecordDoesNotFit(f"is a {type(record).__name__}, not a dict with fields {columns}")
            for name in self.columns:
                if name not in record:
                    raise RecordDoesNotFit(f"has no field {name!r}")
            if not self.named:
                extra = next((k for k in record if k not in self.columns), None)
                if extra is not None:
                    raise RecordDoesNotFit(f"has a field {extra!r} beyond the columns {columns} (those of the "
                                           "first record; pick fields with --columns)")
            return tuple(record[name] for name in self.columns)
        return (record,)


def column_kinds(rows: list, width: int) -> list[str]:
    """For each column, the kind of value the rows hold there (a key of the backends' TYPES; ``any`` when they
    disagree; ``text`` when every value is None)."""
    kinds = []
    for index in range(width):
        types = {type(row[index]) for row in rows} - {type(None)}
        kinds.append(_kind(types, [row[index] for row in rows] if types & {int} else ()))
    return kinds


def _kind(types: set, values) -> str:
    if not types:
        return "text"
    if types == {bool}:
        return "bool"
    if types <= {int, bool}:
        return "int" if all(INT64[0] <= v < INT64[1] for v in values if v is not None) else "bigint"
    if types <= {int, float}:
        return "float"
    if types == {str}:
        return "text"
    if types <= {bytes, bytearray}:
        return "bytes"
    if types <= {dict, list, tuple}:
        return "json"
    if types <= {datetime.datetime}:
        return "timestamp"
    return "any"


def misfit_column(row, columns: tuple[str, ...], declared: dict[str, str]) -> str | None:
    """The first column whose value plainly does not suit its declared SQL type; None if none is plain."""
    for name, value in zip(columns, row):
        kind = declared.get(name, "").lower()
        if value is None or not kind:
            continue
        if "int" in kind and not (type(value) is int and INT64[0] <= value < INT64[1]):
            return name
        if any(word in kind for word in ("real", "floa", "doub", "numeric", "decimal")) and \
                not isinstance(value, (int, float)):
            return name
        if "bool" in kind and not isinstance(value, bool):
            return name
        if any(word in kind for word in ("char", "text", "clob")) and isinstance(value, (bytes, bytearray)):
            return name
    return None
