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
        if entry_point.name == "cli":
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
