"""The sql stage: a query per kind of record, after a window, over two inputs, on both engines (issue 29)."""
from __future__ import annotations

import json
import os
import subprocess
import sys

import orjson
import pytest
from conftest import AnyOrder, cli_batches, installed_dstream, invoke, queue_text, read_batch_files

pytest.importorskip("duckdb") if not os.environ.get("CI") else None

EVENTS = [['{"user": "ann", "bytes": 5}', '{"user": "bob", "bytes": 7}', '{"user": "ann", "bytes": 1}'],
          [],
          ['{"user": "bob", "bytes": 2}']]


def both(engine, tmp_path, stages, batches, options=()):
    return engine.wrap(cli_batches(tmp_path, stages, batches, [*engine.options, *options]))


def test_dict_records_are_columns_by_key(engine, tmp_path):
    got = both(engine, tmp_path, ["sql", "select user, sum(bytes) as bytes from batch group by user"], EVENTS,
               ["--format", "json"])
    assert got == engine.wrap([(1000, AnyOrder([{"user": "ann", "bytes": 6}, {"user": "bob", "bytes": 7}])),
                               (2000, []), (3000, [{"user": "bob", "bytes": 2}])])


def test_csv_rows_with_a_header_are_columns_by_name_and_text(tmp_path):
    """CSV fields are text, as Spark reads CSV without inferSchema: the query casts them. (--header is the local
    engine's.)"""
    rows = [["user,bytes", "ann,5", "bob,7", "ann,1"]]
    got = cli_batches(tmp_path, ["sql", "select user, sum(cast(bytes as bigint)) as bytes from batch group by user "
                                 "order by user"], rows, ["--format", "csv", "--header"])
    assert got == [(1000, [{"user": "ann", "bytes": 6}, {"user": "bob", "bytes": 7}])]


def test_pairs_are_columns_1_and_2_as_spark_names_them(engine, tmp_path):
    got = both(engine, tmp_path, ["flat-map", "x.split()", "map", "(x, 1)",
                                  "sql", "select _1 as word, sum(_2) as n from batch group by _1"],
               [["to be or not to be"]])
    assert got == engine.wrap([(1000, AnyOrder([{"word": "to", "n": 2}, {"word": "be", "n": 2},
                                                {"word": "or", "n": 1}, {"word": "not", "n": 1}]))])


def test_plain_values_are_one_column_named_value(engine, tmp_path):
    got = both(engine, tmp_path, ["map", "int(x)", "sql", "select max(value) as top, count(*) as n from batch"],
               [["3", "9", "4"], ["1"]])
    assert got == engine.wrap([(1000, [{"top": 9, "n": 3}]), (2000, [{"top": 1, "n": 1}])])


def test_after_a_window_the_table_is_the_window(engine, tmp_path):
    got = both(engine, tmp_path, ["window", "2s", "1s",
                                  "sql", "select user, count(*) as n from batch group by user"],
               EVENTS, ["--format", "json"])
    assert got == engine.wrap([(1000, AnyOrder([{"user": "ann", "n": 2}, {"user": "bob", "n": 1}])),
                               (2000, AnyOrder([{"user": "ann", "n": 2}, {"user": "bob", "n": 1}])),
                               (3000, [{"user": "bob", "n": 1}]),
                               (4000, [{"user": "bob", "n": 1}])])


def test_an_empty_batch_keeps_the_columns_it_had(engine, tmp_path):
    """count(*) over an empty batch is 0: the table exists, empty, with the columns it had."""
    got = both(engine, tmp_path, ["sql", "select count(*) as n, sum(bytes) as total from batch"], EVENTS,
               ["--format", "json"])
    assert got == engine.wrap([(1000, [{"n": 3, "total": 13}]), (2000, [{"n": 0, "total": None}]),
                               (3000, [{"n": 1, "total": 2}])])


def test_two_inputs_are_tables_by_name(engine, tmp_path):
    clicks = tmp_path / "clicks.txt"
    users = tmp_path / "users.txt"
    clicks.write_text(queue_text([['{"user": "a", "page": "/x"}', '{"user": "b", "page": "/y"}'],
                                  ['{"user": "a", "page": "/z"}']]))
    users.write_text(queue_text([['{"user": "a", "name": "Ann"}', '{"user": "b", "name": "Bob"}'], []]))
    prefix = tmp_path / "out" / "rows"
    result = invoke([*engine.options, "--format", "json", "-i", f"clicks=queue:{clicks}", "-i", f"users=queue:{users}",
                     "from", "clicks", "sql",
                     "select c.user, u.name, c.page from clicks c left join users u using (user)",
                     "save-as-text-files", prefix, "--format", "repr"])
    assert result.exit_code == 0, result.stderr
    assert engine.wrap(read_batch_files(str(prefix))) == engine.wrap([
        (1000, AnyOrder([{"user": "a", "name": "Ann", "page": "/x"}, {"user": "b", "name": "Bob", "page": "/y"}])),
        (2000, [{"user": "a", "name": None, "page": "/z"}])])


def test_whole_numbers_widen_to_double_when_a_fraction_comes(tmp_path):
    got = cli_batches(tmp_path, ["sql", "select sum(b) as s from batch"],
                      [['{"b": 1}', '{"b": 2}'], ['{"b": 2.5}', '{"b": 1}'], ['{"b": 3}']], ["--format", "json"])
    assert got == [(1000, [{"s": 3}]), (2000, [{"s": 3.5}]), (3000, [{"s": 3.0}])]


def test_nan_and_the_infinities_reach_the_table_as_themselves_not_as_null():
    """JSON, the way records reach DuckDB, has no NaN or infinity: they go as their names, which DuckDB casts. A
    column holding only NaN is DOUBLE, and a whole-number column widens to DOUBLE when one comes."""
    query = ("select count(v) as v, count_if(isnan(v)) as nans, count_if(v > 1e308 and not isnan(v)) as highs, "
             "count_if(n < -1e308) as lows, count_if(isnan(z)) as z, sum(n) filter (where n between 0 and 9) as s, "
             "typeof(n) as kind from batch group by kind")
    result = invoke(["--queue", "-", "map", '{"v": float(x), "n": int(x) if x.isdigit() else float(x), '
                     '"z": float("nan")}', "sql", query, "emit", "--format", "json"],
                    input=queue_text([["1", "2"], ["nan", "inf", "-inf", "3"]]))
    assert result.exit_code == 0, result.stderr
    assert [orjson.loads(line) for line in result.stdout.splitlines()] == [
        {"v": 2, "nans": 0, "highs": 0, "lows": 0, "z": 2, "s": 3, "kind": "BIGINT"},
        {"v": 4, "nans": 1, "highs": 1, "lows": 1, "z": 4, "s": 3.0, "kind": "DOUBLE"}]


def test_text_in_a_number_column_is_a_bad_record_named_with_its_column(tmp_path):
    dead = tmp_path / "dead.jsonl"
    got = cli_batches(tmp_path, ["sql", "select sum(b) as s from batch"],
                      [['{"b": 1}', '{"b": 2}'], ['{"b": "-"}', '{"b": 4}']],
                      ["--format", "json", "--on-error", "skip", "--dead-letter", str(dead)])
    assert got == [(1000, [{"s": 3}]), (2000, [{"s": 4}])]
    entries = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert [(e["batch_time"], e["reason"], e["record"]) for e in entries] == [
        (2000, "column b of table batch is BIGINT, not str '-'", "{'b': '-'}")]


def test_the_same_text_fails_the_run_without_on_error(tmp_path):
    result = invoke(["--format", "json", "--queue", "-", "sql", "select sum(b) as s from batch"],
                    input=queue_text([['{"b": 1}'], ['{"b": "-"}']]))
    assert result.exit_code == 1
    assert "column b of table batch is BIGINT, not str '-'" in result.stderr
    assert result.stderr.count("\n") == 1


def test_json_lines_go_to_duckdb_as_they_are_and_a_bad_line_is_still_named(tmp_path):
    """From a file, DuckDB parses the input's lines itself; a line that is not one JSON record (here: not JSON,
    and blank) is found by the parsed records, reported, and the rest are the result."""
    events = tmp_path / "events.json"
    events.write_text('{"user": "a", "bytes": 5}\nnot json\n{"user": "b", "bytes": 7}\n\n{"user": "a", "bytes": 1}\n')
    dead = tmp_path / "dead.jsonl"
    result = invoke(["--format", "json", "--on-error", "skip", "--dead-letter", dead, "-i", f"e=file:{events}",
                     "from", "e", "sql", "select user, sum(bytes) as bytes from batch group by user order by user",
                     "emit", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"user":"a","bytes":6}\n{"user":"b","bytes":7}\n'
    assert sorted(orjson.loads(line)["record"] for line in dead.read_bytes().splitlines()) == ["", "not json"]


def test_a_big_file_is_summed_as_the_python_chain_sums_it(tmp_path):
    events = tmp_path / "events.json"
    lines = [json.dumps({"user": f"u{i % 97}", "bytes": i % 1000, "ok": i % 3 == 0}) for i in range(200_000)]
    events.write_text("\n".join(lines) + "\n")
    expected: dict = {}
    for i in range(200_000):
        expected[f"u{i % 97}"] = expected.get(f"u{i % 97}", 0) + i % 1000
    result = invoke(["--format", "json", "-i", f"e=file:{events}", "from", "e",
                     "sql", "select user, sum(bytes) as bytes from batch group by user", "emit", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    got = [orjson.loads(line) for line in result.stdout.splitlines()]
    assert {row["user"]: row["bytes"] for row in got} == expected and len(got) == 97


@pytest.mark.parametrize(("query", "message"), [
    ("select user, sum(bytes) from batch grop by user",
     "stage 1 (sql): syntax error at or near \"by\" (line 1, column 41: 'by user')"),
    ("select * from users", "stage 1 (sql): no stream or input named 'users' (known: stdin)"),
    ("select 1; select 2", "stage 1 (sql): give one SELECT query, not 2 statements"),
    ("select 42", "stage 1 (sql): the query reads no table: name the batch as 'batch' (select ... from batch)"),
    ("delete from batch", "stage 1 (sql): give one SELECT query: the sql stage runs nothing else"),
])
def test_a_bad_query_is_a_usage_error_before_any_input(query, message):
    result = invoke(["--format", "json", "--queue", "-", "sql", query], input=queue_text([['{"a": 1}']]))
    assert (result.exit_code, result.stderr) == (2, f"dstream: {message}\n")


def test_a_bad_query_on_spark_is_spark_s_parser_error_at_start(spark_context):
    result = invoke(["--engine", "spark", "--format", "json", "--queue", "-", "sql",
                     "select user, sum(bytes) from batch grop by user"], input=queue_text([['{"a": 1}']]))
    assert result.exit_code == 2
    assert result.stderr.startswith("dstream: stage 1 (sql): [PARSE_SYNTAX_ERROR] Syntax error at or near 'by'")
    assert "(line 1, pos 40)" in result.stderr and result.stderr.count("\n") == 1


def test_a_column_the_query_does_not_know_is_one_line_at_the_first_batch():
    result = invoke(["--format", "json", "--queue", "-", "sql", "select usr from batch"],
                    input=queue_text([['{"user": "a"}']]))
    assert result.exit_code == 1
    assert result.stderr == ("dstream: stage 1 (sql 'select usr from batch'): Binder Error: Referenced column "
                             '"usr" not found in FROM clause! Candidate bindings: "user" (line 1, column 8)\n')


def test_without_duckdb_the_stage_says_how_to_install_it(tmp_path):
    program = ("import sys; sys.modules['duckdb'] = None; sys.argv = ['dstream', '--queue', '-', 'sql', "
               "'select * from batch']; from dstream_cli.cli import main; main()")
    result = subprocess.run([sys.executable, "-c", program], input="a\n\n", capture_output=True, text=True,
                            check=False)
    assert (result.returncode, result.stderr) == (
        2, "dstream: stage 1 (sql): the sql stage needs DuckDB: pip install 'dstream-cli[sql]'\n")


def test_the_library_names_other_tables_by_keyword(tmp_path):
    from dstream_cli import RunOptions, StreamingContext

    ssc = StreamingContext("1s")
    users = ssc.queue_stream([[{"user": "a", "name": "Ann"}]])
    clicks = ssc.queue_stream([[{"user": "a", "page": "/x"}, {"user": "z", "page": "/y"}]])
    seen = []
    clicks.sql("select page, name from batch join users using (user)", users=users).foreach_batch(
        lambda t, batch: seen.append((t, list(batch))))
    ssc.run(RunOptions())
    assert seen == [(1000, [{"page": "/x", "name": "Ann"}])]


def test_rows_write_as_csv_with_their_header(tmp_path):
    events = tmp_path / "events.json"
    events.write_text('{"user": "a", "bytes": 5}\n{"user": "a", "bytes": 2}\n')
    result = subprocess.run([*installed_dstream(), "--format", "json", "-i", f"e=file:{events}", "from", "e",
                             "sql", "select user, sum(bytes) as bytes from batch group by user",
                             "emit", "--format", "csv", "--header"], capture_output=True, text=True, check=False)
    assert (result.returncode, result.stdout) == (0, "user,bytes\na,7\n"), result.stderr


def readme_sql_commands() -> list[list[str]]:
    """The dstream commands of the README's "SQL on batches" section, as argument lists."""
    import shlex

    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    with open(os.path.join(root, "README.md"), encoding="utf-8") as handle:
        text = handle.read()
    section = text.split("## SQL on batches", 1)[1].split("\n## ", 1)[0]
    commands = []
    for block in section.replace("\\\n", " ").splitlines():
        if "dstream " in block and block.startswith(("    ", "      ")) and " sql " in block:
            words = shlex.split(block.split("dstream ", 1)[1].split(" < ")[0])
            commands.append(words)
    return commands


def test_the_readmes_sql_examples_run_as_written(tmp_path):
    """Each with a file in place of its live input (tail -F, a TCP client)."""
    commands = readme_sql_commands()
    assert len(commands) == 3
    access = "".join(json.dumps({"path": f"/p{i % 3}", "bytes": i, "user": f"u{i % 2}"}) + "\n" for i in range(9))
    (tmp_path / "users.jsonl").write_text('{"user": "u0", "name": "Ann"}\n{"user": "u1", "name": "Bob"}\n')
    (tmp_path / "clicks.jsonl").write_text(access)
    outputs = []
    for words in commands:
        words = [w.replace("tcp://127.0.0.1:7000", "file:clicks.jsonl") for w in words]
        result = subprocess.run([*installed_dstream(), *words], input=access, capture_output=True, text=True,
                                cwd=tmp_path, timeout=120, check=False)
        assert result.returncode == 0, (words, result.stderr)
        outputs.append(result.stdout)
    assert "{'path': '/p2', 'hits': 3, 'bytes': 15}" in outputs[0]
    assert sorted(outputs[1].splitlines()) == ['{"name":"Ann","clicks":5}', '{"name":"Bob","clicks":4}']
    assert sorted(outputs[2].splitlines()) == ['{"user":"u0","bytes":20}', '{"user":"u1","bytes":16}']


def test_sql_over_a_file_sigkilled_at_random_moments_gives_every_event_once(tmp_path):
    """-i e=file: under --max-rate with --checkpoint, killed 5 times: the batch files add up to the file, as an
    uninterrupted run's do (a recomputed batch has the same records and time and overwrites its own file), and
    the restarted table keeps the type it had: bytes turns DOUBLE with the fractions of events 1,000 to 1,999,
    and every batch after the first of them writes floats, whole numbers after them and restarts too."""
    from conftest import kill_and_restart

    count = 24000
    lines = [json.dumps({"user": f"u{i % 5}", "bytes": i + 0.5 if 1000 <= i < 2000 else i}) for i in range(count)]
    args = [*installed_dstream(), "--format", "json", "-i", "e=file:events.json", "--batch", "100ms",
            "--max-rate", "10000", "--checkpoint", "ck", "--checkpoint-interval", "100ms", "from", "e",
            "sql", "select user, sum(bytes) as bytes, count(*) as n from batch group by user order by user",
            "save-as-text-files", "out/s", "--format", "json"]
    totals = {}
    for run in ("whole", "killed"):
        (tmp_path / run).mkdir()
        (tmp_path / run / "events.json").write_text("\n".join(lines) + "\n")
        if run == "whole":
            done = subprocess.run(args, capture_output=True, text=True, timeout=120, cwd=tmp_path / run, check=False)
        else:
            done = kill_and_restart(args, 5, seed=29, cwd=tmp_path / run)
        assert done.returncode == 0, done.stderr
        batches = sorted((int(path.name.split("-")[1]), [orjson.loads(line) for line in path.read_bytes().splitlines()])
                         for path in (tmp_path / run / "out").glob("s-*"))
        floats = [any(isinstance(row["bytes"], float) for row in rows) for _, rows in batches if rows]
        assert floats == sorted(floats), (run, batches)  # once DOUBLE, always DOUBLE
        users: dict = {}
        for _, rows in batches:
            for row in rows:
                held = users.setdefault(row["user"], [0, 0])
                held[0] += row["bytes"]
                held[1] += row["n"]
        totals[run] = users
    assert totals["killed"] == totals["whole"]
    assert sum(n for _, n in totals["whole"].values()) == count


def test_a_table_that_has_had_no_records_holds_the_query_back_and_says_so(tmp_path):
    """Its columns are unknown, so the query cannot be bound: the batches before its first records give no rows,
    said once on stderr, and the batches after them are joined as usual."""
    clicks, users = tmp_path / "clicks.txt", tmp_path / "users.txt"
    clicks.write_text(queue_text([['{"user": "a"}'], ['{"user": "a"}', '{"user": "b"}']]))
    users.write_text(queue_text([[], ['{"user": "a", "name": "Ann"}']]))
    result = invoke(["--format", "json", "-i", f"clicks=queue:{clicks}", "-i", f"users=queue:{users}", "from", "clicks",
                     "sql", "select name, count(*) as n from batch join users using (user) group by name",
                     "emit", "--format", "json"])
    assert result.exit_code == 0, result.stderr
    assert result.stdout == '{"name":"Ann","n":1}\n'
    assert result.stderr == ("dstream: stage 2 (sql 'select name, count(*) as n from batch join users using (user) "
                             "group by name'): no records yet in table users, so the query cannot name its columns: "
                             "batches give no rows until it has had some\n")


def test_a_new_key_adds_a_column_and_a_null_column_takes_the_first_type_it_gets(tmp_path):
    got = cli_batches(tmp_path, ["sql", "select * from batch"],
                      [['{"a": 1, "c": null}'], ['{"a": 2, "b": "x", "c": 5}'], ['{"a": 3}']], ["--format", "json"])
    assert got == [(1000, [{"a": 1, "c": None}]), (2000, [{"a": 2, "c": 5, "b": "x"}]),
                   (3000, [{"a": 3, "c": None, "b": None}])]
    summed = cli_batches(tmp_path / "sum", ["sql", "select sum(c) + 1 as s from batch"],
                         [['{"c": null}'], ['{"c": 5}', '{"c": 2}']], ["--format", "json"])
    assert summed == [(1000, [{"s": None}]), (2000, [{"s": 8}])]
