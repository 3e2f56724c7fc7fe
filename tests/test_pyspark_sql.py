"""``dstream_cli.pyspark.sql`` against real PySpark: the same programs print the same text (issue 29)."""
from __future__ import annotations

import pytest
from conftest import need_pyspark, run_on_both



@pytest.fixture(autouse=True)
def _pyspark():
    need_pyspark()


def same_output(tmp_path, name: str, program: str) -> str:
    (_, their_out, _), (_, our_out, _) = run_on_both(tmp_path, name, program)
    assert our_out == their_out
    return our_out


SHOWING = '''
from pyspark.sql import SparkSession, Row
from pyspark.sql import functions as F

spark = SparkSession.builder.master("local[1]").getOrCreate()
words = spark.createDataFrame([Row(word=w) for w in "to be or not to be a-very-long-word-indeed-longer".split()])
words.createOrReplaceTempView("words")
counts = spark.sql("select word, count(*) as total from words group by word order by total desc, word")
counts.show()
counts.show(2, truncate=False)
counts.show(3, truncate=5)
counts.show(vertical=True, n=2)
mixed = spark.createDataFrame([("a", 1, 1.5, None, True), ("b", 2, 1e7, "x", False), ("c", 3, 0.0001, "y", None)],
                              ["k", "n", "f", "s", "b"])
mixed.show()
mixed.show(1)
spark.createDataFrame([(-0.5, 123456789.25, 1e-5, 2.0 ** 70, float("nan"), float("-inf"))],
                      ["a", "b", "c", "d", "e", "f"]).show()
spark.createDataFrame([([1, 2], {"k": 1}, None)], "l array<bigint>, m map<string,bigint>, z string").show()
'''


def test_show_prints_pysparks_tables(tmp_path):
    """Borders, right-aligned cells cut at 20 characters, NULL, true, Java's doubles (1.0E7), the vertical form
    and "only showing top N rows", character for character."""
    out = same_output(tmp_path, "showing", SHOWING)
    assert "|   to|    2|" in out and "only showing top 2 rows" in out and "1.0E7" in out


DATAFRAMES = '''
from pyspark.sql import SparkSession, Row
from pyspark.sql import functions as F

spark = SparkSession.builder.master("local[1]").getOrCreate()
df = spark.createDataFrame([("a", 1, 1.5), ("b", 2, 2.5), ("a", 3, 4.0)], ["k", "n", "f"])
df.groupBy("k").agg(F.sum("n"), F.avg("f"), F.count("*"), F.max("f")).orderBy("k").show()
df.groupBy("k").count().orderBy(F.desc("k")).show()
df.groupBy("k").sum("n").orderBy("k").show()
df.groupBy("k").agg({"n": "max"}).orderBy("k").show()
df.filter(F.col("n") > 1).select("k", (F.col("n") + 1).alias("m"), F.col("n") * 2, F.lit(5), F.col("n") == 2).show()
df.where("n >= 2").select(F.max("f"), F.min("n")).show()
df.where(df.k == "a").orderBy("n", ascending=False).show()
df.withColumn("twice", F.col("n") * 2).withColumnRenamed("k", "key").drop("f").show()
print(df.count(), df.columns, df.dtypes)
print(df.schema)
print(df.collect()[0], df.first().asDict(), df.head(2), df.take(1))
df.printSchema()
print(df.orderBy("n", ascending=False).limit(2).rdd.map(lambda r: r.k).collect())
print(sorted(df.select("k").distinct().collect()))
row = Row(word="a", total=2)
print(row, row.word, row["total"], row.asDict(), "word" in row, tuple(row))
Person = Row("name", "age")
print(Person, Person("Ann", 3), Person("Ann", 3).age)
print(spark.createDataFrame(spark.sparkContext.parallelize([{"b": 1, "a": "x"}])).columns)
print(spark.createDataFrame([(1, "x")], "id int, name string").dtypes)
spark.conf.set("dstream.test.key", 5)
print(spark.conf.get("dstream.test.key"))
spark.conf.unset("dstream.test.key")
print(spark.conf.get("dstream.test.key", "gone"))
pandas = spark.createDataFrame([("a", 1, 1.5, True), ("b", None, None, None), ("c", 3, 2.5, False)],
                               ["k", "n", "f", "b"]).toPandas()
print(pandas.to_dict("list"), [str(t) for t in pandas.dtypes])
print(pandas)
print([str(t) for t in df.toPandas().dtypes])
try:
    spark.createDataFrame(spark.sparkContext.parallelize([]))
except Exception as e:
    print(type(e).__name__)
try:
    spark.sql("select nope from words_that_are_not_here")
except Exception as e:
    print(type(e).__name__)
'''


def test_dataframe_methods_give_pysparks_rows_names_and_types(tmp_path):
    out = same_output(tmp_path, "frames", DATAFRAMES)
    assert "Row(word='a', total=2)" in out


STREAMING = '''
import time
from pyspark import SparkContext
from pyspark.streaming import StreamingContext
from pyspark.sql import Row, SparkSession

sc = SparkContext("local[2]", "sql")
ssc = StreamingContext(sc, 1)
batches = [sc.parallelize(["a b a", "c"]), sc.parallelize([]), sc.parallelize(["b b"])]
done = []

def process(time, rdd):
    done.append(time)
    print("=== batch ===")
    spark = SparkSession.builder.config(conf=rdd.context.getConf()).getOrCreate()
    try:
        frame = spark.createDataFrame(rdd.map(lambda w: Row(word=w)))
    except Exception as e:
        print(type(e).__name__)
        return
    print(frame.count())
    frame.createOrReplaceTempView("words")
    spark.sql("select word, count(*) as total from words group by word order by word").show()

ssc.queueStream(batches).flatMap(lambda line: line.split(" ")).foreachRDD(process)
ssc.start()
deadline = time.time() + 120
while len(done) < 4 and time.time() < deadline:  # SparkSession's first query takes Spark a while
    time.sleep(0.1)
ssc.stop(stopSparkContext=True, stopGraceFully=False)
'''


def test_a_streaming_program_queries_each_batch_as_the_guide_does(tmp_path):
    """The Streaming Programming Guide's DataFrame and SQL operations: each batch a DataFrame and a view; an empty
    batch cannot be a DataFrame without a schema, in both."""
    (_, theirs, _), (_, ours, _) = run_on_both(tmp_path, "streaming", STREAMING)
    first_four = [text.split("=== batch ===\n")[1:5] for text in (theirs, ours)]  # then empty ones, as time allows
    assert first_four[1] == first_four[0]
    assert len(first_four[1]) == 4 and "|   b|    2|" in first_four[1][2]
