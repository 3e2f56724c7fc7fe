"""Several streams: as/from, union, the joins and cogroup, batch by batch over named queue inputs.

Shapes are PySpark's, checked on PySpark 4.3 local[2]: join (k, (v, w)) for every pair of values,
outer joins with None on the missing side, cogroup (k, ([left values], [right values])).
"""
from conftest import invoke, queue_text, read_batch_files


def run_two(tmp_path, engine, left, right, stages, fmt="json"):
    (tmp_path / "left.q").write_text(queue_text(left))
    (tmp_path / "right.q").write_text(queue_text(right))
    prefix = str(tmp_path / "out" / "o")
    result = invoke([*engine.options, "--format", fmt, "-i", f"l=queue:{tmp_path / 'left.q'}", "-i", f"r=queue:{tmp_path / 'right.q'}",
                     "from", "l", "map", "tuple(x) if isinstance(x, list) else x", "as", "left",
                     "from", "r", "map", "tuple(x) if isinstance(x, list) else x", "as", "right",
                     "from", "left", *stages, "save-as-text-files", prefix, "--format", "repr"])
    assert result.exit_code == 0, result.stderr
    return engine.wrap(read_batch_files(prefix))


LEFT = [['["a", 1]', '["a", 2]', '["b", 3]'], [], ['["ü", 5]']]
RIGHT = [['["a", "x"]', '["c", "y"]'], ['["a", "z"]'], ['["ü", "é"]']]


def test_join_pairs_every_left_value_with_every_right_value(tmp_path, engine):
    """join: per batch, (k, (v, w)) for matching keys only."""
    assert run_two(tmp_path, engine, LEFT, RIGHT, ["join", "right"]) == [
        (1000, [("a", (1, "x")), ("a", (2, "x"))]), (2000, []), (3000, [("ü", (5, "é"))])]


def test_left_outer_join_keeps_unmatched_left_keys_with_none(tmp_path, engine):
    assert run_two(tmp_path, engine, LEFT, RIGHT, ["left-outer-join", "right"]) == [
        (1000, [("a", (1, "x")), ("a", (2, "x")), ("b", (3, None))]), (2000, []), (3000, [("ü", (5, "é"))])]


def test_right_outer_join_keeps_unmatched_right_keys_with_none(tmp_path, engine):
    assert run_two(tmp_path, engine, LEFT, RIGHT, ["right-outer-join", "right"]) == [
        (1000, [("a", (1, "x")), ("a", (2, "x")), ("c", (None, "y"))]), (2000, [("a", (None, "z"))]),
        (3000, [("ü", (5, "é"))])]


def test_full_outer_join_keeps_both_sides(tmp_path, engine):
    assert run_two(tmp_path, engine, LEFT, RIGHT, ["full-outer-join", "right"]) == [
        (1000, [("a", (1, "x")), ("a", (2, "x")), ("b", (3, None)), ("c", (None, "y"))]),
        (2000, [("a", (None, "z"))]), (3000, [("ü", (5, "é"))])]


def test_cogroup_lists_values_of_both_sides(tmp_path, engine):
    assert run_two(tmp_path, engine, LEFT, RIGHT, ["cogroup", "right"]) == [
        (1000, [("a", ([1, 2], ["x"])), ("b", ([3], [])), ("c", ([], ["y"]))]),
        (2000, [("a", ([], ["z"]))]), (3000, [("ü", ([5], ["é"]))])]


def test_union_appends_the_other_stream_batch_by_batch(tmp_path, engine):
    assert run_two(tmp_path, engine, [["1"], ["2"]], [["3"], [], ["4"]], ["union", "right"]) == [
        (1000, [1, 3]), (2000, [2]), (3000, [4])]


def test_as_and_from_branch_one_stream_into_two_outputs(tmp_path, engine):
    """A named stream can feed several branches, each with its own output."""
    prefix_a, prefix_b = str(tmp_path / "a" / "o"), str(tmp_path / "b" / "o")
    result = invoke([*engine.options, "--queue", "-", "flat-map", "x.split()", "as", "words", "count",
                     "save-as-text-files", prefix_a, "--format", "repr", "from", "words", "distinct",
                     "save-as-text-files", prefix_b, "--format", "repr"], input=queue_text([["a b a"], ["c"]]))
    assert result.exit_code == 0, result.stderr
    assert engine.wrap(read_batch_files(prefix_a)) == [(1000, [3]), (2000, [1])]
    assert engine.wrap(read_batch_files(prefix_b)) == [(1000, ["a", "b"]), (2000, ["c"])]


def test_join_with_a_windowed_stream_of_another_slide_is_refused(tmp_path, engine):
    """Streams combined batch by batch must have the same slide."""
    result = invoke([*engine.options, "--queue", "-", "as", "raw", "window", "4s", "2s", "join", "raw"], input="a\n")
    assert result.exit_code == 2
    assert "different slides" in result.stderr


def test_unknown_stream_name_is_a_usage_error(tmp_path):
    result = invoke(["--queue", "-", "join", "nope"], input="a\n")
    assert result.exit_code == 2
    assert "stage 1 (join): no stream or input named 'nope'" in result.stderr


def test_queue_and_live_inputs_cannot_be_mixed(tmp_path):
    (tmp_path / "r.q").write_text("a\n")
    result = invoke(["-i", f"r=queue:{tmp_path / 'r.q'}", "union", "r"], input="a\n")
    assert result.exit_code == 2
    assert "if any input is queue:, all must be" in result.stderr
