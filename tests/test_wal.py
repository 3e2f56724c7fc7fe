"""The write-ahead log: SIGKILL at random moments loses nothing that was logged and counts nothing twice."""
import ast
import collections
import glob
import os
import random
import signal
import socket
import stat
import subprocess
import sys
import threading
import time

import orjson

from conftest import free_port, installed_dstream, invoke
from dstream_cli.wal import WriteAheadLog

KEYS = 13


def record(i: int) -> str:
    return f"{i} k{i % KEYS} {i % 7 + 1}"


def expected_totals(count: int) -> dict:
    totals = collections.Counter()
    for i in range(count):
        totals[f"k{i % KEYS}"] += i % 7 + 1
    return dict(totals)


def logged_records(checkpoint_dir) -> list[str]:
    """Every record the log holds, read as its format is documented (a line cut short is ignored)."""
    found = []
    for path in glob.glob(os.path.join(checkpoint_dir, "wal", "*", "segment-*.jsonl")):
        with open(path, "rb") as handle:
            data = handle.read()
        for line in data[: data.rfind(b"\n") + 1].splitlines():
            found.extend(orjson.loads(line)["records"])
    return found


def batch_file_totals(prefix) -> dict:
    totals = collections.Counter()
    for path in glob.glob(f"{prefix}-*"):
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                key, value = ast.literal_eval(line)
                totals[key] += value
    return dict(totals)


SUM_BY_KEY = ("map", "x.split()", "map", "(x[1], int(x[2]))", "reduce-by-key", "sum")


def start_dstream(tmp_path, options=("--wal", "--ack"), chain=SUM_BY_KEY) -> tuple[subprocess.Popen, socket.socket]:
    """dstream on --listen with a checkpoint, stop file and OUT/batch-TIME files; a connection to it."""
    port = free_port()
    proc = subprocess.Popen(
        [*installed_dstream(), "--batch", "100ms", "--listen", str(port), *options,
         "--checkpoint", str(tmp_path / "ck"), "--stop-file", str(tmp_path / "stop"),
         *chain, "save-as-text-files", str(tmp_path / "out" / "batch")],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            return proc, socket.create_connection(("127.0.0.1", port))
        except ConnectionRefusedError:
            assert proc.poll() is None, proc.stderr.read()
            time.sleep(0.02)
    raise AssertionError("dstream did not start listening")


class Producer(threading.Thread):
    """Sends records first..total-1 at about 30,000/s until done or the connection dies; reads acks."""

    def __init__(self, connection: socket.socket, first: int, total: int) -> None:
        super().__init__(daemon=True)
        self.connection, self.first, self.total = connection, first, total
        self.acked = 0
        self.reader = threading.Thread(target=self._read_acks, daemon=True)

    def run(self) -> None:
        self.reader.start()
        try:
            for start in range(self.first, self.total, 300):
                chunk = "".join(record(i) + "\n" for i in range(start, min(start + 300, self.total)))
                self.connection.sendall(chunk.encode())
                time.sleep(0.01)
            self.connection.shutdown(socket.SHUT_WR)
        except OSError:
            pass

    def _read_acks(self) -> None:
        pending = b""
        try:
            while data := self.connection.recv(4096):
                pending += data
                *lines, pending = pending.split(b"\n")
                if lines:
                    self.acked = int(lines[-1].split()[1])
        except OSError:
            pass


def test_sigkill_at_random_moments_loses_nothing_logged_and_counts_nothing_twice(tmp_path):
    seed = int.from_bytes(os.urandom(4), "big")
    rng = random.Random(seed)
    total, kills = 60_000, 12
    next_id = 0
    for round_number in range(kills):
        proc, connection = start_dstream(tmp_path)
        producer = Producer(connection, next_id, total)
        producer.start()
        time.sleep(rng.uniform(0.15, 0.9))  # mid-batch, mid-output or mid-checkpoint, as it falls
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=10)
        connection.close()
        producer.join(timeout=10)
        if round_number % 2:  # what a kill in the middle of a write leaves behind
            newest = sorted(glob.glob(str(tmp_path / "ck" / "wal" / "*" / "segment-*.jsonl")))
            if newest:
                with open(newest[-1], "ab") as handle:
                    handle.write(b'{"seq": 999999, "at": 1, "recor')
            (tmp_path / "ck" / ".checkpoint-1.json.cut.tmp").write_bytes(b'{"format": "dstream-che')
        ids = [int(r.split()[0]) for r in logged_records(tmp_path / "ck")]
        # an acknowledging producer resends everything after the last record the log holds
        next_id = max(ids) + 1 if ids else next_id
        assert next_id <= total, f"seed {seed}"
    proc, connection = start_dstream(tmp_path)
    producer = Producer(connection, next_id, total)
    producer.start()
    producer.join(timeout=60)
    deadline = time.monotonic() + 30
    while producer.acked < total - next_id and time.monotonic() < deadline:
        time.sleep(0.05)
    assert producer.acked == total - next_id, f"seed {seed}: acked {producer.acked} of {total - next_id}"
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, f"seed {seed}: {proc.stderr.read()}"
    connection.close()
    assert batch_file_totals(tmp_path / "out" / "batch") == expected_totals(total), f"seed {seed}"
    assert not glob.glob(str(tmp_path / "ck" / ".*.tmp")), "a cut-short checkpoint is cleared on start"


def test_acknowledged_lines_survive_sigkill(tmp_path):
    proc, connection = start_dstream(tmp_path)
    producer = Producer(connection, 0, 3000)
    producer.start()
    producer.join(timeout=30)
    deadline = time.monotonic() + 20
    while producer.acked < 3000 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert producer.acked == 3000
    proc.send_signal(signal.SIGKILL)  # at once: the last batches are logged but maybe not processed
    proc.wait(timeout=10)
    connection.close()
    proc, connection = start_dstream(tmp_path)
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    assert batch_file_totals(tmp_path / "out" / "batch") == expected_totals(3000)


def test_stdin_under_wal_is_recomputed_from_the_log_after_sigkill(tmp_path):
    """A batch received from stdin whose output command never finished is redone after the restart."""
    command = [*installed_dstream(), "--batch", "200ms", "--wal", "--checkpoint", str(tmp_path / "ck"),
               "count", "filter", "x > 0", "save-as-text-files", str(tmp_path / "out" / "n"),
               "foreach-batch", f"touch {tmp_path}/started; sleep 30"]
    proc = subprocess.Popen(command, stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b"".join(b"line %d\n" % i for i in range(500)))
    proc.stdin.flush()
    deadline = time.monotonic() + 20
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    assert logged_records(tmp_path / "ck") == [f"line {i}" for i in range(500)]
    restarted = subprocess.run(command[:-2] + ["emit"], input=b"", capture_output=True, timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    assert restarted.stdout.split() == [b"500"]  # recomputed from the log, not from stdin


def test_log_segments_are_dropped_once_every_kept_checkpoint_is_past_them(tmp_path):
    log = WriteAheadLog(str(tmp_path), "in", segment_bytes=100)
    for i in range(1, 7):
        assert log.append(i, [f"record {i}" * 5], []) == i  # each block fills a segment
    log.sync()
    segments = lambda: sorted(os.path.basename(p) for p in glob.glob(str(tmp_path / "wal" / "in" / "*")))  # noqa: E731
    assert segments() == [f"segment-{i}.jsonl" for i in range(1, 7)]
    log.checkpointed(3)
    assert segments() == [f"segment-{i}.jsonl" for i in range(1, 7)], "the previous checkpoint may still be needed"
    log.checkpointed(6)
    assert segments() == [f"segment-{i}.jsonl" for i in range(4, 7)]
    log.checkpointed(6)
    assert segments() == ["segment-6.jsonl"], "the newest segment always stays, holding the newest block"
    log.close()
    assert [b.seq for b in WriteAheadLog(str(tmp_path), "in").recover(5)] == [6]


def test_a_block_cut_short_by_a_crash_is_ignored_and_the_log_continues_after_it(tmp_path, capsys):
    log = WriteAheadLog(str(tmp_path), "in")
    log.append(1000, ["a", "b"], [(b"\xff", "not valid UTF-8")])
    log.close()
    segment = tmp_path / "wal" / "in" / "segment-1.jsonl"
    with open(segment, "ab") as handle:
        handle.write(b'{"seq": 2, "at": 20')
    reopened = WriteAheadLog(str(tmp_path), "in")
    assert "cut short by a crash" in capsys.readouterr().err
    assert reopened.append(2000, [("tuple", 1)], []) == 2
    reopened.close()
    blocks = WriteAheadLog(str(tmp_path), "in").recover(0)
    assert [(b.seq, b.arrival_ms, b.records, b.bad) for b in blocks] == [
        (1, 1000, ["a", "b"], [(b"\xff", "not valid UTF-8")]), (2, 2000, [("tuple", 1)], [])]


def test_log_files_are_owner_only(tmp_path):
    log = WriteAheadLog(str(tmp_path / "ck"), "socket")
    log.append(1, ["x"], [])
    log.close()
    for path in [tmp_path / "ck" / "wal", tmp_path / "ck" / "wal" / "socket",
                 tmp_path / "ck" / "wal" / "socket" / "segment-1.jsonl"]:
        assert stat.S_IMODE(os.stat(path).st_mode) & 0o077 == 0, path


def test_wal_needs_a_checkpoint_and_ack_needs_the_wal():
    result = invoke(["--wal", "count", "emit"], input="")
    assert result.exit_code == 2 and "--wal needs --checkpoint" in result.stderr
    result = invoke(["--listen", "0", "--ack", "count", "emit"], input="")
    assert result.exit_code == 2 and "--ack needs --wal" in result.stderr


def test_without_the_wal_a_sigkill_may_lose_received_records_but_never_counts_one_twice(tmp_path):
    """At-most-once: records in memory at the kill are gone; nothing processed before it is redone."""
    def start() -> tuple[subprocess.Popen, socket.socket]:
        return start_dstream(tmp_path, options=(), chain=("map", "(x.split()[0], 1)", "reduce-by-key", "sum"))

    proc, connection = start()
    producer = Producer(connection, 0, 20_000)
    producer.start()
    time.sleep(0.4)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    producer.join(timeout=10)
    connection.close()
    proc, connection = start()
    connection.sendall(b"".join(record(i).encode() + b"\n" for i in range(20_000, 21_000)))
    connection.close()

    def counts() -> dict:
        return {int(key): n for key, n in batch_file_totals(tmp_path / "out" / "batch").items()}

    deadline = time.monotonic() + 20
    while 20_999 not in counts() and time.monotonic() < deadline:  # everything sent has been read
        time.sleep(0.05)
    (tmp_path / "stop").touch()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    counts = counts()
    assert max(counts.values()) == 1
    assert all(counts.get(i) == 1 for i in range(20_000, 21_000))
    assert 0 < len(counts) - 1000 <= 20_000


def test_a_full_disk_under_the_log_ends_the_run_with_a_message_not_a_silent_loss(tmp_path):
    """Records that cannot be logged are never counted as received: exit 1 saying why."""
    disk = tmp_path / "disk"
    disk.mkdir()
    check_log = ("import glob, orjson, sys; data = b''.join(open(p, 'rb').read() for p in glob.glob(sys.argv[1]));"
                 "assert data.endswith(b'\\n'); blocks = [orjson.loads(line) for line in data.splitlines()];"
                 "print('log whole', len(blocks), 'blocks')")
    script = (f'mount -t tmpfs -o size=1m tmpfs {disk} || exit 99; '
              f'"$0" --batch 200ms --wal --checkpoint {disk}/ck count emit; status=$?; '
              f'"$1" -c "{check_log}" "{disk}/ck/wal/stdin/segment-*.jsonl" >&2 || exit 98; exit $status')
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script, *installed_dstream(), sys.executable],
                          input=b"".join(b"record %d\n" % i for i in range(200_000)), capture_output=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    # what was logged before the disk filled is all readable: no half block at the end
    assert b"log whole" in proc.stderr and b"log whole 0 blocks" not in proc.stderr
    assert "No space left on device" in proc.stderr.decode(), proc.stderr
    assert b"input stdin: cannot store received records" in proc.stderr and b"Traceback" not in proc.stderr
    assert sum(int(n) for n in proc.stdout.split()) < 200_000
