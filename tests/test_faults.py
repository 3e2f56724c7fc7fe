"""Faults a hostile trial found: each test runs the real command the way that trial did."""
import os
import shlex
import signal
import socket
import subprocess
import sys
import time

import pytest

from conftest import can_connect, free_port, installed_dstream, invoke, kill_and_restart, wait_for
from dstream_cli.cli.stages import STAGES


def run(args, input=None, cwd=None, timeout=30, **kwargs):
    return subprocess.run([*installed_dstream(), *args], input=input, capture_output=True, text=True, cwd=cwd,
                          timeout=timeout, **kwargs)


# --- messages: one line naming the option or file, never a traceback --------------------------------

@pytest.mark.parametrize("args, option", [
    (["--socket", "9999"], "--socket"), (["--socket", "nohost"], "--socket"), (["-i", "a=tcp://nohost"], "-i"),
    (["--max-rate", "inf"], "--max-rate"), (["--max-rate", "nan"], "--max-rate"),
    (["--backpressure", "--initial-rate", "nan"], "--initial-rate"),
    (["--queue", "-", "--start-time", "99999999999999999"], "--start-time"),
    (["--watch", "{missing}"], "--watch"),
])
def test_bad_option_values_exit_2_naming_the_option(args, option, tmp_path):
    args = [a.format(missing=tmp_path / "missing") for a in args]
    result = invoke([*args, "count", "print"], input="")
    assert result.exit_code == 2, result.output
    assert option in result.stderr and "Traceback" not in result.stderr


def test_a_missing_watched_directory_is_refused_not_created(tmp_path):
    result = invoke(["-i", f"d=dir:{tmp_path / 'missing'}", "from", "d", "count", "print"])
    assert result.exit_code == 2 and "is not a directory" in result.stderr
    assert not (tmp_path / "missing").exists()


def test_an_unwritable_dead_letter_names_the_option_and_file():
    result = run(["--queue", "-", "--on-error", "skip", "--dead-letter", "/dev/full", "map", "int(x)", "print"],
                 input="a\n")
    assert result.returncode == 1
    assert result.stderr.strip() == "dstream: --dead-letter /dev/full: cannot write: No space left on device"


def test_a_full_disk_under_the_checkpoint_names_the_option_and_file(tmp_path):
    script = ('mount -t tmpfs -o size=64k tmpfs "$1" && head -c 60000 /dev/zero > "$1/filler" 2>/dev/null; '
              'shift; printf "a\\nb\\n" | "$@"')
    ck = tmp_path / "ck"
    ck.mkdir()
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script, "sh", str(ck), *installed_dstream(),
                           "--queue", "-", "--checkpoint", str(ck), "map", "(x, 'y' * 20000)", "update-state", "last"],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 1, proc.stderr
    assert f"--checkpoint {ck}: cannot write" in proc.stderr and "No space left" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_listen_on_a_port_in_use_exits_1_at_once():
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = run(["--listen", str(port), "count", "print"], timeout=10)
    assert result.returncode == 1
    assert f"cannot listen on 127.0.0.1:{port}" in result.stderr and time.monotonic() - started < 5


# --- documentation that works as written ---------------------------------------------------------------

# save-to-kafka's example needs a broker: test_kafka.py runs it against one
@pytest.mark.parametrize("command", [c for c in STAGES if c.name != "save-to-kafka"], ids=lambda c: c.name)
def test_every_stage_help_example_runs_as_written(command, tmp_path):
    """The example at the end of each stage's --help, with the files it names holding tab-separated pairs."""
    example = command.help.rsplit("Example:", 1)[1].strip()
    words = shlex.split(example)
    assert words[0] == "dstream"
    for word in words:
        for scheme in ("file:", "queue:"):
            if scheme in word:
                (tmp_path / word.split(scheme, 1)[1]).write_text("k\t1\nj\t2\n")
    stdin = {"parse": '{"user": "ann"}\n', "reduce": "1\n2\n", "reduce-by-window": "1\n2\n",
             "sql": '{"user": "ann", "bytes": 5}\n'}.get(command.name, "k\t3\nz\t4\n")
    result = run(words[1:], input=stdin, cwd=tmp_path)
    assert result.returncode == 0, f"{example}\n{result.stderr}"


def test_a_receiver_module_in_the_current_directory_can_be_named(tmp_path):
    """As for `python -m`: --receiver mymodule:Ticker finds mymodule.py where the user stands."""
    (tmp_path / "mymodule.py").write_text(
        "from dstream_cli import Receiver\n"
        "class Ticker(Receiver):\n"
        "    finite = True\n"
        "    def on_start(self):\n"
        "        self.store(['tick', 'tock'])\n"
        "        self.stop('done')\n")
    result = run(["--receiver", "mymodule:Ticker", "count", "emit"], cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["2"]


# --- signals and receivers that do not keep the contract ------------------------------------------------

def test_sighup_stops_gracefully_with_what_was_received(tmp_path):
    """A closed terminal or a reload: SIGHUP finishes the received records and exits 0, as SIGTERM does."""
    metrics = tmp_path / "m.jsonl"
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--metrics", str(metrics), "count", "emit"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("a\nb\nc\n")
    proc.stdin.flush()
    wait_for(lambda: metrics.exists() and metrics.stat().st_size, what="a first batch")
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert sum(map(int, out.split())) == 3


def test_a_receiver_whose_on_start_blocks_does_not_keep_the_run_alive(tmp_path):
    (tmp_path / "stuck.py").write_text(
        "import time\n"
        "from dstream_cli import Receiver\n"
        "class Stuck(Receiver):\n"
        "    def on_start(self):\n"
        "        self.store('one')\n"
        "        time.sleep(600)\n")
    started = time.monotonic()
    result = run(["--receiver", "stuck:Stuck", "--batch", "200ms", "--run-for", "1s", "count", "emit"],
                 cwd=tmp_path, timeout=30)
    assert time.monotonic() - started < 10
    assert result.returncode == 0, result.stderr
    assert sum(map(int, result.stdout.split())) == 1
    assert "on_start has not returned" in result.stderr and "on_start never returned" in result.stderr


def test_a_watched_file_that_grows_after_it_was_read_is_named_once(tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    proc = subprocess.Popen([*installed_dstream(), "--watch", str(watched), "--batch", "200ms", "count", "emit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.5)
    staged = tmp_path / "a.log"
    staged.write_text("1\n2\n")
    os.rename(staged, watched / "a.log")
    wait_for(lambda: _read_some(proc).strip() == "2", what="a.log read (a batch of 2)")
    for _ in range(3):
        with open(watched / "a.log", "a") as handle:
            handle.write("3\n")
        time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert err.count("a.log changed after it was read") == 1


def _read_some(proc) -> str:
    import select

    if select.select([proc.stdout], [], [], 0.1)[0]:
        return proc.stdout.readline()
    return ""


# --- output that tells the truth ---------------------------------------------------------------------

FORGED = "mallory\nadmin\t999999"


def test_tsv_escapes_tab_newline_and_backslash_so_a_value_cannot_forge_a_row():
    result = invoke(["--queue", "-", "--format", "json", "map", "(x['name'], 1)", "emit"],
                    input='{"name": "mallory\\nadmin\\t999999 \\\\o/"}\n')
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "mallory\\nadmin\\t999999 \\\\o/\t1\n"


def test_tsv_input_reads_back_what_tsv_output_escaped(tmp_path):
    first = invoke(["--queue", "-", "--format", "json", "map", "(x, len(x))", "emit"], input=f'"{FORGED!s}"\n'
                   .replace("\n", "\\n", 1).replace("\t", "\\t"))
    assert first.exit_code == 0, first.stderr
    again = invoke(["--queue", "-", "--format", "tsv", "map", "(x[0], int(x[1]))", "emit", "--format", "json"],
                   input=first.stdout)
    assert again.stdout == '["mallory\\nadmin\\t999999",20]\n'


def test_json_integers_beyond_64_bits_stay_exact_in_and_out():
    big = 18446744073709551617
    result = invoke(["--queue", "-", "--format", "json", "map", "(x['id'], x['id'] + 1)", "emit", "--format", "json"],
                    input=f'{{"id": {big}}}\n{{"id": 5}}\n')
    assert result.exit_code == 0, result.stderr
    assert result.stdout == f"[{big},{big + 1}]\n[5,6]\n"


def test_a_huge_integer_is_printed_checkpointed_and_restored_whole(tmp_path):
    """10**5000 passes str()'s 4,300-digit limit in outputs, and the checkpoint keeps it exactly across a restart."""
    args = ["--queue", "-", "--checkpoint", tmp_path / "ck", "map", "(x, 10**5000)", "update-state", "sum", "emit"]
    first = invoke(args, input="k\n")
    assert first.exit_code == 0, first.stderr
    assert first.stdout == "k\t1" + "0" * 5000 + "\n"
    again = invoke(args, input="\nk\n")
    assert again.exit_code == 0, again.stderr
    assert again.stdout.splitlines()[-1] == "k\t2" + "0" * 5000


def test_every_kind_of_expression_error_is_a_record_error():
    """exit() inside an expression raises SystemExit: under skip it is a skipped record, not the end of the run."""
    result = invoke(["--queue", "-", "--on-error", "skip", "map", "exit(3) if x == 'b' else x", "emit"],
                    input="a\nb\nc\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a\nc\n"


@pytest.mark.parametrize("stage", [["reduce-by-key", "sum"], ["group-by-key"], ["map-values", "v"],
                                   ["update-state", "last"], ["join", "other"]])
def test_keyed_stages_need_pairs_and_say_so_showing_the_record(stage):
    """'to' would unpack into ('t', 'o'): a string is never taken as a pair."""
    extra = ["as", "other"] if stage[0] == "join" else []
    result = invoke(["--queue", "-", *extra, *stage, "emit"], input="to\n")
    assert result.exit_code == 1
    assert "needs (key, value) pairs, not a str; record 'to'" in result.stderr


# --- checkpoints: one owner, never silently discarded, never pruned while recovering --------------------

def queue_of(*batches):
    return "".join("".join(f"{line}\n" for line in batch) + "\n" for batch in batches)


COUNT = ["map", "(x, 1)", "update-state", "sum", "emit"]


def test_a_second_process_on_the_same_checkpoint_exits_2_naming_the_holder(tmp_path):
    first = subprocess.Popen([*installed_dstream(), "--checkpoint", str(tmp_path / "ck"), "--batch", "200ms", *COUNT],
                             stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: (tmp_path / "ck" / "lock").exists() and (tmp_path / "ck" / "lock").read_text().strip(),
                 what="the first process's lock")
        second = run(["--checkpoint", str(tmp_path / "ck"), *COUNT], input="a\n")
        assert second.returncode == 2
        assert f"is in use by another dstream (pid {first.pid})" in second.stderr
    finally:
        first.stdin.close()
        first.wait(timeout=20)
    assert run(["--checkpoint", str(tmp_path / "ck"), "--batch", "200ms", *COUNT], input="a\n").returncode == 0


def test_no_readable_checkpoint_is_refused_unless_start_fresh(tmp_path):
    ck = tmp_path / "ck"
    assert invoke(["--queue", "-", "--checkpoint", ck, "--checkpoint-interval", "1s", *COUNT],
                  input=queue_of(["a"], ["a"])).exit_code == 0
    for path in ck.glob("checkpoint-*.json"):
        path.write_bytes(b'{"format": "dstream-che')
    refused = invoke(["--queue", "-", "--checkpoint", ck, *COUNT], input=queue_of(["a"]))
    assert refused.exit_code == 1 and refused.stdout == ""
    assert "no checkpoint can be resumed from (checkpoint-2000.json, checkpoint-1000.json unreadable)" in refused.stderr
    fresh = invoke(["--queue", "-", "--checkpoint", ck, "--start-fresh", *COUNT], input=queue_of(["a"]))
    assert fresh.exit_code == 0 and fresh.stdout == "a\t1\n"


def test_a_corrupt_newer_checkpoint_never_gets_good_ones_pruned(tmp_path):
    ck = tmp_path / "ck"
    args = ["--queue", "-", "--checkpoint", ck, "--checkpoint-interval", "1s", *COUNT]
    assert invoke(["--batches", "3", *args], input=queue_of(*[["a"]] * 6)).exit_code == 0
    (ck / "checkpoint-9000.json").write_bytes(b"garbage")
    resumed = invoke(["--batches", "5", *args], input=queue_of(*[["a"]] * 6))
    assert resumed.exit_code == 0 and resumed.stdout == "a\t4\na\t5\n"
    names = sorted(p.name for p in ck.glob("checkpoint-*"))
    assert names == ["checkpoint-4000.json", "checkpoint-5000.json", "checkpoint-9000.json"]
    again = invoke(["--batches", "6", *args], input=queue_of(*[["a"]] * 6))
    assert again.stdout == "a\t6\n" and "checkpoint-9000.json is unreadable" in again.stderr


@pytest.mark.parametrize("damage, field", [
    (lambda d: d.pop("nodes"), "'nodes'"),
    (lambda d: d.update(time=2500), "'time' 2500 is not a batch time"),
    (lambda d: d["nodes"][0]["d"][1].__setitem__(1, 1.5), "'nodes[0]'"),
    (lambda d: d["nodes"][2]["d"].pop(1), "'nodes[2]'"),
])
def test_a_checkpoint_wrong_inside_is_named_with_its_field_and_the_previous_one_is_used(tmp_path, damage, field):
    import orjson

    ck = tmp_path / "ck"
    args = ["--queue", "-", "--checkpoint", ck, "--checkpoint-interval", "1s", *COUNT]
    assert invoke(["--batches", "2", *args], input=queue_of(*[["a"]] * 3)).exit_code == 0
    newest = ck / "checkpoint-2000.json"
    document = orjson.loads(newest.read_bytes())
    damage(document)
    newest.write_bytes(orjson.dumps(document))
    result = invoke(["--batches", "3", *args], input=queue_of(*[["a"]] * 3))
    assert result.exit_code == 0, result.stderr
    warning, = [line for line in result.stderr.splitlines() if "checkpoint-2000.json" in line]
    assert field in warning and "trying the previous one" in warning
    assert result.stdout == "a\t2\na\t3\n"  # batch 2 redone from the checkpoint of batch 1


def test_batches_counts_from_the_start_of_a_queue_across_restarts(tmp_path):
    ck = tmp_path / "ck"
    args = ["--queue", "-", "--checkpoint", ck, *COUNT]
    queue = queue_of(*[["a"]] * 6)
    assert invoke(["--batches", "2", *args], input=queue).stdout == "a\t1\na\t2\n"
    assert invoke(["--batches", "4", *args], input=queue).stdout == "a\t3\na\t4\n"
    done = invoke(["--batches", "4", *args], input=queue)
    assert done.exit_code == 0 and done.stdout == ""
    # the last batch of each run is checkpointed (the interval, 10s by default, is not reached here)
    assert sorted(p.name for p in ck.glob("checkpoint-*")) == ["checkpoint-2000.json", "checkpoint-4000.json"]


def test_a_finished_queue_job_run_again_adds_no_batch(tmp_path):
    ck = tmp_path / "ck"
    args = ["--queue", "-", "--checkpoint", ck, *COUNT]
    assert invoke(args, input=queue_of(["a"], ["a"])).stdout == "a\t1\na\t2\n"
    for _ in range(2):
        again = invoke(args, input=queue_of(["a"], ["a"]))
        assert again.exit_code == 0 and again.stdout == ""
    # the resume point before the first batch, and the last batch's
    assert sorted(p.name for p in ck.glob("checkpoint-*")) == ["checkpoint-0.json", "checkpoint-2000.json"]


def test_dead_letters_are_written_exactly_once_across_a_sigkill(tmp_path):
    """Batch 2 wrote its dead letters, then was killed before its checkpoint: redone, it writes none twice."""
    import orjson

    queue = tmp_path / "q"
    queue.write_text(queue_of(["1", "x1"], ["2", "x2", "x3"], ["3", "x4"]))
    marker, dead = tmp_path / "stalled", tmp_path / "dead.jsonl"
    stall = (f"if t == 2000 and not os.path.exists({str(marker)!r}):\n"
             f"    open({str(marker)!r}, 'w').close(); time.sleep(60)\nreturn batch")
    args = [*installed_dstream(), "--import", "os", "--import", "time", "--queue", str(queue), "--checkpoint",
            str(tmp_path / "ck"), "--on-error", "skip", "--dead-letter", str(dead), "map", "int(x)",
            "transform", stall, "reduce", "sum", "emit"]
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(marker.exists, what="batch 2 to stall")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(dead.read_text().splitlines()) == 3  # x1, and batch 2's x2 and x3 before the kill
    again = subprocess.run(args, capture_output=True, text=True, timeout=30)
    assert again.returncode == 0, again.stderr
    entries = [orjson.loads(line) for line in dead.read_text().splitlines()]
    assert [e["record"] for e in entries] == ["x1", "x2", "x3", "x4"]
    assert [e["id"] for e in entries] == ["1000-1", "2000-1", "2000-2", "3000-1"]


# --- nothing lost, nothing counted twice --------------------------------------------------------------

def test_an_inverse_that_raises_recomputes_the_key_instead_of_dropping_it(tmp_path):
    queue = queue_of(*[[str(i)] for i in range(1, 13)])
    args = ["--queue", "-", "--on-error", "skip", "map", "('k', int(x))", "reduce-by-key-and-window", "sum", "5s"]
    right = invoke([*args, "--inverse", "a - b", "emit"], input=queue)
    flaky = invoke([*args, "--inverse", "a - b if b != 3 else 1 / 0", "emit"], input=queue)
    assert flaky.exit_code == 0, flaky.stderr
    assert flaky.stdout == right.stdout
    lines = right.stdout.splitlines()  # 8 + ... + 12 at 12 s; the window's last slide, at 16 s, holds 12 alone
    assert (lines[11], lines[-1], len(lines)) == ("k\t50", "k\t12", 16)


def test_records_arriving_after_a_late_batch_go_to_the_batch_of_their_arrival(tmp_path):
    """Batches run late (a slow stage) while stdin ends: a record sent later is not pulled into an earlier batch."""
    transform = "if batch == ['A']:\n    time.sleep(1.5)\nreturn [(t, x) for x in batch]"
    proc = subprocess.Popen([*installed_dstream(), "--import", "time", "--batch", "200ms", "transform", transform,
                             "emit"], stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    proc.stdin.write("A\n")
    proc.stdin.flush()
    time.sleep(1.0)
    sent_b = time.time() * 1000
    proc.stdin.write("B\n")
    proc.stdin.close()
    out, err = proc.stdout.read(), proc.stderr.read()
    proc.wait(timeout=30)
    assert proc.returncode == 0, err
    times = {x: int(t) for t, x in (line.split("\t") for line in out.splitlines())}
    # (a few ms of slack: the test's clock and dstream's stamps of arrival are read in two processes)
    assert times["A"] < sent_b - 5 <= times["B"] < sent_b + 1000


KEYED = ["map", "(x.split()[0], 1)", "reduce-by-key", "sum", "save-as-text-files"]


def file_totals(directory) -> tuple[dict, int]:
    import orjson

    totals: dict = {}
    count = 0
    for path in directory.glob("c-*"):
        for line in path.read_bytes().splitlines():
            key, n = orjson.loads(line)
            totals[key] = totals.get(key, 0) + n
            count += n
    return totals, count


def test_file_input_sigkilled_at_random_moments_gives_exactly_its_lines_once(tmp_path):
    """-i f=file: under --max-rate, killed 6 times: the batch files add up to the file, and equal an uninterrupted
    run's totals (a recomputed batch gets the same time and records, so it overwrites its own file)."""
    lines = 30000
    (tmp_path / "in.txt").write_text("".join(f"k{i % 7} {i}\n" for i in range(lines)))
    args = [*installed_dstream(), "-i", "f=file:in.txt", "--batch", "100ms", "--max-rate", "15000",
            "--checkpoint", "ck", "from", "f", *KEYED, "out/c", "--format", "json"]
    final = kill_and_restart(args, 6, seed=10, cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    totals, count = file_totals(tmp_path / "out")
    assert count == lines
    assert totals == {f"k{k}": sum(1 for i in range(lines) if i % 7 == k) for k in range(7)}


def test_watched_directory_sigkilled_at_random_moments_gives_every_file_once(tmp_path):
    """--watch with big files read under --max-rate, killed 5 times mid-file: every line counted once."""
    watched = tmp_path / "in"
    watched.mkdir()
    args = [*installed_dstream(), "--watch", "in", "--watch-existing", "--batch", "100ms", "--max-rate", "20000",
            "--checkpoint", "ck", *KEYED, "out/c", "--format", "json"]
    for n in range(4):
        (watched / f"part-{n}").write_text("".join(f"k{n} {i}\n" for i in range(8000)))
    killed = kill_and_restart(args[:1] + ["--run-for", "30s"] + args[1:], 5, seed=11, cwd=tmp_path)
    assert killed.returncode == 0 or killed.returncode is None
    totals, count = file_totals(tmp_path / "out")
    assert count == 32000 and totals == {f"k{n}": 8000 for n in range(4)}


# --- no hangs, no unbounded memory ---------------------------------------------------------------------

def test_a_silent_or_trickling_listen_client_is_disconnected_and_frees_its_slot(tmp_path):
    port = free_port()
    proc = subprocess.Popen([*installed_dstream(), "--listen", str(port), "--max-connections", "1",
                             "--client-timeout", "1s", "--batch", "200ms", "--run-for", "6s", "count", "emit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    wait_for(lambda: can_connect(port), what="the listener")
    trickler = socket.create_connection(("127.0.0.1", port))
    trickler.sendall(b"first\n")
    closed_after = None
    started = time.monotonic()
    trickler.settimeout(0.2)
    while time.monotonic() - started < 5:
        try:
            trickler.sendall(b"x")  # bytes, never a whole line
            if trickler.recv(1) == b"":
                closed_after = time.monotonic() - started
                break
        except TimeoutError:
            continue
        except OSError:
            closed_after = time.monotonic() - started
            break
    assert closed_after is not None and closed_after < 4
    with socket.create_connection(("127.0.0.1", port)) as second:  # the only slot is free again
        second.sendall(b"second\n")
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == 0, err
    assert sum(map(int, out.split())) == 3  # first, the trickled bytes as a last line, second


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    with open(f"/proc/{pid}/stat") as handle:
        return handle.read().split()[2] == "Z"


def test_a_hanging_foreach_batch_command_is_killed_with_its_children_after_its_timeout(tmp_path):
    pids = tmp_path / "pids"
    command = f"sleep 100 & echo $! >> {pids}; sleep 100"
    started = time.monotonic()
    result = run(["--queue", "-", "--output-retries", "0", "foreach-batch", command, "--timeout", "1s"], input="a\n")
    assert time.monotonic() - started < 10
    assert result.returncode == 1 and "still running after 1s for batch 1000 (--timeout); killed it" in result.stderr
    assert _gone(int(pids.read_text()))


def test_a_second_sigint_kills_a_running_foreach_batch_command(tmp_path):
    pid_file = tmp_path / "pid"
    command = f"echo $$ > {pid_file}; exec sleep 100"
    proc = subprocess.Popen([*installed_dstream(), "--queue", "-", "foreach-batch", command],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdin.write(b"a\n")
    proc.stdin.close()
    wait_for(lambda: pid_file.exists() and pid_file.read_text().strip(), what="the command to start")
    proc.send_signal(signal.SIGINT)
    time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=10) == 130
    wait_for(lambda: _gone(int(pid_file.read_text())), timeout=5, what="the command to be killed")


PEAK_RSS = """
import resource, subprocess, sys
run = subprocess.run(sys.argv[1:], stdin=sys.stdin, capture_output=True, text=True)
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024, run.returncode,
      sum(int(n) for n in run.stdout.split()), repr(run.stderr[-300:]))
"""
BIG_LINES = "import sys\nline = b'x' * 100_000 + b'\\n'\nfor _ in range(1000): sys.stdout.buffer.write(line)\n"
SLOW = ["--batch", "200ms", "--run-for", "3s", "--max-backlog-bytes", str(8 << 20), "--import", "time",
        "transform", "time.sleep(0.3) or batch", "count", "emit"]


def peak_rss_mb(args, stdin=subprocess.DEVNULL, input=None) -> tuple[int, int]:
    """Peak RSS in MB of a dstream run whose chain ends in `count emit`, and the records it counted."""
    result = subprocess.run([sys.executable, "-c", PEAK_RSS, *installed_dstream(), *args], stdin=stdin,
                            input=input, capture_output=True, text=True, timeout=60)
    peak, status, counted, stderr = result.stdout.split(" ", 3)
    assert status == "0", stderr
    return int(peak), int(counted)


def test_the_backlog_is_bounded_in_bytes_for_stdin(tmp_path):
    """100 MB in lines of 100 KB (few records, many bytes) against a slow chain: memory stays near the bound."""
    producer = subprocess.Popen([sys.executable, "-c", BIG_LINES], stdout=subprocess.PIPE)
    try:
        peak, counted = peak_rss_mb(SLOW, producer.stdout)
        assert peak < 100 and counted > 0
    finally:
        producer.kill()


def test_a_big_watched_file_is_read_under_the_same_bound(tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    with open(watched / "big.log", "wb") as handle:
        handle.write((b"x" * 100_000 + b"\n") * 1000)
    peak, counted = peak_rss_mb(["--watch", str(watched), "--watch-existing", *SLOW])
    assert peak < 100 and counted > 0


def test_a_flat_map_that_gives_30_million_records_streams_them(tmp_path):
    peak, counted = peak_rss_mb(["--queue", "-", "flat-map", "range(3 * 10**7)", "count", "emit"], input="x\n",
                                stdin=None)
    assert peak < 100 and counted == 3 * 10**7


def test_a_batch_killed_before_the_first_checkpoint_is_redone_with_its_own_time(tmp_path):
    """The first batch's file is written, then SIGKILL before its checkpoint (only the resume point written
    at the start is there): the restart keeps that run's batch times, so the batch is redone into the same
    file instead of counted again under a new time."""
    (tmp_path / "in.txt").write_text("".join(f"k {i}\n" for i in range(100)))
    marker = tmp_path / "stalled"
    args = [*installed_dstream(), "-i", "f=file:in.txt", "--batch", "200ms", "--checkpoint", "ck", "from", "f",
            *KEYED, "out/c", "--format", "json",
            "foreach-batch", f"test -e {marker} || {{ touch {marker}; sleep 60; }}"]
    proc = subprocess.Popen(args, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(marker.exists, what="the first batch's outputs")
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert len(list((tmp_path / "ck").glob("checkpoint-*"))) == 1 and len(list((tmp_path / "out").glob("c-*"))) == 1
    again = subprocess.run(args, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert again.returncode == 0, again.stderr
    assert file_totals(tmp_path / "out") == ({"k": 100}, 100)
