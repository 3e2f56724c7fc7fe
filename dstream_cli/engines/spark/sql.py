"""The ``sql`` stage on Spark: each batch's RDDs become DataFrames, views named as the tables, and the same query
text runs as Spark SQL, distributed as any Spark SQL query; its rows go on as dicts."""
from __future__ import annotations

import re

from ...errors import UsageError

_RELATION = re.compile(r"'UnresolvedRelation \[([^\]]+)\]")
_CTE = re.compile(r"^CTE \[([^\]]+)\]", re.MULTILINE)


def query_tables(spark, query: str) -> list[str]:
    """The tables *query* reads, checked by Spark's own parser (a syntax error is a usage error, now)."""
    try:
        plan = spark._jsparkSession.sessionState().sqlParser().parsePlan(query).treeString()
    except Exception as error:  # noqa: BLE001 - PySpark's ParseException, or py4j's error where PySpark has none
        message = [line for line in str(error).splitlines() if line.strip()]
        raise UsageError(message[0] if message else "the query does not parse") from None
    defined = {name.strip() for names in _CTE.findall(plan) for name in names.split(",")}
    return sorted({name for name in _RELATION.findall(plan)} - defined)


def as_row(record):
    """A record as Spark's ``toDF()`` takes it: a dict by its keys, a tuple as _1, _2, ..., else one column
    ``value`` (the local engine's tables, tables.py, name them the same)."""
    from pyspark.sql import Row

    if isinstance(record, Row):
        return record
    if isinstance(record, dict):
        return Row(**{str(key): value for key, value in record.items()})
    if isinstance(record, (tuple, list)):
        return Row(**{f"_{i}": value for i, value in enumerate(record, 1)})
    return Row(value=record)


def as_dict(row) -> dict:
    return row.asDict(recursive=True)


class SqlOnDriver:
    """Spark's ``StreamingContext.transform`` function: *tables* name the RDDs it gets, in order. Spark infers
    each batch's column types (as ``createDataFrame`` does, from every row); an empty batch keeps the columns it
    last had, and a table that has had no rows yet leaves the batch without a result, as on the local engine."""

    def __init__(self, query: str, tables: list[str]) -> None:
        self.query = query
        self.tables = tables
        self.schemas: dict = {}

    def __call__(self, rdds):
        from pyspark.sql import SparkSession

        spark = SparkSession.builder.getOrCreate()
        for name, rdd in zip(self.tables, rdds):
            rows = rdd.map(as_row)
            if rows.isEmpty():
                if name not in self.schemas:
                    return rdd.context.emptyRDD()
                frame = spark.createDataFrame(rdd.context.emptyRDD(), self.schemas[name])
            else:
                frame = spark.createDataFrame(rows, samplingRatio=1.0)
                self.schemas[name] = frame.schema
            frame.createOrReplaceTempView(name)
        return spark.sql(self.query).rdd.map(as_dict)
