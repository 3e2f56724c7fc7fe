"""--engine spark as a production job: Kafka in (the direct stream), a database and Kafka out from the executors,
exactly once through driver and executor kills, and stopped by signals to the whole process group.

Against the session's real servers: a Spark standalone cluster, a Tansu broker and PostgreSQL on 127.0.0.1.
"""
import collections
import os
import signal
import subprocess
import sys
import time
import urllib.parse

import psycopg
import pytest

from conftest import AnyOrder, free_port, installed_dstream, invoke, queue_text, read_batch_files, spark_env, wait_for
from kafka_broker import create_topic, produce

LOCAL = ["--engine", "spark", "--master", "local[2]"]


@pytest.fixture(autouse=True)
def _pyspark():
    from conftest import need_pyspark

    need_pyspark()


def dstream(*args, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([*installed_dstream(), *args], capture_output=True, text=True, timeout=240, check=False,
                          env=spark_env(), **kwargs)


def keyed(n: int, start: int = 0) -> list[tuple[str, str]]:
    """*n* records keyed k0..k2 (the producer puts key kN in partition N % 3), each 'kN I'."""
    return [(f"k{i % 3}", f"w{i % 5} {i}") for i in range(start, start + n)]


def batches_in(prefix: str) -> list[list]:
    """The non-empty batches written under *prefix*, in time order, each in any order."""
    return [AnyOrder(b) for _, b in read_batch_files(prefix) if b]


# --- Kafka in ------------------------------------------------------------------------------------------------
def test_kafka_on_spark_gives_the_local_engines_batches(kafka_brokers, tmp_path):
    """The same topic read at the same --max-rate (per partition) makes the same batches on both engines: the
    driver decides each batch's ranges, the executors read them."""
    topic = "same-batches"
    create_topic(kafka_brokers, topic, 3)
    produce(kafka_brokers, topic, keyed(900))
    runs = {}
    for engine, options in (("local", []), ("spark", LOCAL)):
        prefix = str(tmp_path / engine / "b")
        result = dstream(*options, "--batch", "1s", "--max-rate", "100", "--batches", "5", "-i",
                         f"k=kafka://{kafka_brokers}/{topic}?start=earliest&group={engine}", "from", "k",
                         "map", "x.split()[0]", "count-by-value", "save-as-text-files", prefix, "--format", "repr")
        assert result.returncode == 0, result.stderr
        runs[engine] = batches_in(prefix)
    expected = [AnyOrder([(f"w{w}", 60) for w in range(5)])] * 3  # 100 a partition a batch, until the 900 are read
    assert runs["local"] == runs["spark"] == expected


def test_a_restart_reads_the_recorded_ranges_and_goes_on_where_they_ended(kafka_brokers, tmp_path):
    """The ranges are kept under --checkpoint: a second run goes on after the first run's last batch, and the
    records produced in between are read once."""
    topic = "resumed"
    create_topic(kafka_brokers, topic, 3)
    produce(kafka_brokers, topic, keyed(300))
    command = [*LOCAL, "--batch", "1s", "--batches", "3", "--checkpoint", str(tmp_path / "ck"), "-i",
               f"k=kafka://{kafka_brokers}/{topic}?start=earliest", "from", "k", "map", "int(x.split()[1])",
               "save-as-text-files", str(tmp_path / "out" / "n"), "--format", "repr"]
    first = dstream(*command)
    assert first.returncode == 0, first.stderr
    produce(kafka_brokers, topic, keyed(300, start=300))
    second = dstream(*command)
    assert second.returncode == 0, second.stderr
    read = [n for batch in batches_in(str(tmp_path / "out" / "n")) for n in batch]
    assert sorted(read) == list(range(600))


def test_kafka_on_spark_keeps_its_ranges_in_a_local_checkpoint_directory(spark_context):
    result = invoke([*LOCAL, "--checkpoint", "hdfs://nn/ck", "-i", "k=kafka://127.0.0.1:9/t", "from", "k", "count"])
    assert result.exit_code == 2
    assert "input k" in result.stderr and "local directory" in result.stderr


# --- databases and Kafka out, from the executors ----------------------------------------------------------
SAVE_TO_DB_CHAINS = {
    "append": ["flat-map", "x.split()", "map", "(x, 1)", "reduce-by-key", "sum"],
    "upsert": ["flat-map", "x.split()", "map", "(x, 1)", "update-state", "sum"],
    "replace": ["flat-map", "x.split()", "count-by-value"],
}


@pytest.mark.parametrize("server, mode", [("postgres", "append"), ("postgres", "upsert"), ("postgres", "replace"),
                                          ("mariadb", "append"), ("mariadb", "upsert")])
def test_save_to_db_on_spark_writes_the_local_engines_table(request, server, mode, tmp_path, spark_context):
    """Each mode keeps its meaning when the rows go from the executors: the table equals the local engine's."""
    database = request.getfixturevalue(server)
    words = [["a b a", "c"], ["b c"], [], ["c c d", "a"]]
    tables = {}
    for engine in ("local", "spark"):
        url = database.new_database(f"spark_{mode}_{engine}")
        options = ["--engine", "spark"] if engine == "spark" else []
        result = invoke([*options, "--queue", "-", *SAVE_TO_DB_CHAINS[mode], "save-to-db", url, "words", "--mode",
                         mode, "--create"], input=queue_text(words))
        assert result.exit_code == 0, result.stderr
        tables[engine] = _rows(url, "words")
    assert tables["spark"] == tables["local"] and tables["local"]


def _rows(url: str, table: str) -> list[tuple]:
    if url.startswith("mysql://"):
        import pymysql

        parts = urllib.parse.urlsplit(url)
        with pymysql.connect(host=parts.hostname, port=parts.port, user=parts.username, password=parts.password,
                             database=parts.path[1:]) as connection, connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM `{table}`")
            return sorted(cursor.fetchall())
    with psycopg.connect(url) as connection:
        return sorted(connection.execute(f'SELECT * FROM "{table}"').fetchall())


def test_sqlite_with_a_cluster_master_is_one_line_and_exit_2(tmp_path, spark_context):
    result = invoke(["--engine", "spark", "--master", "spark://127.0.0.1:1", "--queue", "-", "save-to-db",
                     f"sqlite:///{tmp_path}/x.db", "t"], input="a\n")
    assert result.exit_code == 2
    assert "SQLite" in result.stderr and "spark://127.0.0.1:1" in result.stderr
    assert result.stderr.count("\n") == 1


def test_save_to_kafka_on_spark_sends_every_element_keyed(kafka_brokers, tmp_path, spark_context):
    """save-to-kafka from the executors: pairs keyed, every element once (the run ends with its queue)."""
    create_topic(kafka_brokers, "spark-out", 1)
    result = invoke(["--engine", "spark", "--queue", "-", "flat-map", "x.split()", "count-by-value",
                     "save-to-kafka", "spark-out", "--brokers", kafka_brokers], input=queue_text([["a b a"], ["c"]]))
    assert result.exit_code == 0, result.stderr
    from confluent_kafka import Consumer

    consumer = Consumer({"bootstrap.servers": kafka_brokers, "group.id": "check", "auto.offset.reset": "earliest",
                         "log_level": 0})
    consumer.subscribe(["spark-out"])
    got = []
    deadline = time.monotonic() + 30
    while len(got) < 3 and time.monotonic() < deadline:
        got += [(m.key().decode(), m.value().decode()) for m in consumer.consume(10, timeout=1) if not m.error()]
    consumer.close()
    assert sorted(got) == [("a", "2"), ("b", "1"), ("c", "1")]


# --- the production job on a standalone cluster, through kills ----------------------------------------------
NO_BOOKKEEPING = '''\
"""sitecustomize of the executors' Python (a mutant): their database writers forget what they wrote."""
from dstream_cli.engines.spark import sinks


def _never_written(self, t):
    self._guarded(self._connect)
    return False


sinks.PartitionDatabaseWriter._already_written = _never_written
'''


def _mutant_python(directory) -> str:
    """A PYSPARK_PYTHON that starts every executor's Python with NO_BOOKKEEPING applied."""
    directory.mkdir()
    (directory / "sitecustomize.py").write_text(NO_BOOKKEEPING)
    wrapper = directory / "python"
    wrapper.write_text(f'#!/bin/sh\nexport PYTHONPATH={directory}${{PYTHONPATH:+:$PYTHONPATH}}\n'
                       f'exec {sys.executable} "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


def _group_kill(proc: subprocess.Popen, sig: int) -> None:
    os.killpg(proc.pid, sig)


def _kill_stalled_command(marker) -> None:
    """foreach-batch's command runs in a process group of its own (so a timeout ends it with its children): a
    SIGKILL of dstream's group leaves it, as it would any program's children in their own group."""
    found = subprocess.run(["pgrep", "-f", f"touch {marker}"], capture_output=True, text=True, check=False)
    for pid in map(int, found.stdout.split()):
        os.killpg(pid, signal.SIGKILL)


def _executors() -> list[int]:
    """The PIDs of the cluster's executor JVMs."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as handle:
                if b"CoarseGrainedExecutorBackend" in handle.read():
                    found.append(int(pid))
        except OSError:
            pass
    return found


def _sums(url: str) -> dict:
    try:
        with psycopg.connect(url) as connection:
            return dict(connection.execute("SELECT key, sum(value) FROM counts GROUP BY key").fetchall())
    except psycopg.errors.UndefinedTable:
        return {}


def _run_kafka_to_postgres(tmp_path, cluster: str, brokers: str, url: str, topic: str, mutant: bool):
    """Rounds of the job Kafka -> reduce-by-key -> PostgreSQL on the cluster: a driver SIGKILLed (the whole group)
    while batch t's rows are committed but the batch is not done (a second output stalls in it), twice; then a
    run whose executor is SIGKILLed and which is stopped by SIGTERM to its group. Returns the final run's
    result and what was produced."""
    env = dict(spark_env(), PYSPARK_PYTHON=_mutant_python(tmp_path / "mutant")) if mutant else spark_env()
    stall = (tmp_path / "stalled", tmp_path / "go")
    chain = ["from", "k", "map", "tuple(x.split())", "map", "(x[0], int(x[1]) % 10)", "reduce-by-key", "sum",
             "save-to-db", url, "counts", "--create",
             "foreach-batch", f"[ -e {stall[1]} ] || {{ touch {stall[0]}; sleep 600; }}"]
    command = [*installed_dstream(), "--engine", "spark", "--master", cluster, "--batch", "1s", "--max-rate", "400",
               "--checkpoint", str(tmp_path / "ck"), "--checkpoint-interval", "1s",
               "-i", f"k=kafka://{brokers}/{topic}?start=earliest", *chain]

    def start():
        return subprocess.Popen(command, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env=env, start_new_session=True)

    def wait_while_running(proc, predicate, what):
        def done():
            assert proc.poll() is None, f"dstream exited {proc.returncode} waiting for {what}: {proc.stderr.read()}"
            return predicate()

        wait_for(done, timeout=150, what=what)

    produced = keyed(3000)
    produce(brokers, topic, produced)
    for _ in range(2):
        proc = start()
        wait_while_running(proc, stall[0].exists, "a batch written and stalled in its second output")
        _group_kill(proc, signal.SIGKILL)
        proc.wait()
        _kill_stalled_command(stall[0])
        stall[0].unlink()
    if mutant:
        return None, produced
    stall[1].touch()
    proc = start()
    more = keyed(3000, start=3000)
    produce(brokers, topic, more)
    produced += more
    wait_while_running(proc, lambda: sum(_sums(url).values()) > sum(int(v.split()[1]) % 10 for _, v in produced[:3500]),
                       "batches after the restart")
    executors = _executors()
    assert executors, "no executor to kill"
    for pid in executors:
        os.kill(pid, signal.SIGKILL)
    expected = sum(int(v.split()[1]) % 10 for _, v in produced)
    wait_while_running(proc, lambda: sum(_sums(url).values()) >= expected, "every record written")
    _group_kill(proc, signal.SIGTERM)
    proc.wait(timeout=90)
    return proc, produced


def _expected_sums(produced) -> dict:
    sums: collections.Counter = collections.Counter()
    for _, value in produced:
        word, number = value.split()
        sums[word] += int(number) % 10
    return dict(sums)


def test_kafka_to_postgres_on_a_cluster_is_exactly_once_through_driver_and_executor_kills(
        standalone_cluster, kafka_brokers, postgres, tmp_path):
    """The driver SIGKILLed twice with a batch's rows committed but the batch not done (Spark recomputes it),
    an executor JVM SIGKILLed mid-run (Spark retries its tasks), then SIGTERM to the whole process group: the
    table's per-key sums are exactly what was produced, and the stop is graceful (exit 0, no traceback)."""
    create_topic(kafka_brokers, "production", 3)
    url = postgres.new_database("production")
    proc, produced = _run_kafka_to_postgres(tmp_path, standalone_cluster, kafka_brokers, url, "production",
                                            mutant=False)
    stderr = proc.stderr.read()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert _sums(url) == _expected_sums(produced)


def test_without_the_per_partition_bookkeeping_the_kills_write_batches_twice(
        standalone_cluster, kafka_brokers, postgres, tmp_path):
    """The same driver kills with the executors' bookkeeping disabled (a mutant in their Python): the
    batch the restarted driver recomputes is written again, which the test above would see in its sums."""
    create_topic(kafka_brokers, "mutant", 3)
    url = postgres.new_database("mutant")
    _run_kafka_to_postgres(tmp_path, standalone_cluster, kafka_brokers, url, "mutant", mutant=True)
    with psycopg.connect(url) as connection:
        rows_per_key = dict(connection.execute("SELECT key, count(*) FROM counts GROUP BY key").fetchall())
    # one batch was completed by neither run, so each key has one row per time it was written: twice
    assert rows_per_key and set(rows_per_key.values()) == {2}, rows_per_key


# --- stopping -------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_to_the_whole_process_group_counts_every_line_received(sig, tmp_path):
    """As `timeout`, `kill -- -PGID`, systemd and Ctrl-C stop a job: the signal reaches every process of the
    group. Spark's JVM is in a session of its own, so dstream stops it gracefully: every line sent is counted,
    exit 0, and nothing but the JVM's one notice on stderr."""
    import socket

    port = free_port()
    proc = subprocess.Popen([*installed_dstream(), *LOCAL, "--listen", str(port), "count", "emit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=spark_env(),
                            start_new_session=True)
    try:
        wait_for(lambda: _connects(port), timeout=90, what="the driver to listen")
        with socket.create_connection(("127.0.0.1", port)) as producer:
            producer.sendall(b"".join(b"line %d\n" % i for i in range(365)))
            time.sleep(0.2)
            _group_kill(proc, sig)
            out, err = proc.communicate(timeout=90)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    assert sum(int(n) for n in out.split()) == 365
    assert "Traceback" not in err and "Error" not in err, err


def _connects(port: int) -> bool:
    from conftest import can_connect

    return can_connect(port)


def test_an_unreachable_master_is_one_line_naming_it_at_once():
    port = free_port()
    started = time.monotonic()
    result = dstream("--engine", "spark", "--master", f"spark://127.0.0.1:{port}", "--queue", "-", "count",
                     input="a\n")
    assert time.monotonic() - started < 30
    assert result.returncode == 1
    assert result.stderr.startswith(f"dstream: --master spark://127.0.0.1:{port}: no Spark master answers")
    assert result.stderr.count("\n") == 1


def test_a_restart_whose_input_changed_says_the_input_changed(tmp_path):
    checkpoint = str(tmp_path / "ck")
    (tmp_path / "a.txt").write_text("a\n")
    (tmp_path / "b.txt").write_text("b\n")
    first = dstream(*LOCAL, "--checkpoint", checkpoint, "-i", f"f=file:{tmp_path / 'a.txt'}", "from", "f",
                    "map", "(x, 1)", "update-state", "sum")
    assert first.returncode == 0, first.stderr
    again = dstream(*LOCAL, "--checkpoint", checkpoint, "-i", f"f=file:{tmp_path / 'b.txt'}", "from", "f",
                    "map", "(x, 1)", "update-state", "sum")
    assert again.returncode == 2
    assert "other inputs" in again.stderr and "a.txt" in again.stderr, again.stderr


def _readme_production_example() -> list[str]:
    """The README's production example, as one argument list."""
    import shlex

    from conftest import ROOT

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("    dstream --engine spark --master spark://spark-master:7077 --batch 10s")
    block = text[start:text.index("\n\n", start)]
    return shlex.split(block.replace("\\\n", " "))


def test_the_readmes_production_example_runs_as_written_on_the_cluster(standalone_cluster, kafka_brokers, postgres,
                                                                         tmp_path):
    """Kafka -> windowed counts -> PostgreSQL on spark://, the README's command with only its hosts and paths
    replaced by the test's: the table holds each page's views over the last minute; the stop file ends it."""
    create_topic(kafka_brokers, "clicks", 3)
    url = postgres.new_database("analytics")
    places = {"spark://spark-master:7077": standalone_cluster, "kafka-1:9092,kafka-2:9092": kafka_brokers,
              "postgresql://dstream@db.internal/analytics": url, "/var/lib/dstream/page-views": str(tmp_path / "ck"),
              "/run/dstream/page-views.stop": str(tmp_path / "stop")}
    args = _readme_production_example()
    for here, there in places.items():
        args = [arg.replace(here, there) for arg in args]
    assert args[0] == "dstream" and all(there in " ".join(args) for there in places.values())
    produce(kafka_brokers, "clicks", [(f"k{i}", f'{{"page": "/p{i % 3}", "user": "u{i}"}}') for i in range(60)])
    proc = subprocess.Popen([*installed_dstream(), *args[1:]], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            text=True, env=spark_env())
    try:
        def table():
            assert proc.poll() is None, proc.stderr.read()
            try:
                with psycopg.connect(url) as connection:
                    return dict(connection.execute("SELECT key, value FROM page_views").fetchall())
            except psycopg.errors.UndefinedTable:
                return {}

        wait_for(lambda: table() == {"/p0": 20, "/p1": 20, "/p2": 20}, timeout=150, what="a minute's page views")
        (tmp_path / "stop").touch()
        assert proc.wait(timeout=90) == 0, proc.stderr.read()
    finally:
        proc.kill()


# --- event time ----------------------------------------------------------------------------------------------
def _readme_log_replay() -> str:
    """The README's event-time example (an Apache log replayed into 5-minute windows), as its shell line."""
    from conftest import ROOT

    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    start = text.index("    zcat access.log.gz | dstream --event-time")
    return text[start:text.index("\n\n", start)].replace("\\\n", " ").strip()


def _access_log(path, lines: int = 3000) -> None:
    """An Apache access log of *lines* requests 0.5 s apart, each up to 20 s out of order."""
    import datetime
    import gzip
    import random

    rng = random.Random(7)
    start = datetime.datetime(2026, 11, 24, 9, 0, tzinfo=datetime.timezone(datetime.timedelta(hours=1)))
    with gzip.open(path, "wt") as handle:
        for i in range(lines):
            at = start + datetime.timedelta(seconds=i * 0.5 + rng.uniform(0, 20))
            status = rng.choice(["200", "200", "200", "301", "404", "500"])
            handle.write(f'10.0.0.{i % 250} - - [{at:%d/%b/%Y:%H:%M:%S %z}] "GET /p{i % 9} HTTP/1.1" {status} '
                         f'{rng.randrange(100, 5000)}\n')


def test_event_time_on_spark_gives_the_local_engines_files_for_the_readmes_log_replay(tmp_path):
    """The README's replay of an access log by event time (lateness, a sliding window with an inverse) writes
    the same files on --engine spark as on the local engine: the driver cuts the batches as the local engine
    does, Spark computes them on the log's clock."""
    line = _readme_log_replay()
    files = {}
    for engine, options in (("local", ""), ("spark", " ".join(LOCAL))):
        directory = tmp_path / engine
        directory.mkdir()
        _access_log(directory / "access.log.gz")
        command = line.replace("| dstream ", f"| {installed_dstream()[0]} {options} ")
        result = subprocess.run(["sh", "-c", command], cwd=directory,
                                capture_output=True, text=True, timeout=240, env=spark_env())
        assert result.returncode == 0, result.stderr
        files[engine] = {path.name: sorted(path.read_text().splitlines()) for path in (directory / "out").iterdir()}
    assert files["spark"] == files["local"]
    assert len(files["local"]) > 20 and any(files["local"].values())


def test_event_time_on_spark_with_a_checkpoint_is_refused(tmp_path):
    result = invoke([*LOCAL, "--event-time", "x", "--checkpoint", str(tmp_path / "ck"), "count"], input="1\n")
    assert result.exit_code == 2
    assert "--event-time on Spark" in result.stderr and "--checkpoint" in result.stderr


def test_kafka_on_spark_backpressure_starts_at_the_initial_rate_and_new_partitions_are_read(kafka_brokers, tmp_path):
    """--backpressure --initial-rate 40: the first batch takes at most 40 records of each partition, as on the local
    engine; a topic of the URI created mid-run (Tansu cannot add partitions to a topic) is said once while it
    does not exist, then read from its beginning; every record is counted once."""
    create_topic(kafka_brokers, "pressed", 3)
    produce(kafka_brokers, "pressed", keyed(600))
    stop = tmp_path / "stop"
    out = tmp_path / "out" / "p"
    proc = subprocess.Popen([*installed_dstream(), *LOCAL, "--batch", "1s", "--backpressure", "--initial-rate", "40",
                             "--stop-file", str(stop), "-i",
                             f"p=kafka://{kafka_brokers}/pressed,appearing?start=earliest", "from", "p",
                             "save-as-text-files", str(out), "--format", "repr"], stderr=subprocess.PIPE, text=True,
                            env=spark_env())
    try:
        def seen() -> list[list[str]]:
            return [b for _, b in read_batch_files(str(out)) if b]

        wait_for(lambda: seen(), timeout=90, what="the first batch")
        create_topic(kafka_brokers, "appearing", 3)
        produce(kafka_brokers, "appearing", [(f"k{i}", f"new {i}") for i in range(30)])
        wait_for(lambda: sum(map(len, seen())) == 630, timeout=90, what="every record, the new topic's too")
        stop.touch()
        assert proc.wait(timeout=60) == 0
        stderr = proc.stderr.read()
    finally:
        proc.kill()
    assert stderr.count("topic appearing does not exist (yet)") == 1, stderr
    first = seen()[0]
    assert max(sum(1 for v in first if int(v.split()[1]) % 3 == p) for p in range(3)) <= 40
    assert sorted(v for b in seen() for v in b) == sorted([v for _, v in keyed(600)] + [f"new {i}" for i in range(30)])
