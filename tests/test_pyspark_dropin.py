"""dstream_cli.pyspark: PySpark's streaming examples run as processes with only their imports changed
(tests/pyspark_programs), and every method of the drop-in, on the clock as PySpark runs."""
import ast
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

import pytest
from conftest import wait_for

from dstream_cli.pyspark import RDD, SparkConf, SparkContext
from dstream_cli.pyspark.streaming import StreamingContext, StreamingListener

PROGRAMS = os.path.join(os.path.dirname(__file__), "pyspark_programs")


class LineServer:
    """``nc -lk``: a TCP server on 127.0.0.1 that sends lines to every client connected."""

    def __init__(self) -> None:
        self.socket = socket.create_server(("127.0.0.1", 0))
        self.port = self.socket.getsockname()[1]
        self.clients: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.socket.accept()
            except OSError:
                return
            self.clients.append(client)

    def send(self, *lines: str) -> None:
        wait_for(lambda: self.clients, what="the program to connect")
        data = "".join(line + "\n" for line in lines).encode()
        for client in self.clients:
            client.sendall(data)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        self.socket.close()


class Program:
    """One of tests/pyspark_programs, run as `python PROGRAM ARGS` in *cwd*, its stdout read as it comes."""

    def __init__(self, name: str, *args, cwd) -> None:
        self.process = subprocess.Popen([sys.executable, os.path.join(PROGRAMS, name), *map(str, args)], cwd=cwd,
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.out: list[str] = []
        threading.Thread(target=lambda: self.out.extend(self.process.stdout), daemon=True).start()

    def batches(self) -> list[list]:
        """pprint's batches: the records of each, read back."""
        return [[ast.literal_eval(line) for line in block.strip("\n").splitlines() if line != "..."]
                for block in re.split(r"-{43}\nTime: [^\n]+\n-{43}\n", "".join(self.out))[1:]]

    def wait_for_batch(self, predicate, what: str, timeout: float = 30) -> list:
        wait_for(lambda: any(predicate(batch) for batch in self.batches()) or self.process.poll() is not None,
                 timeout, what)
        found = [batch for batch in self.batches() if predicate(batch)]
        assert found, f"{what}: the program ended ({self.process.returncode}): {self.process.stderr.read()}"
        return found[0]

    def stop(self) -> int:
        """SIGTERM, as a service manager stops it: a graceful stop, exit 0."""
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        finally:
            self.process.kill()


@pytest.fixture
def server():
    line_server = LineServer()
    yield line_server
    line_server.close()


# --- PySpark's examples, only the imports changed ---------------------------------------------
def test_network_wordcount(tmp_path, server):
    program = Program("network_wordcount.py", "127.0.0.1", server.port, cwd=tmp_path)
    server.send("hello world hello")
    batch = program.wait_for_batch(lambda b: ("hello", 2) in b, "the batch of the line")
    assert sorted(batch) == [("hello", 2), ("world", 1)]
    assert program.stop() == 0


def test_stateful_network_wordcount_starts_from_its_initial_state_and_keeps_counting(tmp_path, server):
    program = Program("stateful_network_wordcount.py", "127.0.0.1", server.port, cwd=tmp_path)
    program.wait_for_batch(lambda b: sorted(b) == [("hello", 1), ("world", 1)], "the initial state")
    server.send("hello spark")
    program.wait_for_batch(lambda b: sorted(b) == [("hello", 2), ("spark", 1), ("world", 1)], "the first line")
    server.send("spark")
    program.wait_for_batch(lambda b: ("spark", 2) in b, "the running count")
    assert program.stop() == 0
    assert os.path.isdir(tmp_path / "checkpoint")


def test_queue_stream_gives_five_batches_of_sums_then_empty_ones_and_stops_itself(tmp_path):
    program = Program("queue_stream.py", cwd=tmp_path)
    assert program.process.wait(60) == 0, program.process.stderr.read()
    time.sleep(0.2)  # the reader thread takes the last lines
    batches = program.batches()
    non_empty = [batch for batch in batches if batch]
    assert len(non_empty) == 5 and len(batches) >= 5
    assert all(sorted(batch) == [(digit, 100) for digit in range(10)] for batch in non_empty)
    assert batches[:5] == non_empty  # the queue's RDDs first, one a batch


def test_hdfs_wordcount_counts_each_new_file(tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    program = Program("hdfs_wordcount.py", watched, cwd=tmp_path)
    time.sleep(1)
    (tmp_path / "part").write_text("to be or not to be\n")
    os.rename(tmp_path / "part", watched / "part")  # a file appears whole, as Spark asks
    batch = program.wait_for_batch(lambda b: ("to", 2) in b, "the file's counts")
    assert sorted(batch) == [("be", 2), ("not", 1), ("or", 1), ("to", 2)]
    assert program.stop() == 0


def test_the_guides_windowed_word_count_counts_over_the_window_and_back_to_zero(tmp_path, server):
    program = Program("windowed_network_wordcount.py", "127.0.0.1", server.port, 4, 2, cwd=tmp_path)
    server.send("x y x")
    assert sorted(program.wait_for_batch(lambda b: ("x", 2) in b, "the window with the line")) == [("x", 2),
                                                                                                   ("y", 1)]
    # PySpark subtracts with the inverse only for a window of 5 slides or more; shorter ones are reduced anew,
    # so once the line is out of the window no key is left (not ('x', 0))
    batches = program.batches()
    wait_for(lambda: len(program.batches()) > len(batches) + 2, what="the windows after it")
    after = program.batches()[program.batches().index(next(b for b in batches if ("x", 2) in b)):]
    assert [sorted(b) for b in after[:2]] == [[("x", 2), ("y", 1)]] * 2 and after[2] == []
    assert program.stop() == 0


# --- every method, through the drop-in ---------------------------------------------------------
def run_dropin(build, batches: int = 1, interval: float = 0.05) -> list:
    """Start the context *build(ssc, sc, out)* set up (its outputs appending to *out*), wait for *batches*
    entries, stop; the first *batches* of them."""
    sc = SparkContext("local[2]", "test")
    ssc = StreamingContext(sc, interval)
    out: list = []
    build(ssc, sc, out)
    ssc.start()
    wait_for(lambda: len(out) >= batches, what=f"{batches} batches")
    ssc.stop(stopSparkContext=True, stopGraceFully=False)
    return out[:batches]


def collected(stream, out) -> None:
    stream.foreachRDD(lambda rdd: out.append(rdd.collect()))


def test_dropin_stateless_methods():
    def build(ssc, sc, out):
        lines = ssc.queueStream([["a b", "b"]])
        words = lines.flatMap(str.split)
        collected(words.map(lambda w: w.upper()), out)
        collected(words.filter(lambda w: w == "b"), out)
        pairs = words.map(lambda w: (w, 1))
        collected(pairs.reduceByKey(lambda a, b: a + b), out)
        collected(pairs.groupByKey().mapValues(list), out)
        collected(pairs.mapValues(lambda v: v + 1).flatMapValues(lambda v: [v, v]), out)
        collected(words.countByValue(), out)
        collected(words.count(), out)
        collected(lines.map(len).reduce(lambda a, b: a + b), out)
        collected(pairs.combineByKey(lambda v: [v], lambda c, v: c + [v], lambda a, b: a + b), out)

    got = run_dropin(build, 9)
    assert sorted(map(str, got)) == sorted(map(str, [
        ["A", "B", "B"], ["b", "b"], [("a", 1), ("b", 2)], [("a", [1]), ("b", [1, 1])],
        [("a", 2), ("a", 2), ("b", 2), ("b", 2), ("b", 2), ("b", 2)], [("a", 1), ("b", 2)], [3], [4],
        [("a", [1]), ("b", [1, 1])]]))


def test_dropin_partitions_glom_map_partitions_partition_by_repartition():
    def build(ssc, sc, out):
        numbers = ssc.queueStream([sc.parallelize(range(6), 3)])
        collected(numbers.glom(), out)
        collected(numbers.mapPartitions(lambda it: [sum(it)]), out)
        collected(numbers.mapPartitionsWithIndex(lambda i, it: [(i, len(list(it)))]), out)
        collected(numbers.repartition(2).glom(), out)
        collected(numbers.map(lambda n: (n, n)).partitionBy(2, lambda k: k).glom(), out)

    got = run_dropin(build, 5)
    assert sorted(map(str, got)) == sorted(map(str, [
        [[0, 1], [2, 3], [4, 5]], [1, 5, 9], [(0, 2), (1, 2), (2, 2)], [[0, 1, 2], [3, 4, 5]],
        [[(0, 0), (2, 2), (4, 4)], [(1, 1), (3, 3), (5, 5)]]]))


def test_dropin_transform_foreach_rdd_with_time_and_the_rdd_methods():
    def build(ssc, sc, out):
        stream = ssc.queueStream([[3, 1, 2, 1]])
        names = sc.parallelize([(1, "one"), (2, "two")])

        def over_rdd(rdd):
            return rdd.map(lambda n: (n, n * 10)).join(names).sortBy(lambda kv: kv[0])

        collected(stream.transform(over_rdd), out)
        collected(stream.transform(lambda time, rdd: rdd.map(lambda n: time.year)), out)

        def check(time, rdd):
            if rdd.isEmpty():
                return
            parts = []
            rdd.foreachPartition(lambda it: parts.append(list(it)))
            out.append([type(time).__name__, rdd.count(), rdd.isEmpty(), rdd.take(2), rdd.first(), rdd.sum(),
                        rdd.max(), rdd.min(), rdd.distinct().count(), rdd.countByValue(), rdd.top(2),
                        rdd.takeOrdered(2), rdd.getNumPartitions(), parts, rdd.sortBy(lambda n: -n).collect()])

        stream.foreachRDD(check)

    got = run_dropin(build, 3)
    assert [(1, (10, "one")), (1, (10, "one")), (2, (20, "two"))] in got
    assert [time.localtime().tm_year] * 4 in got
    assert ["datetime", 4, False, [3, 1], 3, 7, 3, 1, 3, {3: 1, 1: 2, 2: 1}, [3, 2], [1, 1], 2, [[3, 1], [2, 1]],
            [3, 2, 1, 1]] in got


def test_dropin_two_streams_union_join_cogroup_transform_with():
    def build(ssc, sc, out):
        left = ssc.queueStream([[("a", 1), ("b", 2)]])
        right = ssc.queueStream([[("a", "x"), ("c", "y")]])
        collected(left.union(right), out)
        collected(left.join(right), out)
        collected(left.leftOuterJoin(right), out)
        collected(left.rightOuterJoin(right), out)
        collected(left.fullOuterJoin(right), out)
        collected(left.cogroup(right).mapValues(lambda lists: [list(x) for x in lists]), out)
        collected(left.transformWith(lambda a, b: a.union(b).keys(), right), out)
        collected(ssc.union(left, right, left).count(), out)
        collected(ssc.transform([left, right], lambda rdds: sc.parallelize([r.count() for r in rdds])), out)

    got = [str(sorted(map(str, batch))) for batch in run_dropin(build, 9)]
    for expected in ([("a", 1), ("b", 2), ("a", "x"), ("c", "y")], [("a", (1, "x"))],
                     [("a", (1, "x")), ("b", (2, None))], [("a", (1, "x")), ("c", (None, "y"))],
                     [("a", (1, "x")), ("b", (2, None)), ("c", (None, "y"))],
                     [("a", [[1], ["x"]]), ("b", [[2], []]), ("c", [[], ["y"]])], ["a", "b", "a", "c"], [6], [2, 2]):
        assert str(sorted(map(str, expected))) in got


def test_dropin_windows_and_state():
    def build(ssc, sc, out):
        pairs = ssc.queueStream([[("a", 1)], [("a", 2), ("b", 1)]])
        window = pairs.reduceByKeyAndWindow(lambda x, y: x + y, lambda x, y: x - y, 0.1, 0.05)
        window.foreachRDD(lambda rdd: out.append(("rbkaw", sorted(rdd.collect()))))
        pairs.window(0.1, 0.05).foreachRDD(lambda rdd: out.append(("window", sorted(rdd.collect()))))
        pairs.countByWindow(0.1, 0.05).foreachRDD(lambda rdd: out.append(("cbw", rdd.collect())))
        pairs.reduceByWindow(lambda a, b: a if a[1] > b[1] else b, None, 0.1, 0.05) \
            .foreachRDD(lambda rdd: out.append(("rbw", rdd.collect())))
        pairs.map(lambda kv: kv[0]).countByValueAndWindow(0.1, 0.05) \
            .foreachRDD(lambda rdd: out.append(("cbvaw", sorted(rdd.collect()))))
        pairs.groupByKeyAndWindow(0.1, 0.05).mapValues(sorted) \
            .foreachRDD(lambda rdd: out.append(("gbkaw", sorted(rdd.collect()))))
        pairs.updateStateByKey(lambda new, old: sum(new) + (old or 0), initialRDD=sc.parallelize([("z", 9)])) \
            .foreachRDD(lambda rdd: out.append(("state", sorted(rdd.collect()))))

    got = run_dropin(build, 14)
    second = {kind: value for kind, value in got[7:14]}
    assert second == {"rbkaw": [("a", 3), ("b", 1)], "window": [("a", 1), ("a", 2), ("b", 1)], "cbw": [3],
                      "rbw": [("a", 2)], "cbvaw": [("a", 2), ("b", 1)], "gbkaw": [("a", [1, 2]), ("b", [1])],
                      "state": [("a", 3), ("b", 1), ("z", 9)]}


def test_dropin_outputs_pprint_and_save_as_text_files(tmp_path, capsys):
    prefix = str(tmp_path / "out")

    def build(ssc, sc, out):
        stream = ssc.queueStream([[1, 2]])
        stream.pprint(1)
        stream.saveAsTextFiles(prefix, "txt")
        collected(stream, out)

    run_dropin(build, 1)
    printed = capsys.readouterr().out
    assert re.search(r"Time: \d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?\n-+\n1\n\.\.\.\n", printed)
    directory = next(path for path in os.listdir(tmp_path) if re.fullmatch(r"out-\d+\.txt", path)
                     and os.listdir(tmp_path / path))
    # a part file per partition: a queued list is parallelized in local[2]'s 2, as PySpark does
    assert sorted(os.listdir(tmp_path / directory)) == ["_SUCCESS", "part-00000", "part-00001"]


def test_dropin_context_methods(tmp_path):
    sc = SparkContext(conf=SparkConf().setAppName("app").setMaster("local[3]"))
    assert sc.defaultParallelism == 3 and sc.appName == "app" and sc.parallelize([1, 2, 3]).getNumPartitions() == 3
    assert SparkContext.getOrCreate() is sc
    ssc = StreamingContext(sc, 0.05)
    assert ssc.sparkContext is sc and StreamingContext.getActive() is None
    ssc.remember(1)
    ssc.checkpoint(str(tmp_path / "ck"))
    events = []

    class Listener(StreamingListener):
        def onBatchCompleted(self, batchCompleted):  # noqa: N802, N803
            info = batchCompleted.batchInfo()
            events.append((info.batchTime().milliseconds(), info.numRecords(), info.processingDelay() >= 0))

        def onOutputOperationCompleted(self, outputOperationCompleted):  # noqa: N802, N803
            events.append(("output", outputOperationCompleted.outputOperationInfo().failureReason()))

    ssc.addStreamingListener(Listener())
    ssc.queueStream([[1, 2], [3]], default=[0]).checkpoint(0.1).cache().persist().foreachRDD(lambda rdd: None)
    ssc.start()
    assert StreamingContext.getActive() is ssc
    assert StreamingContext.getActiveOrCreate(None, lambda: pytest.fail("not called")) is ssc
    assert ssc.awaitTerminationOrTimeout(0.3) is False
    ssc.stop(stopSparkContext=False)
    assert ssc.awaitTerminationOrTimeout(5) is True and StreamingContext.getActive() is None
    # Spark counts no records of a queue stream's RDDs (test_pyspark_parity.py compares with PySpark's listener)
    assert [e[1] for e in events if e[0] != "output"][:3] == [0, 0, 0] and ("output", None) in events
    made = StreamingContext(sc, 1)
    assert StreamingContext.getOrCreate(str(tmp_path / "ck2"), lambda: made) is made
    assert made._context.checkpoint_dir == str(tmp_path / "ck2")


def test_dropin_file_inputs(tmp_path):
    text_dir, binary_dir = tmp_path / "text", tmp_path / "binary"
    text_dir.mkdir()
    binary_dir.mkdir()

    def build(ssc, sc, out):
        ssc.textFileStream(str(text_dir)).foreachRDD(lambda rdd: out.extend(rdd.collect()))
        ssc.binaryRecordsStream(str(binary_dir), 2).foreachRDD(lambda rdd: out.extend(rdd.collect()))
        threading.Timer(0.3, write_files).start()

    def write_files():
        (tmp_path / "t").write_text("one\ntwo\n")
        os.rename(tmp_path / "t", text_dir / "t")
        (tmp_path / "b").write_bytes(b"xxyy")
        os.rename(tmp_path / "b", binary_dir / "b")

    assert sorted(map(str, run_dropin(build, 4))) == sorted(["one", "two", "b'xx'", "b'yy'"])


def test_dropin_rdd_from_a_text_file_broadcast_and_accumulator(tmp_path):
    path = tmp_path / "lines"
    path.write_text("a\nb\n")
    sc = SparkContext()
    assert sc.textFile(str(path)).collect() == ["a", "b"]
    assert sc.broadcast([1]).value == [1]
    total = sc.accumulator(0)
    total.add(2)
    total += 3
    assert total.value == 5
    rdd = RDD([("k", 1), ("k", 2), ("j", 3)], 2)
    assert rdd.countByKey() == {"k": 2, "j": 1} and rdd.collectAsMap() == {"k": 2, "j": 3}
    assert rdd.lookup("k") == [1, 2] and rdd.keys().collect() == ["k", "k", "j"]
    assert rdd.sortByKey().collect() == [("j", 3), ("k", 1), ("k", 2)]
    assert rdd.aggregateByKey(0, lambda a, v: a + v, lambda a, b: a + b).collect() == [("k", 3), ("j", 3)]
    with pytest.raises(ValueError):
        RDD([]).first()


def test_dropin_queue_all_at_once():
    def build(ssc, sc, out):
        collected(ssc.queueStream([sc.parallelize([1, 2]), [3]], oneAtATime=False), out)

    assert run_dropin(build, 2) == [[1, 2, 3], []]


def test_dropin_get_or_create_resumes_the_state_of_a_stopped_context(tmp_path):
    """The second getOrCreate builds the graph from the checkpoint, as Spark does: setup is not called, and the
    functions are the pickled ones (so they write to a file, not to a list of this test's)."""
    directory = str(tmp_path / "ck")
    written = tmp_path / "out.jsonl"
    setups = []

    def setup():
        setups.append(1)
        sc = SparkContext("local[2]")
        ssc = StreamingContext(sc, 0.05)

        path = str(written)  # the pickled function keeps this string, not the test's objects

        def keep(rdd):
            with open(path, "a") as handle:
                handle.write(repr(rdd.collect()) + "\n")

        ssc.queueStream([[("a", 1)], [("a", 2)], [("a", 3)]]) \
            .updateStateByKey(lambda new, old: sum(new) + (old or 0), initialRDD=sc.parallelize([("b", 10)])) \
            .foreachRDD(lambda rdd: keep(rdd.sortByKey()))
        return ssc

    def lines() -> list:
        return written.read_text().splitlines() if written.exists() else []

    first = StreamingContext.getOrCreate(directory, setup)
    first.start()
    wait_for(lambda: "[('a', 6), ('b', 10)]" in lines(), what="the state after the queue")
    first.stop(stopSparkContext=True, stopGraceFully=True)
    written.unlink()
    second = StreamingContext.getOrCreate(directory, setup)
    second.start()
    wait_for(lines, what="a batch after the restart")
    second.stop()
    assert lines()[0] == "[('a', 6), ('b', 10)]"  # the queue was consumed and the state kept: not ('a', 1) again
    assert setups == [1]


def test_a_checkpointed_graph_whose_function_cannot_be_pickled_says_so_at_start(tmp_path):
    """getOrCreate keeps the graph's functions pickled, as Spark does: one holding a lock (a connection, a
    socket) cannot be, in Spark as here, and the start says which."""
    lock = threading.Lock()
    sc = SparkContext("local[1]", "test")
    ssc = StreamingContext(sc, 0.05)
    ssc.checkpoint(str(tmp_path / "ck"))
    ssc.queueStream([[1]]).foreachRDD(lambda rdd: lock.locked())
    with pytest.raises(ValueError, match=r"the DStream graph cannot be saved for getOrCreate: TypeError: .*lock"):
        ssc.start()
    sc.stop()
