"""One HTTP POST of a webhook body, to the address its URL was checked against."""

import contextlib
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass

from tally.webhooks.addresses import Refused, Target, parse, resolve

# A receiver's answer is not read past this: only its status matters.
_MAX_RESPONSE_BYTES = 4096


@dataclass(frozen=True)
class Outcome:
    status: int | None  # the HTTP status; None when there was no answer
    error: str | None
    duration_ms: int

    @property
    def ok(self) -> bool:
        return self.status is not None and 200 <= self.status < 300


class _PinnedHTTPS(http.client.HTTPSConnection):
    """HTTPS to a given address, with the certificate checked against the URL's host."""

    def __init__(self, address: str, target: Target, timeout: float) -> None:
        super().__init__(
            address, target.port, timeout=timeout, context=ssl.create_default_context()
        )
        self._server_name = target.host

    def connect(self) -> None:
        sock = socket.create_connection((self.host, self.port), self.timeout)
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # type: ignore[attr-defined]


class Senders:
    """Sends POSTs on kept-alive connections: one per thread and receiver address (a TLS
    handshake or a TCP connect per delivery would cost more than the delivery). A host's
    addresses are checked (tally.webhooks.addresses) and kept for a few seconds."""

    def __init__(self, resolve_ttl_seconds: float = 30.0) -> None:
        self._local = threading.local()
        self._ttl = resolve_ttl_seconds
        self._resolved: dict[tuple[str, int, bool], tuple[float, list[str]]] = {}
        self._lock = threading.Lock()

    def _addresses(self, target: Target, allow_private: bool, wait: float) -> list[str]:
        key = (target.host, target.port, allow_private)
        now = time.monotonic()
        with self._lock:
            hit = self._resolved.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        found = _resolve_within(target, allow_private, wait)
        with self._lock:
            if len(self._resolved) > 10_000:
                self._resolved.clear()
            self._resolved[key] = (now + self._ttl, found)
        return found

    def post(
        self, url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
    ) -> Outcome:
        """POST ``body``; any 2xx within ``timeout`` seconds is success; redirects are not
        followed (a 3xx is a failure like any other non-2xx)."""
        started = time.monotonic()

        def done(status: int | None, error: str | None) -> Outcome:
            return Outcome(status, loggable(error), int((time.monotonic() - started) * 1000))

        try:
            target = parse(url)
            address = self._addresses(target, allow_private, timeout)[0]
        except Refused as exc:
            return done(None, f"refused: {exc}")
        except _NoAnswerInTime:
            return done(None, f"timed out after {timeout:g} s resolving {target.host}")
        connections: dict[tuple[str, str, int, str], http.client.HTTPConnection]
        connections = self._local.__dict__.setdefault("connections", {})
        key = (target.scheme, address, target.port, target.host)
        sent = {**headers, "Host": target.host_header}
        connection = connections.pop(key, None)
        fresh = connection is None
        while True:
            if connection is None:
                connection = _connect(target, address, timeout)
            elif connection.sock is not None:
                connection.sock.settimeout(timeout)
            # The socket timeout bounds each read, not the whole answer: a receiver that
            # drips a byte at a time is cut off when the try's time is up.
            expired = threading.Event()
            deadline = threading.Timer(
                max(0.0, timeout - (time.monotonic() - started)), _cut, (connection, expired)
            )
            deadline.daemon = True
            deadline.start()
            try:
                connection.request("POST", target.path, body=body, headers=sent)
                response = connection.getresponse()
                response.read(_MAX_RESPONSE_BYTES)
            except (OSError, http.client.HTTPException) as exc:
                # Cutting the socket surfaces as whatever the blocked call raises (a reset,
                # a remote disconnect, an empty read): the cause is the deadline.
                connection.close()
                if (
                    expired.is_set()
                    or isinstance(exc, TimeoutError)
                    or time.monotonic() - started >= timeout
                ):
                    return done(None, f"timed out after {timeout:g} s")
                failure = _failure(exc, retry=not fresh)
                if failure is None:
                    # The receiver closed a kept-alive connection: once more on a new one.
                    connection, fresh = None, True
                    continue
                return done(None, failure)
            finally:
                deadline.cancel()
            break
        if response.will_close or not response.isclosed():
            connection.close()  # the receiver closes it, or its answer was not read to the end
        else:
            connections[key] = connection
        if time.monotonic() - started > timeout:
            return done(None, f"timed out after {timeout:g} s")
        return done(response.status, None)

    def close(self) -> None:
        """Close this thread's kept-alive connections."""
        for connection in self._local.__dict__.pop("connections", {}).values():
            connection.close()


def loggable(error: str | None) -> str | None:
    """An error as the delivery log can keep it on both engines: a receiver's raw status
    line (in a BadStatusLine) may hold NUL, which PostgreSQL's jsonb refuses, and every
    recording of its try would fail."""
    if error is None:
        return None
    return error.replace("\x00", "\\0")[:300]


def _failure(exc: BaseException, *, retry: bool) -> str | None:
    """Why a try failed, for the delivery log; None when it is worth one more try on a new
    connection (a kept-alive one the receiver had closed)."""
    if isinstance(exc, ConnectionError):
        return None if retry else "connection refused or closed by the receiver"
    if isinstance(exc, ssl.SSLError):
        return f"TLS error: {exc.reason or exc}"
    return f"{type(exc).__name__}: {exc}"[:300]


def _cut(connection: http.client.HTTPConnection, expired: threading.Event) -> None:
    """End a try whose time is up: the blocked read fails at once."""
    expired.set()
    sock = connection.sock
    if sock is not None:
        with contextlib.suppress(OSError):  # already closed: nothing to cut
            sock.shutdown(socket.SHUT_RDWR)


class _NoAnswerInTime(Exception):
    """The host's name was not resolved within the try's time."""


def _resolve_within(target: Target, allow_private: bool, seconds: float) -> list[str]:
    """:func:`resolve`, given up after ``seconds``: the system resolver takes no timeout
    and may wait on a DNS server for much longer than a try may last. It runs on a thread
    of its own, left to finish in the background when given up on."""
    finished = threading.Event()
    box: dict[str, list[str] | BaseException] = {}

    def look_up() -> None:
        try:
            box["found"] = resolve(target, allow_private=allow_private)
        except BaseException as exc:  # handed to the waiting try, raised there
            box["failed"] = exc
        finally:
            finished.set()

    threading.Thread(target=look_up, name="tally-webhook-dns", daemon=True).start()
    if not finished.wait(seconds):
        raise _NoAnswerInTime
    failed = box.get("failed")
    if isinstance(failed, BaseException):
        raise failed
    found = box["found"]
    assert isinstance(found, list)
    return found


def _connect(target: Target, address: str, timeout: float) -> http.client.HTTPConnection:
    if target.scheme == "https":
        return _PinnedHTTPS(address, target, timeout)
    return http.client.HTTPConnection(address, target.port, timeout=timeout)


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Outcome:
    """One POST on a connection of its own (see :class:`Senders`)."""
    senders = Senders(resolve_ttl_seconds=0)
    try:
        return senders.post(url, body, headers, timeout=timeout, allow_private=allow_private)
    finally:
        senders.close()
