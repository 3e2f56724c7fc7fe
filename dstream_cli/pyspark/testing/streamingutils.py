"""``pyspark.testing.streamingutils``: ``PySparkStreamingTestCase``, the base of PySpark's streaming tests.

A test feeds lists (or RDDs) through ``queueStream``, applies its function to the stream and compares what
each batch collected with what it expects; the case's class attributes ``timeout`` and ``duration`` (the
batch interval, seconds) are the same knobs as in PySpark.
"""
from __future__ import annotations

import tempfile
import time
import unittest

from ..conf import SparkConf
from ..context import SparkContext
from ..rdd import RDD
from ..streaming import StreamingContext

__all__ = ["PySparkStreamingTestCase", "should_test_kinesis", "kinesis_requirement_message"]

# Kinesis needs Spark's Kinesis assembly in a JVM: its tests never run here.
kinesis_requirement_message = "Kinesis needs Spark's JVM; the dstream drop-in has no Kinesis receiver."
should_test_kinesis = False


class PySparkStreamingTestCase(unittest.TestCase):
    timeout = 30  # seconds a test waits for its batches
    duration = 0.5  # the batch interval

    @classmethod
    def setUpClass(cls) -> None:
        cls.sc = SparkContext(appName=cls.__name__, conf=SparkConf().set("spark.default.parallelism", 1))
        cls.sc.setCheckpointDir(tempfile.mkdtemp())

    @classmethod
    def tearDownClass(cls) -> None:
        cls.sc.stop()

    def setUp(self) -> None:
        self.ssc = StreamingContext(self.sc, self.duration)

    def tearDown(self) -> None:
        if self.ssc is not None:
            self.ssc.stop(False)

    def wait_for(self, result: list, n: int) -> None:
        """Until *result* holds *n* items or ``timeout`` has passed (then says so, as PySpark's does)."""
        deadline = time.time() + self.timeout
        while len(result) < n and time.time() < deadline:
            time.sleep(0.01)
        if len(result) < n:
            print("timeout after", self.timeout)

    def _take(self, dstream, n: int) -> list:
        """The stream's first *n* records (starts the context)."""
        taken: list = []

        def take(_, rdd) -> None:
            if rdd and len(taken) < n:
                taken.extend(rdd.take(n - len(taken)))

        dstream.foreachRDD(take)
        self.ssc.start()
        self.wait_for(taken, n)
        return taken

    def _collect(self, dstream, n: int, block: bool = True) -> list:
        """The records of the stream's first *n* non-empty batches, a list per batch; with ``block=False`` the
        list is returned at once, unstarted, and fills as the batches run."""
        batches: list = []

        def collect(_, rdd) -> None:
            if rdd and len(batches) < n:
                records = rdd.collect()
                if records:
                    batches.append(records)

        dstream.foreachRDD(collect)
        if block:
            self.ssc.start()
            self.wait_for(batches, n)
        return batches

    def _test_func(self, input: list, func, expected: list, sort: bool = False, input2: list | None = None) -> None:  # noqa: A002
        """``func`` applied to a queue stream of *input* (and of *input2*, when given) gives *expected*, batch by
        batch; with *sort*, each batch is compared in key order."""
        first = self.ssc.queueStream(self._rdds(input))
        if input2:
            stream = func(first, self.ssc.queueStream(self._rdds(input2)))
        else:
            stream = func(first)
        result = self._collect(stream, len(expected))
        if sort:
            self._sort_result_based_on_key(result)
            self._sort_result_based_on_key(expected)
        self.assertEqual(expected, result)

    def _rdds(self, batches: list) -> list:
        return batches if isinstance(batches[0], RDD) else [self.sc.parallelize(b, 1) for b in batches]

    def _sort_result_based_on_key(self, outputs: list) -> None:
        for output in outputs:
            output.sort(key=lambda record: record[0])
