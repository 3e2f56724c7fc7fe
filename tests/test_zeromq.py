"""The ZeroMQ input against real PUB and PUSH peers (pyzmq) on 127.0.0.1."""
import json
import signal
import subprocess

import zmq

from conftest import free_port, installed_dstream, wait_for


def batch_files(directory) -> list[list[str]]:
    """The records of each save-as-text-files batch, in batch order."""
    files = sorted(directory.glob("r-*"), key=lambda p: int(p.name[2:])) if directory.is_dir() else []
    return [p.read_text().splitlines() for p in files]


def received(directory) -> list[str]:
    return [record for batch in batch_files(directory) for record in batch]


def pusher(port: int):
    socket = zmq.Context.instance().socket(zmq.PUSH)
    socket.setsockopt(zmq.LINGER, 5000)
    socket.connect(f"tcp://127.0.0.1:{port}")
    return socket


def start(tmp_path, port: int, *options: str, query: str = "socket=pull&bind=1") -> subprocess.Popen:
    return subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--stop-file", "stop", *options,
                             "-i", f"z=zmq://127.0.0.1:{port}?{query}", "from", "z", "map", "x",
                             "save-as-text-files", "out/r", "--format", "json"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)


def stop(proc: subprocess.Popen, tmp_path) -> None:
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()


def test_a_pull_input_takes_each_pushed_message_as_one_record_in_order_and_reports_what_is_not_text(tmp_path):
    """Bound PULL: every message of a PUSH peer is one record, in order; a multipart message is its last frame;
    a newline inside a message stays in its record; a frame that is not UTF-8 goes to the dead letter."""
    port = free_port()
    proc = start(tmp_path, port, "--on-error", "skip", "--dead-letter", "dead.jsonl")
    socket = pusher(port)
    for i in range(1000):
        socket.send_string(f"message {i}")
    socket.send_multipart([b"envelope", b"the last frame"])
    socket.send(b"two\nlines")
    socket.send(b"\xff\xfe")
    wait_for(lambda: len(received(tmp_path / "out")) == 1002, what="1,002 records")
    stop(proc, tmp_path)
    records = [json.loads(r) for r in received(tmp_path / "out")]
    assert records == [f"message {i}" for i in range(1000)] + ["the last frame", "two\nlines"]
    dead = [json.loads(line) for line in (tmp_path / "dead.jsonl").read_text().splitlines()]
    assert [entry["reason"] for entry in dead] == ["not valid UTF-8 (invalid start byte at byte 0)"]


def test_a_sub_input_takes_its_topic_from_a_publisher_and_strips_it(tmp_path):
    """Connected SUB with topic=t: a one-frame message loses the topic and the space after it, a multipart
    message gives its last frame, and another topic is not received."""
    port = free_port()
    publisher = zmq.Context.instance().socket(zmq.PUB)
    publisher.bind(f"tcp://127.0.0.1:{port}")
    proc = start(tmp_path, port, query="socket=sub&topic=t")

    def ready() -> bool:  # a subscription reaches the publisher some time after the connection: until then
        publisher.send_string("t ready")  # it drops what it publishes (ZeroMQ's "slow joiner")
        return bool(received(tmp_path / "out"))

    wait_for(ready, what="the subscription to arrive")
    publisher.send_string("t hello")
    publisher.send_string("u another topic")
    publisher.send_multipart([b"t", b"the payload"])
    publisher.send_string("tjoined")
    wait_for(lambda: json.dumps("joined") in received(tmp_path / "out"), what="the last message")
    stop(proc, tmp_path)
    records = [json.loads(r) for r in received(tmp_path / "out")]
    assert set(records[:records.index("hello")]) == {"ready"}
    assert records[records.index("hello"):] == ["hello", "the payload", "joined"]
    publisher.close()


def wal_records(checkpoint) -> list[str]:
    """The records the write-ahead log holds (its documented JSON lines), in order."""
    found = []
    for segment in sorted((checkpoint / "wal").glob("*/segment-*.jsonl")):
        for line in segment.read_text().splitlines():
            found += json.loads(line)["records"]
    return found


def test_with_wal_what_was_received_survives_a_sigkill_as_an_uninterrupted_run_gives_it(tmp_path):
    """--wal: 500 messages received and logged, then SIGKILL before their batch (--batch 5s) was computed; the
    restarted run computes them from the log: the records are an uninterrupted run's, each once."""
    def run(where, kill: bool) -> list[str]:
        where.mkdir()
        port = free_port()
        command = [*installed_dstream(), "--batch", "5s", "--checkpoint", "ck", "--wal", "--stop-file", "stop",
                   "-i", f"z=zmq://127.0.0.1:{port}?socket=pull&bind=1", "from", "z", "map", "x",
                   "save-as-text-files", "out/r"]
        proc = subprocess.Popen(command, cwd=where, stderr=subprocess.PIPE, text=True)
        socket = pusher(port)
        for i in range(500):
            socket.send_string(f"record {i}")
        socket.close()
        if kill:
            wait_for(lambda: len(wal_records(where / "ck")) == 500, what="500 records in the log")
            assert received(where / "out") == []  # none computed yet: only the log has them
            proc.send_signal(signal.SIGKILL)
            proc.wait(timeout=30)
            proc = subprocess.Popen(command, cwd=where, stderr=subprocess.PIPE, text=True)
        wait_for(lambda: len(received(where / "out")) >= 500, timeout=40, what="500 records computed")
        stop(proc, where)
        return received(where / "out")

    uninterrupted, killed = run(tmp_path / "straight", False), run(tmp_path / "killed", True)
    assert sorted(killed) == sorted(uninterrupted) == sorted(f"record {i}" for i in range(500))


def test_backpressure_holds_a_push_peer_back_to_the_rate_and_loses_nothing(tmp_path):
    """A slow chain (2 ms a record) under --backpressure from --initial-rate 200: the batches take no more than
    the rates in force allow (the receiving thread stops reading, and the PUSH peer waits at its high-water
    mark), and every message is counted in the end."""
    port = free_port()
    proc = subprocess.Popen([*installed_dstream(), "--batch", "500ms", "--backpressure", "--initial-rate", "200",
                             "--metrics", "m.jsonl", "--stop-file", "stop", "--import", "time",
                             "-i", f"z=zmq://127.0.0.1:{port}?socket=pull&bind=1", "from", "z",
                             "map", "time.sleep(0.002) or x", "save-as-text-files", "out/r"],
                            cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    socket = pusher(port)
    for i in range(1500):
        socket.send_string(str(i))
    wait_for(lambda: len(received(tmp_path / "out")) == 1500, timeout=60, what="1,500 records")
    stop(proc, tmp_path)
    assert sorted(map(int, received(tmp_path / "out"))) == list(range(1500))
    batches = [json.loads(line) for line in (tmp_path / "m.jsonl").read_text().splitlines()]
    # The limiter is a token bucket, as Spark's: it saves up at most a second's worth before the first batch, then
    # grants a batch's records under the rate set after the previous batch, or this one's.
    budget, allowed, taken = 200.0, 200.0, 0
    for batch in batches:
        budget += max(allowed, batch["rate_limit"]) * 0.5 * 1.05
        taken += batch["records_in"]
        assert taken <= budget, (batch, taken, budget)
        allowed = batch["rate_limit"]
    assert batches[0]["records_in"] <= 305  # not the 1,500 waiting: the initial rate and its saved-up second
    socket.close()


def test_a_bad_uri_is_a_usage_error_and_a_taken_port_one_line():
    bad = subprocess.run([*installed_dstream(), "-i", "z=zmq://127.0.0.1:1?socket=req", "from", "z", "print"],
                         capture_output=True, text=True, timeout=30)
    assert bad.returncode == 2 and "socket='req' should be sub or pull" in bad.stderr
    port = free_port()
    holder = zmq.Context.instance().socket(zmq.PULL)
    holder.bind(f"tcp://127.0.0.1:{port}")
    taken = subprocess.run([*installed_dstream(), "--run-for", "2s", "-i",
                            f"z=zmq://127.0.0.1:{port}?socket=pull&bind=1", "from", "z", "print"],
                           capture_output=True, text=True, timeout=30)
    holder.close()
    assert taken.returncode == 1 and f"cannot bind tcp://127.0.0.1:{port}" in taken.stderr, taken.stderr
    assert len(taken.stderr.strip().splitlines()) == 1, taken.stderr
