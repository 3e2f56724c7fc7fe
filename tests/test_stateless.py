"""Every stateless stage, batch by batch in --queue mode, through the CLI and the library alike.

Expected values follow PySpark's per-batch semantics (pyspark/streaming/dstream.py); where the
shape was in doubt (count and reduce of an empty batch, join/cogroup shapes) it was checked
against PySpark 4.3 in local[2] mode (scripts/spark_semantics.py prints those runs).
"""
import operator

import pytest

from dstream_cli import expr

CASES = {
    "map": dict(cli=["map", "x.upper()"], lib=lambda s: s.map(str.upper),
                input=[["a", "b"], [], ["ü"]], expected=[(1000, ["A", "B"]), (2000, []), (3000, ["Ü"])]),
    "flat-map": dict(cli=["flat-map", "x.split()"], lib=lambda s: s.flat_map(str.split),
                     input=[["a b", "c"], [], ["d  e"]], expected=[(1000, ["a", "b", "c"]), (2000, []), (3000, ["d", "e"])]),
    "filter": dict(cli=["filter", "len(x) > 1"], lib=lambda s: s.filter(lambda x: len(x) > 1),
                   input=[["a", "bb", "ccc"], ["d"]], expected=[(1000, ["bb", "ccc"]), (2000, [])]),
    "map-values": dict(cli=["map", "tuple(x.split())", "map-values", "int(v) * 2"],
                       lib=lambda s: s.map(lambda x: tuple(x.split())).map_values(lambda v: int(v) * 2),
                       input=[["a 1", "b 2"]], expected=[(1000, [("a", 2), ("b", 4)])]),
    "flat-map-values": dict(cli=["key-by", "x[0]", "flat-map-values", "list(v)"],
                            lib=lambda s: s.key_by(lambda x: x[0]).flat_map_values(list),
                            input=[["ab", "é"]], expected=[(1000, [("a", "a"), ("a", "b"), ("é", "é")])]),
    "key-by": dict(cli=["key-by", "len(x)"], lib=lambda s: s.key_by(len),
                   input=[["aa", "b"]], expected=[(1000, [(2, "aa"), (1, "b")])]),
    "parse": dict(cli=["parse", "json", "map", "x['n']"], lib=lambda s: s.parse("json").map(lambda x: x["n"]),
                  input=[['{"n": 1}', '{"n": "ü"}']], expected=[(1000, [1, "ü"])]),
    # PySpark: reduce of an empty batch yields nothing; count of an empty batch yields 0 (checked on Spark)
    "reduce": dict(cli=["map", "int(x)", "reduce", "sum"], lib=lambda s: s.map(int).reduce(operator.add),
                   input=[["1", "2", "3"], []], expected=[(1000, [6]), (2000, [])]),
    "count": dict(cli=["count"], lib=lambda s: s.count(), input=[["a", "a"], []], expected=[(1000, [2]), (2000, [0])]),
    "count-by-value": dict(cli=["count-by-value"], lib=lambda s: s.count_by_value(),
                           input=[["a", "b", "a", "ü"], []],
                           expected=[(1000, [("a", 2), ("b", 1), ("ü", 1)]), (2000, [])]),
    "reduce-by-key": dict(cli=["map", "(x, 1)", "reduce-by-key", "sum"],
                          lib=lambda s: s.map(lambda x: (x, 1)).reduce_by_key(operator.add),
                          input=[["a", "b", "a"], ["b"]], expected=[(1000, [("a", 2), ("b", 1)]), (2000, [("b", 1)])]),
    "reduce-by-key-expression": dict(cli=["map", "(x[0], x)", "reduce-by-key", "a + '|' + b"],
                                     lib=lambda s: s.map(lambda x: (x[0], x)).reduce_by_key(lambda a, b: a + "|" + b),
                                     input=[["ab", "ac", "b"]], expected=[(1000, [("a", "ab|ac"), ("b", "b")])]),
    "group-by-key": dict(cli=["key-by", "x[0]", "group-by-key"], lib=lambda s: s.key_by(lambda x: x[0]).group_by_key(),
                         input=[["ab", "ac", "b"]], expected=[(1000, [("a", ["ab", "ac"]), ("b", ["b"])])]),
    "distinct": dict(cli=["distinct"], lib=lambda s: s.distinct(), input=[["b", "a", "b"]], expected=[(1000, ["b", "a"])]),
    "transform": dict(cli=["transform", "sorted(batch) + [t]"], lib=lambda s: s.transform(lambda t, b: sorted(b) + [t]),
                      input=[["b", "a"], []], expected=[(1000, ["a", "b", 1000]), (2000, [2000])]),
    "repartition": dict(cli=["repartition", "3"], lib=lambda s: s.repartition(3), input=[["a", "b"]],
                        expected=[(1000, ["a", "b"])]),
    "min-max": dict(cli=["map", "int(x)", "reduce", "max"], lib=lambda s: s.map(int).reduce(max),
                    input=[["3", "10", "2"]], expected=[(1000, [10])]),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_stateless_stage(entry_point, name):
    """Each stage's batches equal PySpark's, empty batches included, through every entry point."""
    case = CASES[name]
    assert entry_point(case) == case["expected"]


def test_fused_chain_of_many_stages(entry_point):
    """Consecutive stateless stages run as one fused node and still apply in order."""
    case = dict(cli=["flat-map", "x.split()", "filter", "x != 'the'", "map", "(x, 1)", "reduce-by-key", "sum",
                     "filter", "x[1] > 1"],
                lib=lambda s: s.flat_map(str.split).filter(lambda x: x != "the").map(lambda x: (x, 1))
                .reduce_by_key(operator.add).filter(lambda kv: kv[1] > 1),
                input=[["the cat the dog", "cat"], ["dog"]])
    assert entry_point(case) == [(1000, [("cat", 2)]), (2000, [])]


def test_batches_pads_the_queue_with_empty_batches(entry_point):
    """--batches N runs N batches even when the queue is shorter (count yields 0 for each empty one)."""
    case = dict(cli=["count"], lib=lambda s: s.count(), input=[["a"]])
    assert entry_point(case, options=["--batches", "3"]) == [(1000, [1]), (2000, [0]), (3000, [0])]


def test_batch_times_follow_start_time_and_interval(tmp_path):
    """Batch i is at (i + 1) * batch after --start-time."""
    from conftest import cli_batches

    got = cli_batches(tmp_path, ["count"], [["a"], ["b"]], ["--start-time", "10000"], batch="250ms")
    assert got == [(10250, [1]), (10500, [1])]


def test_named_reducers_and_module_functions():
    """sum/min/max name binary reducers; module:function imports a function."""
    assert expr.binary_reducer("sum", "t")(2, 3) == 5
    assert expr.binary_reducer("min", "t")(2, 3) == 2
    assert expr.binary_reducer("operator:mul", "t")(2, 3) == 6
    assert expr.binary_reducer("lambda p, q: p - q", "t")(2, 3) == -1
    assert expr.state_updater("count", "t")([1, 1], 3) == 5
    assert expr.state_updater("last", "t")([], "s") == "s"


def test_expressions_see_preloaded_and_imported_modules(tmp_path):
    """re, math, json, ... are there; --import adds a module; a statement body with return works."""
    from conftest import cli_batches

    got = cli_batches(tmp_path, ["map", "math.floor(float(x)) + len(re.findall('5', x))", "map",
                                 "y = x * 2\nreturn y", "map", "statistics.mean([x, 0])"],
                      [["2.5"]], ["--import", "statistics"])
    assert got == [(1000, [3])]


def test_input_formats(tmp_path):
    """--format json/csv/tsv parse each input line into a record."""
    from conftest import cli_batches

    assert cli_batches(tmp_path / "j", ["map", "x['a']"], [['{"a": [1, 2]}']], ["--format", "json"]) == [(1000, [[1, 2]])]
    assert cli_batches(tmp_path / "c", ["map", "x"], [['a,"b,c",d']], ["--format", "csv"]) == [(1000, [["a", "b,c", "d"]])]
    assert cli_batches(tmp_path / "t", ["map", "x"], [["a\tb"]], ["--format", "tsv"]) == [(1000, [["a", "b"]])]
