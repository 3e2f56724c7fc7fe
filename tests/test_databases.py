"""save-to-db into SQLite and into real PostgreSQL and MariaDB servers on 127.0.0.1: modes, columns, records that
do not fit, and exactly once across SIGKILLs and a server that goes away."""
from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import time
import urllib.parse

import orjson
import psycopg
import pymysql
import pytest

from conftest import StallThenKill, installed_dstream, invoke, kill_and_restart, queue_text, wait_for
from mariadb_server import PASSWORD as MARIADB_PASSWORD
from mariadb_server import MariadbServer
from pg_server import PASSWORD, PostgresServer

_names = itertools.count()


class Database:
    """One database under test: its URL, and plain queries on it (double-quoted names in each)."""

    def __init__(self, kind: str, url: str, path: str | None = None) -> None:
        self.kind, self.url, self.path = kind, url, path

    def _mysql(self):
        parts = urllib.parse.urlsplit(self.url)
        return pymysql.connect(host=parts.hostname, port=parts.port, user=parts.username, password=parts.password,
                               database=parts.path[1:], charset="utf8mb4", autocommit=True,
                               init_command="SET SESSION sql_mode = 'ANSI_QUOTES,STRICT_ALL_TABLES'")

    def query(self, sql: str, params=()) -> list[tuple]:
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as connection:
                return [tuple(row) for row in connection.execute(sql, params).fetchall()]
        if self.kind == "mysql":
            with self._mysql() as connection, connection.cursor() as cursor:
                cursor.execute(sql.replace("?", "%s"), params or None)
                return [tuple(row) for row in cursor.fetchall()]
        with psycopg.connect(self.url) as connection:
            return [tuple(row) for row in connection.execute(sql.replace("?", "%s"), params).fetchall()]

    def create(self, sql: str) -> None:
        """CREATE TABLE *sql*; STRICT in SQLite, which otherwise stores any value in any column; in MySQL a
        bounded text, which a key needs."""
        if self.kind == "mysql":
            sql = sql.replace(" TEXT", " VARCHAR(255)")
        self.execute(f"CREATE TABLE {sql}" + (" STRICT" if self.kind == "sqlite" else ""))

    def execute(self, sql: str) -> None:
        if self.kind == "sqlite":
            with sqlite3.connect(self.path) as connection:
                connection.executescript(sql)
        elif self.kind == "mysql":
            with self._mysql() as connection, connection.cursor() as cursor:
                cursor.execute(sql)
        else:
            with psycopg.connect(self.url, autocommit=True) as connection:
                connection.execute(sql)

    def rows(self, table: str) -> list[tuple]:
        return sorted(self.query(f'SELECT * FROM "{table}"'), key=repr)

    def types(self, table: str) -> dict[str, str]:
        if self.kind == "sqlite":
            return {row[1]: row[2].upper() for row in self.query(f'PRAGMA table_info("{table}")')}
        schema = "DATABASE()" if self.kind == "mysql" else "current_schema()"
        return dict(self.query("SELECT column_name, upper(data_type) FROM information_schema.columns "
                               f"WHERE table_name = ? AND table_schema = {schema} ORDER BY ordinal_position",
                               (table,)))


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db(request, tmp_path):
    if request.param == "sqlite":
        path = str(tmp_path / "out.db")
        return Database("sqlite", f"sqlite:///{path}", path)
    server = request.getfixturevalue("postgres" if request.param == "postgresql" else "mariadb")
    return Database(request.param, server.new_database(f"test_{next(_names)}"))


def run(db, stages, batches, *options, input_format=()):
    return invoke(["--queue", "-", *input_format, *options, *stages], input=queue_text(batches))


WORDS = [["a b a"], ["b c"], [], ["c c d"]]
COUNT_PAIRS = ["flat-map", "x.split()", "map", "(x, 1)", "reduce-by-key", "sum"]


# --- the three modes -----------------------------------------------------------------------------------------

def test_append_writes_every_pair_as_key_and_value_into_a_created_table(db):
    result = run(db, [*COUNT_PAIRS, "save-to-db", db.url, "counts", "--create"], WORDS)
    assert result.exit_code == 0, result.stderr
    assert db.rows("counts") == sorted([("a", 2), ("b", 1), ("b", 1), ("c", 1), ("c", 2), ("d", 1)], key=repr)
    assert db.types("counts") == {"sqlite": {"key": "TEXT", "value": "INTEGER"},
                                  "postgresql": {"key": "TEXT", "value": "BIGINT"},
                                  "mysql": {"key": "LONGTEXT", "value": "BIGINT"}}[db.kind]


def test_upsert_keeps_one_row_per_key_with_its_latest_value(db):
    result = run(db, [*COUNT_PAIRS, "save-to-db", db.url, "totals", "--mode", "upsert", "--create"], WORDS)
    assert result.exit_code == 0, result.stderr
    assert db.rows("totals") == [("a", 2), ("b", 1), ("c", 2), ("d", 1)]


def test_upsert_of_a_running_state_equals_the_state(db):
    stages = ["flat-map", "x.split()", "map", "(x, 1)", "update-state", "sum",
              "save-to-db", db.url, "state", "--mode", "upsert", "--create"]
    assert run(db, stages, WORDS).exit_code == 0
    assert db.rows("state") == [("a", 2), ("b", 2), ("c", 3), ("d", 1)]


def test_upsert_with_a_key_of_two_columns_into_an_existing_table(db):
    db.create('hits (day TEXT, page TEXT, n INTEGER, PRIMARY KEY (day, page))')
    stages = ["map", "tuple(x.split())", "map", "(x[0], x[1], int(x[2]))",
              "save-to-db", db.url, "hits", "--mode", "upsert", "--key", "day,page", "--columns", "day,page,n"]
    batches = [["mon / 1", "mon /a 2"], ["mon / 5", "tue / 1", "tue / 7"]]
    assert run(db, stages, batches).exit_code == 0
    assert db.rows("hits") == [("mon", "/", 5), ("mon", "/a", 2), ("tue", "/", 7)]


def test_replace_makes_the_table_exactly_the_latest_batch_even_an_empty_one(db):
    stages = [*COUNT_PAIRS, "save-to-db", db.url, "latest", "--mode", "replace", "--create"]
    assert run(db, stages, WORDS).exit_code == 0
    assert db.rows("latest") == [("c", 2), ("d", 1)]
    assert run(db, stages, [["x y"], []]).exit_code == 0
    assert db.rows("latest") == []


# --- columns -------------------------------------------------------------------------------------------------

def test_dicts_map_by_name_and_create_takes_types_from_the_first_batch(db):
    events = [[orjson.dumps({"user": "ann", "n": 3, "share": 0.5, "ok": True, "tags": ["x", "y"]}).decode()],
              [orjson.dumps({"user": "bob", "n": 4, "share": 1.5, "ok": False, "tags": []}).decode()]]
    result = run(db, ["save-to-db", db.url, "events", "--create"], events, input_format=["--format", "json"])
    assert result.exit_code == 0, result.stderr
    types = db.types("events")
    if db.kind == "sqlite":
        assert types == {"user": "TEXT", "n": "INTEGER", "share": "REAL", "ok": "INTEGER", "tags": "TEXT"}
        assert db.rows("events") == [("ann", 3, 0.5, 1, '["x","y"]'), ("bob", 4, 1.5, 0, "[]")]
    elif db.kind == "mysql":  # MariaDB's BOOLEAN is TINYINT(1), its JSON a LONGTEXT checked to hold JSON
        assert types == {"user": "LONGTEXT", "n": "BIGINT", "share": "DOUBLE", "ok": "TINYINT", "tags": "LONGTEXT"}
        assert db.rows("events") == [("ann", 3, 0.5, 1, '["x","y"]'), ("bob", 4, 1.5, 0, "[]")]
    else:
        assert types == {"user": "TEXT", "n": "BIGINT", "share": "DOUBLE PRECISION", "ok": "BOOLEAN",
                         "tags": "JSONB"}
        assert db.rows("events") == [("ann", 3, 0.5, True, ["x", "y"]), ("bob", 4, 1.5, False, [])]


def test_columns_name_the_fields_of_tuples_and_pick_the_fields_of_dicts(db):
    tuples = ["map", "tuple(x.split())", "save-to-db", db.url, "t", "--columns", "a,b,c", "--create"]
    assert run(db, tuples, [["1 2 3", "4 5 6"]]).exit_code == 0
    assert db.rows("t") == [("1", "2", "3"), ("4", "5", "6")]
    dicts = ["map", "{'b': x, 'skipped': 1, 'a': len(x)}", "save-to-db", db.url, "d", "--columns", "a,b", "--create"]
    assert run(db, dicts, [["xy", "z"]]).exit_code == 0
    assert db.rows("d") == [(1, "z"), (2, "xy")]


def test_a_scalar_record_is_one_value_column(db):
    assert run(db, ["count", "save-to-db", db.url, "n", "--create"], WORDS).exit_code == 0
    assert db.rows("n") == [(0,), (1,), (1,), (1,)]


# --- what does not fit -----------------------------------------------------------------------------------------

def test_a_record_of_the_wrong_type_fails_the_run_naming_record_and_column(db):
    db.create('c ("key" TEXT, value INTEGER)')
    result = run(db, ["map", "tuple(x.split())", "save-to-db", db.url, "c"], [["a 1", "b two"]])
    assert result.exit_code == 1
    assert "stage 2 (save-to-db): does not fit table c: column 'value'" in result.stderr
    assert "record ('b', 'two')" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert db.rows("c") == []  # the batch is one transaction


def test_with_skip_the_misfits_go_to_the_dead_letter_and_the_rest_is_written(db, tmp_path):
    db.create('c ("key" TEXT NOT NULL, value INTEGER)')
    letters = tmp_path / "dead.jsonl"
    batches = [["a 1", "b two", "c 3", "None 4", "d 5 6"]]
    stages = ["map", "tuple(None if w == 'None' else w for w in x.split())", "save-to-db", db.url, "c"]
    result = run(db, stages, batches, "--on-error", "skip", "--dead-letter", str(letters))
    assert result.exit_code == 0, result.stderr
    assert db.rows("c") == [("a", 1), ("c", 3)]
    entries = [orjson.loads(line) for line in letters.read_bytes().splitlines()]
    assert [(e["record"], e["stage"]) for e in entries] == [
        ("('d', '5', '6')", "stage 2 (save-to-db)"), ("('b', 'two')", "stage 2 (save-to-db)"),
        ("(None, '4')", "stage 2 (save-to-db)")]
    assert "has 3 fields, the columns are 2" in entries[0]["reason"]
    assert "column 'value'" in entries[1]["reason"] and "column 'key'" in entries[2]["reason"]


def test_a_missing_table_or_column_is_one_line_and_exit_1_before_any_input_is_read(db):
    result = run(db, ["save-to-db", db.url, "absent"], [["a"]])
    assert result.exit_code == 1
    shown = db.url.replace(f":{PASSWORD}", "").replace(f":{MARIADB_PASSWORD}", "")
    assert result.stderr.strip().endswith(f"table absent does not exist in {shown}; create it, or add --create")
    db.create('two (k TEXT, v INTEGER)')
    result = run(db, ["save-to-db", db.url, "two", "--columns", "k,value"], [["a"]])
    assert result.exit_code == 1
    assert "table two in" in result.stderr and "has no column 'value' (it has k, v)" in result.stderr


def test_upsert_into_a_table_without_a_unique_key_says_so(db):
    db.create('loose ("key" TEXT, value INTEGER)')
    result = run(db, [*COUNT_PAIRS, "save-to-db", db.url, "loose", "--mode", "upsert"], WORDS)
    assert result.exit_code == 1
    assert len(result.stderr.strip().splitlines()) == 1
    assert ("ON DUPLICATE KEY" if db.kind == "mysql" else "ON CONFLICT") in result.stderr
    assert "table loose" in result.stderr


@pytest.mark.parametrize("args, message", [
    (["sqlite:///x.db", "t", "--key", "k"], "--key is for --mode upsert"),
    (["sqlite:///x.db", "t", "--mode", "upsert", "--columns", "a,b,c"], "--mode upsert needs --key COLS"),
    (["sqlite:///x.db", "t", "--mode", "upsert", "--columns", "a,b", "--key", "c"], "--key c: not among --columns"),
    (["oracle://u:hidden@h/db", "t"], "the scheme should be sqlite://, postgresql:// or mysql://"),
    (["mysql://u:hidden@h:3306", "t"], "name the database, mysql://USER@HOST:PORT/DATABASE"),
    (["mariadb://u:hidden@h:port/db", "t"], "the port is not a number"),
    (["mysql://u:hidden@h/db?sslmode=require", "t"], "unknown option 'sslmode'"),
    (["sqlite://host/x.db", "t"], "write sqlite:///RELATIVE/PATH.db"),
    (["sqlite:///x.db", "t", "--columns", "a,,b"], "--columns 'a,,b': give distinct column names"),
])
def test_options_that_cannot_work_exit_2_naming_them(args, message):
    result = invoke(["--queue", "-", "save-to-db", *args], input="a\n")
    assert result.exit_code == 2
    assert message in result.stderr and "hidden" not in result.stderr


def test_tuples_of_three_fields_need_their_columns_named(db):
    result = run(db, ["map", "tuple(x)", "save-to-db", db.url, "t", "--create"], [["abc"]])
    assert result.exit_code == 2
    assert "records are 3-tuples: name their fields with --columns (e.g. --columns c1,c2,c3)" in result.stderr


@pytest.mark.parametrize("module, url, message", [
    ("psycopg", "postgresql://u:pw@127.0.0.1:1/db", "save-to-db postgresql:// needs psycopg 3: "
                                                    "pip install 'dstream-cli[postgres]'"),
    ("pymysql", "mysql://u:pw@127.0.0.1:1/db", "save-to-db mysql:// needs PyMySQL: pip install 'dstream-cli[mysql]'"),
])
def test_without_the_drivers_extra_the_message_says_what_to_install(module, url, message):
    code = (f"import sys; sys.modules[{module!r}] = None; from dstream_cli.cli import main; sys.argv[0] = 'dstream'; "
            "main()")
    result = subprocess.run([sys.executable, "-c", code, "--queue", "-", "save-to-db", url, "t"], input="a\n",
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == f"dstream: stage 1 (save-to-db): {message}\n"


# --- credentials ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("kind, variable, refused", [
    ("postgresql", "PGPASSWORD", "password authentication failed"),
    ("mysql", "MYSQL_PWD", "Access denied for user 'dstream'"),
])
def test_the_password_comes_from_the_url_or_its_variable_and_is_never_printed(kind, variable, refused, request):
    server = request.getfixturevalue("postgres" if kind == "postgresql" else "mariadb")
    password = PASSWORD if kind == "postgresql" else MARIADB_PASSWORD
    url = server.new_database("credentials")
    bare = url.replace(f":{password}", "")
    result = run(None, [*COUNT_PAIRS, "save-to-db", url, "missing"], WORDS)
    assert result.exit_code == 1 and password not in result.stderr and bare in result.stderr
    result = invoke(["--queue", "-", *COUNT_PAIRS, "save-to-db", bare, "c", "--create"], input=queue_text(WORDS),
                    env={variable: password})
    assert result.exit_code == 0, result.stderr
    assert len(Database(kind, url).rows("c")) == 6
    wrong = url.replace(password, "not-the-password")
    result = invoke(["--queue", "-", "--output-retries", "0", "save-to-db", wrong, "c"], input="a\n")
    assert result.exit_code == 1 and len(result.stderr.strip().splitlines()) == 1
    assert refused in result.stderr and "not-the-password" not in result.stderr


def test_the_mysql_password_may_come_from_the_client_section_of_my_cnf(mariadb, tmp_path):
    url = mariadb.new_database("option_file")
    (tmp_path / ".my.cnf").write_text(f"[client]\npassword={MARIADB_PASSWORD}\n")
    result = invoke(["--queue", "-", *COUNT_PAIRS, "save-to-db", url.replace(f":{MARIADB_PASSWORD}", ""), "c",
                     "--create"], input=queue_text(WORDS), env={"HOME": str(tmp_path)})
    assert result.exit_code == 0, result.stderr
    assert len(Database("mysql", url).rows("c")) == 6


# --- MySQL and MariaDB: the bulk path, what the table must be --------------------------------------------------

def _loads(mariadb) -> int:
    """How many LOAD DATA statements the server has run."""
    found = Database("mysql", mariadb.url("mysql")).query("SHOW GLOBAL STATUS LIKE 'Com_load'")
    return int(found[0][1])


def test_mysql_bulk_writes_load_a_file_and_fall_back_to_multi_row_inserts_where_the_server_refuses(mariadb):
    """A batch of 30,000 rows is one LOAD DATA LOCAL INFILE; with the server's local_infile off (MySQL 8's
    default) the same run writes the same rows through INSERTs."""
    stages = ["flat-map", "range(int(x))", "map", "(str(x % 7), x)"]
    tables = {}
    for local in (1, 0):
        db = Database("mysql", mariadb.new_database(f"bulk_{local}"))
        mariadb.root(f"SET GLOBAL local_infile = {local}")
        try:
            before = _loads(mariadb)
            result = run(db, [*stages, "save-to-db", db.url, "t", "--create"], [["30000"], ["5"]])
            assert result.exit_code == 0, result.stderr
            assert _loads(mariadb) - before == (2 if local else 0)  # one a batch, or none
        finally:
            mariadb.root("SET GLOBAL local_infile = 1")
        tables[local] = db.rows("t")
    assert tables[0] == tables[1] == sorted([(str(x % 7), x) for x in range(30000)] +
                                            [(str(x % 7), x) for x in range(5)], key=repr)


def test_a_load_that_would_change_a_value_is_undone_and_the_record_named(mariadb, tmp_path):
    """LOAD DATA LOCAL only warns where a value does not fit: dstream undoes it, and under --on-error skip the
    misfit goes to the dead letter while the rest is written unchanged."""
    db = Database("mysql", mariadb.new_database("warned"))
    db.create("n (i BIGINT, s VARCHAR(3))")
    letters = tmp_path / "dead.jsonl"
    stages = ["map", "(int(x), 'abcd' if x == '500' else x[:3])", "save-to-db", db.url, "n", "--columns", "i,s"]
    result = run(db, stages, [[str(i) for i in range(1000)]])
    assert result.exit_code == 1 and "column 's'" in result.stderr and "(500, 'abcd')" in result.stderr
    assert db.rows("n") == []
    result = run(db, stages, [[str(i) for i in range(1000)]], "--on-error", "skip", "--dead-letter", str(letters))
    assert result.exit_code == 0, result.stderr
    assert db.rows("n") == sorted([(i, str(i)[:3]) for i in range(1000) if i != 500], key=repr)
    assert [orjson.loads(line)["record"] for line in letters.read_bytes().splitlines()] == ["(500, 'abcd')"]


def test_a_table_without_transactions_is_refused_before_any_input_is_read(mariadb):
    db = Database("mysql", mariadb.new_database("myisam"))
    db.execute('CREATE TABLE plain ("key" VARCHAR(9), value BIGINT) ENGINE=MyISAM')
    result = run(db, [*COUNT_PAIRS, "save-to-db", db.url, "plain"], WORDS)
    assert result.exit_code == 1
    assert result.stderr.strip().endswith("table plain in " + db.url.replace(f":{MARIADB_PASSWORD}", "") +
                                          " uses MyISAM, which has no transactions, so a batch and the record that "
                                          "it was written cannot commit together: ALTER TABLE plain ENGINE=InnoDB")
    assert db.rows("plain") == []


# --- exactly once --------------------------------------------------------------------------------------------

MODES = {
    "append": ["transform", "[(t, x) for x in batch]", "save-to-db", "{url}", "{name}", "--columns", "t,word",
               "--create"],
    "upsert": ["map", "(x, 1)", "update-state", "sum", "save-to-db", "{url}", "{name}", "--mode", "upsert",
               "--create"],
    "replace": ["map", "(x, 1)", "reduce-by-key-and-window", "sum", "3s", "--inverse", "a - b",
                "save-to-db", "{url}", "{name}", "--mode", "replace", "--create"],
}


@pytest.mark.parametrize("mode", MODES)
def test_a_run_killed_after_writing_batches_it_had_not_checkpointed_writes_none_twice(db, mode, tmp_path):
    """Batches 11-13 are in the table but not in the checkpoint (taken at 10 s) when the run is killed in batch
    14; the restart recomputes them and must skip them: the table equals an uninterrupted run's."""
    words = [[f"w{(i * 7 + j) % 5}" for j in range(i % 4)] for i in range(20)]
    (tmp_path / "q.txt").write_text(queue_text(words))
    stall = StallThenKill(14_000, tmp_path / "stalled")

    def command(name):
        stages = [s.format(url=db.url, name=name) for s in MODES[mode]]
        return [*installed_dstream(), "--queue", str(tmp_path / "q.txt"), "--checkpoint", str(tmp_path / name),
                *stall.imports, *stall.stage, *stages]

    stall.run(command)
    assert len(db.rows("killed")) > 0
    stall.resume(command)
    assert db.rows("killed") == db.rows("straight")
    assert db.query("SELECT count(*) FROM dstream_batches") == [(2,)]


LIVE = {
    "append": ["map", "tuple(x.split())", "save-to-db", "{url}", "{name}", "--columns", "k,i", "--create"],
    "upsert": ["map", "(x.split()[0], 1)", "update-state", "sum", "save-to-db", "{url}", "{name}", "--mode", "upsert",
               "--create"],
    "replace": ["map", "(x.split()[0], 1)", "update-state", "sum", "save-to-db", "{url}", "{name}", "--mode",
                "replace", "--create"],
}


@pytest.mark.parametrize("mode", LIVE)
def test_sigkilled_at_random_moments_the_table_equals_an_uninterrupted_runs(db, mode, tmp_path):
    """A file read under --max-rate on the real clock, killed 5 times (mid-transaction too, at random), then run
    to the end: the table holds what an uninterrupted run's does (every line once, in append)."""
    lines = 20000
    (tmp_path / "in.txt").write_text("".join(f"k{i % 7} {i}\n" for i in range(lines)))

    def command(name):
        return [*installed_dstream(), "-i", "f=file:in.txt", "--batch", "100ms", "--max-rate", "12000",
                "--checkpoint", name, "from", "f", *[s.format(url=db.url, name=name) for s in LIVE[mode]]]

    straight = subprocess.run(command("straight"), capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert straight.returncode == 0, straight.stderr
    final = kill_and_restart(command("killed"), 5, seed=len(mode), cwd=tmp_path)
    assert final.returncode == 0, final.stderr
    expected = db.rows("straight")
    assert db.rows("killed") == expected
    if mode == "append":
        assert sorted(int(i) for _, i in expected) == list(range(lines))
    else:
        assert expected == sorted((f"k{k}", len(range(k, lines, 7))) for k in range(7))


@pytest.mark.parametrize("kind", ["postgresql", "mysql"])
def test_a_server_stopped_mid_run_delays_batches_and_loses_nothing(kind, tmp_path):
    server = PostgresServer() if kind == "postgresql" else MariadbServer()
    try:
        url = server.new_database("restarted")
        lines = 24000
        (tmp_path / "in.txt").write_text("".join(f"k{i % 3} {i}\n" for i in range(lines)))
        proc = subprocess.Popen([*installed_dstream(), "-i", "f=file:in.txt", "--batch", "100ms", "--max-rate",
                                 "6000", "--output-retries", "12", "from", "f", "map", "tuple(x.split())",
                                 "save-to-db", url, "lines", "--columns", "k,i", "--create"],
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
        database = Database(kind, url)

        def written() -> int:
            try:
                return database.query('SELECT count(*) FROM "lines"')[0][0]
            except (psycopg.errors.UndefinedTable, pymysql.err.ProgrammingError):  # no table yet
                return 0

        wait_for(lambda: written() > 2000, what="rows before the stop")
        server.stop()
        time.sleep(2)
        assert proc.poll() is None
        server.start()
        _, stderr = proc.communicate(timeout=60)
        assert proc.returncode == 0, stderr
        assert "retrying in" in stderr and PASSWORD not in stderr and MARIADB_PASSWORD not in stderr
        rows = database.rows("lines")
        assert sorted(int(i) for _, i in rows) == list(range(lines))
    finally:
        server.destroy()


# --- the library ---------------------------------------------------------------------------------------------

def test_the_library_writes_with_save_to_db(tmp_path):
    from dstream_cli import StreamingContext

    path = tmp_path / "lib.db"
    ssc = StreamingContext(1)
    ssc.queue_stream([["a", "b", "a"], ["b"]]).count_by_value().save_to_db(f"sqlite:///{path}", "c", mode="upsert",
                                                                            create=True)
    ssc.run()
    assert Database("sqlite", "", str(path)).rows("c") == [("a", 2), ("b", 1)]


def test_sqlite_runs_in_wal_mode_so_readers_do_not_block_the_writer(tmp_path):
    path = tmp_path / "w.db"
    assert invoke(["--queue", "-", "save-to-db", f"sqlite:///{path}", "t", "--create"], input="a\n").exit_code == 0
    assert Database("sqlite", "", str(path)).query("PRAGMA journal_mode") == [("wal",)]
    assert os.path.exists(path)


def test_values_copy_must_escape_arrive_exactly(db):
    """Tabs, newlines, backslashes, CRs, None and floats go through the bulk path (COPY's text in PostgreSQL)
    and come back as they were."""
    texts = ["tab\there", "new\nline", "back\\slash", "cr\rhere", "plain", "", "ünï ☃", "\\N"]
    stages = ["transform", f"[(i, s, i / 4, None if i % 3 else s) for i, s in enumerate({texts!r})]",
              "save-to-db", db.url, "tricky", "--columns", "i,s,f,maybe", "--create"]
    assert run(db, stages, [["go"]]).exit_code == 0
    assert db.rows("tricky") == sorted([(i, s, i / 4, None if i % 3 else s) for i, s in enumerate(texts)], key=repr)
    # each special text in a batch of its own, so no other value's failure hides a wrong escape
    for n, values in enumerate([[text, "plain"] for text in texts] + [["a", "b c", "ünï ☃", ""]]):
        stages = ["transform", f"[(i, s, i / 4, i << 40) for i, s in enumerate({values!r})]",
                  "save-to-db", db.url, f"t{n}", "--columns", "i,s,f,big", "--create"]
        assert run(db, stages, [["go"]]).exit_code == 0
        assert db.rows(f"t{n}") == sorted([(i, s, i / 4, i << 40) for i, s in enumerate(values)], key=repr)


@pytest.mark.parametrize("bad", ["stage", "shape", "type"])
def test_a_bad_record_deep_in_a_big_batch_is_reported_once_and_the_rest_written(db, tmp_path, bad):
    """Append writes a big batch slice by slice as the chain makes them; a record refused in a late slice (by a
    stage, by its shape, by the table) undoes what was sent, and the batch is written whole: the bad record in
    the dead letter once, every other row once."""
    db.create("n (i INTEGER, v INTEGER)")
    letters = tmp_path / "dead.jsonl"
    expression = {"stage": "(int(x), 1 // (int(x) - 9000))", "shape": "(int(x), 1) if x != '9000' else (1, 2, 3)",
                  "type": "(int(x), 1 if x != '9000' else 'one')"}[bad]
    stages = ["map", expression, "save-to-db", db.url, "n", "--columns", "i,v"]
    result = run(db, stages, [[str(i) for i in range(10000)]], "--on-error", "skip", "--dead-letter", str(letters))
    assert result.exit_code == 0, result.stderr
    assert sorted(i for i, _ in db.rows("n")) == [i for i in range(10000) if i != 9000]
    entries = [orjson.loads(line) for line in letters.read_bytes().splitlines()]
    assert [e["record"] for e in entries] == ["9000" if bad == "stage" else repr(eval(expression, {"x": "9000"}))]
