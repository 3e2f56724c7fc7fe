"""update-state (Spark's updateStateByKey), batch by batch; expected values checked on PySpark 4.3."""
from conftest import invoke, queue_text


def test_state_update_removes_keys_returning_none_and_keys_come_back(entry_point):
    """Spark: a key whose function returns None leaves the state; new values bring it back from None."""
    update = "None if (state or 0) + sum(values) >= 3 else (state or 0) + sum(values)"
    case = dict(cli=["map", "(x, 1)", "update-state", update],
                lib=lambda s: s.map(lambda x: (x, 1)).update_state_by_key(
                    lambda vs, st: None if (st or 0) + sum(vs) >= 3 else (st or 0) + sum(vs)),
                input=[["a", "b"], ["a"], [], ["b", "b"], [], ["b"]])
    got = [(t, sorted(b)) for t, b in entry_point(case)]
    assert got == [(1000, [("a", 1), ("b", 1)]), (2000, [("a", 2), ("b", 1)]), (3000, [("a", 2), ("b", 1)]),
                   (4000, [("a", 2)]), (5000, [("a", 2)]), (6000, [("a", 2), ("b", 1)])]


def test_function_sees_values_in_arrival_order_and_empty_lists(entry_point):
    case = dict(cli=["map", "tuple(x.split())", "update-state", "(state or []) + [values]"],
                lib=lambda s: s.map(lambda x: tuple(x.split())).update_state_by_key(lambda vs, st: (st or []) + [vs]),
                input=[["k 1", "k 2"], [], ["k 3"]])
    assert entry_point(case) == [(1000, [("k", [["1", "2"]])]), (2000, [("k", [["1", "2"], []])]),
                                 (3000, [("k", [["1", "2"], [], ["3"]])])]


def test_named_state_functions(entry_point):
    for name, expected in (("sum", [("a", 3)]), ("count", [("a", 2)]), ("last", [("a", 2)])):
        case = dict(cli=["map", "tuple([x[0], int(x[1])])", "update-state", name],
                    lib=None, input=[["a1", "a2"]])
        if entry_point.name != "library":  # the named forms are the command line's spellings
            assert entry_point(case) == [(1000, expected)], name


def test_timeout_removes_idle_keys(entry_point):
    """--timeout 2s: a key with no values for 2s is removed without a call."""
    case = dict(cli=["map", "(x, 1)", "update-state", "sum", "--timeout", "2s"],
                lib=lambda s: s.map(lambda x: (x, 1)).update_state_by_key(lambda vs, st: sum(vs) + (st or 0),
                                                                           timeout="2s"),
                input=[["a", "b"], ["b"], [], ["b"], [], []])
    got = [(t, sorted(b)) for t, b in entry_point(case)]
    assert got == [(1000, [("a", 1), ("b", 1)]), (2000, [("a", 1), ("b", 2)]), (3000, [("b", 2)]),
                   (4000, [("b", 3)]), (5000, [("b", 3)]), (6000, [])]


def test_state_without_checkpoint_warns_once():
    result = invoke(["--queue", "-", "map", "(x, 1)", "update-state", "sum"], input=queue_text([["a"], ["a"]]))
    assert result.stderr.count("keeps its state in memory only") == 1
    assert result.stdout == "a\t1\na\t2\n"


def test_a_window_over_update_state_sees_each_time_its_own_state():
    """update-state with a named updater updates its state in place; a window asking for its older times
    must still get each time's own pairs, as an output collecting them batch by batch sees them."""
    from dstream_cli import RunOptions, StreamingContext
    from dstream_cli.expr import state_updater

    data = [[f"k{(i * j) % 7}" for j in range(i % 3 + 1)] for i in range(20)]

    def run(then_window: bool) -> list:
        seen = []
        ssc = StreamingContext(1)
        state = ssc.queue_stream(data).map(lambda x: (x, 1)).update_state_by_key(state_updater("sum", "t"))
        (state.window(3, 1) if then_window else state).foreach_batch(lambda t, b: seen.append((t, b)))
        ssc.run(RunOptions(batches=20))
        return seen

    each = dict(run(False))
    totals: dict = {}
    for batch in data:
        for key in batch:
            totals[key] = totals.get(key, 0) + 1
    assert each[20000] == list(totals.items())
    for t, batch in run(True):
        assert batch == [pair for u in (t - 2000, t - 1000, t) if u in each for pair in each[u]], t
