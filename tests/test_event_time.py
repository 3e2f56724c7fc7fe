"""--event-time: batches cut by the records' own times, against the arrival-time engine on the simulated clock."""
import datetime
import random
import re
import subprocess

import orjson

from conftest import installed_dstream, invoke, queue_text, read_batch_files, wait_for

from dstream_cli.receivers.chunks import LineChunk

WINDOWED = ["map", "(x['w'], 1)", "reduce-by-key-and-window", "sum", "4s", "2s", "--inverse", "a - b"]


def events(seed: int = 3, seconds: int = 14) -> list[dict]:
    """A few events in every second of [0, seconds), each with its time in ms."""
    rng = random.Random(seed)
    return [{"ts": second * 1000 + rng.randrange(1, 1000), "w": rng.choice("abcd")}
            for second in range(seconds) for _ in range(rng.randrange(1, 4))]


def as_lines(records) -> str:
    return "".join(orjson.dumps(r).decode() + "\n" for r in records)


def by_event_time(tmp_path, records, stages, *options, name="event"):
    prefix = str(tmp_path / name / "o")
    result = invoke(["--format", "json", "--event-time", "x['ts']", "--time-unit", "ms", *options, *stages,
                     "save-as-text-files", prefix, "--format", "repr"], input=as_lines(records))
    assert result.exit_code == 0, result.stderr
    return read_batch_files(prefix), result


def by_arrival(tmp_path, records, stages, batches: int):
    """The arrival-time engine with each record arriving in the interval of its own time."""
    per_batch = [[orjson.dumps(r).decode() for r in records if (i - 1) * 1000 < r["ts"] <= i * 1000]
                 for i in range(1, batches + 1)]
    prefix = str(tmp_path / "arrival" / "o")
    result = invoke(["--format", "json", "--queue", "-", *stages, "save-as-text-files", prefix, "--format", "repr"],
                    input=queue_text(per_batch))
    assert result.exit_code == 0, result.stderr
    return read_batch_files(prefix)


def test_a_log_read_by_event_time_gives_the_batches_of_records_arriving_at_those_times(tmp_path):
    """Window, slide and batch times follow event time: the same files as the live engine fed in real time."""
    records = events()
    got, _ = by_event_time(tmp_path, records, WINDOWED)
    expected = by_arrival(tmp_path, records, WINDOWED, batches=14)
    assert [(t, sorted(b)) for t, b in got] == [(t, sorted(b)) for t, b in expected]
    assert [t for t, _ in got] == list(range(2000, 16001, 2000))  # at 16 s, the window (12 s, 16 s] of the last


def test_a_window_computed_only_at_its_slide_takes_every_batch_and_the_run_ends(tmp_path):
    """A tumbling window asks for its input's batches only every 4 s: each batch run in between keeps its records
    for it, and the last two seconds of the log give the slide at 16 s, as the queue's run does."""
    records = events()
    stages = ["map", "(x['w'], 1)", "reduce-by-key-and-window", "sum", "4s", "4s"]
    prefix = tmp_path / "event" / "o"
    subprocess.run([*installed_dstream(), "--format", "json", "--event-time", "x['ts']", "--time-unit", "ms",
                    *stages, "save-as-text-files", str(prefix), "--format", "repr"],
                   input=as_lines(records), text=True, check=True, timeout=30)
    expected = by_arrival(tmp_path, records, stages, batches=14)
    assert [(t, sorted(b)) for t, b in read_batch_files(str(prefix))] == [(t, sorted(b)) for t, b in expected]
    assert [t for t, _ in expected] == [4000, 8000, 12000, 16000]


def test_records_shuffled_within_the_lateness_give_the_output_of_sorted_ones(tmp_path):
    records = events(seed=5)
    rng = random.Random(9)
    shuffled = sorted(records, key=lambda r: r["ts"] + rng.uniform(0, 2000))  # out of order by up to 2 s
    assert shuffled != records
    stages = ["map", "x['w']", "count-by-value"]
    in_order, _ = by_event_time(tmp_path, records, stages, "--allowed-lateness", "3s", name="sorted")
    out_of_order, result = by_event_time(tmp_path, shuffled, stages, "--allowed-lateness", "3s", name="shuffled")
    assert [(t, sorted(b)) for t, b in out_of_order] == [(t, sorted(b)) for t, b in in_order]
    assert "late" not in result.stderr


def test_a_late_record_goes_to_the_dead_letter_with_its_reason(tmp_path):
    dead = tmp_path / "dead.jsonl"
    records = [{"ts": 500, "w": "a"}, {"ts": 3500, "w": "b"}, {"ts": 1200, "w": "late"}, {"ts": 3900, "w": "c"}]
    metrics = tmp_path / "m.jsonl"
    got, result = by_event_time(tmp_path, records, ["map", "x['w']"], "--dead-letter", str(dead), "--metrics",
                                str(metrics))
    assert got == [(1000, ["a"]), (2000, []), (3000, []), (4000, ["b", "c"])]
    [entry] = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert "'late'" in str(entry["record"])
    assert "late: event time 1200 ms" in entry["reason"]
    assert "late record" not in result.stderr  # the dead letter holds it: nothing to report
    assert sum(orjson.loads(line)["late"] for line in metrics.read_bytes().splitlines()) == 1


def test_late_records_are_counted_on_stderr_and_in_the_metrics_by_default(tmp_path):
    metrics = tmp_path / "m.jsonl"
    records = [{"ts": 500, "w": "a"}, {"ts": 2500, "w": "b"}, {"ts": 700, "w": "late"}]
    got, result = by_event_time(tmp_path, records, ["map", "x['w']"], "--metrics", str(metrics))
    assert got == [(1000, ["a"]), (2000, []), (3000, ["b"])]
    assert "1 late record before" in result.stderr
    assert sum(orjson.loads(line)["late"] for line in metrics.read_bytes().splitlines()) == 1


def test_the_live_view_counts_the_late_records():
    records = [{"ts": 500, "w": "a"}, {"ts": 2500, "w": "b"}, {"ts": 700, "w": "late"}, {"ts": 900, "w": "late"}]
    result = invoke(["--format", "json", "--event-time", "x['ts']", "--time-unit", "ms", "--progress", "count",
                     "emit"], input=as_lines(records))
    assert result.exit_code == 0, result.stderr
    assert re.search(r"late in all\s+2\b", result.stderr), result.stderr
    plain = invoke(["--queue", "-", "--progress", "count", "emit"], input=queue_text([["a"]]))
    assert "records" in plain.stderr and "late" not in plain.stderr  # only by event time


def test_late_fail_stops_with_exit_1_naming_the_record(tmp_path):
    records = [{"ts": 500, "w": "a"}, {"ts": 2500, "w": "b"}, {"ts": 700, "w": "late"}]
    result = invoke(["--format", "json", "--event-time", "x['ts']", "--time-unit", "ms", "--late", "fail", "count"],
                    input=as_lines(records))
    assert result.exit_code == 1
    assert "late: event time 700 ms" in result.stderr and "'late'" in result.stderr


def test_a_week_long_gap_is_crossed_in_one_step(tmp_path):
    """Two records a week apart at --batch 1s with a 10s window: the quiet week is not a week of batches."""
    metrics = tmp_path / "m.jsonl"
    week = 7 * 24 * 3600
    records = [{"ts": 100, "w": "a"}, {"ts": week + 0.5, "w": "b"}]
    lines = "".join(orjson.dumps(r).decode() + "\n" for r in records)
    prefix = tmp_path / "out" / "o"
    result = invoke(["--format", "json", "--event-time", "x['ts']", "--metrics", str(metrics), "map", "(x['w'], 1)",
                     "reduce-by-key-and-window", "sum", "10s", "save-as-text-files", str(prefix), "--format", "repr"],
                    input=lines)
    assert result.exit_code == 0, result.stderr
    files = read_batch_files(str(prefix))
    assert len(files) < 40 and files[-10] == ((week + 1) * 1000, [("b", 1)])
    assert files[-1] == ((week + 10) * 1000, [("b", 1)])  # the window's last slide that holds b
    assert files[0] == (100_000, [("a", 1)]) and files[9] == (109_000, [("a", 1)])  # the window slid through
    assert len(metrics.read_bytes().splitlines()) == len(files)


def test_a_short_quiet_gap_gives_its_empty_batches_as_the_live_engine_does(tmp_path):
    records = [{"ts": 1500, "w": "a"}, {"ts": 5200, "w": "b"}]
    got, _ = by_event_time(tmp_path, records, ["map", "x['w']", "count"])
    assert got == [(2000, [1]), (3000, [0]), (4000, [0]), (5000, [0]), (6000, [1])]


def test_text_times_iso_and_strftime(tmp_path):
    """An ISO 8601 time, and an Apache log time read with --time-format."""
    iso = invoke(["--event-time", "x.split()[0]", "--batch", "1m", "map", "x.split()[1]", "emit"],
                 input="2026-11-24T09:14:50Z first\n2026-11-24T09:16:10+00:00 second\n")
    assert iso.exit_code == 0, iso.stderr
    assert iso.stdout == "first\nsecond\n"
    prefix = tmp_path / "out" / "o"
    log = ('127.0.0.1 - - [24/Nov/2026:09:14:50 +0000] "GET / HTTP/1.1" 200 5\n'
           '127.0.0.1 - - [24/Nov/2026:09:14:52 +0000] "GET /a HTTP/1.1" 404 9\n')
    apache = invoke(["--event-time", "x[x.index('[') + 1:x.index(']')]", "--time-format", "%d/%b/%Y:%H:%M:%S %z",
                     "--batch", "2s", "map", "x.split()[8]", "save-as-text-files", str(prefix)], input=log)
    assert apache.exit_code == 0, apache.stderr
    at = int(datetime.datetime(2026, 11, 24, 9, 14, 50, tzinfo=datetime.timezone.utc).timestamp() * 1000)
    assert read_batch_files(str(prefix)) == [(at, [200]), (at + 2000, [404])]


def test_an_unreadable_time_follows_on_error(tmp_path):
    dead = tmp_path / "dead.jsonl"
    lines = '{"ts": 1.5}\n{"ts": "soon"}\n{"ts": 2.5}\n'
    failed = invoke(["--format", "json", "--event-time", "x['ts']", "count"], input=lines)
    assert failed.exit_code == 1
    assert "event time 'soon' is not ISO 8601" in failed.stderr
    skipped = invoke(["--format", "json", "--event-time", "x['ts']", "--on-error", "skip", "--dead-letter",
                      str(dead), "count", "emit"], input=lines)
    assert skipped.exit_code == 0, skipped.stderr
    assert skipped.stdout == "1\n1\n"
    assert "not ISO 8601" in orjson.loads(dead.read_bytes())["reason"]
    for endless in ("nan", "inf", "-inf"):  # in order or not, a number that names no time is a bad record
        for lines in (f"1.5\n{endless}\n2.5\n", f"1.5\n2.5\n{endless}\n"):
            result = invoke(["--event-time", "float(x)", "count", "emit"], input=lines)
            assert result.exit_code == 1 and "is not a finite number" in result.stderr, result.stderr
            skipped = invoke(["--event-time", "float(x)", "--on-error", "skip", "count", "emit"], input=lines)
            assert skipped.exit_code == 0 and skipped.stdout == "1\n1\n", skipped.stderr


def test_a_parsed_time_of_another_kind_among_numbers_is_a_bad_record_wherever_it_is():
    """Parsed JSON times are checked in C-level passes (a sum, a sort) that let a bool through as 0 or 1: it is
    still a bad record, first, among the others or last, as is null, a list, a dict or text that is no time."""
    for bad in ("true", "false", "null", "[1]", '{"a": 1}', '"later"'):
        for at in range(3):
            times = ["1.5", "2.5"]
            times.insert(at, bad)
            lines = "".join(f'{{"ts": {ts}}}\n' for ts in times)
            failed = invoke(["--format", "json", "--event-time", "x['ts']", "count", "emit"], input=lines)
            assert failed.exit_code == 1 and "event time" in failed.stderr, (bad, at, failed.stderr)
            assert bad not in ("true", "false") or "is a bool, not a time" in failed.stderr
            skipped = invoke(["--format", "json", "--event-time", "x['ts']", "--on-error", "skip", "count", "emit"],
                             input=lines)
            assert skipped.exit_code == 0 and skipped.stdout == "1\n1\n", (bad, at, skipped.stdout, skipped.stderr)


def test_a_big_log_is_read_no_further_ahead_than_its_records_are_taken_into_batches(monkeypatch):
    """By event time the records wait in the open intervals, not in the input's buffer: a log far bigger than what
    an input keeps in memory is read as fast as it is computed, and none of it goes to a spill file and back."""
    spilled = []
    spill = LineChunk.spill
    monkeypatch.setattr(LineChunk, "spill", lambda chunk, to: (spilled.append(chunk.size), spill(chunk, to)))
    lines = 800_000  # about 24 MB, three times what an input keeps in memory
    log = "".join(f'{{"ts":{1_700_000_000 + i / 100:.2f},"k":"a"}}\n' for i in range(lines))
    result = invoke(["--format", "json", "--event-time", "x['ts']", "--batch", "1m", "count", "emit"], input=log)
    assert result.exit_code == 0, result.stderr
    assert sum(map(int, result.stdout.split())) == lines
    assert spilled == []


def test_update_state_timeout_follows_event_time(tmp_path):
    records = [{"ts": 500, "w": "a"}, {"ts": 1500, "w": "b"}, {"ts": 3500, "w": "b"}]
    got, _ = by_event_time(tmp_path, records, ["map", "(x['w'], 1)", "update-state", "sum", "--timeout", "2s"])
    assert [(t, sorted(b)) for t, b in got] == [(1000, [("a", 1)]), (2000, [("a", 1), ("b", 1)]),
                                                (3000, [("b", 1)]), (4000, [("b", 2)])]


def test_the_library_takes_event_time_per_context():
    from dstream_cli import RunOptions, StreamingContext
    from dstream_cli.eventtime import EventTime

    seen = []
    ssc = StreamingContext(1, event_time=EventTime(lambda x: x[0], allowed_lateness_ms=2500))
    ssc.queue_stream([[(2.5, "b"), (0.5, "a")], [(1.2, "c"), (3.0, "d")]]).map(lambda x: x[1]).foreach_batch(
        lambda t, b: seen.append((t, sorted(b))))
    ssc.run(RunOptions())
    assert seen == [(1000, ["a"]), (2000, ["c"]), (3000, ["b", "d"])]


def test_idle_timeout_closes_the_last_interval_of_a_live_input(tmp_path):
    """With the producer still connected, --idle-timeout computes the open batches after that long with nothing new."""
    prefix = tmp_path / "out" / "o"
    proc = subprocess.Popen([*installed_dstream(), "--format", "json", "--event-time", "x['ts']", "--idle-timeout",
                             "300ms", "map", "x['w']", "save-as-text-files", str(prefix), "--format", "repr"],
                            stdin=subprocess.PIPE)
    try:
        proc.stdin.write(b'{"ts": 1.5, "w": "a"}\n{"ts": 2.5, "w": "b"}\n')
        proc.stdin.flush()
        wait_for(lambda: len(read_batch_files(str(prefix))) == 2, timeout=20, what="both batches")
        assert read_batch_files(str(prefix)) == [(2000, ["a"]), (3000, ["b"])]
        proc.stdin.close()
        assert proc.wait(timeout=20) == 0
    finally:
        proc.kill()


def test_event_time_options_are_checked():
    assert "--allowed-lateness needs --event-time" in invoke(["--allowed-lateness", "2s", "count"], input="").stderr
    on_spark = invoke(["--engine", "spark", "--event-time", "x", "--checkpoint", "ck", "count"], input="")
    assert on_spark.exit_code == 2 and "--event-time on Spark" in on_spark.stderr
    for wrong in ("%d/%Q/%Y", "%d %d", "%Y-%m-%"):
        result = invoke(["--event-time", "x", "--time-format", wrong, "count"], input="")
        assert result.exit_code == 2 and f"--time-format '{wrong}'" in result.stderr, result.stderr
    assert invoke(["--event-time", "x", "--time-format", "%Y-%m-%d", "count"], input="").exit_code == 0


def test_sigkilled_mid_log_and_restarted_gives_the_files_of_an_uninterrupted_run(tmp_path):
    """The watermark and the open batches are in the checkpoint with the file's position: a run killed in batch
    12 s (after its checkpoint at 10 s, before the next) resumes to exactly the straight run's files."""
    from conftest import StallThenKill, files_in

    rng = random.Random(4)
    records = sorted(events(seed=8, seconds=24), key=lambda r: r["ts"] + rng.uniform(0, 800))
    log = tmp_path / "log.jsonl"
    log.write_text(as_lines(records))
    stall = StallThenKill(12000, tmp_path / "stalled")

    def command(out: str) -> list[str]:
        return [*installed_dstream(), *stall.imports, "-i", f"log=file:{log}", "--format", "json",
                "--event-time", "x['ts']", "--time-unit", "ms", "--allowed-lateness", "1s",
                "--checkpoint", str(tmp_path / f"ck-{out}"), "--checkpoint-interval", "2s",
                "from", "log", *WINDOWED, *stall.stage, "save-as-text-files", str(tmp_path / out / "w"),
                "--format", "repr"]

    stall.run(command)
    assert len(files_in(tmp_path / "killed")) < len(files_in(tmp_path / "straight"))
    stall.resume(command)
    straight = files_in(tmp_path / "straight")
    assert len(straight) == 13 and files_in(tmp_path / "killed") == straight


def test_late_records_found_again_after_a_restart_are_in_the_dead_letter_once(tmp_path):
    """A log of several reads (1 MiB each, about 5 s of it), with late records in every part: those of the part
    taken in after the checkpoint at 14 s are written before the kill in batch 16 s and found again after the
    restart; the dead letter then holds each late record once, as the uninterrupted run's does."""
    from conftest import StallThenKill

    rng = random.Random(6)
    records = []
    for second in range(24):
        records += [{"ts": second * 1000 + rng.randrange(1000), "w": rng.choice("ab"), "pad": "x" * 2000}
                    for _ in range(100)]
        records.append({"ts": max(second - 4, 0) * 1000 + 1, "w": "late", "pad": ""})  # 4 s behind: late
    records.sort(key=lambda r: r["ts"] if r["w"] != "late" else (r["ts"] // 1000 + 4) * 1000 + 999)
    log = tmp_path / "log.jsonl"
    log.write_text(as_lines(records))
    assert log.stat().st_size > 4 << 20
    stall = StallThenKill(16000, tmp_path / "stalled")

    def command(out: str) -> list[str]:
        return [*installed_dstream(), *stall.imports, "-i", f"log=file:{log}", "--format", "json",
                "--event-time", "x['ts']", "--time-unit", "ms", "--allowed-lateness", "1s",
                "--dead-letter", str(tmp_path / f"{out}.dead"),
                "--checkpoint", str(tmp_path / f"ck-{out}"), "--checkpoint-interval", "2s",
                "from", "log", "map", "x['w']", "count-by-value", *stall.stage,
                "save-as-text-files", str(tmp_path / out / "w"), "--format", "repr"]

    def entries(out: str) -> list[dict]:
        return [orjson.loads(line) for line in (tmp_path / f"{out}.dead").read_text().splitlines()]

    stall.run(command)
    before_restart = entries("killed")
    assert any(entry["batch_time"] > 14000 for entry in before_restart), "no late record found after the checkpoint"
    stall.resume(command)
    straight, resumed = entries("straight"), entries("killed")
    assert len(straight) > 15 and len({e["id"] for e in straight}) == len(straight)
    assert sorted(e["id"] for e in resumed) == sorted(e["id"] for e in straight)
    assert sorted(e["record"] for e in resumed) == sorted(e["record"] for e in straight)


def test_the_batches_do_not_depend_on_how_the_input_was_read_in_chunks():
    """Random times and lateness: read one record at a time (each chunk on the C-level path) or all at once
    (record by record whenever one is late), the batches and the late count are the same."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from dstream_cli import RunOptions, StreamingContext
    from dstream_cli.eventtime import EventTime

    def run(chunks, lateness_ms):
        seen = []
        ssc = StreamingContext(1, event_time=EventTime(lambda x: x, unit="ms", allowed_lateness_ms=lateness_ms,
                                                       late="drop"))
        ssc.queue_stream(chunks).foreach_batch(lambda t, b: seen.append((t, sorted(b))))
        ssc.run(RunOptions())
        return seen

    @settings(max_examples=60, deadline=None)
    @given(st.lists(st.integers(0, 20_000), min_size=1, max_size=40), st.integers(0, 3000))
    def check(times, lateness_ms):
        assert run([[ms] for ms in times], lateness_ms) == run([times], lateness_ms)

    check()


def test_stdin_under_wal_sigkilled_and_restarted_gives_the_files_of_an_uninterrupted_run(tmp_path):
    """With --wal, what stdin delivered is logged: the restart (its stdin now empty) takes in again what the log
    holds beyond the checkpoint, and gives the straight run's files."""
    import signal

    from conftest import StallThenKill, files_in

    text = as_lines(events(seed=6, seconds=20)).encode()
    stall = StallThenKill(12000, tmp_path / "stalled")

    def command(out: str) -> list[str]:
        return [*installed_dstream(), *stall.imports, "--format", "json", "--event-time", "x['ts']", "--time-unit",
                "ms", "--wal", "--checkpoint", str(tmp_path / f"ck-{out}"), "--checkpoint-interval", "2s",
                *WINDOWED, *stall.stage, "save-as-text-files", str(tmp_path / out / "w"), "--format", "repr"]

    stall.marker.touch()
    subprocess.run(command("straight"), input=text, check=True, timeout=60)
    stall.marker.unlink()
    proc = subprocess.Popen(command("killed"), stdin=subprocess.PIPE, stderr=subprocess.DEVNULL)
    proc.stdin.write(text)
    proc.stdin.close()
    wait_for(stall.marker.exists, what="the batch to stall")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(files_in(tmp_path / "killed")) < len(files_in(tmp_path / "straight"))
    subprocess.run(command("killed"), input=b"", check=True, timeout=60)
    straight = files_in(tmp_path / "straight")
    assert len(straight) == 11 and files_in(tmp_path / "killed") == straight


def test_with_two_inputs_the_slower_watermark_decides(tmp_path):
    """A batch waits for the input whose newest time is behind: records of the slower input within its own
    lateness are not late because the other one ran ahead."""
    fast = tmp_path / "fast.q"
    slow = tmp_path / "slow.q"
    fast.write_text(queue_text([['{"ts": 500, "w": "f1"}', '{"ts": 4500, "w": "f2"}']]))
    slow.write_text(queue_text([['{"ts": 900, "w": "s1"}'], ['{"ts": 1800, "w": "s2"}', '{"ts": 4200, "w": "s3"}']]))
    prefix = tmp_path / "out" / "o"
    result = invoke(["--format", "json", "--event-time", "x['ts']", "--time-unit", "ms", "-i", f"f=queue:{fast}",
                     "-i", f"s=queue:{slow}", "from", "f", "union", "s", "map", "x['w']", "save-as-text-files",
                     str(prefix), "--format", "repr"])
    assert result.exit_code == 0, result.stderr
    assert [(t, sorted(b)) for t, b in read_batch_files(str(prefix))] == [
        (1000, ["f1", "s1"]), (2000, ["s2"]), (3000, []), (4000, []), (5000, ["f2", "s3"])]
    assert "late" not in result.stderr
