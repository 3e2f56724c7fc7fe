"""--checkpoint: exact round trips, resume after SIGKILL equal to an uninterrupted run, refusals and fallback."""
import math
import os
import signal
import subprocess
import time

import pytest

from conftest import installed_dstream, invoke, queue_text
from dstream_cli.checkpoint import Unsaveable, decode, encode

import orjson


@pytest.mark.parametrize("value", [
    None, True, 0, -(1 << 70), 1.5, "ü", [1, (2, "x")], (), ((1,),), {"a": (1, 2), (1, "k"): [None]},
    {1, 2}, frozenset({"a"}), b"\xff\x00", [{"d": 1}], {"t": [1]}, float("inf"),
    [1 << 70, 1], [-(1 << 63) - 1], [1.5, float("-inf")], [True, 1, None, "s", 2.0], ["a", ("b",)], [[1], 2],
])
def test_values_round_trip_exactly(value):
    """Tuples stay tuples, ints stay ints, dict keys keep their types; nothing is pickled."""
    again = decode(orjson.loads(orjson.dumps(encode(value))))
    assert again == value and type(again) is type(value)
    assert repr(again) == repr(value)


def test_nan_round_trips():
    assert math.isnan(decode(orjson.loads(orjson.dumps(encode(float("nan"))))))


def test_a_value_that_cannot_be_saved_names_where_and_the_type():
    with pytest.raises(Unsaveable, match="type object"):
        encode({"k": object()}, "stage 'x'")


def test_unsaveable_state_is_a_runtime_error(tmp_path):
    result = invoke(["--queue", "-", "--checkpoint", tmp_path / "ck", "map", "(x, 1)", "update-state",
                     "object()"], input="a\n")
    assert result.exit_code == 1
    assert "cannot checkpoint" in result.stderr and "object" in result.stderr


QUEUE = queue_text([["a b", "c"], ["a"], [], ["b b"], ["c a"], [], ["a"], [], ["d"], ["a b c d"], [], ["e"]])
CHAIN = ["map", "(x, 1)", "as", "p",
         "update-state", "sum", "save-as-text-files", "{out}/state",
         "from", "p", "reduce-by-key-and-window", "sum", "5s", "--inverse", "a - b", "save-as-text-files", "{out}/inv",
         "from", "p", "window", "3s", "2s", "save-as-text-files", "{out}/win"]


def run_chain(tmp_path, name, extra_stages=(), check=True):
    out = tmp_path / name
    stages = [s.format(out=out) for s in CHAIN]
    args = [*installed_dstream(), "--queue", str(tmp_path / "q"), "--batches", "14",
            "--checkpoint", str(tmp_path / f"ck-{name}"), "flat-map", "x.split()", *extra_stages, *stages]
    return out, args


def files(directory):
    return {name: (directory / name).read_text() for name in sorted(os.listdir(directory)) if not name.startswith(".")}


def test_sigkill_and_resume_equals_an_uninterrupted_run(tmp_path):
    """Kill a run mid-batch (SIGKILL), restart with the same checkpoint: the same files as a run never killed."""
    (tmp_path / "q").write_text(QUEUE)
    whole, args = run_chain(tmp_path, "whole")
    assert subprocess.run(args, capture_output=True, timeout=60).returncode == 0

    marker = tmp_path / "stalled"
    stall = ["--import", "time", "--import", "os"]
    transform = (f"if t == 7000 and not os.path.exists({str(marker)!r}):\n"
                 f"    open({str(marker)!r}, 'w').close(); time.sleep(60)\nreturn batch")
    resumed, args = run_chain(tmp_path, "resumed", ["transform", transform])
    args[1:1] = stall
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None, proc.stderr.read()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert "state-7000" not in os.listdir(resumed)  # killed in the middle of batch 7
    restarted = subprocess.run(args, capture_output=True, text=True, timeout=60)
    assert restarted.returncode == 0, restarted.stderr
    assert files(resumed) == files(whole)
    assert len(files(whole)) == 14 + 14 + 7


def test_checkpoint_of_another_chain_is_refused(tmp_path):
    ck = str(tmp_path / "ck")
    assert invoke(["--queue", "-", "--checkpoint", ck, "map", "(x, 1)", "update-state", "sum"], input="a\n").exit_code == 0
    other = invoke(["--queue", "-", "--checkpoint", ck, "map", "(x, 2)", "update-state", "sum"], input="a\n")
    assert other.exit_code == 2
    assert "written for another chain" in other.stderr and "(x, 1)" in other.stderr and "(x, 2)" in other.stderr
    batch = invoke(["--batch", "2s", "--queue", "-", "--checkpoint", ck, "map", "(x, 1)", "update-state", "sum"],
                   input="a\n")
    assert batch.exit_code == 2
    assert "--batch 1s, not 2s" in batch.stderr


def test_resume_continues_state_and_time(tmp_path):
    ck = str(tmp_path / "ck")
    first = invoke(["--queue", "-", "--checkpoint", ck, "map", "(x, 1)", "update-state", "sum", "print"],
                   input=queue_text([["a"], ["a", "b"]]))
    assert first.exit_code == 0
    second = invoke(["--queue", "-", "--checkpoint", ck, "--batches", "3", "map", "(x, 1)", "update-state", "sum",
                     "emit"], input=queue_text([["a"], ["a", "b"], ["a"]]))
    assert second.exit_code == 0, second.stderr
    assert second.stdout == "a\t3\nb\t1\n"  # only batch 3 was left: the queue was skipped to where it stood


def test_corrupt_latest_checkpoint_falls_back_to_the_previous_one(tmp_path):
    ck = tmp_path / "ck"
    invoke(["--queue", "-", "--checkpoint", ck, "--checkpoint-interval", "1s", "map", "(x, 1)", "update-state", "sum"],
           input=queue_text([["a"], ["a"], ["a"]]))
    newest = sorted(ck.glob("checkpoint-*.json"), key=lambda p: int(p.name.split("-")[1].split(".")[0]))[-1]
    assert newest.name == "checkpoint-3000.json"
    newest.write_bytes(newest.read_bytes()[:20])  # truncated
    result = invoke(["--queue", "-", "--checkpoint", ck, "--batches", "3", "map", "(x, 1)", "update-state", "sum"],
                    input=queue_text([["a"], ["a"], ["a"]]))
    assert result.exit_code == 0
    assert "checkpoint-3000.json is unreadable" in result.stderr
    assert result.stdout == "a\t3\n"  # batch 3 redone from the checkpoint of batch 2


def test_checkpoint_files_are_owner_only_and_pickle_free(tmp_path):
    ck = tmp_path / "ck"
    invoke(["--queue", "-", "--checkpoint", ck, "map", "(x, (1, 'y'))", "update-state", "last"], input="a\n")
    assert sorted(p.name for p in ck.glob("checkpoint-*.json")) == ["checkpoint-0.json", "checkpoint-1000.json"]
    path = ck / "checkpoint-1000.json"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    document = orjson.loads(path.read_bytes())
    assert document["format"] == "dstream-checkpoint" and document["version"] == 2
