"""A real HTTP server on 127.0.0.1 that receives webhook deliveries and answers as a test
scripts it: a status per request in turn (then the last one again), or a hang."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> dict[str, Any]:
        value: dict[str, Any] = json.loads(self.body)
        return value


@dataclass
class Receiver:
    port: int
    statuses: list[int] = field(default_factory=lambda: [200])
    # Requests whose number (from 1) is listed get no answer for this many seconds.
    hang_on: set[int] = field(default_factory=set)
    hang_seconds: float = 30.0
    received: list[Received] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[Received]:
        """The first ``count`` requests, once they have arrived."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                if len(self.received) >= count:
                    return list(self.received)
            time.sleep(0.02)
        raise AssertionError(f"{len(self.received)} requests arrived, {count} expected")

    def _answer(self) -> tuple[int, bool]:
        with self._lock:
            number = len(self.received)
            status = self.statuses[min(number - 1, len(self.statuses) - 1)]
            return status, number in self.hang_on


@contextmanager
def receiver(statuses: list[int] | None = None) -> Iterator[Receiver]:
    state: dict[str, Receiver] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            me = state["receiver"]
            with me._lock:
                me.received.append(Received(self.path, dict(self.headers.items()), body))
            status, hang = me._answer()
            if hang:
                time.sleep(me.hang_seconds)
                return
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    me = Receiver(port=server.server_address[1], statuses=statuses or [200])
    state["receiver"] = me
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield me
    finally:
        server.shutdown()
        server.server_close()
