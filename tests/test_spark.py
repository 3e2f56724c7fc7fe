"""--engine spark end to end: the real command on local Spark and on a standalone cluster started here.

The golden tables (stateless, streams, windows, state) run on Spark through the ``entry_point`` and
``engine`` fixtures; this module covers what only a whole run shows: inputs served from the driver,
Spark's own receivers, stopping, checkpoints, metrics, errors and the cluster.
"""
import collections
import itertools
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading

import orjson
import pytest
from conftest import AnyOrder, free_port, installed_dstream, invoke, queue_text, read_batch_files, spark_env, wait_for

LOCAL = ["--engine", "spark", "--master", "local[2]"]
WORDS = ["to be or not to be", "that is the question", "to be"]


@pytest.fixture(autouse=True)
def _pyspark(request):
    from conftest import need_pyspark

    need_pyspark()


def dstream(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*installed_dstream(), *args], capture_output=True, text=True, timeout=180, check=False,
                          env=spark_env(), **kwargs)


def word_counts(lines) -> collections.Counter:
    return collections.Counter(word for line in lines for word in line.split())


def emitted_counts(stdout: str) -> collections.Counter:
    totals: collections.Counter = collections.Counter()
    for line in stdout.splitlines():
        word, count = line.split("\t")
        totals[word] += int(count)
    return totals


class LineServer:
    """A TCP server for ``--socket``: sends *lines* to the first client, then keeps the connection open."""

    def __init__(self, lines) -> None:
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        self.lines = lines
        self.connections = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        connection, _ = self.listener.accept()
        self.connections.append(connection)
        connection.sendall("".join(f"{line}\n" for line in self.lines).encode())

    def close(self) -> None:
        for connection in self.connections:
            connection.close()
        self.listener.close()


def test_stdin_word_count_equals_the_local_engines():
    """stdin is read by the driver and served to Spark's socket receiver; every line is counted once, and the run
    ends by itself at end of input with exit 0."""
    text = "".join(f"{line}\n" for line in WORDS * 50)
    chain = ["flat-map", "x.split()", "map", "(x, 1)", "reduce-by-key", "sum", "emit"]
    on_spark = dstream(*LOCAL, "--batch", "500ms", *chain, input=text)
    assert on_spark.returncode == 0, on_spark.stderr
    local = dstream("--batch", "500ms", *chain, input=text)
    assert emitted_counts(on_spark.stdout) == emitted_counts(local.stdout) == word_counts(WORDS * 50)
    assert on_spark.stderr.count("\n") <= 1, on_spark.stderr  # at most the JVM's own module notice


def test_socket_input_is_sparks_receiver_and_the_stop_file_stops_gracefully(tmp_path):
    """--socket is socketTextStream on an executor; the stop file finishes what was received, is removed, exit 0."""
    server = LineServer(WORDS * 20)
    stop = tmp_path / "stop"
    out = tmp_path / "out" / "w"
    proc = subprocess.Popen([*installed_dstream(), *LOCAL, "--socket", f"127.0.0.1:{server.port}",
                             "--stop-file", str(stop), "flat-map", "x.split()", "map", "(x, 1)", "reduce-by-key",
                             "sum", "save-as-text-files", str(out), "--format", "repr"],
                            stderr=subprocess.PIPE, text=True, env=spark_env())
    try:
        def counted():
            return sum((collections.Counter(dict(b)) for _, b in read_batch_files(str(out))), collections.Counter())

        wait_for(lambda: counted() == word_counts(WORDS * 20), timeout=90, what="every line counted")
        stop.touch()
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        assert not stop.exists()
    finally:
        proc.kill()
        server.close()


def test_max_rate_is_sparks_receiver_rate(tmp_path):
    """--max-rate N sets spark.streaming.receiver.maxRate: 2,000 lines waiting on the socket arrive at about N a
    second instead of all in the first batch."""
    server = LineServer([f"line {i}" for i in range(2000)])
    metrics = tmp_path / "m.jsonl"
    try:
        result = dstream(*LOCAL, "--socket", f"127.0.0.1:{server.port}", "--max-rate", "200", "--run-for", "8s",
                         "--metrics", str(metrics), "count", "emit")
    finally:
        server.close()
    assert result.returncode == 0, result.stderr
    received = [orjson.loads(line)["records_in"] for line in metrics.read_bytes().splitlines()]
    assert 0 < sum(received) < 2000 and max(received) <= 300, received


def test_sigterm_on_a_listen_input_processes_what_was_received(tmp_path):
    """--listen is served from the driver; SIGTERM stops receiving, processes every line received, exits 0."""
    port = free_port()
    out = tmp_path / "out" / "n"
    proc = subprocess.Popen([*installed_dstream(), *LOCAL, "--listen", str(port), "count", "save-as-text-files",
                             str(out)], stderr=subprocess.PIPE, text=True, env=spark_env())
    try:
        wait_for(lambda: _connects(port), timeout=90, what="the driver to listen")
        with socket.create_connection(("127.0.0.1", port)) as producer:
            producer.sendall(b"".join(b"line %d\n" % i for i in range(500)))

        def counted():
            return sum(int(b[0]) for _, b in read_batch_files(str(out)) if b)

        wait_for(lambda: counted() == 500, timeout=90, what="500 lines counted")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        assert counted() == 500
    finally:
        proc.kill()


def test_a_zeromq_input_is_read_on_the_driver(tmp_path):
    """zmq:// on Spark: read on the driver and served to Spark, as --listen is; every pushed message counted."""
    import zmq

    port = free_port()
    out = tmp_path / "out" / "n"
    proc = subprocess.Popen([*installed_dstream(), *LOCAL, "-i", f"z=zmq://127.0.0.1:{port}?socket=pull&bind=1",
                             "from", "z", "count", "save-as-text-files", str(out)], stderr=subprocess.PIPE, text=True,
                            env=spark_env())
    pusher = zmq.Context.instance().socket(zmq.PUSH)
    pusher.setsockopt(zmq.LINGER, 5000)
    pusher.connect(f"tcp://127.0.0.1:{port}")  # queued until dstream binds
    try:
        for i in range(300):
            pusher.send_string(f"message {i}")

        def counted():
            return sum(int(b[0]) for _, b in read_batch_files(str(out)) if b)

        wait_for(lambda: counted() == 300, timeout=90, what="300 messages counted")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
    finally:
        proc.kill()
        pusher.close()


def _connects(port: int) -> bool:
    from conftest import can_connect

    return can_connect(port)


def test_watch_is_sparks_text_file_stream_and_takes_a_url(tmp_path):
    """--watch DIR is textFileStream, so a file system URL (here file://) goes to Spark as it is: files moved
    into DIR are read once."""
    watched = tmp_path / "in"
    watched.mkdir()
    out = tmp_path / "out" / "w"
    proc = subprocess.Popen([*installed_dstream(), *LOCAL, "--watch", f"file://{watched}", "--run-for", "60s",
                             "flat-map", "x.split()", "count-by-value", "save-as-text-files", str(out), "--format",
                             "repr"], stderr=subprocess.PIPE, text=True, env=spark_env())
    try:
        def counted():
            return sum((collections.Counter(dict(b)) for _, b in read_batch_files(str(out))), collections.Counter())

        wait_for(lambda: read_batch_files(str(out)), timeout=90, what="the first batch")
        for i, line in enumerate(WORDS):
            staged = tmp_path / f"part-{i}"
            staged.write_text(line + "\n")
            os.rename(staged, watched / staged.name)
        wait_for(lambda: counted() == word_counts(WORDS), timeout=60, what="every file read")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=60) == 0, proc.stderr.read()
        assert counted() == word_counts(WORDS)
    finally:
        proc.kill()


def test_update_state_resumes_from_sparks_checkpoint_and_another_chain_is_refused(tmp_path):
    """--checkpoint is Spark's checkpoint directory, restored with StreamingContext.getOrCreate: a second run
    carries the first run's state (Spark saves it every --checkpoint-interval, here every batch); a different
    chain on the same directory is refused with exit 2."""
    checkpoint = str(tmp_path / "ck")
    chain = ["map", "(x, 1)", "update-state", "sum", "emit"]
    every_batch = ["--checkpoint", checkpoint, "--checkpoint-interval", "1s"]
    first = dstream(*LOCAL, *every_batch, *chain, input="a\na\nb\n")
    assert first.returncode == 0, first.stderr
    assert first.stdout.splitlines()[-2:] == AnyOrder(["a\t2", "b\t1"])
    second = dstream(*LOCAL, *every_batch, *chain, input="a\n")
    assert second.returncode == 0, second.stderr
    assert AnyOrder(second.stdout.splitlines()[-2:]) == ["a\t3", "b\t1"]
    other = dstream(*LOCAL, "--checkpoint", checkpoint, "map", "(x, 2)", "update-state", "sum", input="a\n")
    assert other.returncode == 2
    assert "was written by another chain" in other.stderr


def test_metrics_are_sparks_batch_figures(tmp_path, spark_context):
    """--metrics writes one line per completed batch from Spark's listener; queue batches count their records."""
    metrics = tmp_path / "m.jsonl"
    result = invoke(["--engine", "spark", "--queue", "-", "--metrics", str(metrics), "count"],
                    input=queue_text([["a", "b"], [], ["c"]]))
    assert result.exit_code == 0, result.stderr
    lines = [orjson.loads(line) for line in metrics.read_bytes().splitlines()]
    assert [(m["batch_time"], m["records_in"]) for m in lines] == [(1000, 2), (2000, 0), (3000, 1)]
    assert all(m["processing_ms"] >= 0 and m["total_delay_ms"] >= m["processing_ms"] for m in lines)


def test_the_live_view_shows_sparks_figures(spark_context):
    """--progress draws Spark's batch figures on stderr, with '-' for what Spark does not report."""
    result = invoke(["--engine", "spark", "--queue", "-", "--progress", "count", "emit"],
                    input=queue_text([["a", "b"], ["c"]]))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "2\n1\n"
    assert "keys in state" in result.stderr and "processing" in result.stderr


def test_layout_spark_writes_part_directories_from_the_executors(tmp_path, spark_context):
    prefix = tmp_path / "out" / "counts"
    result = invoke(["--engine", "spark", "--queue", "-", "flat-map", "x.split()", "count-by-value",
                     "save-as-text-files", str(prefix), "--layout", "spark", "--suffix", "txt"],
                    input=queue_text([["a b a"], ["c"]]))
    assert result.exit_code == 0, result.stderr
    for t, expected in ((1000, ["('a', 2)", "('b', 1)"]), (2000, ["('c', 1)"])):
        directory = tmp_path / "out" / f"counts-{t}.txt"
        assert (directory / "_SUCCESS").exists()
        lines = [line for part in sorted(directory.glob("part-*")) for line in part.read_text().splitlines()]
        assert AnyOrder(lines) == expected


def test_the_local_layout_spark_is_the_same_directory_shape(tmp_path):
    prefix = tmp_path / "out" / "counts"
    result = invoke(["--queue", "-", "count", "save-as-text-files", str(prefix), "--layout", "spark"],
                    input=queue_text([["a", "b"]]))
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in (tmp_path / "out" / "counts-1000").iterdir()) == ["_SUCCESS", "part-00000"]
    assert (tmp_path / "out" / "counts-1000" / "part-00000").read_text() == "2\n"


def test_a_failing_expression_is_one_line_naming_the_stage(spark_context):
    result = invoke(["--engine", "spark", "--queue", "-", "map", "int(x)", "reduce", "sum"],
                    input=queue_text([["1", "x"]]))
    assert result.exit_code == 1
    assert result.stderr == "dstream: stage 1 (map 'int(x)'): ValueError: invalid literal for int() with base 10: 'x'\n"


def test_foreach_batch_runs_on_the_driver_with_the_batch_time(tmp_path, spark_context):
    out = tmp_path / "batches"
    result = invoke(["--engine", "spark", "--queue", "-", "foreach-batch",
                     f'{{ echo "t=$DSTREAM_BATCH_TIME"; sort; }} >> {out}'], input=queue_text([["b", "a"], [], ["c"]]))
    assert result.exit_code == 0, result.stderr
    assert out.read_text() == "t=1000\na\nb\nt=3000\nc\n"


def test_an_imported_module_file_reaches_the_executors(tmp_path):
    """--import of a module that is a file here is shipped with SparkContext.addPyFile."""
    (tmp_path / "shout.py").write_text("def loud(x):\n    return x.upper() + '!'\n")
    result = dstream(*LOCAL, "--queue", "-", "--import", "shout", "map", "shout.loud(x)", "emit",
                     input=queue_text([["a", "b"]]), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert AnyOrder(result.stdout.splitlines()) == ["A!", "B!"]


@pytest.mark.parametrize("args, named", [
    (["--workers", "2", "count"], "--workers"),
    (["--on-error", "skip", "count"], "--on-error skip"),
    (["--watch", ".", "--glob", "*.log", "count"], "--glob"),
])
def test_local_only_options_exit_2_naming_them(args, named):
    result = invoke(["--engine", "spark", *args], input="")
    assert result.exit_code == 2
    assert named in result.stderr and "--engine local" in result.stderr


def test_the_local_engine_refuses_a_url_to_watch():
    result = invoke(["--watch", "hdfs://namenode/logs", "count"])
    assert result.exit_code == 2
    assert "a URL needs --engine spark" in result.stderr


def test_spark_options_need_the_spark_engine():
    result = invoke(["--master", "local[2]", "--queue", "-", "count"], input="a\n")
    assert result.exit_code == 2
    assert "--master needs --engine spark" in result.stderr


def test_without_pyspark_the_engine_exits_2_with_the_install_line():
    code = "import sys; sys.modules['pyspark'] = None; from dstream_cli.cli import main; main()"
    result = subprocess.run([sys.executable, "-c", code, "--engine", "spark", "--queue", "-", "count"],
                            input="a\n", capture_output=True, text=True, timeout=60, check=False)
    assert result.returncode == 2
    assert result.stderr == ("dstream: --engine spark needs pyspark: pip install 'dstream-cli[spark]' "
                             "(and Java 17 or newer)\n")


# --- a real standalone cluster (conftest's, one for the session) ------------------------------------
def test_a_windowed_word_count_on_a_standalone_cluster_stops_by_the_stop_file(tmp_path, standalone_cluster):
    """--master spark://...: the socket receiver and the tasks run in the worker's executor; the files are the
    windowed counts, and the stop file stops the run with exit 0."""
    server = LineServer(WORDS)
    stop = tmp_path / "stop"
    out = tmp_path / "out" / "wc"
    proc = subprocess.Popen([*installed_dstream(), "--engine", "spark", "--master", standalone_cluster,
                             "--socket", f"127.0.0.1:{server.port}", "--batch", "1s", "--stop-file", str(stop),
                             "flat-map", "x.split()", "map", "(x, 1)", "reduce-by-key-and-window", "sum", "4s", "2s",
                             "save-as-text-files", str(out), "--format", "repr"],
                            stderr=subprocess.PIPE, text=True, env=spark_env())
    try:
        def windows():
            return [dict(b) for _, b in read_batch_files(str(out))]

        wait_for(lambda: word_counts(WORDS) in windows(), timeout=150, what="a window with every word")
        stop.touch()
        assert proc.wait(timeout=90) == 0, proc.stderr.read()
        assert not stop.exists()
        times = [t for t, _ in read_batch_files(str(out))]
        # windowed output only at slide times, which count from the stream's zero time
        assert len(times) >= 2 and all(later - earlier == 2000 for earlier, later in itertools.pairwise(times))
    finally:
        proc.kill()
        server.close()


def test_a_window_over_stdin_gives_every_slide_that_holds_its_records_on_sparks_clock():
    """As on the local engine (issue 27): stdin ends before the first slide, and the run waits on Spark's clock
    through the last slide whose window holds a record. Each record is in two windows of 4 s sliding by 2 s,
    however the five lines fell into batches."""
    result = dstream(*LOCAL, "--batch", "1s", "window", "4s", "2s", "count", "emit", input="1\n2\n3\n4\n5\n")
    assert result.returncode == 0, result.stderr
    counts = [int(line) for line in result.stdout.split()]
    assert sum(counts) == 10 and counts[-1] > 0, result.stdout


def test_records_in_the_batches_between_slides_are_counted_and_the_run_ends():
    """Spark reports only the batches that have a job, and counts a receiver's records in the batch that computes
    them: records that fell between two slides were never counted, and a run over a finite stdin waited for them
    for ever (a CI run timed out so). Three lines 1.3 s apart fill at least one batch between the slides; every
    batch is reported to --metrics, as on the local engine."""
    feeder = "import sys, time\nfor n in (1, 2, 3):\n    print(n, flush=True)\n    time.sleep(1.3)\n"
    with tempfile.TemporaryDirectory() as scratch:
        metrics = os.path.join(scratch, "metrics.jsonl")
        with subprocess.Popen([sys.executable, "-c", feeder], stdout=subprocess.PIPE) as lines:
            result = dstream(*LOCAL, "--batch", "1s", "--metrics", metrics, "window", "4s", "2s", "count", "emit",
                             stdin=lines.stdout)
        assert result.returncode == 0, result.stderr
        assert sum(int(line) for line in result.stdout.split()) == 6, result.stdout  # each line in two windows
        with open(metrics, "rb") as handle:
            times = [orjson.loads(line)["batch_time"] for line in handle]
    assert sorted(times) == list(range(min(times), max(times) + 1, 1000)), times
