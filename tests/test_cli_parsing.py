"""Chained-stage parsing: options after arguments, optional arguments that stop at a stage name, help."""
import pytest

from conftest import invoke, queue_text
from dstream_cli.cli.stages import STAGES


def test_options_may_follow_stage_arguments():
    """--inverse after the window arguments belongs to the window stage, not to click's parser."""
    result = invoke(["--queue", "-", "map", "(x, 1)", "reduce-by-key-and-window", "sum", "2s", "1s",
                     "--inverse", "a - b", "emit"], input=queue_text([["a"], ["a"]]))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a\t1\na\t2\na\t1\n"  # the window's last slide (3 s) still holds the second a


def test_optional_slide_does_not_swallow_the_next_stage():
    result = invoke(["--queue", "-", "window", "2s", "count", "emit"], input=queue_text([["a"], ["b"]]))
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "1\n2\n1\n"


def test_optional_print_num_does_not_swallow_the_next_stage(local_tz):
    local_tz("UTC")
    result = invoke(["--queue", "-", "print", "emit"], input="a\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout.endswith("a\n\na\n")


def test_next_stage_options_are_not_taken_by_the_previous_stage():
    result = invoke(["--queue", "-", "map", "x", "emit", "--format", "json"], input="a\n")
    assert result.stdout == '"a"\n'


def test_expression_starting_with_a_dash_after_double_dash():
    result = invoke(["--queue", "-", "map", "int(x)", "map", "--", "-x", "emit"], input="3\n")
    assert result.stdout == "-3\n"


def test_expression_starting_with_a_dash_without_double_dash_is_an_unknown_option():
    result = invoke(["--queue", "-", "map", "-1", "emit"], input="3\n")
    assert result.exit_code == 2
    assert "No such option '-1'" in result.stderr


@pytest.mark.parametrize("args,message", [
    (["--batch", "2x", "count"], "'2x' is not a duration"),
    (["window", "5", "print"], None),
    (["print", "map", "x"], None),
    (["nosuchstage"], "No such command 'nosuchstage'"),
    (["--listen", "nope", "count"], "is not [HOST:]PORT"),
    (["-i", "x=ftp://a", "count"], "is not an input URI"),
])
def test_usage_errors_exit_2(args, message):
    result = invoke(["--queue", "-", *args], input="a\n")
    if message is None:  # valid chains
        assert result.exit_code == 0, result.stderr
    else:
        assert result.exit_code == 2
        assert message in result.stderr


def test_window_not_a_multiple_of_the_batch_names_both_and_suggests():
    result = invoke(["--batch", "2s", "--queue", "-", "map", "(x, 1)", "reduce-by-key-and-window", "sum", "25s"],
                    input="a\n")
    assert result.exit_code == 2
    assert result.stderr.strip() == ("dstream: stage 2 (reduce-by-key-and-window): window 25s is not a multiple of"
                                     " --batch 2s (try 24s or 26s)")


def test_filter_without_inverse_is_refused():
    result = invoke(["--queue", "-", "reduce-by-key-and-window", "sum", "5s", "--filter", "x[1] > 0"], input="a\n")
    assert result.exit_code == 2
    assert "--filter needs --inverse" in result.stderr


@pytest.mark.parametrize("command", [c.name for c in STAGES])
def test_every_stage_has_help_ending_with_an_example(command):
    result = invoke([command, "--help"])
    assert result.exit_code == 0
    lines = [line for line in result.stdout.splitlines() if line.strip()]
    example = result.stdout.split("Example:")[1].split("Options:")[0].strip()
    assert example.startswith("dstream ")
    assert any("Example:" in line for line in lines)


def test_version_and_top_level_help():
    assert invoke(["--version"]).output.startswith("dstream 0.")
    result = invoke(["--help"])
    assert result.exit_code == 0
    for command in STAGES:
        assert command.name in result.stdout
