"""The installed executable on a real clock: real stdin, a 200 ms batch interval, per-batch files."""
import os
import re
import subprocess
import time

from conftest import installed_dstream


def test_real_stdin_with_200ms_batches_writes_aligned_per_batch_files(tmp_path):
    prefix = tmp_path / "out" / "counts"
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "flat-map", "x.split()", "count",
                             "save-as-text-files", str(prefix)], stdin=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    sent = 0
    for burst in range(5):
        proc.stdin.write("a b\nc\n")  # three words a burst
        proc.stdin.flush()
        sent += 3
        time.sleep(0.45)
    proc.stdin.close()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    names = sorted(os.listdir(prefix.parent))
    times = [int(re.match(r"counts-(\d+)$", n).group(1)) for n in names]
    assert all(t % 200 == 0 for t in times), times  # aligned to the interval, as Spark's RecurringTimer
    assert times == sorted(times) and len(set(times)) == len(times)
    assert len(times) >= 5  # a file per batch interval that passed (empty batches write empty files)
    counts = [int((prefix.parent / n).read_text() or 0) for n in names]
    assert sum(counts) == sent
    assert max(counts) <= 6  # the bursts, 450 ms apart, fell into different batches
    assert all(b - a == 200 for a, b in zip(times, times[1:]))  # one file per interval, none skipped
