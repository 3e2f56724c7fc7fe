"""Live inputs with real sockets on 127.0.0.1, real directories and a custom Receiver."""
import os
import socket
import subprocess
import threading
import time

from conftest import free_port, installed_dstream, wait_for


def numbers(text: str) -> list[int]:
    return [int(x) for x in text.split()]


def test_socket_reads_lines_reconnects_and_keeps_lines_sent_before_a_disconnect():
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--socket", f"127.0.0.1:{port}",
                             "--run-for", "2500ms", "count", "emit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for payload in (b"a\nb\n", b"c\nd\nlast-without-newline"):
        connection, _ = server.accept()
        if payload.endswith(b"last-without-newline"):
            # an outage from now on, dstream retrying with backoff until --run-for: closed before this connection
            # is, so that no reconnection lands in the listening socket's queue and is closed a third time
            server.close()
        connection.sendall(payload)
        connection.close()
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert sum(numbers(out)) == 5
    assert err.count("the server closed the connection") == 2
    assert "cannot connect" not in err  # the outage was already announced: once per outage, not per retry


def test_socket_waits_for_a_server_that_is_not_there_yet():
    port = free_port()
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--socket", f"127.0.0.1:{port}",
                             "--run-for", "3s", "count", "emit"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(0.8)
    with socket.create_server(("127.0.0.1", port)) as server:
        connection, _ = server.accept()
        connection.sendall(b"x\ny\n")
        connection.close()
    out, err = proc.communicate(timeout=30)
    assert sum(numbers(out)) == 2, err
    assert "cannot connect" in err and "connected" in err


def test_listen_accepts_many_producers_and_keeps_each_connections_lines_whole_and_in_order(tmp_path):
    port = free_port()
    prefix = tmp_path / "out" / "o"
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--listen", str(port), "--run-for", "3s",
                             "save-as-text-files", str(prefix)], stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port)).close()
            break
        except OSError:
            assert time.monotonic() < deadline
            time.sleep(0.05)

    def produce(producer: int) -> None:
        with socket.create_connection(("127.0.0.1", port)) as connection:
            for i in range(500):
                connection.sendall(f"p{producer} {i:04d} {'x' * 50}\n".encode())

    threads = [threading.Thread(target=produce, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()
    lines = []
    for name in sorted(os.listdir(prefix.parent), key=lambda n: int(n.split("-")[1])):
        lines += (prefix.parent / name).read_text().splitlines()
    assert len(lines) == 2000
    for producer in range(4):
        mine = [line for line in lines if line.startswith(f"p{producer} ")]
        assert mine == [f"p{producer} {i:04d} {'x' * 50}" for i in range(500)]


def test_listen_over_long_line_is_a_bad_record_not_a_crash(tmp_path):
    port = free_port()
    dead = tmp_path / "dead.jsonl"
    proc = subprocess.Popen([*installed_dstream(), "--batch", "200ms", "--listen", f"127.0.0.1:{port}",
                             "--max-line-bytes", "100", "--on-error", "skip", "--dead-letter", str(dead),
                             "--run-for", "2s", "count", "emit"], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)
    time.sleep(0.7)
    with socket.create_connection(("127.0.0.1", port)) as connection:
        connection.sendall(b"short\n" + b"y" * 100_000 + b"\nafter\n")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert sum(numbers(out)) == 2
    assert "longer than --max-line-bytes 100" in dead.read_text()


def listening_addresses(port: int) -> list[str]:
    """Where something listens on *port*, from the kernel's own table (/proc/net/tcp, state 0A)."""
    found = []
    with open("/proc/net/tcp") as table:
        for row in list(table)[1:]:
            local, state = row.split()[1], row.split()[3]
            address, local_port = local.split(":")
            if state == "0A" and int(local_port, 16) == port:
                found.append(".".join(str(b) for b in reversed(bytes.fromhex(address))))
    return found


def test_listen_binds_loopback_by_default_and_serves_at_most_max_connections_at_once(tmp_path):
    port = free_port()
    prefix = tmp_path / "out" / "o"
    proc = subprocess.Popen([*installed_dstream(), "--batch", "100ms", "--listen", str(port), "--max-connections", "1",
                             "--run-for", "6s", "save-as-text-files", str(prefix)], stderr=subprocess.PIPE, text=True)

    def received() -> list[str]:
        return [line for path in prefix.parent.glob("o-*") for line in path.read_text().splitlines()] \
            if prefix.parent.exists() else []

    def wait_for(line: str) -> None:
        deadline = time.monotonic() + 10
        while line not in received():
            assert time.monotonic() < deadline, received()
            time.sleep(0.02)

    deadline = time.monotonic() + 10
    while not listening_addresses(port):
        assert time.monotonic() < deadline
        time.sleep(0.02)
    assert listening_addresses(port) == ["127.0.0.1"]
    first = socket.create_connection(("127.0.0.1", port))
    first.sendall(b"from the first\n")
    wait_for("from the first")
    second = socket.create_connection(("127.0.0.1", port))  # waits in the kernel's backlog
    second.sendall(b"from the second\n")
    time.sleep(0.5)
    assert "from the second" not in received()
    first.close()  # a slot frees: the second producer is served, and nothing it sent was lost
    wait_for("from the second")
    second.close()
    proc.terminate()
    assert proc.wait(timeout=30) == 0, proc.stderr.read()


def test_watch_reads_new_files_once_moved_in_or_written_in_place_and_ignores_existing(tmp_path):
    watched = tmp_path / "in"
    watched.mkdir()
    (watched / "before.txt").write_text("old\n")
    proc = subprocess.Popen([*installed_dstream(), "--batch", "1s", "--watch", str(watched), "--glob", "*.txt",
                             "--run-for", "4s", "emit"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    time.sleep(1)
    staged = tmp_path / "staged.txt"
    staged.write_text("moved 1\nmoved 2\n")
    os.rename(staged, watched / "moved.txt")
    with open(watched / "inplace.txt", "w") as handle:
        handle.write("inplace 1\n")
        handle.flush()
        time.sleep(0.4)  # a writer pausing for less than a batch: read only once it closes the file
        handle.write("inplace 2\n")
    (watched / "skipped.log").write_text("not matching the glob\n")
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert sorted(out.splitlines()) == ["inplace 1", "inplace 2", "moved 1", "moved 2"]


def test_watch_existing_reads_files_already_there(tmp_path):
    (tmp_path / "a.txt").write_text("a\n")
    proc = subprocess.run([*installed_dstream(), "--batch", "200ms", "--watch", str(tmp_path), "--watch-existing",
                           "--run-for", "1500ms", "emit"], capture_output=True, text=True, timeout=30)
    assert proc.stdout == "a\n", proc.stderr


def test_watch_with_checkpoint_neither_rereads_nor_misses_a_file_across_a_restart(tmp_path):
    watched, ck = tmp_path / "in", tmp_path / "ck"
    watched.mkdir()
    command = [*installed_dstream(), "--batch", "200ms", "--watch", str(watched), "--checkpoint", str(ck),
               "--run-for", "2s", "emit"]
    first = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    time.sleep(0.8)
    (watched / "one.txt").write_text("one\n")
    assert first.communicate(timeout=30)[0] == "one\n"
    (watched / "two.txt").write_text("two\n")  # arrives while dstream is down
    second = subprocess.run(command, capture_output=True, text=True, timeout=30)
    assert second.stdout == "two\n", second.stderr


RECEIVER_MODULE = '''
import threading
from dstream_cli import Receiver

class Counter(Receiver):
    """Stores 1..5 then stops; its first start fails, to show the restart."""
    starts = 0

    def on_start(self):
        Counter.starts += 1
        if Counter.starts == 1:
            raise RuntimeError("first start fails")
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        self.store([str(i) for i in range(1, 4)])
        self.store("4")
        self.store("5")
'''


def test_custom_receiver_from_the_cli_is_restarted_after_an_error(tmp_path):
    (tmp_path / "myreceivers.py").write_text(RECEIVER_MODULE)
    proc = subprocess.run([*installed_dstream(), "--batch", "200ms", "--receiver", "myreceivers:Counter",
                           "--run-for", "1500ms", "map", "int(x)", "reduce", "sum", "emit"],
                          capture_output=True, text=True, timeout=30, cwd=tmp_path,
                          env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr
    assert sum(numbers(proc.stdout)) == 15
    assert "could not start: first start fails; retrying" in proc.stderr


def test_custom_receiver_from_the_library(tmp_path):
    import importlib.util


    from dstream_cli import RunOptions, StreamingContext

    (tmp_path / "libreceivers.py").write_text(RECEIVER_MODULE)
    spec = importlib.util.spec_from_file_location("libreceivers", tmp_path / "libreceivers.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    ssc = StreamingContext("100ms", stderr=open(os.devnull, "w"))
    seen = []
    ssc.receiver_stream(module.Counter(), "counter").map(int).foreach_batch(seen.extend)
    ssc.run(RunOptions(run_for_ms=1200))
    assert sorted(seen) == [1, 2, 3, 4, 5]



def test_a_file_moved_in_from_elsewhere_is_read_at_once_and_one_written_in_place_once_it_is_still(tmp_path):
    """A file moved in is complete (the way Spark's guide says to deliver files), so it is not held back for
    the wait that a file written in place gets when its writer does not close it."""
    from dstream_cli.receivers.watch import DirectoryReceiver

    watched, elsewhere = tmp_path / "in", tmp_path / "staging"
    watched.mkdir()
    elsewhere.mkdir()
    read, stopped = [], threading.Event()

    class Recording(DirectoryReceiver):
        """Its watching only: what it would read, and no StreamingContext around it."""

        def _read(self, name):
            read.append(name)

        def is_stopped(self):
            return stopped.is_set()

    receiver = Recording(str(watched), stable_ms=60_000)
    receiver.on_start()
    try:
        (elsewhere / "moved.txt").write_text("a\n")
        os.rename(elsewhere / "moved.txt", watched / "moved.txt")
        wait_for(lambda: read == ["moved.txt"], timeout=10, what="the moved file")
        writer = open(watched / "open.txt", "w")  # noqa: SIM115 - held open: still being written
        writer.write("b\n")
        writer.flush()
        time.sleep(1)
        assert read == ["moved.txt"]
        writer.close()
        wait_for(lambda: read == ["moved.txt", "open.txt"], timeout=10, what="the closed file")
    finally:
        stopped.set()
        receiver.on_stop()
