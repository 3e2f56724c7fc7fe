"""``DataFrame`` and ``GroupedData``: each DataFrame is a DuckDB query over the session's tables, built up as
PySpark's methods are called and run when a result is asked for (``collect``, ``show``, ``count``...)."""
from __future__ import annotations

import itertools
from typing import TYPE_CHECKING

from .column import Column, as_column, quote
from .display import show_string, vertical_string
from .types import Row, StructField, StructType, _row, from_duckdb

if TYPE_CHECKING:
    from .session import SparkSession

_aliases = itertools.count(1)
#: PySpark's dtypes for toPandas (its _to_corrected_pandas_type), by Spark's type name
_PANDAS_TYPES = {"tinyint": "int8", "smallint": "int16", "int": "int32", "bigint": "int64", "float": "float32",
                 "double": "float64", "boolean": "bool", "timestamp": "datetime64[ns]"}
#: the dtypes a null keeps from: pandas has made such a column float64 or object already, as PySpark leaves it
_NULL_WIDENED = {"int8", "int16", "int32", "int64", "bool"}


class DataFrame:
    def __init__(self, sql: str, session: "SparkSession", keep=None) -> None:
        self._sql = sql
        self.sparkSession = session
        self._keep = keep  # what must live as long as this DataFrame: the table its rows were loaded into

    # --- the relation ---
    def _relation(self):
        return self.sparkSession._connection.sql(self._sql)

    def _derived(self, sql: str) -> "DataFrame":
        return DataFrame(sql, self.sparkSession, self._keep)

    def _from(self) -> str:
        return f"({self._sql}) AS _t{next(_aliases)}"

    @property
    def columns(self) -> list[str]:
        return list(self._relation().columns)

    @property
    def dtypes(self) -> list[tuple[str, str]]:
        return [(field.name, field.dataType.simpleString()) for field in self.schema.fields]

    @property
    def schema(self) -> StructType:
        relation = self._relation()
        return StructType([StructField(name, from_duckdb(kind), True)
                           for name, kind in zip(relation.columns, relation.types)])

    def printSchema(self, level: int | None = None) -> None:  # noqa: N802
        print("root")
        for field in self.schema.fields:
            print(f" |-- {field.name}: {field.dataType.typeName() if not hasattr(field.dataType, 'elementType') else 'array'} "
                  f"(nullable = {str(field.nullable).lower()})")
        print()

    # --- actions ---
    def collect(self) -> list[Row]:
        try:
            result = self.sparkSession._connection.execute(self._sql)
        except Exception as exc:  # noqa: BLE001 - DuckDB's errors, said as PySpark's AnalysisException would be
            from .session import AnalysisException

            raise AnalysisException(str(exc).splitlines()[0]) from None
        names = [column[0] for column in result.description]
        return [_row(names, values) for values in result.fetchall()]

    def count(self) -> int:
        return self.sparkSession._connection.execute(f"SELECT count(*) FROM {self._from()}").fetchone()[0]

    def take(self, num: int) -> list[Row]:
        return self.limit(num).collect()

    def head(self, n: int | None = None):
        rows = self.take(1 if n is None else n)
        return (rows[0] if rows else None) if n is None else rows

    def first(self):
        return self.head()

    def isEmpty(self) -> bool:  # noqa: N802
        return not self.take(1)

    def toLocalIterator(self, prefetchPartitions: bool = False):  # noqa: N802, N803
        return iter(self.collect())

    def show(self, n: int = 20, truncate: bool | int = True, vertical: bool = False) -> None:
        if not isinstance(n, int) or isinstance(n, bool):
            raise TypeError(f"[NOT_INT] Argument `n` should be an int, got {type(n).__name__}.")
        width = 20 if truncate is True else int(truncate)
        rows = self.limit(max(n, 0) + 1).collect()
        shown, more = rows[:max(n, 0)], len(rows) > max(n, 0)
        write = vertical_string if vertical else show_string
        print(write(self.columns, shown, n, width, more))

    def toPandas(self):  # noqa: N802
        """As PySpark without Arrow: the collected rows, then each column as its Spark type's dtype, except an
        integral or boolean column holding nulls (float64 with NaN, and object)."""
        try:
            import pandas
        except ImportError:
            raise ImportError("toPandas needs pandas: pip install pandas") from None
        frame = pandas.DataFrame.from_records(self.collect(), columns=self.columns)
        for index, field in enumerate(self.schema.fields):
            dtype = _PANDAS_TYPES.get(field.dataType.simpleString())
            column = frame.iloc[:, index]
            if dtype is not None and not (dtype in _NULL_WIDENED and column.isnull().any()):
                frame[frame.columns[index]] = column.astype(dtype, copy=False)
        return frame

    @property
    def rdd(self):
        from ..context import SparkContext

        return SparkContext.getOrCreate().parallelize(self.collect())

    # --- views ---
    def createOrReplaceTempView(self, name: str) -> None:  # noqa: N802
        """The view holds the rows the DataFrame has now, as a temp view over a DataFrame made of data does."""
        self.sparkSession._connection.execute(f"CREATE OR REPLACE TEMP TABLE {quote(name)} AS {self._sql}")

    def createTempView(self, name: str) -> None:  # noqa: N802
        if name in self.sparkSession._views():
            from .session import AnalysisException

            raise AnalysisException(f"[TEMP_TABLE_OR_VIEW_ALREADY_EXISTS] Cannot create the temporary view `{name}` "
                                    "because it already exists.")
        self.createOrReplaceTempView(name)

    registerTempTable = createOrReplaceTempView  # noqa: N815 - PySpark 1's name

    # --- transformations ---
    def select(self, *cols) -> "DataFrame":
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        columns = [as_column(c) for c in cols]
        return self._derived(f"SELECT {_select_list(columns)} FROM {self._from()}")

    def selectExpr(self, *exprs: str) -> "DataFrame":  # noqa: N802
        return self._derived(f"SELECT {', '.join(exprs)} FROM {self._from()}")

    def filter(self, condition) -> "DataFrame":
        text = condition._sql if isinstance(condition, Column) else condition
        return self._derived(f"SELECT * FROM {self._from()} WHERE {text}")

    where = filter

    def groupBy(self, *cols) -> "GroupedData":  # noqa: N802
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        return GroupedData(self, [as_column(c) for c in cols])

    groupby = groupBy

    def agg(self, *exprs) -> "DataFrame":
        return self.groupBy().agg(*exprs)

    def orderBy(self, *cols, ascending=True) -> "DataFrame":  # noqa: N802
        if len(cols) == 1 and isinstance(cols[0], (list, tuple)):
            cols = tuple(cols[0])
        flags = ascending if isinstance(ascending, list) else [ascending] * len(cols)
        keys = []
        for c, up in zip(cols, flags):
            column = as_column(c)
            if not column._order:
                column = column.asc() if up else column.desc()
            keys.append(column._sql + column._order)
        return self._derived(f"SELECT * FROM {self._from()} ORDER BY {', '.join(keys)}")

    sort = orderBy

    def limit(self, num: int) -> "DataFrame":
        return self._derived(f"SELECT * FROM {self._from()} LIMIT {int(num)}")

    def distinct(self) -> "DataFrame":
        return self._derived(f"SELECT DISTINCT * FROM {self._from()}")

    def dropDuplicates(self, subset: list[str] | None = None) -> "DataFrame":  # noqa: N802
        if not subset:
            return self.distinct()
        keys = ", ".join(map(quote, subset))
        return self._derived(f"SELECT * FROM {self._from()} QUALIFY row_number() OVER (PARTITION BY {keys}) = 1")

    drop_duplicates = dropDuplicates

    def withColumn(self, colName: str, col: Column) -> "DataFrame":  # noqa: N802, N803
        if colName in self.columns:
            return self._derived(f"SELECT * REPLACE ({col._sql} AS {quote(colName)}) FROM {self._from()}")
        return self._derived(f"SELECT *, {col._sql} AS {quote(colName)} FROM {self._from()}")

    def withColumnRenamed(self, existing: str, new: str) -> "DataFrame":  # noqa: N802
        columns = [as_column(c).alias(new) if c == existing else as_column(c) for c in self.columns]
        return self.select(*columns)

    def drop(self, *cols) -> "DataFrame":
        names = {c if isinstance(c, str) else c._name for c in cols}
        return self.select(*[c for c in self.columns if c not in names])

    def union(self, other: "DataFrame") -> "DataFrame":
        return self._derived(f"SELECT * FROM {self._from()} UNION ALL SELECT * FROM {other._from()}")

    unionAll = union  # noqa: N815

    def join(self, other: "DataFrame", on=None, how: str | None = None) -> "DataFrame":
        kind = {"inner": "INNER", "left": "LEFT", "left_outer": "LEFT", "leftouter": "LEFT", "right": "RIGHT",
                "right_outer": "RIGHT", "outer": "FULL", "full": "FULL", "full_outer": "FULL", "fullouter": "FULL",
                "cross": "CROSS", "semi": "SEMI", "left_semi": "SEMI", "anti": "ANTI", "left_anti": "ANTI"}[
            (how or "inner").lower()]
        if on is None:
            return self._derived(f"SELECT * FROM {self._from()} CROSS JOIN {other._from()}")
        if isinstance(on, str):
            on = [on]
        if isinstance(on, list) and all(isinstance(o, str) for o in on):
            return self._derived(f"SELECT * FROM {self._from()} {kind} JOIN {other._from()} "
                                 f"USING ({', '.join(map(quote, on))})")
        condition = on if isinstance(on, Column) else on[0]
        return self._derived(f"SELECT * FROM {self._from()} {kind} JOIN {other._from()} ON {condition._sql}")

    def alias(self, alias: str) -> "DataFrame":
        return self._derived(f"SELECT * FROM ({self._sql}) AS {quote(alias)}")

    def cache(self) -> "DataFrame":
        return self

    persist = cache

    def unpersist(self, blocking: bool = False) -> "DataFrame":
        return self

    def __getitem__(self, item):
        if isinstance(item, str):
            return as_column(item)
        if isinstance(item, Column):
            return self.filter(item)
        if isinstance(item, (list, tuple)):
            return self.select(*item)
        return as_column(self.columns[item])

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(name)
        if name in self.columns:
            return as_column(name)
        raise AttributeError(f"'DataFrame' object has no attribute '{name}'")

    def __repr__(self) -> str:
        return f"DataFrame[{', '.join(f'{n}: {t}' for n, t in self.dtypes)}]"


class GroupedData:
    def __init__(self, frame: DataFrame, keys: list[Column]) -> None:
        self._frame = frame
        self._keys = keys

    def agg(self, *exprs) -> DataFrame:
        from . import functions

        if len(exprs) == 1 and isinstance(exprs[0], dict):
            names = {"avg": "avg", "mean": "avg", "sum": "sum", "min": "min", "max": "max", "count": "count"}
            exprs = tuple(getattr(functions, names[how])(name) for name, how in exprs[0].items())
        return self._aggregate(list(exprs))

    def _aggregate(self, aggregates: list[Column]) -> DataFrame:
        select = _select_list([*self._keys, *aggregates])
        group = f" GROUP BY {', '.join(key._sql for key in self._keys)}" if self._keys else ""
        return self._frame._derived(f"SELECT {select} FROM {self._frame._from()}{group}")

    def count(self) -> DataFrame:
        return self._aggregate([Column("count(*)", "count", aggregate=True)])

    def _each(self, function: str, cols) -> DataFrame:
        from . import functions

        return self._aggregate([getattr(functions, function)(c) for c in cols])

    def sum(self, *cols: str) -> DataFrame:
        return self._each("sum", cols)

    def avg(self, *cols: str) -> DataFrame:
        return self._each("avg", cols)

    mean = avg

    def min(self, *cols: str) -> DataFrame:
        return self._each("min", cols)

    def max(self, *cols: str) -> DataFrame:
        return self._each("max", cols)


def _select_list(columns: list[Column]) -> str:
    return ", ".join(c._sql if c._sql == "*" else f"{c._sql} AS {quote(c._name)}" for c in columns)
