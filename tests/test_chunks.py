"""Line chunks: stdin and file: lines kept as the bytes they came in, spilled past a budget, decoded as they run."""
import subprocess
import sys

import orjson
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import installed_dstream, invoke
from dstream_cli import formats
from dstream_cli.receivers.blocks import SPILL_AFTER_BYTES
from dstream_cli.receivers.lines import LineSplitter

PEAK_OF_CHILD = """
import resource, subprocess, sys
with open(sys.argv[1], "rb") as stdin:
    done = subprocess.run(sys.argv[2:], stdin=stdin, stdout=subprocess.PIPE, check=True)
sys.stderr.write(done.stdout.decode())
print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
"""


def peak_kib_and_output(path, args: list[str]) -> tuple[int, str]:
    done = subprocess.run([sys.executable, "-c", PEAK_OF_CHILD, str(path), *installed_dstream(), *args],
                          capture_output=True, text=True, check=True, timeout=120)
    return int(done.stdout), done.stderr


def test_a_whole_file_in_one_batch_is_not_held_as_lines(tmp_path):
    """A word count of one batch of 20 MB and of 80 MB (more than the spill budget): the same peak memory, under
    64 MB, and the right counts."""
    line = " ".join(f"w{i}" for i in range(12)) + "\n"
    peaks = {}
    for megabytes in (20, 80):
        path = tmp_path / f"in-{megabytes}"
        lines = megabytes * (1 << 20) // len(line)
        path.write_text(line * lines)
        peak, output = peak_kib_and_output(path, ["--batch", "30s", "flat-map", "x.split()", "map", "(x, 1)",
                                                  "reduce-by-key", "sum", "emit"])
        totals: dict[str, int] = {}
        for row in output.splitlines():  # one batch, or two if a 30 s boundary fell inside the run
            word, count = row.split("\t")
            totals[word] = totals.get(word, 0) + int(count)
        assert totals == {f"w{i}": lines for i in range(12)}
        peaks[megabytes] = peak / 1024
    assert 80 << 20 > 2 * SPILL_AFTER_BYTES
    assert peaks[80] < 64 and peaks[80] - peaks[20] < 12, peaks


raw_lines = st.one_of(st.text(alphabet="ab \t\u00e9\u4e2d", max_size=12).map(lambda s: s.encode()),
                      st.sampled_from([b"", b"\r", b"x\r", b"\xff\xfe", b"caf\xc3", b"y" * 40]))


@settings(max_examples=80, deadline=None)
@given(st.lists(raw_lines, max_size=40), st.booleans())
def test_stdin_gives_the_records_and_bad_lines_the_line_splitter_gives(tmp_path_factory, lines, final_newline):
    """Chunks or not, every line arrives as the record (or the bad line) it would be split into one by one."""
    data = b"\n".join(lines) + (b"\n" if final_newline and lines else b"")
    reference = LineSplitter(32)
    expected, expected_bad = reference.feed(data)
    more, more_bad = reference.finish()
    expected, expected_bad = list(expected) + list(more), expected_bad + more_bad
    dead = tmp_path_factory.mktemp("dead") / "dead.jsonl"
    result = invoke(["--max-line-bytes", "32", "--on-error", "skip", "--dead-letter", dead, "map", "x",
                     "emit", "--format", "json"], input=data)
    assert result.exit_code == 0, result.stderr
    assert [orjson.loads(line) for line in result.stdout.splitlines()] == expected
    written = [orjson.loads(line)["reason"] for line in dead.read_text().splitlines()] if dead.exists() else []
    assert written == [bad.reason for bad in expected_bad]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=12), max_size=30), st.integers(min_value=1, max_value=10))
def test_the_long_line_check_finds_what_splitting_finds(lengths, limit):
    """The receiving thread looks for a line over the limit by jumping from newline to newline, not by splitting:
    the same answer as the lengths of the split lines."""
    from dstream_cli.receivers.lines import _has_line_longer

    data = b"\n".join(b"x" * n for n in lengths)
    assert _has_line_longer(data, limit) == (max(map(len, data.split(b"\n"))) > limit)


PLAIN = st.one_of(st.text(alphabet=st.characters(codec="utf-8"), max_size=6), st.integers(),
                  st.sampled_from(["a\tb", "a\nb", "a\\b", "a\rb", "\x00", ""]))
ODD = st.one_of(st.booleans(), st.none(), st.floats(allow_nan=False), st.binary(max_size=2))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.tuples(PLAIN, PLAIN), max_size=8),
       st.lists(st.one_of(st.tuples(PLAIN, ODD), st.tuples(ODD, PLAIN), st.tuples(PLAIN), st.tuples(PLAIN, PLAIN, PLAIN),
                          st.lists(PLAIN, min_size=2, max_size=2), PLAIN), max_size=1),
       st.integers(min_value=0, max_value=8))
def test_the_tsv_of_plain_pairs_is_what_a_record_at_a_time_gives(pairs, odd, where):
    """emit's fast path for pairs of texts and integers formats first and checks after: whatever batch it takes,
    it renders as the general path does."""
    batch = pairs[:where] + odd + pairs[where:]
    fast = formats._plain_pairs_tsv(batch)
    assert fast is None or fast == formats._tsv_lines(batch)
    assert formats.render(batch, "tsv") == formats._tsv_lines(batch)
