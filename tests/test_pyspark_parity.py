"""The drop-in's public surface is the installed PySpark's, module by module: the same names, the same parameter
names, properties where PySpark has properties. What is deliberately left out is listed here, and what cannot
work without a cluster raises NotImplementedError naming itself, never AttributeError."""
import importlib
import inspect
import json
import re

import pytest
from conftest import need_pyspark, run_on_both

#: (module, class) in PySpark; the drop-in's is the same path under dstream_cli
CLASSES = [
    ("pyspark.conf", "SparkConf"), ("pyspark.context", "SparkContext"), ("pyspark.rdd", "RDD"),
    ("pyspark.accumulators", "Accumulator"), ("pyspark.accumulators", "AccumulatorParam"),
    ("pyspark.broadcast", "Broadcast"), ("pyspark.storagelevel", "StorageLevel"),
    ("pyspark.resultiterable", "ResultIterable"), ("pyspark.taskcontext", "TaskContext"),
    ("pyspark.statcounter", "StatCounter"), ("pyspark.files", "SparkFiles"), ("pyspark.util", "InheritableThread"),
    ("pyspark.streaming.context", "StreamingContext"), ("pyspark.streaming.dstream", "DStream"),
    ("pyspark.streaming.listener", "StreamingListener"),
    ("pyspark.testing.streamingutils", "PySparkStreamingTestCase"),
]
MODULES = ["pyspark", "pyspark.streaming"]

#: in PySpark's ``__all__`` but meaningless in one process without a JVM
LEFT_OUT = {
    "pyspark": {"MarshalSerializer", "CPickleSerializer",  # how Spark ships records between JVM and Python
                "Profiler", "BasicProfiler",  # Spark's profiler of its Python workers
                "RDDBarrier", "BarrierTaskContext", "BarrierTaskInfo",  # barrier mode: gang-scheduled tasks
                "StatusTracker", "SparkJobInfo", "SparkStageInfo", "SparkExecutorInfo"},  # a cluster's jobs
}
#: py4j's plumbing, not PySpark's API: the Java interface a listener implements
NOT_API = {"StreamingListener": {"Java"}}
#: present, and raising NotImplementedError that names them: they need Hadoop or a cluster
RAISE = {
    "RDD": ["barrier", "withResources", "toDF", "saveAsSequenceFile", "saveAsHadoopFile", "saveAsNewAPIHadoopFile",
            "saveAsHadoopDataset", "saveAsNewAPIHadoopDataset"],
    "SparkContext": ["sequenceFile", "hadoopFile", "newAPIHadoopFile", "hadoopRDD", "newAPIHadoopRDD",
                     "statusTracker", "show_profiles", "dump_profiles"],
}


@pytest.fixture(autouse=True)
def _pyspark():
    need_pyspark()


def public(cls) -> set[str]:
    return {name for name in dir(cls) if not name.startswith("_")}


def parameters(function) -> list[str]:
    return [name for name in inspect.signature(function).parameters if name not in ("self", "cls")]


@pytest.mark.parametrize("module, name", CLASSES, ids=[name for _, name in CLASSES])
def test_each_class_has_pysparks_names_and_parameter_names(module, name):
    theirs = getattr(importlib.import_module(module), name)
    ours = getattr(importlib.import_module(f"dstream_cli.{module}"), name)
    assert public(theirs) - NOT_API.get(name, set()) - public(ours) == set()
    wrong = []
    for attribute in sorted(public(theirs) & public(ours)):
        their, our = inspect.getattr_static(theirs, attribute), inspect.getattr_static(ours, attribute)
        if isinstance(their, property) != isinstance(our, property):
            wrong.append(f"{attribute}: property in one, not in the other")
            continue
        their, our = getattr(theirs, attribute), getattr(ours, attribute)
        if callable(their) and not isinstance(their, type):
            assert callable(our), attribute
            if parameters(their) != parameters(our):
                wrong.append(f"{attribute}{tuple(parameters(our))}, PySpark's {tuple(parameters(their))}")
    if name in ("RDD", "DStream", "Broadcast", "Accumulator", "ResultIterable"):
        assert ours[int] is not None  # generic as in PySpark: RDD[Tuple[str, int]] annotations import
    assert wrong == []


@pytest.mark.parametrize("module", MODULES)
def test_each_module_exports_pysparks_names_but_those_left_out(module):
    theirs = importlib.import_module(module)
    ours = importlib.import_module(f"dstream_cli.{module}")
    left_out = LEFT_OUT.get(module, set())
    assert left_out <= set(theirs.__all__), "a name listed as left out is not PySpark's"
    assert set(theirs.__all__) - left_out == set(ours.__all__)
    assert all(hasattr(ours, name) for name in ours.__all__)
    assert not any(hasattr(ours, name) for name in left_out)


@pytest.mark.parametrize("cls, method", [(c, m) for c, methods in RAISE.items() for m in methods])
def test_what_needs_a_cluster_raises_not_implemented_naming_itself(cls, method):
    from dstream_cli.pyspark import RDD, SparkContext

    target = {"RDD": RDD([1, 2]), "SparkContext": SparkContext("local[1]")}[cls]
    function = getattr(target, method)
    with pytest.raises(NotImplementedError, match=method):
        function(*[None] * sum(p.default is inspect.Parameter.empty and p.kind is p.POSITIONAL_OR_KEYWORD
                               for p in inspect.signature(function).parameters.values()))


def test_the_examples_annotations_import():
    """Spark 4's examples annotate with RDD[...] and Broadcast[...]: they stopped at import with 'type RDD is not
    subscriptable'."""
    from typing import List, Tuple

    from dstream_cli.pyspark import RDD, Accumulator, Broadcast
    from dstream_cli.pyspark.streaming import DStream

    assert RDD[Tuple[float, str]] and Broadcast[List[str]] and Accumulator[int] and DStream[Tuple[float, str]]


LISTENING = """
import json
import time

from pyspark import SparkContext
from pyspark.streaming import StreamingContext, StreamingListener

sc = SparkContext("local[2]", "listener")
sc.setLogLevel("ERROR")
ssc = StreamingContext(sc, 0.5)
seen = []


def facts(b):
    known = b.processingEndTime() != -1
    return {"records": b.numRecords(), "submitted": b.submissionTime() > 0,
            "start": b.processingStartTime() == -1 or b.processingStartTime() >= b.submissionTime(),
            "end": b.processingEndTime() == -1 or b.processingEndTime() >= b.processingStartTime(),
            "scheduling": b.schedulingDelay() if b.schedulingDelay() == -1 else
            b.schedulingDelay() == b.processingStartTime() - b.submissionTime(),
            "processing": b.processingDelay() if not known else
            b.processingDelay() == b.processingEndTime() - b.processingStartTime(),
            "total": b.totalDelay() if not known else b.totalDelay() == b.schedulingDelay() + b.processingDelay(),
            "outputs": sorted((k, v.failureReason(), v.endTime() >= v.startTime() > 0, v.name() != "")
                              for k, v in b.outputOperationInfos().items()),
            "inputs": sorted((k, v.numRecords()) for k, v in b.streamIdToInputInfo().items())}


class Listener(StreamingListener):
    def onBatchSubmitted(self, batchSubmitted):
        seen.append(("submitted", facts(batchSubmitted.batchInfo())))

    def onBatchStarted(self, batchStarted):
        seen.append(("started", facts(batchStarted.batchInfo())))

    def onBatchCompleted(self, batchCompleted):
        seen.append(("completed", facts(batchCompleted.batchInfo())))

    def onOutputOperationCompleted(self, outputOperationCompleted):
        info = outputOperationCompleted.outputOperationInfo()
        seen.append(("output", {"id": info.id(), "failure": info.failureReason(),
                                "times": info.endTime() >= info.startTime() > 0,
                                "batch": info.batchTime().milliseconds() > 0}))


ssc.addStreamingListener(Listener())
ssc.queueStream([sc.parallelize([1, 2, 3]), sc.parallelize([4])]).foreachRDD(lambda rdd: None)
ssc.start()
time.sleep(2.2)
ssc.stop(stopSparkContext=False, stopGraceFully=True)
time.sleep(1)
kinds = [kind for kind, _ in seen]
first = {kind: facts for kind, facts in reversed(seen)}  # each kind's first event
print(json.dumps({"order": kinds[:4], "first": first}, sort_keys=True))
"""


def test_a_listener_is_given_sparks_info_objects(tmp_path):
    """Each kind of event's first info, read through every method of Spark's Java listener objects (times and
    delays -1 until known, the batch's output operations from its submission, no records counted for a queue),
    as real PySpark gives them and as the drop-in does."""
    theirs, ours = (json.loads(stdout.splitlines()[-1])["first"]
                    for _, stdout, _ in run_on_both(tmp_path, "listening", LISTENING))
    assert ours == theirs
    assert ours["submitted"]["scheduling"] == -1 and ours["completed"]["outputs"] == [[0, None, True, True]]


SAVING = """
import time
from pyspark import SparkContext
from pyspark.streaming import StreamingContext
sc = SparkContext("local[2]", "saving")
ssc = StreamingContext(sc, 0.5)
ssc.queueStream([sc.parallelize(["a", "b", "c"], 2), sc.parallelize([("k", 1), 2, 3.5], 2)]).saveAsTextFiles("out/w", "txt")
ssc.start()
time.sleep(2.5)
ssc.stop(stopSparkContext=True, stopGraceFully=True)
"""


def test_save_as_text_files_writes_sparks_directories_of_part_files(tmp_path):
    layouts = []
    for where, _, _ in run_on_both(tmp_path, "saving", SAVING):
        batches = sorted((where / "out").iterdir())
        assert all(re.fullmatch(r"w-\d{13}\.txt", batch.name) for batch in batches)
        layouts.append([{part.name: part.read_text() for part in sorted(batch.iterdir()) if not part.name.startswith(".")}
                        for batch in batches[:2]])
    theirs, ours = layouts
    assert ours == theirs
    assert ours[0] == {"part-00000": "a\n", "part-00001": "b\nc\n", "_SUCCESS": ""}


NUMBERS = [5, 1, 4, 1, 9, 2, 6, 5, 3]
PAIRS = [("a", 1), ("b", 2), ("a", 3), ("c", 4), ("b", 5)]
OTHER = [("a", "x"), ("c", "y"), ("d", "z")]
#: each applied to the same data, parallelized in 2 partitions, on real PySpark and on the drop-in
RDD_CALLS = {
    "aggregate": lambda sc: sc.parallelize(NUMBERS, 2).aggregate((0, 0), lambda a, x: (a[0] + x, a[1] + 1),
                                                                  lambda a, b: (a[0] + b[0], a[1] + b[1])),
    "fold-by-partition": lambda sc: sc.parallelize(NUMBERS, 2).fold(1, lambda a, b: a + b),
    "treeAggregate": lambda sc: sc.parallelize(NUMBERS, 2).treeAggregate(0, max, max),
    "foldByKey": lambda sc: sorted(sc.parallelize(PAIRS, 2).foldByKey(10, lambda a, b: a + b).collect()),
    "groupBy": lambda sc: sorted((k, sorted(v)) for k, v in sc.parallelize(NUMBERS, 2).groupBy(lambda x: x % 3)
                                 .collect()),
    "groupWith": lambda sc: sorted((k, [sorted(x) for x in v]) for k, v in sc.parallelize(PAIRS, 2)
                                   .groupWith(sc.parallelize(OTHER, 2)).collect()),
    "groupByKey-values": lambda sc: sorted((k, type(v).__name__, len(v), sorted(v))
                                           for k, v in sc.parallelize(PAIRS, 2).groupByKey().collect()),
    "cartesian": lambda sc: sorted(sc.parallelize([1, 2], 2).cartesian(sc.parallelize("xy", 1)).collect()),
    "cartesian-partitions": lambda sc: sc.parallelize([1, 2], 2).cartesian(sc.parallelize("xy", 3))
    .getNumPartitions(),
    "zip": lambda sc: sc.parallelize(NUMBERS, 2).zip(sc.parallelize(range(9), 2)).collect(),
    "zipWithUniqueId": lambda sc: sc.parallelize("abcde", 2).zipWithUniqueId().collect(),
    "intersection": lambda sc: sorted(sc.parallelize(NUMBERS, 2).intersection(sc.parallelize([1, 5, 7], 2))
                                      .collect()),
    "subtract": lambda sc: sorted(sc.parallelize(NUMBERS, 2).subtract(sc.parallelize([1, 5], 2)).collect()),
    "stats": lambda sc: sc.parallelize(NUMBERS, 2).stats().asDict(),
    "sample-stats": lambda sc: (sc.parallelize(NUMBERS, 2).sampleStdev(), sc.parallelize(NUMBERS, 2).variance()),
    "histogram-even": lambda sc: sc.parallelize(NUMBERS, 2).histogram(4),
    "histogram-edges": lambda sc: sc.parallelize(NUMBERS, 2).histogram([0, 2, 5, 9]),
    "reduceByKeyLocally": lambda sc: sc.parallelize(PAIRS, 2).reduceByKeyLocally(lambda a, b: a + b),
    "repartitionAndSortWithinPartitions": lambda sc: sc.parallelize(PAIRS, 2).repartitionAndSortWithinPartitions(
        2, lambda k: ord(k) % 2).glom().collect(),
    "glom-of-parallelize": lambda sc: sc.parallelize(NUMBERS, 3).glom().collect(),
    "pipe": lambda sc: sc.parallelize(["b", "a", "c"], 2).pipe("sort").collect(),
    "range-union": lambda sc: sc.union([sc.range(3), sc.range(10, 4, -3)]).collect(),
    "takeSample-size": lambda sc: len(sc.parallelize(NUMBERS, 2).takeSample(False, 4, seed=1)),
    "randomSplit-covers": lambda sc: sorted(x for r in sc.parallelize(NUMBERS, 2).randomSplit([1, 2], 7)
                                            for x in r.collect()),
    "countApproxDistinct": lambda sc: sc.parallelize(NUMBERS, 2).countApproxDistinct(),
    "toDebugString-type": lambda sc: type(sc.parallelize(NUMBERS, 2).toDebugString()).__name__,
    "name": lambda sc: sc.parallelize(NUMBERS, 2).setName("numbers").name(),
    "storage": lambda sc: repr(sc.parallelize(NUMBERS, 2).cache().getStorageLevel()),
    "taskcontext": lambda sc: sc.parallelize(NUMBERS, 3).mapPartitions(
        lambda part, task=task_context_class(sc): [(task.get().partitionId(), len(list(part)))]).collect(),
    "taskcontext-on-the-driver": lambda sc: task_context_class(sc).get(),
}


def task_context_class(sc):
    """The TaskContext of *sc*'s package: PySpark's, or the drop-in's."""
    package = "dstream_cli.pyspark" if type(sc).__module__.startswith("dstream_cli") else "pyspark"
    return importlib.import_module(f"{package}.taskcontext").TaskContext


@pytest.fixture(scope="module")
def both_contexts(spark_context):
    from dstream_cli.pyspark import SparkContext

    return spark_context, SparkContext("local[2]")


@pytest.mark.parametrize("name", sorted(RDD_CALLS))
def test_an_rdd_method_gives_what_pysparks_gives(both_contexts, name):
    theirs, ours = (RDD_CALLS[name](sc) for sc in both_contexts)
    assert ours == theirs


def test_files_written_by_an_rdd_read_back_as_spark_lays_them_out(both_contexts, tmp_path):
    for package, sc in zip(("pyspark", "dropin"), both_contexts):
        sc.parallelize(["x", "y", "z"], 2).saveAsTextFile(str(tmp_path / package / "text"))
    listing = [sorted(p.name for p in (tmp_path / package / "text").iterdir() if not p.name.startswith("."))
               for package in ("pyspark", "dropin")]
    assert listing[0] == listing[1] == ["_SUCCESS", "part-00000", "part-00001"]
    assert [(tmp_path / "dropin" / "text" / f"part-0000{i}").read_text() for i in (0, 1)] == \
        [(tmp_path / "pyspark" / "text" / f"part-0000{i}").read_text() for i in (0, 1)]
    ours = both_contexts[1]
    ours.parallelize([{"k": 1}, (2, "b")], 2).saveAsPickleFile(str(tmp_path / "pickled"))
    assert ours.pickleFile(str(tmp_path / "pickled")).collect() == [{"k": 1}, (2, "b")]
    assert sorted(ours.wholeTextFiles(str(tmp_path / "dropin" / "text")).values().collect()) == ["x\n", "y\nz\n"]


FAILING = """
import time
from pyspark import SparkContext
from pyspark.streaming import StreamingContext
sc = SparkContext("local[2]", "failing")
sc.setLogLevel("OFF")
ssc = StreamingContext(sc, 0.5)


def fail_on_two(x):
    if x == 2:
        raise ValueError("This is a special error")
    return x


ssc.queueStream([sc.parallelize([d], 1) for d in range(8)]).map(fail_on_two).pprint()
ssc.start()
raised = []
for timeout in (20, 0.1):  # the failure is reported, and stays: every later call raises it too
    try:
        ssc.awaitTerminationOrTimeout(timeout)
    except Exception as error:
        raised.append("This is a special error" in str(error))
    time.sleep(5)  # meanwhile the batches after the failed one run on
ssc.stop(stopSparkContext=True, stopGraceFully=False)
print("RAISED", raised)
"""


def test_a_function_that_raises_fails_its_batch_and_the_error_reaches_await_termination(tmp_path):
    """PySpark's own test of a failed function, and what follows: the batch's job fails (pprint prints nothing of
    it), awaitTermination raises the error then and on every later call, and the later batches run."""
    theirs, ours = (([int(line) for line in stdout.splitlines() if line.isdigit()], stdout.splitlines()[-1])
                    for _, stdout, _ in run_on_both(tmp_path, "failing", FAILING))
    assert ours == theirs == ([0, 1, 3, 4, 5, 6, 7], "RAISED [True, True]")


RETURNING = """
import time
from pyspark import SparkContext
from pyspark.streaming import StreamingContext
sc = SparkContext("local[2]", "returning")
sc.setLogLevel("OFF")
ssc = StreamingContext(sc, 0.5)
counted = []
def count(rdd):
    counted.append(rdd.count())
    return counted[-1]
ssc.queueStream([sc.parallelize([1, 2]), sc.parallelize([])]).foreachRDD(count)
ssc.start()
try:
    ssc.awaitTerminationOrTimeout(20)
    print("RAISED False")
except Exception as error:
    print("RAISED", "_jrdd" in str(error))
time.sleep(1.5)
ssc.stop(stopSparkContext=True, stopGraceFully=False)
print("COUNTED", counted[:2])
"""


def test_a_foreach_function_that_returns_a_count_fails_its_batch_as_in_pyspark(tmp_path):
    """PySpark takes a true result of a foreachRDD function for an RDD: returning ``rdd.count()`` fails the job of a
    non-empty batch (its result has no _jrdd), and not of an empty one, whose count is 0."""
    theirs, ours = (stdout.splitlines()[-2:] for _, stdout, _ in run_on_both(tmp_path, "returning", RETURNING))
    assert ours == theirs == ["RAISED True", "COUNTED [2, 0]"]


PARTITIONED = """
import time
from pyspark import SparkContext
from pyspark.streaming import StreamingContext
sc = SparkContext("local[2]", "gp")
sc.setLogLevel("OFF")
ssc = StreamingContext(sc, 0.5)
seen = []
s = ssc.queueStream([sc.parallelize(["a", "b", "c", "a"], 3)])
s.foreachRDD(lambda rdd: seen.append(("input", rdd.getNumPartitions())))
s.map(lambda w: (w, 1)).reduceByKey(lambda a, b: a + b).foreachRDD(lambda rdd: seen.append(("reduced", rdd.getNumPartitions())))
s.map(lambda w: (w, 1)).groupByKey().foreachRDD(lambda rdd: seen.append(("grouped", rdd.getNumPartitions())))
s.countByValue().foreachRDD(lambda rdd: seen.append(("countByValue", rdd.getNumPartitions())))
s.window(1, 0.5).foreachRDD(lambda rdd: seen.append(("window", rdd.getNumPartitions())))
ssc.start(); time.sleep(1.6); ssc.stop(True, False)
print("SEEN", seen[:5])
"""


def test_a_dstreams_shuffle_gives_the_default_parallelism_of_partitions(tmp_path):
    """PySpark's DStream shuffles (reduceByKey, groupByKey, countByValue...) default to sc.defaultParallelism,
    where an input or a window keeps its RDDs' partitions: glom and foreachPartition see what they see there."""
    seen = [next(line for line in stdout.splitlines() if line.startswith("SEEN"))
            for _, stdout, _ in run_on_both(tmp_path, "partitioned", PARTITIONED)]
    assert seen[1] == seen[0] == ("SEEN [('input', 3), ('reduced', 2), ('grouped', 2), ('countByValue', 2), "
                                  "('window', 3)]")


SHIPPING = """
import threading, time
from pyspark import SparkConf, SparkContext
from pyspark.streaming import StreamingContext
sc = SparkContext("local[2]", "ship", conf=SparkConf().set("spark.dstream.closureCheck", CHECK))
sc.setLogLevel("OFF")
ssc = StreamingContext(sc, 0.5)
connection = threading.Lock()  # a connection made on the driver, as the guide warns
def send(rdd):
    rdd.foreach(lambda record: connection.locked())
ssc.queueStream([sc.parallelize([1, 2], 2), sc.parallelize([3], 1)]).foreachRDD(send)
ssc.start()
try:
    ssc.awaitTerminationOrTimeout(15)
    print("OUTCOME none")
except Exception as error:
    print("OUTCOME", type(error).__name__, "cannot pickle '_thread.lock' object" in str(error))
ssc.stop(True, False)
"""


@pytest.mark.parametrize("check", ["warn", "error", "off"])
def test_a_function_spark_could_not_ship_is_said_once_or_fails_as_in_spark(tmp_path, check):
    """The guide's warning: a connection made on the driver cannot be used in a function Spark ships. PySpark
    fails the job with a pickling error; the drop-in, where nothing is shipped, says it once by default, fails
    as PySpark with spark.dstream.closureCheck=error, and says nothing with off."""
    (theirs, _), (ours, said) = ((next(line for line in stdout.splitlines() if line.startswith("OUTCOME")), stderr)
                                 for _, stdout, stderr in run_on_both(tmp_path, "shipping",
                                                                      SHIPPING.replace("CHECK", repr(check))))
    assert theirs == "OUTCOME Py4JJavaError True"
    warning = ("dstream: the function given to RDD.foreach cannot be pickled, so Spark could not ship it to its "
               "executors: TypeError: cannot pickle '_thread.lock' object (set spark.dstream.closureCheck=error to "
               "fail as Spark does, off not to check)\n")
    assert (ours, said) == {"warn": ("OUTCOME none", warning),  # two batches, said once
                            "error": ("OUTCOME PicklingError True", ""),
                            "off": ("OUTCOME none", "")}[check]


def test_text_file_reads_a_directory_a_glob_and_a_list_as_spark_does(both_contexts, tmp_path):
    """``textFile`` of a ``saveAsTextFiles`` batch reads its part files, not ``_SUCCESS`` nor hidden ``.crc``
    files; a glob and a comma-separated list read each match; lines end as Hadoop ends them; the partitions
    are as many as Hadoop's splits."""
    batch = tmp_path / "out-1000"
    batch.mkdir()
    for name, text in {"part-00000": "a\nb\n", "part-00001": "c\n", "part-00002": "", "_SUCCESS": "",
                       ".part-00000.crc": "x"}.items():
        (batch / name).write_text(text)
    (tmp_path / "one.txt").write_bytes(b"d\r\ne\rf\x0cg")
    (tmp_path / "big.txt").write_text("".join(f"line {i}\n" for i in range(1000)))
    reads = [(str(batch), None), (str(tmp_path / "out-*"), None), (f"{batch / 'part-00001'},{tmp_path / 'one.txt'}", 3),
             (f"file:{tmp_path / 'one.txt'}", None), (str(tmp_path / "big.txt"), 7), (str(tmp_path / "*.txt"), 4)]
    theirs, ours = ([(sorted(sc.textFile(path, least).collect()), sc.textFile(path, least).getNumPartitions())
                     for path, least in reads] for sc in both_contexts)
    assert ours == theirs
    assert ours[0] == (["a", "b", "c"], 3)


STREAMING_TEST_CASE = """
import operator
import unittest

from pyspark.testing.streamingutils import PySparkStreamingTestCase


class Case(PySparkStreamingTestCase):
    duration = 0.2

    def test_a_window_of_a_queue(self):
        self._test_func([[1], [2, 3], [4]], lambda s: s.window(0.4, 0.2).reduce(operator.add), [[1], [6], [9], [4]])

    def test_two_queues_joined_and_sorted(self):
        self._test_func([[("b", 1), ("a", 2)]], lambda a, b: a.join(b), [[("a", (2, "x")), ("b", (1, "y"))]],
                        sort=True, input2=[[("a", "x"), ("b", "y"), ("c", "z")]])

    def test_take_and_collect_without_blocking(self):
        collected = self._collect(self.ssc.queueStream([[1, 2], [], [3]]), 2, block=False)
        self.assertEqual(self._take(self.ssc.queueStream([[7], [8, 9]]), 2), [7, 8])
        self.wait_for(collected, 2)
        print("COLLECTED", collected)


unittest.main(argv=["case", "-v"], exit=False)
"""


def test_pysparks_streaming_test_case_runs_the_same_tests_with_the_same_results(tmp_path):
    """``pyspark.testing.streamingutils.PySparkStreamingTestCase``, the base of PySpark's own streaming tests:
    its helpers give each batch's records, on the drop-in as on PySpark."""
    runs = run_on_both(tmp_path, "case", STREAMING_TEST_CASE)
    outcomes = [(stdout.splitlines(), re.findall(r"^Ran \d+ tests", stderr, re.M), stderr.split()[-1])
                for _, stdout, stderr in runs]
    assert outcomes[1] == outcomes[0] == (["COLLECTED [[1, 2], [3]]"], ["Ran 3 tests"], "OK")


CHECKPOINT_RESTARTS = """
import tempfile
import time
import traceback

from pyspark import SparkContext
from pyspark.streaming import StreamingContext

checkpoint, calls = tempfile.mkdtemp(), []


def setup():
    calls.append(1)
    ssc = StreamingContext(SparkContext("local[2]", "restarts"), 0.5)
    ssc.textFileStream(tempfile.mkdtemp()).foreachRDD(lambda rdd: None)
    return ssc


ssc = StreamingContext.getOrCreate(checkpoint, setup)
ssc.start()
time.sleep(1.5)
ssc.stop(True, True)
StreamingContext.getOrCreate(checkpoint, setup).stop(True, True)  # recovered, never started
ssc = StreamingContext.getOrCreate(checkpoint, setup)
ssc.start()
ssc.stop(True, True)
print("SETUP CALLS", len(calls))


def holding_the_context():
    sc = SparkContext("local[2]", "holding")
    ssc = StreamingContext(sc, 0.5)
    ssc.textFileStream(tempfile.mkdtemp()).foreachRDD(lambda t, rdd: sc.parallelize([1]))
    return ssc


ssc = StreamingContext.getOrCreate(tempfile.mkdtemp(), holding_the_context)
try:
    ssc.start()
    print("STARTED")
except BaseException:
    print("FAILED", "It appears that you are attempting to reference SparkContext" in traceback.format_exc())
ssc.sparkContext.stop()
"""


def test_a_checkpointed_context_restarts_after_one_never_started_and_cannot_hold_the_spark_context(tmp_path):
    """getOrCreate from a checkpoint whose last context was recovered and stopped unstarted recovers again; a
    checkpointed function that holds the SparkContext fails the start with PySpark's words (SPARK-5063)."""
    theirs, ours = ([line for line in stdout.splitlines() if line.startswith(("SETUP", "FAILED", "STARTED"))]
                    for _, stdout, _ in run_on_both(tmp_path, "restarts", CHECKPOINT_RESTARTS))
    assert ours == theirs == ["SETUP CALLS 1", "FAILED True"]
