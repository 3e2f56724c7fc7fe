"""What surprised a newcomer in the first hour (issue 27): each message says what to do, and nothing runs for
ever on a mistake. Each test failed on the code before."""
import os
import re
import subprocess
import sys
from pathlib import Path

import orjson
import pytest

from conftest import installed_dstream, invoke

ROOT = Path(__file__).resolve().parent.parent


def test_a_missing_file_input_is_a_usage_error_at_start(tmp_path):
    """It printed 0 every second for ever, with 'could not start' and an on_stop traceback line repeated."""
    result = subprocess.run([*installed_dstream(), "-i", f"a=file:{tmp_path / 'nope.txt'}", "from", "a", "count"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "nope.txt: no such file" in result.stderr
    assert result.stdout == ""


def test_a_second_run_on_a_locked_checkpoint_says_one_line(tmp_path):
    """The line was followed by 'Exception ignored in: DirectoryLock.release ... Bad file descriptor'."""
    holder = subprocess.Popen([*installed_dstream(), "--checkpoint", str(tmp_path / "ck"), "count"],
                              stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        from conftest import wait_for

        wait_for(lambda: (tmp_path / "ck" / "lock").exists() and (tmp_path / "ck" / "lock").read_text().strip())
        second = subprocess.run([*installed_dstream(), "--checkpoint", str(tmp_path / "ck"), "count"], input="a\n",
                                capture_output=True, text=True, timeout=30)
    finally:
        holder.stdin.close()
        holder.wait(timeout=30)
    assert second.returncode == 2
    assert second.stderr.count("\n") == 1 and "is in use by another dstream" in second.stderr, second.stderr


def test_a_name_from_an_imported_module_says_how_to_write_it(tmp_path, monkeypatch):
    """'--import slowmod map slow(x)' said 'use --import MODULE', which was given."""
    (tmp_path / "slowmod.py").write_text("def slow(x):\n    return x\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    result = invoke(["--queue", "-", "--import", "slowmod", "map", "slow(x)"], input="a\n")
    assert result.exit_code == 2
    assert "names from a module are written with it: slowmod.slow" in result.stderr
    plain = invoke(["--queue", "-", "map", "slow(x)"], input="a\n")
    assert "use --import MODULE for a module" in plain.stderr


def test_a_global_option_after_a_stage_says_where_global_options_go():
    """'dstream count --batch 2s' said only: No such option '--batch'."""
    result = invoke(["count", "--batch", "2s"], input="a\n")
    assert result.exit_code == 2
    assert "--batch is a global option, and global options go before the first stage" in result.stderr
    unknown = invoke(["count", "--nope"], input="a\n")
    assert "No such option '--nope'." in unknown.stderr and "global" not in unknown.stderr


def test_a_window_over_a_finite_input_gives_every_slide_that_holds_its_records():
    """The window --help example printed nothing: stdin ended before the first slide. The slides after the end run
    on at once, not in 30 s of real time."""
    result = subprocess.run([*installed_dstream(), "--batch", "1s", "window", "30s", "10s", "count", "emit"],
                            input="1\n2\n3\n4\n5\n", capture_output=True, text=True, timeout=25)
    assert (result.returncode, result.stdout, result.stderr) == (0, "5\n5\n5\n", "")


def test_a_window_over_a_queue_runs_through_its_last_slide_and_no_further():
    result = invoke(["--queue", "-", "--batch", "1s", "window", "3s", "2s", "count", "print"], input="a\nb\n\n\nc\n")
    assert result.exit_code == 0, result.output
    # batches at 1 s (a, b), 2 s (none), 3 s (c): the windows (t - 3 s, t] at 2 and 4 s hold them, (3 s, 6 s] none
    times = [line for line in result.output.splitlines() if line.startswith("Time: ")]
    assert times == ["Time: 1970-01-01 00:00:02", "Time: 1970-01-01 00:00:04"]
    assert [line for line in result.output.splitlines() if line.isdigit()] == ["2", "1"]


def test_state_is_not_drained_past_the_input():
    result = invoke(["--queue", "-", "map", "(x, 1)", "update-state", "sum", "count", "emit"], input="a\n\nb\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "1\n2\n"


LIBRARY_PROGRAMS = {
    "run": "from dstream_cli import StreamingContext\n"
           "ssc = StreamingContext(1)\n"
           "ssc.queue_stream([['x' * 100] * 10 for i in range(1000)]).pprint()\n"
           "ssc.run()\n"
           "print('after the run')\n",
    "start-await": "from dstream_cli import StreamingContext\n"
                   "ssc = StreamingContext(1)\n"
                   "ssc.queue_stream([['x' * 100] * 10 for i in range(1000)]).foreach_batch("
                   "lambda batch: print('\\n'.join(batch), flush=True))\n"
                   "ssc.start()\n"
                   "ssc.await_termination()\n",
    "pyspark-drop-in": "from dstream_cli.pyspark import SparkContext\n"
                       "from dstream_cli.pyspark.streaming import StreamingContext\n"
                       "sc = SparkContext(appName='head')\n"
                       "ssc = StreamingContext(sc, 1)\n"
                       "ssc.queueStream([sc.parallelize(['x' * 100] * 10) for i in range(1000)]).pprint()\n"
                       "ssc.start()\n"
                       "ssc.awaitTermination()\n",
}


@pytest.mark.parametrize("name", sorted(LIBRARY_PROGRAMS))
def test_a_library_program_piped_to_head_ends_quietly(tmp_path, name):
    """It ended with a 28-line BrokenPipeError traceback and exit 1, where the command is quiet. (Each writes
    1 MB, more than a pipe holds.)"""
    program = tmp_path / "program.py"
    program.write_text(LIBRARY_PROGRAMS[name])
    process = subprocess.Popen([sys.executable, str(program)], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    head = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()  # as head -3 does
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=60) == 0, stderr
    assert all(head) and stderr == ""


def test_man_finds_the_page_installed_with_the_package():
    """'man dstream' said 'No manual entry' though --help ends with 'See man dstream'. man looks in PREFIX/share/man
    for each PREFIX/bin on the PATH, so the venv's own PATH is all it needs."""
    env = {**os.environ, "PATH": os.path.dirname(installed_dstream()[0]) + os.pathsep + "/usr/bin:/bin"}
    env.pop("MANPATH", None)
    found = subprocess.run(["man", "-w", "dstream"], env=env, capture_output=True, text=True, timeout=30)
    assert found.returncode == 0, found.stderr
    page = Path(found.stdout.strip())
    assert page.read_text() == (ROOT / "man" / "dstream.1").read_text()


def test_bash_completes_stages_and_choices_with_the_documented_line():
    script = ('eval "$(_DSTREAM_COMPLETE=bash_source dstream)"\n'
              'COMP_WORDS=(dstream --batch 2s flat); COMP_CWORD=3; _dstream_completion dstream; echo "${COMPREPLY[*]}"\n'
              'COMPREPLY=(); COMP_WORDS=(dstream --engine ""); COMP_CWORD=2; _dstream_completion dstream\n'
              'echo "${COMPREPLY[*]}"\n')
    env = {**os.environ, "PATH": os.path.dirname(installed_dstream()[0]) + os.pathsep + os.environ["PATH"]}
    result = subprocess.run(["bash", "-c", script], env=env, capture_output=True, text=True, timeout=30)
    assert result.stdout.splitlines() == ["flat-map flat-map-values", "local spark"], result.stderr
    for shell in ("bash", "zsh", "fish"):  # each line as the README and the man page give it
        line = {"bash": 'eval "$(_DSTREAM_COMPLETE=bash_source dstream)"',
                "zsh": 'eval "$(_DSTREAM_COMPLETE=zsh_source dstream)"',
                "fish": "_DSTREAM_COMPLETE=fish_source dstream | source"}[shell]
        assert line in (ROOT / "README.md").read_text()
        source = subprocess.run([*installed_dstream()], env={**env, "_DSTREAM_COMPLETE": f"{shell}_source"},
                                capture_output=True, text=True, timeout=30)
        assert source.returncode == 0 and "_DSTREAM_COMPLETE" in source.stdout, (shell, source.stderr)


def test_the_distribution_has_a_name_of_its_own_and_every_install_line_uses_it():
    """'pip install dstream[spark]' resolved to an unrelated project on the package index."""
    from importlib import metadata

    distribution = metadata.distribution("dstream-cli")
    assert [e.value for e in distribution.entry_points if e.name == "dstream"] == ["dstream_cli.cli:main"]
    texts = [ROOT / "README.md", ROOT / "man" / "dstream.1", *ROOT.joinpath("dstream_cli").rglob("*.py")]
    wrong = [str(path) for path in texts if re.search(r"\bdstream\[", path.read_text())]
    assert wrong == []
    assert "pip install 'dstream-cli[spark]'" in (ROOT / "README.md").read_text()


# --- item 9: CSV and TSV with a header row ----------------------------------------------------
def test_header_gives_each_row_as_a_dict_by_column_name():
    """--format csv took the header row as data."""
    result = invoke(["--queue", "-", "--format", "csv", "--header", "emit", "--format", "json"],
                    input='name,age,note\nann,31,"likes, commas"\n\nbob,40,\n')
    assert result.exit_code == 0, result.output
    assert result.stdout == ('{"name":"ann","age":"31","note":"likes, commas"}\n'
                             '{"name":"bob","age":"40","note":""}\n')


def test_header_reads_tsv_and_a_row_of_another_width_is_reported_with_its_line(tmp_path):
    dead = tmp_path / "dead.jsonl"
    result = invoke(["--queue", "-", "--format", "tsv", "--header", "--on-error", "skip", "--dead-letter", str(dead),
                     "map", "x['k']"], input="k\tv\na\t1\nb\t2\t3\nc\t3\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "a\nc\n"
    letter = orjson.loads(dead.read_text())
    assert (letter["reason"], letter["record"]) == ("3 fields where the header has 2 (k,v)", "b\t2\t3")


def test_emit_header_is_written_once_and_files_each_have_theirs(tmp_path):
    result = invoke(["--queue", "-", "--format", "csv", "--header", "emit", "--format", "csv", "--header",
                     "save-as-text-files", str(tmp_path / "out"), "--format", "tsv", "--header",
                     "foreach-batch", f"cat >> {tmp_path / 'commands'}", "--format", "csv", "--header"],
                    input="a,b\n1,2\n\n3,4\n")
    assert result.exit_code == 0, result.output
    assert result.stdout == "a,b\n1,2\n3,4\n"
    assert [(tmp_path / f"out-{t}").read_text() for t in (1000, 2000)] == ["a\tb\n1\t2\n", "a\tb\n3\t4\n"]
    assert (tmp_path / "commands").read_text() == "a,b\n1,2\na,b\n3,4\n"


def test_pairs_are_written_under_key_and_value_and_other_records_say_why_not():
    pairs = invoke(["--queue", "-", "flat-map", "x.split()", "count-by-value", "emit", "--format", "csv", "--header"],
                   input="a b a\n")
    assert (pairs.exit_code, pairs.stdout) == (0, "key,value\na,2\nb,1\n")
    plain = invoke(["--queue", "-", "emit", "--format", "csv", "--header"], input="a\n")
    assert plain.exit_code == 1
    assert plain.stderr == ("dstream: --header: a str ('a') has no column names: it writes dicts (as --format csv "
                            "--header reads them) and (key, value) pairs\n")
    text = invoke(["--queue", "-", "--header", "emit"], input="a\n")
    assert (text.exit_code, text.stderr) == (2, "dstream: --header names the columns of --format csv or tsv input, "
                                                "not --format text\n")


def test_a_csv_value_with_newlines_written_by_emit_reads_back(tmp_path):
    """It failed with 'unexpected end of data'. 40,000 records of 3 lines each: some straddle the reads of 1 MB."""
    rows = [(f"row {i}", f'line one\nline "two" of {i}\nthree, with a comma') for i in range(40_000)]
    written = subprocess.run([*installed_dstream(), "--format", "json", "emit", "--format", "csv"],
                             input="".join(orjson_line(row) for row in rows), capture_output=True, text=True,
                             timeout=120)
    assert written.returncode == 0, written.stderr
    assert len(written.stdout) > 2_000_000
    (tmp_path / "rows.csv").write_text(written.stdout)
    read = subprocess.run([*installed_dstream(), "-i", f"f=file:{tmp_path / 'rows.csv'}", "--format", "csv",
                           "from", "f", "emit", "--format", "json"], capture_output=True, text=True, timeout=120)
    assert read.returncode == 0 and read.stderr == "", read.stderr
    assert [tuple(orjson.loads(line)) for line in read.stdout.splitlines()] == rows


def test_header_columns_survive_a_restart_past_the_first_line(tmp_path):
    (tmp_path / "r.csv").write_text("a,b\n" + "".join(f"{i},{i * i}\n" for i in range(10)))
    command = [*installed_dstream(), "--batch", "100ms", "--checkpoint", str(tmp_path / "ck"), "-i",
               f"f=file:{tmp_path / 'r.csv'}", "--format", "csv", "--header", "from", "f", "emit", "--format", "json"]
    first = subprocess.run([*command[:1], "--max-rate", "20", "--batches", "2", *command[1:]], capture_output=True,
                           text=True, timeout=60)
    rest = subprocess.run(command, capture_output=True, text=True, timeout=60)
    assert (first.returncode, rest.returncode, first.stderr + rest.stderr) == (0, 0, "")
    got = [orjson.loads(line) for line in (first.stdout + rest.stdout).splitlines()]
    assert 0 < len(first.stdout.splitlines()) < 10
    assert got == [{"a": str(i), "b": str(i * i)} for i in range(10)]


def test_every_file_of_a_watched_directory_starts_with_the_header(tmp_path):
    (tmp_path / "in").mkdir()
    for name, rows in (("1.csv", "x,1\ny,2\n"), ("2.csv", "z,3\n")):
        (tmp_path / "in" / name).write_text("key,n\n" + rows)
    result = subprocess.run([*installed_dstream(), "--watch", str(tmp_path / "in"), "--watch-existing",
                             "--format", "csv", "--header", "--run-for", "3s", "map", "(x['key'], int(x['n']))",
                             "emit"], capture_output=True, text=True, timeout=60)
    assert (result.returncode, result.stderr) == (0, "")
    assert sorted(result.stdout.splitlines()) == ["x\t1", "y\t2", "z\t3"]


def orjson_line(value) -> str:
    return orjson.dumps(value).decode() + "\n"


# --- item 10: how far through a file the run is -----------------------------------------------
@pytest.mark.parametrize("how", ["file-input", "stdin-from-a-file"])
def test_the_live_view_shows_the_percent_read_and_an_eta_for_a_file(tmp_path, how):
    data = tmp_path / "numbers.txt"
    data.write_text("".join(f"{i}\n" for i in range(1_500_000)))  # 10.9 MB: eleven reads of 1 MB
    source = ["-i", f"f=file:{data}", "from", "f"] if how == "file-input" else []
    with open(data, "rb") as stdin:
        result = subprocess.run([*installed_dstream(), "--batch", "100ms", "--max-rate", "1000000", "--progress",
                                 *source, "count"], stdin=stdin, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    screen = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", result.stderr)
    partway = [int(p) for p in re.findall(r"read\s+(\d+)% of 10\.9 MB\s+ETA \dm\d\ds", screen)]
    assert any(0 < percent < 100 for percent in partway), screen[-2000:]
