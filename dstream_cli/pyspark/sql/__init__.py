"""``pyspark.sql`` for a streaming program's batches, on DuckDB in this process (``pip install
'dstream-cli[sql]'``): ``SparkSession``, ``DataFrame``, ``Row``, ``Column``, ``functions`` and ``types``, as the
Streaming Programming Guide's "DataFrame and SQL Operations" and Spark's ``sql_network_wordcount.py`` use them."""
from . import functions, types
from .column import Column
from .dataframe import DataFrame, GroupedData
from .session import AnalysisException, SparkSession
from .types import Row

__all__ = ["AnalysisException", "Column", "DataFrame", "GroupedData", "Row", "SparkSession", "functions", "types"]
