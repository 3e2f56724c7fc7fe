"""Faults a hostile trial found in Kafka, databases and event time (the second round): each test failed before
its fix. Against the session's real broker and PostgreSQL server where the fault needs one."""
import subprocess
import urllib.parse

import orjson
import pytest
from confluent_kafka import Producer

from conftest import installed_dstream, invoke
from kafka_broker import create_topic


def _produce_raw(brokers: str, topic: str, values: list[bytes]) -> None:
    producer = Producer({"bootstrap.servers": brokers, "log_level": 0})
    for value in values:
        producer.produce(topic, value, partition=0)
    assert producer.flush(10) == 0


def _kafka_run(brokers: str, topic: str, *stages: str, fmt: str = "text", options=()) -> subprocess.CompletedProcess:
    return subprocess.run([*installed_dstream(), "--batch", "200ms", "--batches", "5", "--format", fmt, *options, "-i",
                           f"k=kafka://{brokers}/{topic}?start=earliest", "from", "k", *stages],
                          capture_output=True, text=True, timeout=60)


def test_a_kafka_message_is_one_record_whatever_newlines_it_holds(kafka_brokers):
    """b'hello\\n' is one record 'hello' (not two, one of them empty); a value holding a newline is one record;
    a JSON value closed by \\r\\n is one good record under --format json."""
    create_topic(kafka_brokers, "whole-messages", 1)
    _produce_raw(kafka_brokers, "whole-messages", [b"hello\n", b"two\nlines", b'{"a": 1}\r\n'])
    text = _kafka_run(kafka_brokers, "whole-messages", "map", "repr(x)", "emit", "--format", "text")
    assert text.returncode == 0, text.stderr
    assert text.stdout.splitlines() == ["'hello'", "'two\\nlines'", "'{\"a\": 1}'"]
    create_topic(kafka_brokers, "json-messages", 1)
    _produce_raw(kafka_brokers, "json-messages", [b'{"a": 1}\r\n', b'{"a": 2}\n', b'{"a":\n 3}'])
    parsed = _kafka_run(kafka_brokers, "json-messages", "map", "x['a']", "emit", fmt="json")
    assert parsed.returncode == 0, parsed.stderr
    assert parsed.stdout.splitlines() == ["1", "2", "3"]


def test_kafka_values_decoded_together_give_each_message_as_one_by_one_would(kafka_brokers, tmp_path):
    """The plain values of a fetch are decoded in one pass: an empty message (a tombstone, or no bytes) is still
    an empty record, and a value that is not UTF-8 is still a bad record named by its offset, the others kept."""
    create_topic(kafka_brokers, "mixed-values", 1)
    _produce_raw(kafka_brokers, "mixed-values", [b"plain", b"", None, "caf\u00e9".encode(), b"\xffbad", b"\rlast"])
    dead = tmp_path / "dead.jsonl"
    result = _kafka_run(kafka_brokers, "mixed-values", "map", "repr(x)", "emit", "--format", "text",
                        options=("--on-error", "skip", "--dead-letter", str(dead)))
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["'plain'", "''", "''", "'caf\u00e9'", "'\\rlast'"]
    assert "mixed-values:0@4" in dead.read_text()


@pytest.mark.parametrize("url, named", [
    ("sqlite:x.db", "write sqlite:///RELATIVE/PATH.db"),
    ("sqlite:/x.db", "write sqlite:///RELATIVE/PATH.db"),
    ("sqlite:///:memory:", "in-memory database"),
    ("sqlite:///x.db?mode=ro", "?mode=ro"),
])
def test_a_sqlite_url_is_honoured_or_refused_in_one_line(url, named, tmp_path, monkeypatch):
    """No URL writes somewhere else than it says (sqlite:x.db wrote a hidden '.db'), throws the data away
    (:memory:) or ignores what it asks (?mode=ro wrote): each is refused, exit 2, one line."""
    monkeypatch.chdir(tmp_path)
    result = invoke(["--queue", "-", "map", "(x, 1)", "save-to-db", url, "t", "--create"], input="a\n")
    assert result.exit_code == 2, result.stderr
    assert named in result.stderr and result.stderr.count("\n") == 1, result.stderr
    assert not list(tmp_path.iterdir())


# --- event time ------------------------------------------------------------------------------------------------
def _event_run(path, *stages, options=()) -> subprocess.CompletedProcess:
    return subprocess.run([*installed_dstream(), "--format", "json", "--event-time", "x['ts']", *options,
                           "-i", f"log=file:{path}", "from", "log", *stages], capture_output=True, text=True,
                          timeout=60)


def _jsonl(path, records) -> None:
    import json

    path.write_text("".join(json.dumps(record) + "\n" for record in records))


@pytest.mark.parametrize("first", [0, -5, "0001-01-03T00:00:00+00:00", "1969-12-31T23:59:59+00:00"])
def test_event_times_at_or_before_the_epoch_are_batches_like_any_other(first, tmp_path):
    """A log's first records are never late: times at 0, before 1970 or in year 1 make their batches (they were
    silently lost, exit 0, as if in a batch already computed)."""
    _jsonl(tmp_path / "log.jsonl", [{"ts": first, "k": "a"}, {"ts": first, "k": "b"}, {"ts": 5, "k": "c"}])
    result = _event_run(tmp_path / "log.jsonl", "map", "x['k']", "emit")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["a", "b", "c"]
    assert "late" not in result.stderr


def test_a_time_beyond_the_dates_is_a_bad_record_and_moves_no_watermark(tmp_path):
    """Year 10000 or 1e20 crashed print (ValueError, OverflowError); each is a bad record named under
    --on-error fail, skipped into the dead letter under skip, and the records after it are not late."""
    _jsonl(tmp_path / "log.jsonl", [{"ts": 1780000000, "k": "a"}, {"ts": 253402300800, "k": "far"},
                                    {"ts": 1e20, "k": "farther"}, {"ts": 1780000003, "k": "b"}])
    failed = _event_run(tmp_path / "log.jsonl", "map", "x['k']", "print")
    assert failed.returncode == 1
    assert "event time 253402300800 is not a date of the years 1 to 9999" in failed.stderr
    assert failed.stderr.count("\n") == 1, failed.stderr
    dead = tmp_path / "dead.jsonl"
    skipped = _event_run(tmp_path / "log.jsonl", "map", "x['k']", "emit",
                         options=["--on-error", "skip", "--dead-letter", str(dead)])
    assert skipped.returncode == 0, skipped.stderr
    assert skipped.stdout.splitlines() == ["a", "b"]
    entries = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert [e["record"] for e in entries] == ["{'ts': 253402300800, 'k': 'far'}", "{'ts': 1e+20, 'k': 'farther'}"]
    # reported in the batch the log was at, not in 1970's first
    assert {e["batch_time"] for e in entries} == {1780000000000}


def test_records_within_the_lateness_are_in_event_time_order_inside_their_batch(tmp_path):
    """Shuffled within --allowed-lateness, a log gives the sorted log's batches, order inside a batch included:
    update-state last keeps the latest event, not the last to arrive."""
    import random

    records = [{"ts": 1780000000 + i / 10, "k": f"k{i % 3}", "v": i} for i in range(300)]
    shuffled = records[:]
    rng = random.Random(1)
    for start in range(0, 300, 10):
        part = shuffled[start:start + 10]
        rng.shuffle(part)
        shuffled[start:start + 10] = part
    _jsonl(tmp_path / "sorted.jsonl", records)
    _jsonl(tmp_path / "shuffled.jsonl", shuffled)
    chain = ["map", "(x['k'], x['v'])", "update-state", "last", "emit"]
    runs = [_event_run(tmp_path / name, *chain, options=["--allowed-lateness", "2s"])
            for name in ("sorted.jsonl", "shuffled.jsonl")]
    assert all(run.returncode == 0 for run in runs), runs[1].stderr
    assert runs[0].stdout == runs[1].stdout and runs[0].stdout.splitlines()[-3:] == ["k0\t297", "k1\t298", "k2\t299"]


DECADES = [{"ts": 1, "k": "a"}, {"ts": 1780000000, "k": "b"}]  # a log that jumps from 1970 to 2026


def test_a_state_over_a_gap_of_decades_ends_in_seconds(tmp_path):
    """update-state with nothing new is steady after one empty batch: the gap is crossed at once (it ran one
    batch a second from 1970, a million files in ten minutes); the batches after it carry the state on."""
    _jsonl(tmp_path / "gap.jsonl", DECADES)
    result = subprocess.run([*installed_dstream(), "--format", "json", "--event-time", "x['ts']", "-i",
                             f"a=file:{tmp_path / 'gap.jsonl'}", "from", "a", "map", "(x['k'], 1)", "update-state",
                             "sum", "save-as-text-files", str(tmp_path / "out" / "s"), "--format", "repr"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    files = sorted((p for p in (tmp_path / "out").iterdir()), key=lambda p: int(p.name[2:]))
    assert [p.name for p in files] == ["s-1000", "s-2000", "s-1780000000000"]
    assert sorted(files[-1].read_text().splitlines()) == ["('a', 1)", "('b', 1)"]


def test_an_inverse_window_over_a_gap_of_decades_costs_its_window_and_drops_its_zeros(tmp_path):
    """A sliding hour with an inverse runs its hour of slides after the record (what changes), then crosses the
    rest of the gap; the key whose count fell to zero is dropped at the crossing. The log ends with b: its
    hour of slides runs too, through the last that holds it."""
    _jsonl(tmp_path / "gap.jsonl", DECADES)
    result = subprocess.run([*installed_dstream(), "--format", "json", "--event-time", "x['ts']", "-i",
                             f"a=file:{tmp_path / 'gap.jsonl'}", "from", "a", "map", "(x['k'], 1)",
                             "reduce-by-key-and-window", "sum", "1h", "1s", "--inverse", "a - b",
                             "save-as-text-files", str(tmp_path / "out" / "s"), "--format", "repr"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    files = {int(p.name[2:]): p.read_text().splitlines() for p in (tmp_path / "out").iterdir()}
    # each record's hour of slides, and the batches a's zero shows in
    assert 7200 <= len(files) <= 7205, len(files)
    assert files[3600_000] == ["('a', 1)"] and files[3601_000] == ["('a', 0)"]
    assert files[1780000000000] == files[1780000000000 + 3599_000] == ["('b', 1)"]
    assert max(files) == 1780000000000 + 3599_000


@pytest.mark.parametrize("stop", ["sigterm", "stop-file"])
def test_a_run_in_a_gap_it_cannot_cross_stops_at_once(stop, tmp_path):
    """A state that changes every batch (a count of batches) cannot cross the gap; SIGTERM or the stop file
    still stops it at once (both were ignored): what was received is computed, the empty batches between not."""
    import signal
    import time

    _jsonl(tmp_path / "gap.jsonl", DECADES)
    proc = subprocess.Popen([*installed_dstream(), "--format", "json", "--event-time", "x['ts']", "--stop-file",
                             str(tmp_path / "stop"), "-i", f"a=file:{tmp_path / 'gap.jsonl'}", "from", "a", "map",
                             "(x['k'], 1)", "update-state", "lambda values, state: (state or 0) + 1",
                             "save-as-text-files", str(tmp_path / "out" / "s"), "--format", "repr"],
                            stderr=subprocess.PIPE, text=True)
    time.sleep(2)
    assert proc.poll() is None
    if stop == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        (tmp_path / "stop").touch()
    assert proc.wait(timeout=10) == 0, proc.stderr.read()
    last = max((p for p in (tmp_path / "out").iterdir()), key=lambda p: int(p.name[2:]))
    assert last.name == "s-1780000000000" and "('b', 1)" in last.read_text()


# --- Kafka: a topic recreated ----------------------------------------------------------------------------------
def _count_run(brokers: str, topic: str, directory, query: str = "") -> subprocess.CompletedProcess:
    """Count what a run reads, ending by itself after a few batches; checkpointed in *directory*."""
    return subprocess.run([*installed_dstream(), "--batch", "200ms", "--batches", "10", "--checkpoint",
                           str(directory / "ck"), "-i", f"k=kafka://{brokers}/{topic}?start=earliest{query}",
                           "from", "k", "count", "emit"], capture_output=True, text=True, timeout=60, cwd=directory)


@pytest.mark.parametrize("reset, read", [("", None), ("&reset=earliest", 1000), ("&reset=latest", 0)])
def test_a_kafka_topic_recreated_behind_the_checkpoint_is_said_and_reset_decides(reset, read, tmp_path):
    """The saved offsets (1,300) are past the end of the recreated topic (1,000 records): the run said nothing
    and read 300 records fewer. Now it is one line, and reset= decides: fail (the default, exit 1), earliest
    (all 1,000) or latest (none of them)."""
    from conftest import free_port
    from kafka_broker import produce, start_broker

    port = free_port()
    brokers = f"127.0.0.1:{port}"
    broker = start_broker(port)
    try:
        create_topic(brokers, "recreated", 1)
        produce(brokers, "recreated", [("k0", f"a{i}") for i in range(1300)])
        first = _count_run(brokers, "recreated", tmp_path, reset)
        assert first.returncode == 0, first.stderr
        assert sum(map(int, first.stdout.split())) == 1300
        broker.kill()
        broker.wait()
        broker = start_broker(port)  # in memory: the topics are gone
        create_topic(brokers, "recreated", 1)
        produce(brokers, "recreated", [("k0", f"b{i}") for i in range(1000)])
        again = _count_run(brokers, "recreated", tmp_path, reset)
    finally:
        broker.kill()
        broker.wait()
    said = [line for line in again.stderr.splitlines() if "outside what the brokers hold" in line]
    assert len(said) == 1 and "offset 1300 of recreated:0" in said[0] and "(0 to 1000)" in said[0], again.stderr
    if read is None:
        assert again.returncode == 1 and "reset=earliest or reset=latest" in said[0]
    else:
        assert again.returncode == 0, again.stderr
        assert sum(map(int, again.stdout.split())) == read


# --- save-to-db: misfits under --on-error skip ------------------------------------------------------------------
@pytest.mark.parametrize("kind, value, misfit", [
    ("postgresql", '"x"', '"x\\u0000y"'),  # PostgreSQL text cannot hold NUL
    ("postgresql", "1", "true"),  # a bool into the BIGINT column --create made
    ("postgresql", '{"n": 1}', '{"n": 1000000000000000000000000000000}'),  # beyond what JSON here holds
    ("sqlite", '{"n": 1}', '{"n": 1000000000000000000000000000000}'),
    ("mysql", "1", "1000000000000000000000000000000"),  # beyond BIGINT: LOAD DATA would only warn
    ("mysql", '{"n": 1}', '{"n": 1000000000000000000000000000000}'),
])
def test_a_record_the_database_refuses_goes_to_the_dead_letter_under_skip(kind, value, misfit, tmp_path, request):
    """Each failed the whole batch with exit 1, nothing in the dead letter and no record named; now the record is
    in the dead letter with its reason and the rest of the batch is written. (Pairs (key, value); the first
    batch makes the table.)"""
    if kind in ("postgresql", "mysql"):
        server = request.getfixturevalue("postgres" if kind == "postgresql" else "mariadb")
        url = server.new_database(f"misfit_{len(tmp_path.name)}_{sum(map(ord, tmp_path.name))}")
    else:
        url = f"sqlite:///{tmp_path / 'out.db'}"
    dead = tmp_path / "dead.jsonl"
    batches = f'["a", {value}]\n\n["b", {misfit}]\n["c", {value}]\n\n'
    result = invoke(["--queue", "-", "--format", "json", "--on-error", "skip", "--dead-letter", str(dead),
                     "map", "tuple(x)", "save-to-db", url, "t", "--create"], input=batches)
    assert result.exit_code == 0, result.stderr
    entries = [orjson.loads(line) for line in dead.read_bytes().splitlines()]
    assert len(entries) == 1 and entries[0]["record"].startswith("('b', ")
    assert "does not fit table t" in entries[0]["reason"]
    if kind == "postgresql":
        import psycopg

        with psycopg.connect(url) as connection:
            keys = sorted(row[0] for row in connection.execute("SELECT key FROM t").fetchall())
    elif kind == "mysql":
        import pymysql

        parts = urllib.parse.urlsplit(url)
        with pymysql.connect(host=parts.hostname, port=parts.port, user=parts.username, password=parts.password,
                             database=parts.path[1:]) as connection, connection.cursor() as cursor:
            cursor.execute("SELECT `key` FROM t")
            keys = sorted(row[0] for row in cursor.fetchall())
    else:
        import sqlite3

        with sqlite3.connect(tmp_path / "out.db") as connection:
            keys = sorted(row[0] for row in connection.execute("SELECT key FROM t").fetchall())
    assert keys == ["a", "c"]


def test_an_empty_table_name_is_refused():
    result = invoke(["--queue", "-", "save-to-db", "sqlite:///x.db", ""], input="a\n")
    assert result.exit_code == 2 and "TABLE name is empty" in result.stderr


# --- smaller ones ------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("args, said", [
    (["-i", "k=kafka://[::1:9092/t", "from", "k", "count"], "-i k: 'kafka://[::1:9092/t' is not a URL"),
    (["save-to-db", "postgresql://u:secret@[::1:5432/db", "t"], "the database URL is not a URL"),
])
def test_a_url_with_a_bracket_left_open_is_a_usage_error(args, said):
    """'Invalid IPv6 URL' was a ValueError line with exit 1; the database URL's password is not shown."""
    result = invoke(["--queue", "-", *args], input="a\n")
    assert result.exit_code == 2
    assert said in result.stderr and "secret" not in result.stderr and result.stderr.count("\n") == 1


def test_save_to_kafka_sends_a_none_key_as_no_key(kafka_brokers):
    """A (None, v) pair is a message without a key (it was keyed with the text 'null')."""
    from confluent_kafka import Consumer, TopicPartition

    create_topic(kafka_brokers, "no-key", 1)
    result = invoke(["--queue", "-", "map", "(None if x == 'n' else x, x)", "save-to-kafka", "no-key", "--brokers",
                     kafka_brokers], input="n\nk\n")
    assert result.exit_code == 0, result.stderr
    consumer = Consumer({"bootstrap.servers": kafka_brokers, "group.id": "no-key", "auto.offset.reset": "earliest",
                         "log_level": 0})
    consumer.assign([TopicPartition("no-key", 0, 0)])
    got = []
    for _ in range(40):
        got += [(m.key(), m.value()) for m in consumer.consume(10, timeout=0.5) if not m.error()]
        if len(got) == 2:
            break
    consumer.close()
    assert got == [(None, b"n"), (b"k", b"k")]


def test_files_left_mid_write_by_a_killed_run_are_removed_at_the_next_start(tmp_path):
    """A SIGKILL mid-write can leave a batch's temporary file (or, with --layout spark, directory) beside the
    outputs; the next run with the same prefix removes them, and leaves everything else."""
    out = tmp_path / "out"
    out.mkdir()
    (out / ".s-1000.k2j3h4.tmp").write_text("half a batch")
    (out / ".s-2000.x9y8z7.tmp").mkdir()
    (out / ".s-2000.x9y8z7.tmp" / "part-00000").write_text("half")
    kept = [out / ".other-1000.abc.tmp", out / "notes.txt", out / ".s-notatime.abc.tmp"]
    for path in kept:
        path.write_text("mine")
    result = invoke(["--queue", "-", "count", "save-as-text-files", str(out / "s")], input="a\n")
    assert result.exit_code == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == sorted(["s-1000", *(p.name for p in kept)])


def test_a_kafka_topic_that_does_not_exist_is_said_once_and_read_when_it_appears(kafka_brokers, tmp_path):
    """It gave empty batches and no word; now one line, and its records are read once it is created."""
    from kafka_broker import produce

    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--stop-file", str(tmp_path / "stop"), "-i",
                             f"k=kafka://{kafka_brokers}/not-yet?start=earliest", "from", "k", "count", "emit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        import time

        time.sleep(2)
        create_topic(kafka_brokers, "not-yet", 1)
        produce(kafka_brokers, "not-yet", [("k0", f"v{i}") for i in range(5)])
        time.sleep(4)
        (tmp_path / "stop").touch()
        out, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 0, err
    said = [line for line in err.splitlines() if "does not exist" in line]
    assert said == ["dstream: input k: topic not-yet does not exist (yet); it is read when it appears"], err
    assert sum(map(int, out.split())) == 5


def test_with_the_brokers_down_the_clock_keeps_its_batches_and_the_outage_is_said_once(tmp_path):
    """No broker at the address: --batch 500ms --run-for 4s made 3 batches in 6.3 s, each waiting 2 s on the
    brokers; now the batches keep the clock (empty ones), and the outage is one line."""
    import time

    from conftest import free_port

    started = time.monotonic()
    result = subprocess.run([*installed_dstream(), "--batch", "500ms", "--run-for", "4s", "-i",
                             f"k=kafka://127.0.0.1:{free_port()}/t", "from", "k", "count", "emit"],
                            capture_output=True, text=True, timeout=60)
    took = time.monotonic() - started
    assert result.returncode == 0, result.stderr
    assert result.stdout.split().count("0") >= 6, (result.stdout, took)
    assert [line for line in result.stderr.splitlines() if "unreachable" in line] != []
    assert len([line for line in result.stderr.splitlines() if "unreachable" in line]) == 1, result.stderr


def test_nan_and_negative_zero_are_kept_by_postgresql_and_stored_as_sqlite_stores_them(postgres, tmp_path):
    """What the README says: SQLite stores NaN as NULL and -0.0 as 0.0 (as for any program); PostgreSQL keeps
    both."""
    import math
    import sqlite3

    import psycopg

    url = postgres.new_database("floats")
    for target in (url, f"sqlite:///{tmp_path / 'f.db'}"):
        result = invoke(["--queue", "-", "map", "(x, float(x))", "save-to-db", target, "t", "--create"],
                        input="nan\n-0.0\n")
        assert result.exit_code == 0, result.stderr
    with psycopg.connect(url) as connection:
        kept = dict(connection.execute("SELECT key, value FROM t").fetchall())
    assert math.isnan(kept["nan"]) and math.copysign(1, kept["-0.0"]) == -1
    with sqlite3.connect(tmp_path / "f.db") as connection:
        stored = dict(connection.execute("SELECT key, value FROM t").fetchall())
    assert stored["nan"] is None and math.copysign(1, stored["-0.0"]) == 1
