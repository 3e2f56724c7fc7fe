"""What a user sees when something is wrong: one line (and a caret), the right exit code, no traceback."""
import subprocess

from conftest import installed_dstream, invoke


def test_syntax_error_exits_2_with_stage_expression_and_caret():
    result = invoke(["--queue", "-", "flat-map", "x.split()", "map", "x +* 2"], input="a\n")
    assert result.exit_code == 2
    assert result.stderr == "dstream: stage 2 (map): invalid syntax\n  x +* 2\n     ^\n"
    assert result.stdout == ""


def test_unknown_name_exits_2_before_reading_input():
    result = invoke(["--queue", "-", "map", "mpa(x)"], input="a\n")
    assert result.exit_code == 2
    assert "stage 1 (map): name 'mpa' is not defined" in result.stderr


def test_unknown_module_function_exits_2():
    result = invoke(["--queue", "-", "reduce", "nosuchmodule:f"], input="a\n")
    assert result.exit_code == 2
    assert "cannot import 'nosuchmodule'" in result.stderr


def test_runtime_error_exits_1_naming_stage_expression_record_input_and_batch():
    result = invoke(["--queue", "-", "map", "int(x)"], input="1\n\n2\nnot-a-number\n")
    assert result.exit_code == 1
    assert result.stderr.startswith("dstream: stage 1 (map 'int(x)'): ValueError: invalid literal for int()")
    assert "record 'not-a-number', input stdin, batch 1970-01-01 00:00:02" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_bad_json_input_names_the_input_and_line():
    result = invoke(["--queue", "-", "--format", "json", "count"], input='{"a": 1}\n{oops\n')
    assert result.exit_code == 1
    assert "input stdin (--format json): not valid json" in result.stderr
    assert "record '{oops'" in result.stderr


def test_debug_shows_the_traceback():
    proc = subprocess.run([*installed_dstream(), "--debug", "--queue", "-", "map", "1/0"], input="a\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "Traceback" in proc.stderr and "ZeroDivisionError" in proc.stderr


def test_closed_stdout_ends_quietly():
    """dstream ... | head -1: exit 0, nothing on stderr, even with a lot of output pending."""
    proc = subprocess.run(f"seq 1 300000 | {installed_dstream()[0]} --batch 50ms map 'x * 3' | head -1",
                          shell=True, capture_output=True, text=True, timeout=60,
                          executable="/bin/bash")
    assert proc.stdout == "111\n"
    assert proc.stderr == ""
    status = subprocess.run(f"set -o pipefail; seq 1 300000 | {installed_dstream()[0]} map 'x' | head -1 >/dev/null",
                            shell=True, executable="/bin/bash", timeout=60)
    assert status.returncode == 0
