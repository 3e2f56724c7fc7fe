"""The fast paths give exactly what the general path gives; start-up imports only what it needs."""
import subprocess
import sys

import orjson
import pytest

from conftest import invoke, queue_text

WORDS = queue_text([["The cat", "the CAT sat", "on", ""], [], ["Mat mat MAT", "x"], ["a b", "B a"]])

# Each pair: a chain the fast path recognises, and one that means the same but that no shape matches.
SAME = [
    (["map", "(x.lower(), 1)", "reduce-by-key", "sum"],
     ["map", "(x.lower(), 1) if True else 0", "reduce-by-key", "sum"]),
    (["map", "(x.lower(), 3)", "reduce-by-key", "a + b"],
     ["map", "(x.lower(), 3) if True else 0", "reduce-by-key", "b + a"]),
    (["map", "(x[:1], 1)", "reduce-by-key", "a+b"], ["map", "(x[:1], 1) if True else 0", "reduce-by-key", "b + a"]),
    (["map", "(x[0], 2)", "reduce-by-key", "sum"], ["map", "(x[0], 2) if True else 0", "reduce-by-key", "b + a"]),
    (["map", "(len(x), 1)", "reduce-by-key", "max(a, b)"],
     ["map", "(len(x), 1)", "reduce-by-key", "b if b > a else a"]),
    (["map", "(x, len(x))", "reduce-by-key", "min(a, b)"],
     ["map", "(x, len(x))", "reduce-by-key", "b if b < a else a"]),
    (["map", "(x, 2)", "reduce-by-key", "a * b"], ["map", "(x, 2)", "reduce-by-key", "b * a"]),
]


@pytest.mark.parametrize("fast, general", SAME, ids=lambda chain: " ".join(chain))
def test_a_recognised_shape_gives_what_the_general_path_gives(fast, general):
    stages = ["flat-map", "x.split()"]
    expected = invoke(["--queue", "-", *stages, *general, "emit"], input=WORDS)
    result = invoke(["--queue", "-", *stages, *fast, "emit"], input=WORDS)
    assert expected.exit_code == result.exit_code == 0, result.stderr
    assert result.stdout == expected.stdout and result.stdout


def test_a_bad_record_on_the_fast_path_is_named_or_skipped_as_on_the_general_one():
    failed = invoke(["--queue", "-", "map", "(x.lower(), 1)", "reduce-by-key", "a + b"], input="A\n")
    assert failed.exit_code == 0
    bad = invoke(["--queue", "-", "--format", "json", "map", "(x.lower(), 1)", "reduce-by-key", "a + b"],
                 input='"A"\n5\n"a"\n')
    assert bad.exit_code == 1 and "AttributeError" in bad.stderr and "record 5" in bad.stderr
    skipped = invoke(["--queue", "-", "--format", "json", "--on-error", "skip", "map", "(x.lower(), 1)",
                      "reduce-by-key", "a + b"], input='"A"\n5\n"a"\n')
    assert skipped.stdout == "a\t2\n"


def test_the_command_line_imports_no_engine_rich_watchdog_or_package_metadata():
    """`dstream --version` and `--help` pay only for click: the engine loads when a chain runs."""
    code = ("import sys, dstream_cli.cli; heavy = {'importlib.metadata', 'dstream_cli.context', 'dstream_cli.dstream',"
            " 'rich', 'watchdog', 'dstream_cli.scheduler.jobs'}; print(sorted(heavy & set(sys.modules)))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout == "[]\n"


def loaded_by(argv: list[str], stdin: str, watched: set[str]) -> list[str]:
    """Which of *watched* modules the command line loaded by the time it exited with *argv*."""
    code = ("import atexit, sys; from dstream_cli.cli import main; "
            f"atexit.register(lambda: print(sorted({watched!r} & set(sys.modules)), file=sys.stderr)); "
            f"sys.argv = ['dstream', *{argv!r}]; main()")
    done = subprocess.run([sys.executable, "-c", code], input=stdin, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return done.stderr


def test_the_version_costs_an_interpreter_start_and_a_chain_loads_only_what_it_runs():
    """`--version` is answered before click is imported; a one-stage chain loads neither event time, nor the
    modules of outputs, files and errors it does not have (each costs start-up time, which is measured)."""
    assert loaded_by(["--version"], "", {"click", "dstream_cli.cli.app", "dstream_cli.formats"}) == "[]\n"
    unused = {"subprocess", "tempfile", "shutil", "base64", "dstream_cli.eventtime", "dstream_cli.texttime"}
    assert loaded_by(["--queue", "-", "count", "emit"], "a\n", unused) == "[]\n"


def test_the_version_is_the_packages():
    from importlib.metadata import version

    import dstream_cli

    assert dstream_cli.__version__ == version("dstream-cli")
    assert invoke(["--version"]).stdout == f"dstream {dstream_cli.__version__}\n"


EVENTS = "\n".join([
    '{"u": "ann", "b": 3, "c": 1.5}', '{"u": "bob", "b": 4, "c": 2}', '{"u": "ann", "b": -1, "c": 0.25}',
    '{"u": 7, "b": 12345678901234567890123, "c": 1}', '{"u": "bob", "b": 1, "c": 1e3}', "", '{"u": "eve", "b": 2}',
]) + "\n"


@pytest.mark.parametrize("items, general", [
    ('(x["u"], x["b"])', '(x["u"], x["b"]) if True else 0'),
    ('(x["u"], x["c"])', '(x["u"], x["c"]) if True else 0'),
    ('(x["b"], x["u"])', '(x["b"], x["u"]) if True else 0'),
])
def test_a_keyed_sum_of_two_fields_gives_what_the_general_path_gives(items, general, tmp_path):
    """map '(x[K], x[V])' reduce-by-key sum is one loop; bad records (a missing field, a str plus an int, an
    empty line) are named and dead-lettered as on the general path, big integers stay exact."""
    outputs = []
    for chain in (items, general):
        dead = tmp_path / f"dead-{len(outputs)}"
        result = invoke(["--format", "json", "--on-error", "skip", "--dead-letter", dead, "map", chain,
                         "reduce-by-key", "sum", "emit", "--format", "json"], input=EVENTS)
        assert result.exit_code == 0, result.stderr
        letters = [orjson.loads(line) for line in dead.read_text().splitlines()] if dead.exists() else []
        outputs.append((result.stdout, [(e["stage"][:8], e["reason"], e["record"]) for e in letters]))
    assert outputs[0] == outputs[1]
    assert outputs[0][0]


# An expression typed on the command line runs over the batch as one comprehension; the same expression as a
# lambda with a default, which no comprehension replaces, runs as a call per record.
COMPREHENDED = [
    (["map", "x.upper()"], ["map", "lambda x, _=0: x.upper()"]),
    (["map", "lambda w: w[::-1]"], ["map", "lambda w, _=0: w[::-1]"]),
    (["map", "(n := len(x)) * n"], ["map", "lambda x, _=0: len(x) * len(x)"]),
    (["filter", "len(x) > 1"], ["filter", "lambda x, _=0: len(x) > 1"]),
    (["map", "(x[-1:], 1)", "reduce-by-key", "sum"], ["map", "lambda x, _=0: (x[-1:], 1)", "reduce-by-key", "sum"]),
]


@pytest.mark.parametrize("comprehended, per_record", COMPREHENDED, ids=lambda chain: " ".join(chain))
def test_an_expression_over_the_whole_batch_gives_what_a_call_per_record_gives(comprehended, per_record, tmp_path):
    """The same output, and a bad record in the middle of a batch named and dead-lettered the same way."""
    lines = '"ab"\n"c"\n5\n"def"\n'
    outputs = []
    for chain in (comprehended, per_record):
        dead = tmp_path / f"dead-{len(outputs)}"
        result = invoke(["--queue", "-", "--format", "json", "--on-error", "skip", "--dead-letter", dead, *chain,
                         "emit"], input=lines)
        assert result.exit_code == 0, result.stderr
        letters = [orjson.loads(line) for line in dead.read_text().splitlines()]
        outputs.append((result.stdout, [(e["reason"], e["record"]) for e in letters]))
    assert outputs[0] == outputs[1]
    assert outputs[0][0] and outputs[0][1] == [(outputs[0][1][0][0], 5)]


def test_an_event_time_expression_over_the_whole_batch_reads_what_a_call_per_record_reads():
    lines = '{"ts": 1.5, "w": "a"}\n{"ts": "soon", "w": "b"}\n{"ts": 2.5, "w": "c"}\n{"ts": 3.25, "w": "d"}\n'
    outputs = [invoke(["--format", "json", "--event-time", expression, "--on-error", "skip", "map", "x['w']",
                       "print"], input=lines)
               for expression in ("x['ts'] * 1", "lambda x, _=0: x['ts'] * 1")]
    assert outputs[0].exit_code == outputs[1].exit_code == 0, outputs[0].stderr
    assert outputs[0].stdout == outputs[1].stdout
    assert outputs[0].stdout.count("Time:") == 3 and "\nb\n" not in outputs[0].stdout


def test_a_window_summed_incrementally_writes_what_a_window_reduced_afresh_writes():
    """A sliding sum of whole numbers tells the writer its keys are text and its values whole numbers, so it
    reads neither: a key of another kind entering (null, a number), one that needs escaping, a bool and a
    float are still written as the general path writes them, in every window that holds them."""
    pairs = ([[["a", 1], ["b", 2]]] * 6 + [[["a", 1], [None, 3]], [["t\tab", 4]], [[7, 1], ["a", True]]]
             + [[["a", 1]]] * 7 + [[["b", 1.5]]] + [[["a", 2], ["b", 1]]] * 8)
    text = queue_text([[orjson.dumps(pair).decode() for pair in batch] for batch in pairs])
    outputs = []
    for reduce in ("sum", "b + a"):  # the second is no shape the incremental sum takes
        result = invoke(["--queue", "-", "--batch", "1s", "--format", "json", "map", "(x[0], x[1])",
                         "reduce-by-key-and-window", reduce, "6s", "1s", "emit"], input=text)
        assert result.exit_code == 0, result.stderr
        outputs.append(result.stdout)
    assert outputs[0] == outputs[1]
    assert "null\t3" in outputs[0] and "7\t1" in outputs[0] and "t\\tab\t4" in outputs[0]
