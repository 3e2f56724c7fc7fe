"""What surprised a newcomer in the first hour (issue 27): each message says what to do, and nothing runs for
ever on a mistake. Each test failed on the code before."""
import subprocess

from conftest import installed_dstream, invoke


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
