"""Window stages, batch by batch in --queue mode, through the CLI and the library.

Every expected table below was produced by PySpark 4.3 in local[2] mode on the same input
(scripts/spark_semantics.py), including its visible quirks: an inverse function is used only for
windows of at least 5 slides, and then keys whose value fell to 0 stay unless --filter drops them.
"""
import operator

import pytest

DATA = [["a", "b", "a"], ["b"], [], ["c"]]  # then empty batches, drained with --batches 10


def T(*batches):
    return [(1000 * (i + 1), b) for i, b in enumerate(batches)]


def pairs(s):
    return s.map(lambda x: (x, 1))


CASES = {
    # window 5 slides long with an inverse: incremental, zero-valued keys stay (Spark)
    "rbkw-inverse-5": (
        ["map", "(x, 1)", "reduce-by-key-and-window", "sum", "5s", "1s", "--inverse", "a - b"],
        lambda s: pairs(s).reduce_by_key_and_window(operator.add, operator.sub, 5, 1),
        T([("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2), ("c", 1)],
          [("a", 2), ("b", 2), ("c", 1)], [("a", 0), ("b", 1), ("c", 1)], [("a", 0), ("b", 0), ("c", 1)],
          [("a", 0), ("b", 0), ("c", 1)], [("a", 0), ("b", 0), ("c", 0)], [("a", 0), ("b", 0), ("c", 0)])),
    "rbkw-inverse-filter": (
        ["map", "(x, 1)", "reduce-by-key-and-window", "sum", "5s", "1s", "--inverse", "a - b", "--filter", "x[1] > 0"],
        lambda s: pairs(s).reduce_by_key_and_window(operator.add, operator.sub, 5, 1, filter_func=lambda kv: kv[1] > 0),
        T([("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2), ("c", 1)],
          [("a", 2), ("b", 2), ("c", 1)], [("b", 1), ("c", 1)], [("c", 1)], [("c", 1)], [], [])),
    # shorter than 5 slides: PySpark recomputes, so no zero-valued keys appear
    "rbkw-inverse-3": (
        ["map", "(x, 1)", "reduce-by-key-and-window", "sum", "3s", "--inverse", "a - b"],
        lambda s: pairs(s).reduce_by_key_and_window(operator.add, operator.sub, 3, 1),
        T([("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2)], [("b", 1), ("c", 1)], [("c", 1)],
          [("c", 1)], [], [], [], [])),
    "rbkw-no-inverse": (
        ["map", "(x, 1)", "reduce-by-key-and-window", "sum", "3s", "1s"],
        lambda s: pairs(s).reduce_by_key_and_window(operator.add, None, 3, 1),
        T([("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2)], [("b", 1), ("c", 1)], [("c", 1)],
          [("c", 1)], [], [], [], [])),
    "count-by-window-5": (
        ["count-by-window", "5s", "1s"], lambda s: s.count_by_window(5, 1),
        T([3], [4], [4], [5], [5], [2], [1], [1], [0], [0])),
    "count-by-window-3": (
        ["count-by-window", "3s", "1s"], lambda s: s.count_by_window(3, 1),
        T([3], [4], [4], [2], [1], [1], [], [], [], [])),
    "reduce-by-window": (
        ["map", "len(x)", "reduce-by-window", "sum", "3s", "1s"],
        lambda s: s.map(len).reduce_by_window(operator.add, None, 3, 1),
        T([3], [4], [4], [2], [1], [1], [], [], [], [])),
    "reduce-by-window-inverse": (
        ["map", "len(x)", "reduce-by-window", "sum", "5s", "1s", "--inverse", "a - b"],
        lambda s: s.map(len).reduce_by_window(operator.add, operator.sub, 5, 1),
        T([3], [4], [4], [5], [5], [2], [1], [1], [0], [0])),
    "count-by-value-and-window": (
        ["count-by-value-and-window", "5s", "1s"], lambda s: s.count_by_value_and_window(5, 1),
        T([("a", 2), ("b", 1)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2)], [("a", 2), ("b", 2), ("c", 1)],
          [("a", 2), ("b", 2), ("c", 1)], [("b", 1), ("c", 1)], [("c", 1)], [("c", 1)], [], [])),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_window_stage_matches_spark(entry_point, name):
    cli, lib, expected = CASES[name]
    got = entry_point(dict(cli=cli, lib=lib, input=DATA), options=["--batches", "10"])
    assert [(t, sorted(b, key=repr)) for t, b in got] == expected


def test_window_with_slide_outputs_only_at_slide_times(entry_point):
    """window 3s 2s: output at 2s, 4s, ...; the first window is partial (Spark)."""
    case = dict(cli=["window", "3s", "2s"], lib=lambda s: s.window(3, 2), input=DATA)
    got = entry_point(case, options=["--batches", "10"])
    assert [(t, sorted(b)) for t, b in got] == [
        (2000, ["a", "a", "b", "b"]), (4000, ["b", "c"]), (6000, ["c"]), (8000, []), (10000, [])]


def test_window_longer_than_the_data_runs_through_its_last_slide(entry_point):
    """The input ends at 4s; every window that holds any of its records is computed (the last at 23s). (20 s,
    not a minute: on Spark each batch takes its interval of real time.)"""
    case = dict(cli=["window", "20s", "count"], lib=lambda s: s.window(20, 1).count(), input=DATA)
    assert entry_point(case) == T([3], [4], [4], *[[5]] * 17, [2], [1], [1])


def test_stages_after_a_window_run_only_at_slide_times(entry_point):
    case = dict(cli=["window", "4s", "2s", "count"], lib=lambda s: s.window(4, 2).count(), input=DATA)
    assert entry_point(case, options=["--batches", "6"]) == [(2000, [4]), (4000, [5]), (6000, [1])]


def test_window_of_a_window(entry_point):
    """A window's slide is the next window's unit: 4s windows every 2s, then 4s of those every 4s."""
    case = dict(cli=["window", "2s", "2s", "window", "4s", "4s"], lib=lambda s: s.window(2, 2).window(4, 4),
                input=[["1"], ["2"], ["3"], ["4"]])
    assert entry_point(case) == [(4000, ["1", "2", "3", "4"])]


def test_inverse_window_touches_only_the_batches_that_enter_and_leave():
    """The incremental path calls the inverse once per key leaving and never re-reduces the window."""
    from dstream_cli import RunOptions, StreamingContext

    calls = {"func": 0, "inverse": 0}

    def add(a, b):
        calls["func"] += 1
        return a + b

    def sub(a, b):
        calls["inverse"] += 1
        return a - b

    ssc = StreamingContext(1)
    ssc.queue_stream([["k"]] * 200).map(lambda x: (x, 1)).reduce_by_key_and_window(add, sub, 100, 1).foreach_batch(
        lambda b: None)
    ssc.run(RunOptions(batches=200))
    # per batch after the first window: one merge of the entering batch, one inverse of the leaving one
    assert calls["inverse"] == 100
    assert calls["func"] < 3 * 200


def test_a_window_over_an_inverse_window_sees_each_time_its_own_contents():
    """The inverse window is updated in place; a later window that asks for its older times must still get
    each time's own pairs, as an output collecting it batch by batch sees them."""
    from dstream_cli import RunOptions, StreamingContext

    data = [[f"k{(i * j) % 9}" for j in range(i % 4 + 1)] for i in range(30)]

    def run(then_window: bool) -> list:
        seen = []
        ssc = StreamingContext(1)
        windowed = ssc.queue_stream(data).map(lambda x: (x, 1)).reduce_by_key_and_window(
            operator.add, operator.sub, 5, 1)
        (windowed.window(3, 1) if then_window else windowed).foreach_batch(lambda t, b: seen.append((t, b)))
        ssc.run(RunOptions(batches=30))
        return seen

    each = dict(run(False))
    for t, batch in run(True):
        assert batch == [pair for u in (t - 2000, t - 1000, t) if u in each for pair in each[u]], t


@pytest.mark.parametrize("killed_at", [9000, 18000], ids=["while-reading", "after-the-input-ended"])
def test_an_inverse_window_killed_between_checkpoints_resumes_to_the_same_files(tmp_path, killed_at):
    from conftest import StallThenKill, files_in, installed_dstream, queue_text

    queue = tmp_path / "queue"
    queue.write_text(queue_text([[f"k{(i * j) % 11}" for j in range(i % 5 + 1)] for i in range(16)]))
    stall = StallThenKill(killed_at, tmp_path / "stalled")

    def command(out: str) -> list[str]:
        return [*installed_dstream(), *stall.imports, "--queue", str(queue),
                "--checkpoint", str(tmp_path / f"ck-{out}"),
                "--checkpoint-interval", "4s", "map", "(x, 1)", "reduce-by-key-and-window", "sum", "6s", "1s",
                "--inverse", "a - b", "--filter", "x[1] > 0", *stall.stage, "save-as-text-files",
                str(tmp_path / out / "w"), "--format", "repr"]

    stall.run(command)
    stall.resume(command)
    straight = files_in(tmp_path / "straight")
    # 16 batches, and the slides to 21 s of the window (6 s) that still holds the last batch
    assert len(straight) == 21 and files_in(tmp_path / "killed") == straight
