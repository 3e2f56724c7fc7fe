"""Output stages: print byte for byte as PySpark's pprint, emit formats, files per batch, commands per batch."""
import os
import stat
import subprocess

from conftest import installed_dstream, invoke, queue_text

HEADER = "-------------------------------------------\nTime: {}\n-------------------------------------------\n"


def test_print_matches_pyspark_pprint_exactly(local_tz):
    """Header, str() of each element, '...' past NUM, an empty line; empty batches print too (PySpark 4.3)."""
    local_tz("UTC")
    result = invoke(["--queue", "-", "map", "(x, len(x)) if x != 'n' else None", "print", "2"],
                    input=queue_text([["ab", "ü", "n"], [], ["q"]]), env={"TZ": "UTC"})
    assert result.exit_code == 0, result.stderr
    assert result.stdout == (
        HEADER.format("1970-01-01 00:00:01") + "('ab', 2)\n('ü', 1)\n...\n\n"
        + HEADER.format("1970-01-01 00:00:02") + "\n"
        + HEADER.format("1970-01-01 00:00:03") + "('q', 1)\n\n"
    )


def test_print_shows_microseconds_for_a_time_that_is_not_a_whole_second_and_honours_tz():
    proc = subprocess.run([*installed_dstream(), "--batch", "500ms", "--queue", "-", "print"], input="a\n",
                          capture_output=True, text=True, env={**os.environ, "TZ": "Asia/Tokyo"}, timeout=60)
    assert proc.stdout.splitlines()[1] == "Time: 1970-01-01 09:00:00.500000"


def test_print_default_shows_ten_and_bare_strings_without_quotes(local_tz):
    local_tz("UTC")
    result = invoke(["--queue", "-", "print"], input=queue_text([[str(i) for i in range(11)]]), env={"TZ": "UTC"})
    body = result.stdout.splitlines()[3:]
    assert body == [str(i) for i in range(10)] + ["...", ""]


def test_emit_formats():
    """tsv (default): str as is, tuple fields by tabs with non-strings as JSON; json, csv, repr, text."""
    data = queue_text([["a"]])
    chain = ["--queue", "-", "flat-map", "['x', ('k', 1, None, [2]), {'d': 1}, 3.5]"]
    assert invoke([*chain, "emit"], input=data).output == 'x\nk\t1\tnull\t[2]\n{"d":1}\n3.5\n'
    assert invoke([*chain, "emit", "--format", "json"], input=data).output == '"x"\n["k",1,null,[2]]\n{"d":1}\n3.5\n'
    assert invoke([*chain, "emit", "--format", "csv"], input=data).output == 'x\nk,1,null,[2]\n"{""d"":1}"\n3.5\n'
    assert invoke([*chain, "emit", "--format", "repr"], input=data).output == "'x'\n('k', 1, None, [2])\n{'d': 1}\n3.5\n"
    assert invoke([*chain, "emit", "--format", "text"], input=data).output == "x\n('k', 1, None, [2])\n{'d': 1}\n3.5\n"


def test_chain_without_output_emits_and_outputs_pass_the_stream_on():
    data = queue_text([["b", "a"]])
    assert invoke(["--queue", "-", "map", "x * 2"], input=data).output == "bb\naa\n"
    assert invoke(["--queue", "-", "emit", "count", "emit"], input=data).output == "b\na\n2\n"


def test_save_as_text_files_names_each_batch_by_time_and_creates_directories(tmp_path):
    prefix = tmp_path / "deep" / "dir" / "words"
    result = invoke(["--queue", "-", "map", "(x, 1)", "save-as-text-files", str(prefix), "--suffix", "txt"],
                    input=queue_text([["a", "b"], []]))
    assert result.exit_code == 0, result.stderr
    assert sorted(os.listdir(prefix.parent)) == ["words-1000.txt", "words-2000.txt"]
    assert (prefix.parent / "words-1000.txt").read_text() == "('a', 1)\n('b', 1)\n"  # str(x), as Spark
    assert (prefix.parent / "words-2000.txt").read_text() == ""


def test_save_as_text_files_leaves_no_partial_file_when_it_cannot_write(tmp_path):
    """A read-only directory: retried, then exit 1 with a message; no temporary file left behind."""
    target = tmp_path / "ro"
    target.mkdir()
    target.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        if os.access(target, os.W_OK):  # root ignores permissions: make the parent a file instead
            prefix = str(tmp_path / "file-not-dir" / "x")
            (tmp_path / "file-not-dir").write_text("")
        else:
            prefix = str(target / "x")
        result = invoke(["--queue", "-", "--output-retries", "1", "save-as-text-files", prefix], input="a\n")
    finally:
        target.chmod(stat.S_IRWXU)
    assert result.exit_code == 1
    assert "save" in result.stderr.lower() or "stage 1" in result.stderr
    assert "after 2 attempts" in result.stderr
    assert os.listdir(target) == []


def test_foreach_batch_runs_a_command_per_non_empty_batch_with_the_batch_time(tmp_path):
    log = tmp_path / "log"
    proc = subprocess.run(
        [*installed_dstream(), "--queue", "-", "foreach-batch", f'echo "$DSTREAM_BATCH_TIME $(wc -l)" >> {log}'],
        input=queue_text([["a", "b"], [], ["c"]]), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert log.read_text() == "1000 2\n3000 1\n"


def test_foreach_batch_failure_is_a_runtime_error():
    proc = subprocess.run([*installed_dstream(), "--queue", "-", "foreach-batch", "exit 3"], input="a\n",
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "exited 3" in proc.stderr and "Traceback" not in proc.stderr


def test_foreach_batch_output_stays_in_order_with_emit():
    proc = subprocess.run([*installed_dstream(), "--queue", "-", "emit", "foreach-batch", "sed 's/^/cmd:/'"],
                          input=queue_text([["a"], ["b"]]), capture_output=True, text=True, timeout=60)
    assert proc.stdout == "a\ncmd:a\nb\ncmd:b\n"


def test_library_refuses_to_start_without_output_operations():
    import pytest

    from dstream_cli import StreamingContext, UsageError

    ssc = StreamingContext(1)
    ssc.queue_stream([["a"]]).map(str.upper)
    with pytest.raises(UsageError, match="No output operations registered"):
        ssc.start()


def test_a_full_disk_is_retried_then_exit_1_with_no_partial_file(tmp_path):
    """A 64 KiB tmpfs in a private mount namespace: the first batch fits, the second cannot."""
    disk = tmp_path / "disk"
    disk.mkdir()
    script = (f'mount -t tmpfs -o size=64k tmpfs {disk} || exit 99; '
              f'"$0" --queue - --output-retries 2 save-as-text-files {disk}/x; status=$?; '
              f'ls -a {disk}; wc -c < {disk}/x-1000; exit $status')
    big = "y" * 1000
    proc = subprocess.run(["unshare", "--mount", "sh", "-c", script, *installed_dstream()],
                          input=queue_text([["small"], [big] * 200]), capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1, proc.stderr
    assert "No space left on device" in proc.stderr and "after 3 attempts" in proc.stderr
    assert proc.stderr.count("retrying") == 2
    assert proc.stdout.split() == [".", "..", "x-1000", "6"]  # the first batch whole, nothing of the second


def test_a_batch_whose_output_failed_is_not_marked_done_and_a_restart_redoes_it(tmp_path):
    log, flag, checkpoint = tmp_path / "log", tmp_path / "fail-batch-2", tmp_path / "ck"
    flag.touch()
    command = [*installed_dstream(), "--queue", "-", "--checkpoint", str(checkpoint), "--checkpoint-interval", "1s",
               "--output-retries", "1",
               "foreach-batch",
               f'if [ "$DSTREAM_BATCH_TIME" = 2000 ] && [ -e {flag} ]; then exit 4; fi; '
               f'sed "s/^/$DSTREAM_BATCH_TIME /" >> {log}']
    batches = queue_text([["a"], ["b"], ["c"]])
    first = subprocess.run(command, input=batches, capture_output=True, text=True, timeout=60)
    assert first.returncode == 1 and "exited 4 for batch 2000" in first.stderr
    assert "retrying" in first.stderr and "after 2 attempts" in first.stderr
    assert sorted(p.name for p in checkpoint.glob("checkpoint-*")) == ["checkpoint-0.json", "checkpoint-1000.json"]
    flag.unlink()
    second = subprocess.run(command, input=batches, capture_output=True, text=True, timeout=60)
    assert second.returncode == 0, second.stderr
    assert log.read_text() == "1000 a\n2000 b\n3000 c\n"
