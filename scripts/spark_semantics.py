#!/usr/bin/env python3
"""Print PySpark's own answers for the doubtful window, state and join cases the golden tests use.

Run with pyspark installed (pip install pyspark; Java 17): TZ=UTC python scripts/spark_semantics.py
"""
import time
from pyspark import SparkContext
from pyspark.streaming import StreamingContext
sc = SparkContext("local[2]", "check")
sc.setLogLevel("ERROR")
def run(name, batches, build, n):
    ssc = StreamingContext(sc, 1)
    ssc.checkpoint("/tmp/spark_ckpt_" + name)
    out = []
    s = ssc.queueStream([sc.parallelize(b, 1) for b in batches], oneAtATime=True, default=sc.parallelize([], 1))
    build(s).foreachRDD(lambda t, rdd: out.append(sorted(rdd.collect(), key=repr)))
    ssc.start()
    while len(out) < n: time.sleep(0.05)
    ssc.stop(stopSparkContext=False, stopGraceFully=False)
    print(name, out[:n], flush=True)
data = [["a", "b", "a"], ["b"], [], ["c"], [], [], [], [], [], []]
run("rbkw_inv5", data, lambda s: s.map(lambda x: (x, 1)).reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a - b, 5, 1), 10)
run("rbkw_inv5_filter", data, lambda s: s.map(lambda x: (x, 1)).reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a - b, 5, 1, filterFunc=lambda kv: kv[1] > 0), 10)
run("rbkw_inv3", data, lambda s: s.map(lambda x: (x, 1)).reduceByKeyAndWindow(lambda a, b: a + b, lambda a, b: a - b, 3, 1), 10)
run("cbw5", data, lambda s: s.countByWindow(5, 1), 10)
run("cbw3", data, lambda s: s.countByWindow(3, 1), 10)
run("rbw_noinv", data, lambda s: s.map(lambda x: len(x)).reduceByWindow(lambda a, b: a + b, None, 3, 1), 10)
run("cbvw", data, lambda s: s.countByValueAndWindow(5, 1), 10)
run("window_slide2", data, lambda s: s.window(3, 2), 5)
run("state", [["a", "b"], ["a"], [], ["b", "b"], []], lambda s: s.map(lambda x: (x, 1)).updateStateByKey(lambda vs, st: None if (st or 0) + sum(vs) >= 3 else (st or 0) + sum(vs)), 5)
run("count", [["a"], []], lambda s: s.count(), 2)
run("reduce", [["a"], []], lambda s: s.reduce(lambda a, b: a + b), 2)
run("join", [[("a", 1), ("a", 2), ("b", 3)]], lambda s: s.join(s.filter(lambda kv: kv[1] > 1)), 1)
run("lojoin", [[("a", 1), ("b", 3)]], lambda s: s.leftOuterJoin(s.filter(lambda kv: kv[1] > 1)), 1)
run("fojoin", [[("a", 1), ("b", 3)]], lambda s: s.fullOuterJoin(s.filter(lambda kv: kv[1] > 1).map(lambda kv: ("z", 1))), 1)
run("cogroup", [[("a", 1), ("b", 3)]], lambda s: s.cogroup(s.filter(lambda kv: kv[1] > 1)).mapValues(lambda v: (list(v[0]), list(v[1]))), 1)
ssc = StreamingContext(sc, 0.5)
s = ssc.queueStream([sc.parallelize([1, 2], 1)] * 2)
s.pprint()
ssc.start(); time.sleep(2.5); ssc.stop(stopSparkContext=False)
