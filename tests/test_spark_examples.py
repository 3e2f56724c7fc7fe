"""The streaming examples that ship in the installed pyspark wheel (examples/src/main/python/streaming/), run as
processes twice: as they are, on real PySpark, and with only their imports changed to dstream_cli.pyspark. Each
prints the same batches on both."""
import ast
import collections
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from conftest import need_pyspark, spark_env, wait_for
from test_pyspark_dropin import LineServer

EXAMPLES = ["network_wordcount", "stateful_network_wordcount", "hdfs_wordcount", "queue_stream",
            "network_wordjoinsentiments", "recoverable_network_wordcount", "sql_network_wordcount"]
WORDS = ["happy happy day", "a sad day", "b c a good day"]


def example_source(name: str, engine: str) -> str:
    """The wheel's example; for the drop-in, every ``pyspark`` import made ``dstream_cli.pyspark``'s."""
    pyspark = need_pyspark()
    path = Path(pyspark.__file__).parent / "examples" / "src" / "main" / "python" / "streaming" / f"{name}.py"
    source = path.read_text()
    if engine == "dropin":
        source = re.sub(r"^(\s*)from pyspark(\.| )", r"\1from dstream_cli.pyspark\2", source, flags=re.M)
        assert "import pyspark" not in source
    return source


class Run:
    """The example as a process in *cwd*; its stdout collected as it comes."""

    def __init__(self, name: str, engine: str, cwd: Path, *args) -> None:
        script = cwd / f"{name}.py"
        script.write_text(example_source(name, engine))
        self.process = subprocess.Popen([sys.executable, str(script), *map(str, args)], cwd=cwd, env=spark_env(),
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        self.lines: list[str] = []
        threading.Thread(target=lambda: self.lines.extend(self.process.stdout), daemon=True).start()
        threading.Thread(target=self.process.stderr.read, daemon=True).start()

    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, predicate, what: str, timeout: float = 120) -> None:
        wait_for(lambda: predicate(self.text()) or self.process.poll() is not None, timeout, what)
        assert predicate(self.text()), f"{what}: the example ended ({self.process.returncode}):\n{self.text()}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()


def pprint_batches(text: str) -> list[list]:
    """pprint's batches, each as its records sorted (Spark's partitions order them otherwise)."""
    blocks = re.split(r"-{43}\nTime: [^\n]+\n-{43}\n", text)[1:]
    return [sorted((ast.literal_eval(line) for line in block.strip("\n").splitlines() if line != "..."), key=repr)
            for block in blocks]


def nonempty(text: str) -> list[list]:
    return [batch for batch in pprint_batches(text) if batch]


def counts_of(lines) -> list:
    return sorted(collections.Counter(w for line in lines for w in line.split(" ")).items())


def scenario(name: str, engine: str, cwd: Path):
    """Run the example on *engine* (pyspark or dropin), give it the input it reads, return what it printed of it."""
    if name == "queue_stream":
        run = Run(name, engine, cwd)
        assert run.process.wait(120) == 0, run.text()
        return nonempty(run.text())  # then empty batches until its sleep(6) ends, as many as the clock allows
    if name == "hdfs_wordcount":
        (cwd / "in").mkdir()
        run = Run(name, engine, cwd, cwd / "in")
        try:
            # it must be watching before the file comes: its first batch's pprint header says it is (a fixed sleep
            # was too short for Spark on a loaded machine, and the file, older than the stream, was never read)
            run.wait_for(lambda text: "Time: " in text, "the first batch")
            (cwd / "words.tmp").write_text("".join(line + "\n" for line in WORDS))
            os.rename(cwd / "words.tmp", cwd / "in" / "words.txt")  # renamed in, as Spark's guide asks
            run.wait_for(lambda text: nonempty(text), "the file's words")
            return nonempty(run.text())[0]
        finally:
            run.stop()
    server = LineServer()
    args = [cwd, "out.txt"] if name == "recoverable_network_wordcount" else []
    if name == "network_wordjoinsentiments":
        (cwd / "data" / "streaming").mkdir(parents=True)
        (cwd / "data" / "streaming" / "AFINN-111.txt").write_text("happy 3\nsad -2\ngood 3\n")
    run = Run(name, engine, cwd, "127.0.0.1", server.port, *[cwd / "ck" if a == cwd else a for a in args])
    try:
        server.send(*WORDS)
        if name == "network_wordjoinsentiments":
            run.wait_for(lambda text: "day" not in text and re.search(r"\(\d+ total\):\n\w", text),
                         "the happiest words")
            block = re.search(r"Happiest topics in the last 5 seconds \((\d+) total\):\n((?:.+ happiness\)\n)+)",
                              run.text())
            return int(block.group(1)), sorted(block.group(2).splitlines())
        if name == "recoverable_network_wordcount":
            first = recovered_counts(run, cwd)
            run.stop()
            # run again on its checkpoint: the graph comes back from it, and createContext is not called
            for client in server.clients:
                client.close()
            server.clients.clear()
            run = Run(name, engine, cwd, "127.0.0.1", server.port, cwd / "ck", "out.txt")
            server.send("x y z a")
            second = recovered_counts(run, cwd)
            return first, second
        if name == "sql_network_wordcount":
            run.wait_for(lambda text: "|day|" in text.replace(" ", ""), "the table of the words")
            return shown_table(run.text())
        run.wait_for(lambda text: any("day" in repr(b) for b in nonempty(text)), "the words")
        return next(batch for batch in nonempty(run.text()) if "day" in repr(batch))
    finally:
        run.stop()
        server.close()


def shown_table(text: str) -> list[str]:
    """The first table ``show()`` printed with words in it, its rows sorted (Spark's group by has no order) and
    every other line exactly as printed."""
    table = re.search(r"(\+[-+]+\+\n\|[^\n]*word[^\n]*\n\+[-+]+\+\n)((?:\|[^\n]*\n)+)(\+[-+]+\+\n\n)", text)
    assert table, text
    return [table.group(1), *sorted(table.group(2).splitlines()), table.group(3)]


def recovered_counts(run: Run, cwd: Path) -> tuple:
    """The recoverable example's first non-empty counts, its dropped words, whether it appended them to its
    output file, and how many times it said it created a new context."""
    run.wait_for(lambda text: re.search(r"Counts at time .+ \[\(", text), "the counts")
    counts = re.search(r"Counts at time .+? (\[\(.+\])\n", run.text()).group(1)
    dropped = re.findall(r"Dropped (\d+) word\(s\) totally", run.text())
    written = (cwd / "out.txt").read_text()
    return sorted(ast.literal_eval(counts)), int(dropped[-1]), counts in written, run.text().count("Creating new")


@pytest.mark.parametrize("name", EXAMPLES)
def test_an_example_from_the_pyspark_wheel_prints_pysparks_batches_with_only_its_imports_changed(name, tmp_path):
    (tmp_path / "pyspark").mkdir()
    (tmp_path / "dropin").mkdir()
    theirs = scenario(name, "pyspark", tmp_path / "pyspark")
    ours = scenario(name, "dropin", tmp_path / "dropin")
    assert ours == theirs
    expected = {
        "network_wordcount": counts_of(WORDS),
        "stateful_network_wordcount": sorted({**dict(counts_of(WORDS)), "hello": 1, "world": 1}.items()),
        "hdfs_wordcount": counts_of(WORDS),
        "queue_stream": [sorted((k, 100) for k in range(10))] * 5,
        "network_wordjoinsentiments": (3, ["happy (6 happiness)", "good (3 happiness)", "sad (-2 happiness)"]),
        "recoverable_network_wordcount": (([kv for kv in counts_of(WORDS) if kv[0] not in "abc"], 4, True, 1),
                                          ([("x", 1), ("y", 1), ("z", 1)], 1, True, 0)),
        "sql_network_wordcount": ["+-----+-----+\n|word |total|\n+-----+-----+\n".replace("|word ", "| word"),
                                  *sorted(f"|{w:>5}|{n:>5}|" for w, n in counts_of(WORDS)), "+-----+-----+\n\n"],
    }[name]
    if name == "network_wordjoinsentiments":
        expected = (expected[0], sorted(expected[1]))
    assert ours == expected
    shutil.rmtree(tmp_path, ignore_errors=True)
