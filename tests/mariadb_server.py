"""A real MariaDB server on 127.0.0.1 for the tests, from Debian's mariadb-server package (.ci/run installs it):
a fresh data directory, a user ``dstream`` with a password, and a database per test."""
from __future__ import annotations

import os
import shutil
import subprocess
import tempfile

from conftest import free_port, wait_for

PASSWORD = "m4ria-pw"
USER = "dstream"
SERVER = "/usr/sbin/mariadbd"


class MariadbServer:
    """mariadb-install-db in a fresh directory, then a server on 127.0.0.1:PORT; root, with no password, only on
    its socket."""

    def __init__(self) -> None:
        assert os.path.exists(SERVER), "no MariaDB server: apt-get install mariadb-server (.ci/run does)"
        self.directory = tempfile.mkdtemp(prefix="dstream-mariadb-")
        self.data = os.path.join(self.directory, "data")
        self.socket = os.path.join(self.directory, "socket")
        self.port = free_port()
        self.process: subprocess.Popen | None = None
        as_root = ["--user=root"] if os.geteuid() == 0 else []  # mariadbd refuses root unless told
        result = subprocess.run(["mariadb-install-db", "--no-defaults", f"--datadir={self.data}", "--skip-test-db",
                                 "--auth-root-authentication-method=normal", *as_root],
                                capture_output=True, text=True, timeout=120)
        assert result.returncode == 0, f"mariadb-install-db failed: {result.stderr}"
        self.start()
        self.root(f"CREATE USER '{USER}'@'127.0.0.1' IDENTIFIED BY '{PASSWORD}'",
                  f"GRANT ALL ON *.* TO '{USER}'@'127.0.0.1'")

    def start(self) -> None:
        as_root = ["--user=root"] if os.geteuid() == 0 else []
        log = open(os.path.join(self.directory, "server.log"), "ab")  # noqa: SIM115 - the server holds it
        self.process = subprocess.Popen(
            [SERVER, "--no-defaults", f"--datadir={self.data}", f"--socket={self.socket}", f"--port={self.port}",
             "--bind-address=127.0.0.1", "--skip-name-resolve", "--innodb-buffer-pool-size=64M",
             "--innodb-flush-log-at-trx-commit=2", "--skip-log-bin", *as_root], stdout=log, stderr=log)
        log.close()
        wait_for(lambda: self._answers(), timeout=60, what="the MariaDB server to answer")

    def _answers(self) -> bool:
        assert self.process.poll() is None, open(os.path.join(self.directory, "server.log")).read()[-2000:]
        return subprocess.run(["mariadb-admin", "--no-defaults", f"--socket={self.socket}", "-uroot", "ping"],
                              capture_output=True, timeout=30).returncode == 0

    def root(self, *statements: str) -> None:
        result = subprocess.run(["mariadb", "--no-defaults", f"--socket={self.socket}", "-uroot", "-e",
                                 ";\n".join(statements)], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=60)

    def destroy(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=60)
        shutil.rmtree(self.directory, ignore_errors=True)

    def url(self, database: str, password: bool = True) -> str:
        secret = f":{PASSWORD}" if password else ""
        return f"mysql://{USER}{secret}@127.0.0.1:{self.port}/{database}"

    def new_database(self, name: str) -> str:
        """A fresh database; its URL."""
        self.root(f"DROP DATABASE IF EXISTS `{name}`", f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
        return self.url(name)
