"""--workers N: the map side of big batches in N processes gives exactly the one-process output, in order."""
import os
import random

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from conftest import invoke
from dstream_cli.workers import MIN_RECORDS

WORDS = ["alpha", "beta", "Gamma", "delta", "ü", "x" * 30, "7", "42", "-3"]


@pytest.fixture(scope="module")
def big_queue(tmp_path_factory):
    """Two batches above the workers' threshold and a small one, of 1 to 8 words a line (an empty line would end
    a batch)."""
    rng = random.Random(17)
    path = tmp_path_factory.mktemp("workers") / "queue.txt"
    sizes = [MIN_RECORDS + 10_001, MIN_RECORDS * 2 + 3, 500]
    path.write_text("".join(
        "".join(" ".join(rng.choices(WORDS, k=rng.randrange(1, 9))) + "\n" for _ in range(size)) + "\n"
        for size in sizes))
    return path


# stage lists whose first steps are record by record, ending in each kind of reduction, or none
HEADS = [
    ["flat-map", "x.split()"],
    ["flat-map", 're.findall(r"\\w+", x)'],
    ["map", "x.lower()"],
    ["filter", "len(x) > 12"],
    ["map", "x.strip()", "filter", "x"],
]
TAILS = [
    ["map", "(x, 1)", "reduce-by-key", "sum"],
    ["map", "(x.upper(), 2)", "reduce-by-key", "a + b"],
    ["map", "(x[:2], len(x))", "reduce-by-key", "max"],
    ["count-by-value"],
    ["count"],
    ["map", "len(x)", "reduce", "sum"],
    ["map", "(x, 1)", "group-by-key", "map", "(x[0], len(x[1]))"],
    ["distinct"],
    ["map", "x[::-1]"],
    ["map", "(x, 1)", "reduce-by-key", "sum", "update-state", "sum"],
    ["map", "(x, 1)", "reduce-by-key-and-window", "sum", "2s", "1s"],
]


def run(queue, workers: int, stages: list[str], options=()) -> str:
    result = invoke(["--queue", queue, "--workers", workers, *options, *stages, "emit", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert "warning" not in result.stderr, result.stderr
    return result.stdout


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.sampled_from(HEADS), st.sampled_from(TAILS), st.sampled_from([2, 3]))
def test_n_workers_give_one_workers_output_in_the_same_order(big_queue, head, tail, workers):
    stages = [*head, *tail]
    one = run(big_queue, 1, stages)
    assert len(one.splitlines()) > 2
    assert run(big_queue, workers, stages) == one


def test_a_json_keyed_sum_with_workers(tmp_path):
    rng = random.Random(3)
    queue = tmp_path / "events"
    queue.write_text("".join(f'{{"user": "u{rng.randrange(500)}", "bytes": {rng.randrange(1, 5000)}}}\n'
                             for _ in range(MIN_RECORDS + 5)))
    stages = ["map", '(x["user"], x["bytes"])', "reduce-by-key", "sum"]
    one = run(queue, 1, stages, ["--format", "json"])
    assert len(one.splitlines()) == 500 and run(queue, 2, stages, ["--format", "json"]) == one


def test_bad_records_in_a_workers_part_are_named_and_dead_lettered_as_without_workers(tmp_path):
    queue = tmp_path / "numbers"
    lines = [str(i) for i in range(MIN_RECORDS + 100)]
    lines[7], lines[MIN_RECORDS - 3] = "seven", "oops"
    queue.write_text("\n".join(lines) + "\n")
    outputs = {}
    for workers in (1, 2):
        dead = tmp_path / f"dead-{workers}.jsonl"
        result = invoke(["--queue", queue, "--workers", workers, "--on-error", "skip", "--dead-letter", dead,
                         "map", "int(x)", "reduce", "sum", "emit"])
        assert result.exit_code == 0, result.stderr
        outputs[workers] = (result.stdout, dead.read_text())
    assert outputs[2] == outputs[1]
    assert '"record":"seven"' in outputs[1][1] and '"record":"oops"' in outputs[1][1]
    failed = invoke(["--queue", queue, "--workers", "2", "map", "int(x)", "reduce", "sum", "emit"])
    assert failed.exit_code == 1 and "record 'seven'" in failed.stderr


def test_a_worker_that_dies_is_replaced_by_the_main_process_and_nothing_is_lost(big_queue):
    """The expression exits in any process but this one (CliRunner runs dstream here): every worker dies on its
    first part, the pool warns once, and the batches are done here with the same output."""
    stages = ["--import", "os", "flat-map", "x.split() if os.getpid() == int(os.environ['MAIN']) else os._exit(3)",
              "count-by-value", "emit"]
    env = {"MAIN": str(os.getpid())}
    one = invoke(["--queue", big_queue, *stages], env=env)
    two = invoke(["--queue", big_queue, "--workers", "2", *stages], env=env)
    assert one.exit_code == 0 and two.exit_code == 0, two.stderr
    assert two.stdout == one.stdout
    warnings = [line for line in two.stderr.splitlines() if "--workers" in line]
    assert len(warnings) == 1 and "running every batch in this process" in warnings[0]
