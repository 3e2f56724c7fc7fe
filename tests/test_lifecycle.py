"""Running as a service: stop file, signals, --run-for, rate limits reaching the producer, backpressure, views."""
import shutil
import signal
import subprocess
import sys
import time

import orjson
import pytest

from conftest import installed_dstream

PRODUCER = """
import sys, time
n = int(sys.argv[1])
for i in range(n):
    sys.stdout.write(f"{i}\\n")
sys.stdout.flush()
open(sys.argv[2], "w").close()          # everything is written: now ask dstream to stop
time.sleep(30)                          # and keep the pipe open, as a live producer would
"""


def start_pipeline(tmp_path, dstream_args, count=20000):
    """A producer writing *count* lines into dstream; returns once both are running and all was written."""
    marker, metrics = tmp_path / "written", tmp_path / "started.jsonl"
    producer = subprocess.Popen([sys.executable, "-c", PRODUCER, str(count), str(marker)], stdout=subprocess.PIPE)
    proc = subprocess.Popen([*installed_dstream(), "--metrics", str(metrics), *dstream_args], stdin=producer.stdout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    producer.stdout.close()
    deadline = time.monotonic() + 20
    while not (marker.exists() and metrics.exists() and metrics.stat().st_size):  # a batch done: handlers are set
        assert time.monotonic() < deadline
        time.sleep(0.01)
    return producer, proc


def test_stop_file_processes_everything_received_and_removes_the_file(tmp_path):
    stop = tmp_path / "stop"
    producer, proc = start_pipeline(tmp_path, ["--batch", "500ms", "--stop-file", str(stop), "map", "int(x)",
                                               "reduce", "sum", "emit"])
    stop.touch()  # right after the last record was written
    out, err = proc.communicate(timeout=30)
    producer.kill()
    assert proc.returncode == 0, err
    assert sum(int(x) for x in out.split()) == sum(range(20000))
    assert not stop.exists()


def test_sigterm_stops_gracefully_with_everything_processed(tmp_path):
    producer, proc = start_pipeline(tmp_path, ["--batch", "500ms", "count", "emit"])
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=30)
    producer.kill()
    assert proc.returncode == 0, err
    assert sum(int(x) for x in out.split()) == 20000


def test_second_sigint_exits_130_at_once(tmp_path):
    proc = subprocess.Popen([*installed_dstream(), "--import", "time", "--batch", "200ms", "map",
                             "time.sleep(30)"], stdin=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b"a\n")
    proc.stdin.flush()
    time.sleep(1.0)  # batch running the 30 s sleep
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130


def test_checkpoint_written_at_graceful_stop(tmp_path):
    ck = tmp_path / "ck"
    producer, proc = start_pipeline(tmp_path, ["--batch", "500ms", "--checkpoint", str(ck), "map", "(x[-1], 1)",
                                               "update-state", "sum"], count=1000)
    proc.send_signal(signal.SIGTERM)
    proc.communicate(timeout=30)
    producer.kill()
    newest = max(ck.glob("checkpoint-*.json"), key=lambda p: int(p.name.split("-")[1].split(".")[0]))
    state = orjson.loads(newest.read_bytes())["nodes"]
    assert "100" in str(state)  # 1000 records over 10 last digits: each has a running total of 100


def read_metrics(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_max_rate_holds_back_the_reader_so_the_producer_is_slowed_and_memory_stays_bounded(tmp_path):
    metrics = tmp_path / "m.jsonl"
    producer = subprocess.Popen([sys.executable, "-c", "import sys\nfor i in range(3_000_000): print('x' * 100)"],
                                stdout=subprocess.PIPE)
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--max-rate", "5000", "--run-for", "3s",
                             "--metrics", str(metrics), "count", "emit"], stdin=producer.stdout,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    producer.stdout.close()
    time.sleep(2)
    with open(f"/proc/{proc.pid}/status") as status:
        peak_kb = next(int(line.split()[1]) for line in status if line.startswith("VmHWM"))
    assert producer.poll() is None  # still blocked on a full pipe: flow control reached the producer
    out, err = proc.communicate(timeout=30)
    producer.kill()
    assert proc.returncode == 0, err
    rows = read_metrics(metrics)
    steady = [row["records_in"] for row in rows[2:-1]]
    assert steady and max(steady) <= 5000 * 0.2 * 2.5, steady  # about 1,000 a batch, never the 300 MB sent
    assert peak_kb < 150 * 1024
    assert all(set(row) >= {"batch_time", "records_in", "processing_ms", "scheduling_delay_ms", "total_delay_ms",
                            "backlog", "skipped"} for row in rows)


def test_max_backlog_holds_back_a_reader_faster_than_processing_so_memory_stays_bounded(tmp_path):
    """No rate limit, a reader far faster than the batches drain it: the buffer stops at --max-backlog
    (plus the chunk being read) and the rest waits in the pipe."""
    metrics = tmp_path / "m.jsonl"
    producer = subprocess.Popen([sys.executable, "-c", "import sys\nfor i in range(400_000): print('x' * 99)"],
                                stdout=subprocess.PIPE)
    proc = subprocess.Popen([*installed_dstream(), "--import", "time", "--batch", "200ms", "--max-backlog", "20000",
                             "--metrics", str(metrics), "transform", "time.sleep(0.05) or batch", "count", "emit"],
                            stdin=producer.stdout, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    producer.stdout.close()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert sum(int(n) for n in out.split()) == 400_000  # held back, never dropped
    rows = read_metrics(metrics)
    lines_per_chunk = (1 << 20) // 100 + 1
    assert max(row["records_in"] for row in rows) <= 20_000 + lines_per_chunk
    assert max(row["backlog"] for row in rows) <= 20_000 + lines_per_chunk


def run_slow_stage(tmp_path, name, extra):
    """A stage costing ~1 ms a record (≈ 1,000 records/s sustainable) under a producer 10x faster."""
    metrics = tmp_path / f"{name}.jsonl"
    producer = subprocess.Popen([sys.executable, "-c", "import sys, time\nfor i in range(200):\n"
                                 "    sys.stdout.write('x\\n' * 100); sys.stdout.flush(); time.sleep(0.01)"],
                                stdout=subprocess.PIPE)
    proc = subprocess.Popen([*installed_dstream(), "--import", "time", "--batch", "500ms", "--run-for", "6s",
                             "--metrics", str(metrics), *extra, "map", "time.sleep(0.001) or x", "count", "emit"],
                            stdin=producer.stdout, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    producer.stdout.close()
    peak_kb = 0
    while proc.poll() is None:
        try:
            with open(f"/proc/{proc.pid}/status") as status:
                peak_kb = max(peak_kb, next(int(line.split()[1]) for line in status if line.startswith("VmHWM")))
        except (FileNotFoundError, StopIteration):
            break
        time.sleep(0.25)
    proc.wait(timeout=60)
    producer.kill()
    assert peak_kb < 150 * 1024, peak_kb
    return read_metrics(metrics)


def test_backpressure_keeps_scheduling_delay_bounded_where_no_backpressure_lets_it_grow(tmp_path):
    without = run_slow_stage(tmp_path, "without", [])
    with_pid = run_slow_stage(tmp_path, "with", ["--backpressure", "--initial-rate", "500"])
    grow = [row["scheduling_delay_ms"] for row in without]
    bounded = [row["scheduling_delay_ms"] for row in with_pid]
    assert max(grow) > 2000, grow  # the backlog of a too-fast producer
    assert max(bounded[len(bounded) // 2:]) < 1000, bounded
    rates = [row["rate_limit"] for row in with_pid if row["rate_limit"]]
    assert 300 < rates[-1] < 2500, rates  # near the ~1,000/s the stage sustains


@pytest.mark.skipif(shutil.which("script") is None, reason="util-linux 'script' provides the pseudo-terminal")
def test_live_view_in_a_real_terminal_writes_to_stderr_only_and_disappears(tmp_path):
    typescript = tmp_path / "typescript"
    out = tmp_path / "out"
    command = (f"seq 1 20000 | {installed_dstream()[0]} --batch 200ms --max-rate 20000 count emit > {out}")
    subprocess.run(["script", "-qfec", command, str(typescript)], stdin=subprocess.DEVNULL, timeout=60,
                   stdout=subprocess.DEVNULL)
    screen = typescript.read_bytes().decode("utf-8", "replace")
    assert "records" in screen and "scheduling" in screen and "rate limit" in screen
    assert "\x1b[2K" in screen  # the view erased itself on exit
    assert sum(int(x) for x in out.read_text().split()) == 20000  # stdout untouched by the view


def test_no_live_view_when_stderr_is_not_a_terminal(tmp_path):
    proc = subprocess.run([*installed_dstream(), "--batch", "100ms", "count"], input="a\n", capture_output=True,
                          text=True, timeout=30)
    assert proc.stderr == "" and proc.stdout.split() == ["1"]
