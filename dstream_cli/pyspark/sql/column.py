"""``Column``: an expression as DuckDB SQL text, with the name Spark gives it (``(a + 1)``, ``sum(x)``, ``count(1)``),
so a DataFrame's columns are named as PySpark names them."""
from __future__ import annotations

import datetime
import decimal


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal_sql(value) -> str:
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, (int, float, decimal.Decimal)):
        return repr(value) if not isinstance(value, decimal.Decimal) else f"{value}"
    if isinstance(value, datetime.datetime):
        return f"TIMESTAMP '{value.isoformat(sep=' ')}'"
    if isinstance(value, datetime.date):
        return f"DATE '{value.isoformat()}'"
    return "'" + str(value).replace("'", "''") + "'"


class Column:
    """*sql* is DuckDB's text of the expression; *name* is Spark's name for it."""

    def __init__(self, sql: str, name: str, order: str = "", aggregate: bool = False) -> None:
        self._sql = sql
        self._name = name
        self._order = order  # " DESC NULLS LAST" and the like, for orderBy
        self._aggregate = aggregate

    # --- naming and ordering ---
    def alias(self, *alias: str, **kwargs) -> "Column":
        return Column(self._sql, alias[0], self._order, self._aggregate)

    name = alias

    def asc(self) -> "Column":
        return Column(self._sql, self._name, " ASC NULLS FIRST", self._aggregate)

    def desc(self) -> "Column":
        return Column(self._sql, self._name, " DESC NULLS LAST", self._aggregate)

    def asc_nulls_last(self) -> "Column":
        return Column(self._sql, self._name, " ASC NULLS LAST", self._aggregate)

    def desc_nulls_first(self) -> "Column":
        return Column(self._sql, self._name, " DESC NULLS FIRST", self._aggregate)

    def cast(self, data_type) -> "Column":
        from .types import DataType, _parse_type

        kind = data_type if isinstance(data_type, DataType) else _parse_type(data_type)
        return Column(f"CAST({self._sql} AS {kind.duckdb})", f"CAST({self._name} AS {kind.simpleString().upper()})")

    astype = cast

    # --- predicates ---
    def isNull(self) -> "Column":  # noqa: N802
        return Column(f"({self._sql} IS NULL)", f"({self._name} IS NULL)")

    def isNotNull(self) -> "Column":  # noqa: N802
        return Column(f"({self._sql} IS NOT NULL)", f"({self._name} IS NOT NULL)")

    def isin(self, *values) -> "Column":
        if len(values) == 1 and isinstance(values[0], (list, tuple, set)):
            values = tuple(values[0])
        items = [_column(v) for v in values]
        return Column(f"({self._sql} IN ({', '.join(c._sql for c in items)}))",
                      f"({self._name} IN ({', '.join(c._name for c in items)}))")

    def like(self, pattern: str) -> "Column":
        return Column(f"({self._sql} LIKE {literal_sql(pattern)})", f"{self._name} LIKE {pattern}")

    def contains(self, other) -> "Column":
        other = _column(other)
        return Column(f"contains({self._sql}, {other._sql})", f"contains({self._name}, {other._name})")

    def startswith(self, other) -> "Column":
        other = _column(other)
        return Column(f"starts_with({self._sql}, {other._sql})", f"startswith({self._name}, {other._name})")

    def between(self, lower, upper) -> "Column":
        return (self >= lower) & (self <= upper)

    # --- operators: Spark writes them "(a + b)" ---
    def _binary(self, other, op: str, spark_op: str | None = None, reverse: bool = False) -> "Column":
        other = _column(other)
        left, right = (other, self) if reverse else (self, other)
        return Column(f"({left._sql} {op} {right._sql})", f"({left._name} {spark_op or op} {right._name})",
                      aggregate=self._aggregate or other._aggregate)

    def __eq__(self, other):  # type: ignore[override]
        return self._binary(other, "=")

    def __ne__(self, other):  # type: ignore[override]
        return Column(f"({self._sql} <> {_column(other)._sql})", f"(NOT ({self._name} = {_column(other)._name}))")

    def __lt__(self, other):
        return self._binary(other, "<")

    def __le__(self, other):
        return self._binary(other, "<=")

    def __gt__(self, other):
        return self._binary(other, ">")

    def __ge__(self, other):
        return self._binary(other, ">=")

    def __add__(self, other):
        return self._binary(other, "+")

    def __radd__(self, other):
        return self._binary(other, "+", reverse=True)

    def __sub__(self, other):
        return self._binary(other, "-")

    def __rsub__(self, other):
        return self._binary(other, "-", reverse=True)

    def __mul__(self, other):
        return self._binary(other, "*")

    def __rmul__(self, other):
        return self._binary(other, "*", reverse=True)

    def __truediv__(self, other):
        return self._binary(other, "/")

    def __rtruediv__(self, other):
        return self._binary(other, "/", reverse=True)

    def __mod__(self, other):
        return self._binary(other, "%")

    def __and__(self, other):
        return self._binary(other, "AND")

    def __or__(self, other):
        return self._binary(other, "OR")

    def __invert__(self):
        return Column(f"(NOT {self._sql})", f"(NOT {self._name})")

    def __neg__(self):
        return Column(f"(- {self._sql})", f"(- {self._name})")

    def __bool__(self):
        raise ValueError("Cannot convert column into bool: please use '&' for 'and', '|' for 'or', '~' for 'not' "
                         "when building DataFrame boolean expressions.")

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"Column<'{self._name}'>"


def _column(value) -> Column:
    """A Column as it is, a literal as ``lit`` makes it."""
    if isinstance(value, Column):
        return value
    name = "NULL" if value is None else ("true" if value is True else "false" if value is False else str(value))
    return Column(literal_sql(value), name)


def as_column(value) -> Column:
    """A column name (or ``*``) or a Column."""
    if isinstance(value, Column):
        return value
    if value == "*":
        return Column("*", "*")
    return Column(quote(value), value)
