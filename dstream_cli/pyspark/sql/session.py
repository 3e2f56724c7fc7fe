"""``SparkSession`` on DuckDB, in this process: ``sql`` runs DuckDB's dialect (close to Spark's for the Streaming
guide's queries; an aggregate left without an alias is named by DuckDB, ``count_star()`` where Spark says
``count(1)``), and ``createDataFrame`` types the rows as PySpark infers them."""
from __future__ import annotations

import itertools
import math
import os
import shutil
import threading
import weakref

from ...tables import create_table, duckdb_module, scratch_directory, with_float_names
from ..conf import SparkConf
from .dataframe import DataFrame
from .types import (DataType, NullType, Row, StructField, StructType, _parse_type, infer_schema, merge_types,
                    parse_ddl)

_tables = itertools.count(1)


class AnalysisException(Exception):
    """PySpark's error for a query that does not resolve (a table or column it does not know)."""


class RuntimeConfig:
    def __init__(self, conf: SparkConf) -> None:
        self._conf = conf

    def get(self, key: str, default=None):
        return self._conf.get(key, default)

    def set(self, key: str, value) -> None:
        self._conf.set(key, str(value))

    def unset(self, key: str) -> None:
        self._conf._settings.pop(key, None)


class SparkSession:
    _instance: "SparkSession | None" = None
    _lock = threading.Lock()

    class Builder:
        def __init__(self) -> None:
            self._options: dict[str, str] = {}

        def config(self, key: str | None = None, value=None, conf: SparkConf | None = None, map=None):  # noqa: A002
            if conf is not None:
                self._options.update(dict(conf.getAll()))
            if key is not None:
                self._options[key] = str(value)
            for k, v in (map or {}).items():
                self._options[k] = str(v)
            return self

        def master(self, master: str):
            return self.config("spark.master", master)

        def appName(self, name: str):  # noqa: N802
            return self.config("spark.app.name", name)

        def remote(self, url: str):
            raise NotImplementedError("Spark Connect needs a Spark server; the drop-in runs in this process")

        def enableHiveSupport(self):  # noqa: N802
            return self

        def getOrCreate(self) -> "SparkSession":  # noqa: N802
            with SparkSession._lock:
                if SparkSession._instance is None:
                    SparkSession._instance = SparkSession(self._options)
                else:
                    for key, value in self._options.items():
                        SparkSession._instance.conf.set(key, value)
                return SparkSession._instance

        def create(self) -> "SparkSession":
            return SparkSession(self._options)

    builder = Builder()

    def __init__(self, options: dict[str, str] | None = None) -> None:
        from ..context import SparkContext

        self.sparkContext = SparkContext._active or SparkContext(conf=SparkConf().setAll(list((options or {}).items())))
        self.conf = RuntimeConfig(self.sparkContext.getConf())
        for key, value in (options or {}).items():
            self.conf.set(key, value)
        self._connection = duckdb_module().connect(config={"threads": os.cpu_count() or 1})
        self._scratch = scratch_directory()
        weakref.finalize(self, shutil.rmtree, self._scratch, True)

    # --- entry points ---
    @classmethod
    def getActiveSession(cls) -> "SparkSession | None":  # noqa: N802
        return cls._instance

    active = getActiveSession

    @property
    def version(self) -> str:
        return self.sparkContext.version

    def newSession(self) -> "SparkSession":  # noqa: N802
        return SparkSession({})

    def sql(self, sqlQuery: str, args=None, **kwargs) -> DataFrame:  # noqa: N803
        """*sqlQuery* (DuckDB's dialect) over the session's temp views; checked now, as Spark analyses it now."""
        text = sqlQuery.strip().rstrip(";")
        try:
            self._connection.sql(text).columns  # noqa: B018 - binds the query: a missing table or column says so
        except Exception as exc:  # noqa: BLE001
            raise AnalysisException(str(exc).splitlines()[0]) from None
        return DataFrame(text, self)

    def table(self, tableName: str) -> DataFrame:  # noqa: N803
        return self.sql(f'SELECT * FROM "{tableName}"')

    def range(self, start: int, end: int | None = None, step: int = 1, numPartitions=None) -> DataFrame:  # noqa: N803
        if end is None:
            start, end = 0, start
        return DataFrame(f"SELECT range AS id FROM range({int(start)}, {int(end)}, {int(step)})", self)

    def createDataFrame(self, data, schema=None, samplingRatio=None, verifySchema: bool = True) -> DataFrame:  # noqa: N802, N803
        """Rows, tuples, dicts or plain lists, from a list or an RDD; *schema* a StructType, a DDL string, a
        list of column names, or None (inferred from the rows, as PySpark infers it)."""
        from ..rdd import RDD

        if isinstance(data, RDD):
            data = data.collect()
        elif hasattr(data, "to_dict") and hasattr(data, "columns"):  # a pandas DataFrame
            data = [Row(**record) for record in data.to_dict("records")]
        records = list(data)
        struct = self._schema(records, schema, samplingRatio)
        names = struct.names
        rows = [_as_dict(record, names, struct if verifySchema else None) for record in records]
        table = f"__dataframe_{next(_tables)}"
        create_table(self._connection, table, {f.name: f.dataType.duckdb for f in struct.fields}, rows, self._scratch)
        keep = _DroppedWith(self._connection, table)
        return DataFrame(f'SELECT * FROM "{table}"', self, keep)

    def _schema(self, records: list, schema, ratio) -> StructType:
        if isinstance(schema, StructType):
            return schema
        if isinstance(schema, DataType):  # one column of that type
            return StructType([StructField("value", schema)])
        if isinstance(schema, str):
            return parse_ddl(schema) if ("," in schema or " " in schema.strip() or ":" in schema) else \
                StructType([StructField("value", _parse_type(schema))])
        names = list(schema) if isinstance(schema, (list, tuple)) else None
        if not records:
            if names:
                return StructType([StructField(name, NullType()) for name in names])
            raise ValueError("[CANNOT_INFER_EMPTY_SCHEMA] Can not infer schema from an empty dataset.")
        struct = infer_schema(records[0], names)
        # as PySpark: more rows only while a column is still unknown (None so far), up to 100, unless sampled
        sample = records if ratio else records[1:100]
        for record in sample:
            if not ratio and not any(isinstance(f.dataType, NullType) for f in struct.fields):
                break
            struct = merge_types(struct, infer_schema(record, names))
        return struct

    def _views(self) -> set[str]:
        return {row[0] for row in self._connection.execute(
            "select table_name from duckdb_tables() where temporary").fetchall()}

    @property
    def catalog(self):
        session = self

        class Catalog:
            def listTables(self):  # noqa: N802
                return sorted(name for name in session._views() if not name.startswith("__dataframe_"))

            def dropTempView(self, viewName: str) -> bool:  # noqa: N802, N803
                existed = viewName in session._views()
                session._connection.execute(f'DROP TABLE IF EXISTS "{viewName}"')
                return existed

        return Catalog()

    def stop(self) -> None:
        with SparkSession._lock:
            if SparkSession._instance is self:
                SparkSession._instance = None
        self._connection.close()

    def __enter__(self) -> "SparkSession":
        return self

    def __exit__(self, *exc) -> None:
        self.stop()


class _DroppedWith:
    """Drops a DataFrame's table once no DataFrame built on it is left."""

    def __init__(self, connection, table: str) -> None:
        weakref.finalize(self, _drop, connection, table)


def _drop(connection, table: str) -> None:
    try:
        connection.execute(f'DROP TABLE IF EXISTS "{table}"')
    except Exception:  # noqa: BLE001 - the session (and its connection) may be gone already
        pass


def _as_dict(record, names: list[str], struct: StructType | None) -> dict:
    if isinstance(record, Row) and hasattr(record, "__fields__"):
        values = dict(zip(record.__fields__, record))
    elif isinstance(record, dict):
        values = record
    elif isinstance(record, (tuple, list)):
        values = dict(zip(names, record))
    else:
        values = {names[0]: record}
    if any(isinstance(v, float) and not math.isfinite(v) for v in values.values()):
        values = with_float_names(values)
    if struct is not None:
        for field in struct.fields:
            value = values.get(field.name)
            if value is not None and not _accepts(field.dataType, value):
                raise TypeError(f"[FIELD_DATA_TYPE_UNACCEPTABLE] field {field.name}: {field.dataType!r} can not "
                                f"accept object {value!r} in type {type(value)}.")
    return values


def _accepts(kind: DataType, value) -> bool:
    name = kind.simpleString()
    if name in ("bigint", "int", "smallint", "tinyint"):
        return isinstance(value, int) and not isinstance(value, bool)
    if name in ("double", "float"):
        return isinstance(value, (float, str))  # a float, or the name of one that JSON cannot hold
    if name == "string":
        return isinstance(value, str)
    if name == "boolean":
        return isinstance(value, bool)
    return True
