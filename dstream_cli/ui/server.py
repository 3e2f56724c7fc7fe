"""The page's HTTP server: a thread beside the run, answering GETs only."""
from __future__ import annotations

import errno
import http.server
import importlib.resources
import socket
import sys
import threading

import orjson

from ..errors import DstreamError, UsageError

DEFAULT_HOST = "127.0.0.1"  # an operator's page is not for the network unless HOST says so


def parse_ui_address(text: str) -> tuple[str, int]:
    """``PORT`` or ``HOST:PORT`` (``[::1]:PORT`` for IPv6); port 0 lets the system choose."""
    host, _, port = text.rpartition(":")
    host = host.strip("[]") or DEFAULT_HOST
    if not port.isdigit() or int(port) > 65535:
        raise UsageError(f"--ui {text}: expected [HOST:]PORT, with PORT a number from 0 to 65535")
    return host, int(port)


def serve_run_page(address: str, engine: str, batch_ms: int, checkpoint_dir: str | None) -> "UIServer":
    """--ui ADDRESS: the page's server, listening before the run starts (a port in use ends it at once), its
    address said on stderr."""
    from .state import RunState

    server = UIServer(parse_ui_address(address), RunState(engine, batch_ms, checkpoint_dir))
    print(f"dstream: the run's page is at {server.url} (Prometheus metrics at {server.url}metrics)",
          file=sys.stderr, flush=True)
    return server


class UIServer:
    """Serves *state* (a RunState) at http://HOST:PORT/ from a daemon thread until ``close``."""

    def __init__(self, address: tuple[str, int], state) -> None:
        self.state = state
        handler = type("Handler", (_Handler,), {"state": state, "page": _page()})
        server_class = type("Server", (http.server.ThreadingHTTPServer,), {"daemon_threads": True})
        if ":" in address[0]:
            server_class.address_family = socket.AF_INET6
        try:
            self.httpd = server_class(address, handler)
        except OSError as exc:
            reason = "the port is in use" if exc.errno == errno.EADDRINUSE else (exc.strerror or str(exc))
            raise DstreamError(f"--ui {address[0]}:{address[1]}: cannot serve the page: {reason}") from None
        self.thread = threading.Thread(target=self.httpd.serve_forever, name="dstream-ui", daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        host, port = self.httpd.server_address[:2]
        return f"http://{f'[{host}]' if ':' in host else host}:{port}/"

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


def _page() -> bytes:
    return importlib.resources.files(__package__).joinpath("page.html").read_bytes()


class _Handler(http.server.BaseHTTPRequestHandler):
    state = None
    page = b""

    def do_GET(self) -> None:  # noqa: N802 - http.server's name
        path = self.path.split("?", 1)[0]
        if path in ("/", "/index.html"):
            self._send(200, "text/html; charset=utf-8", self.page)
        elif path == "/api/state":
            self._send(200, "application/json", orjson.dumps(self.state.snapshot()))
        elif path == "/metrics":
            from prometheus_client.exposition import CONTENT_TYPE_LATEST, generate_latest

            self._send(200, CONTENT_TYPE_LATEST, generate_latest(self.state.registry))
        elif path == "/healthz":
            self._send(200, "application/json",
                       orjson.dumps({"status": "ok", "batches": self.state.batches_total}))
        else:
            self._send(404, "text/plain; charset=utf-8", b"not found: the page is /, metrics /metrics\n")

    def do_HEAD(self) -> None:  # noqa: N802
        self.do_GET()

    def _refuse(self) -> None:
        self.send_response(405)
        self.send_header("Allow", "GET, HEAD")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_POST = do_PUT = do_DELETE = do_PATCH = _refuse  # read-only

    def _send(self, status: int, content_type: str, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - http.server's signature
        pass  # a page polled every second would fill stderr
