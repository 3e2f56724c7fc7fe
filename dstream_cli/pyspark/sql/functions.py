"""The ``pyspark.sql.functions`` that selecting, filtering, grouping and ordering need, named as Spark names them."""
from __future__ import annotations

from .column import Column, _column, as_column


def col(name: str) -> Column:
    return as_column(name)


column = col


def lit(value) -> Column:
    return value if isinstance(value, Column) else _column(value)


def expr(text: str) -> Column:
    """A SQL expression (DuckDB's dialect), named by its text as Spark names it."""
    return Column(f"({text})", text)


def _aggregate(function: str, target, spark_name: str | None = None, sql_function: str | None = None) -> Column:
    target = as_column(target) if not isinstance(target, Column) else target
    inner = target._sql
    name = f"{spark_name or function}({target._name})"
    return Column(f"{sql_function or function}({inner})", name, aggregate=True)


def _scalar(function: str, target) -> Column:
    target = as_column(target) if not isinstance(target, Column) else target
    return Column(f"{function}({target._sql})", f"{function}({target._name})")


def count(target) -> Column:
    if isinstance(target, str) and target == "*":
        return Column("count(*)", "count(1)", aggregate=True)
    return _aggregate("count", target)


def sum(target) -> Column:  # noqa: A001 - PySpark's name
    return _aggregate("sum", target)


def avg(target) -> Column:
    return _aggregate("avg", target)


def mean(target) -> Column:
    return _aggregate("avg", target)


def min(target) -> Column:  # noqa: A001
    return _aggregate("min", target)


def max(target) -> Column:  # noqa: A001
    return _aggregate("max", target)


def countDistinct(target, *more) -> Column:  # noqa: N802
    columns = [as_column(c) for c in (target, *more)]
    return Column(f"count(DISTINCT {', '.join(c._sql for c in columns)})",
                  f"count(DISTINCT {', '.join(c._name for c in columns)})", aggregate=True)


count_distinct = countDistinct


def sum_distinct(target) -> Column:
    target = as_column(target)
    return Column(f"sum(DISTINCT {target._sql})", f"sum(DISTINCT {target._name})", aggregate=True)


def first(target) -> Column:
    return _aggregate("first", target)


def collect_list(target) -> Column:
    return _aggregate("collect_list", target, sql_function="list")


def asc(name: str) -> Column:
    return as_column(name).asc()


def desc(name: str) -> Column:
    return as_column(name).desc()


def upper(target) -> Column:
    return _scalar("upper", target)


def lower(target) -> Column:
    return _scalar("lower", target)


def length(target) -> Column:
    return _scalar("length", target)


def abs(target) -> Column:  # noqa: A001
    return _scalar("abs", target)


def round(target, scale: int = 0) -> Column:  # noqa: A001
    target = as_column(target)
    return Column(f"round({target._sql}, {scale})", f"round({target._name}, {scale})")


def split(target, pattern: str) -> Column:
    target = as_column(target)
    return Column(f"regexp_split_to_array({target._sql}, {_column(pattern)._sql})",
                  f"split({target._name}, {pattern}, -1)")


def explode(target) -> Column:
    target = as_column(target)
    return Column(f"unnest({target._sql})", "col")


def when(condition: Column, value) -> Column:
    value = _column(value)
    return Column(f"CASE WHEN {condition._sql} THEN {value._sql} END",
                  f"CASE WHEN {condition._name} THEN {value._name} END")

