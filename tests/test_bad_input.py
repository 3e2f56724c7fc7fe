"""--on-error skip and --dead-letter: every kind of bad record is counted and kept, none silently dropped."""
import base64
import subprocess

import orjson

from conftest import installed_dstream, invoke


def dead_letters(path):
    return [orjson.loads(line) for line in path.read_bytes().splitlines()]


def test_skip_writes_each_bad_record_with_reason_stage_and_batch_time(tmp_path):
    dead = tmp_path / "dead.jsonl"
    metrics = tmp_path / "m.jsonl"
    data = b'{"n": 1}\n{broken\n\xff\xfe\n{"n": 0}\n' + b"{" + b"x" * 300 + b"}\n" + b'{"n": 2}\n'
    proc = subprocess.run([*installed_dstream(), "--queue", "-", "--format", "json", "--max-line-bytes", "200",
                           "--on-error", "skip", "--dead-letter", str(dead), "--metrics", str(metrics),
                           "map", "10 // x['n']", "emit"], input=data, capture_output=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout == b"10\n5\n"
    entries = dead_letters(dead)
    reasons = [e["reason"] for e in entries]
    assert any("not valid UTF-8" in r for r in reasons)
    assert any("longer than --max-line-bytes 200" in r for r in reasons)
    assert any(r.startswith("not valid json") for r in reasons)
    assert any(r.startswith("ZeroDivisionError") for r in reasons)
    assert len(entries) == 4
    utf8 = next(e for e in entries if "UTF-8" in e["reason"])
    assert base64.b64decode(utf8["record_base64"]) == b"\xff\xfe"  # the bytes are kept
    division = next(e for e in entries if e["reason"].startswith("ZeroDivisionError"))
    assert division["record"] == "{'n': 0}" and division["stage"].startswith("stage 1 (map")
    assert division["batch_time"] == 1000
    assert orjson.loads(metrics.read_bytes().splitlines()[-1])["skipped"] == 4
    assert oct(dead.stat().st_mode & 0o777) == "0o600"


def test_fail_on_invalid_utf8_names_the_input_and_keeps_the_bytes_visible():
    proc = subprocess.run([*installed_dstream(), "--queue", "-", "count"], input=b"ok\n\xff\n", capture_output=True,
                          timeout=30)
    assert proc.returncode == 1
    assert b"input stdin: not valid UTF-8" in proc.stderr and b"\\xff" in proc.stderr


def test_dead_letter_needs_skip():
    result = invoke(["--queue", "-", "--dead-letter", "x.jsonl", "count"], input="a\n")
    assert result.exit_code == 2
    assert "--dead-letter needs --on-error skip" in result.stderr


def test_skip_in_a_reduction_drops_only_the_bad_pair(tmp_path):
    result = invoke(["--queue", "-", "--on-error", "skip", "map", "(x[0], int(x[1]) if x[1].isdigit() else x[1])",
                     "reduce-by-key", "a + b"],
                    input="a1\na2\naz\nb5\n")
    assert result.exit_code == 0, result.stderr
    assert result.stdout == "a\t3\nb\t5\n"
