"""One HTTP POST of a webhook body, to the address its URL was checked against."""

import contextlib
import http.client
import logging
import socket
import ssl
import threading
import time
from dataclasses import dataclass, field

from tally.webhooks.addresses import Refused, Target, parse, resolve

# A receiver's answer is not read past this: only its status matters.
_MAX_RESPONSE_BYTES = 4096
# Host lookups under way at once, for one Senders (a deliverer has one): past it, a try
# needing one more fails at once.
MAX_LOOKUPS = 64

log = logging.getLogger("tally.webhooks")

# A host's lookup and its kept answer: (name, port, whether private addresses are allowed).
_HostKey = tuple[str, int, bool]


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
        # Known before the handshake, so that a try's deadline can cut a receiver that
        # holds the handshake open.
        self.sock = sock
        self.sock = self._context.wrap_socket(sock, server_hostname=self._server_name)  # type: ignore[attr-defined]


class Senders:
    """Sends POSTs on kept-alive connections: one per thread and receiver address (a TLS
    handshake or a TCP connect per delivery would cost more than the delivery). A host's
    addresses are checked (tally.webhooks.addresses) and kept for a few seconds."""

    def __init__(self, resolve_ttl_seconds: float = 30.0) -> None:
        self._local = threading.local()
        self._ttl = resolve_ttl_seconds
        self._resolved: dict[_HostKey, tuple[float, list[str]]] = {}
        self._lookups: dict[_HostKey, _Lookup] = {}  # under way, one a host at most
        self._lock = threading.Lock()

    def _addresses(self, target: Target, allow_private: bool, wait: float) -> list[str]:
        """The host's checked addresses, waiting at most ``wait`` seconds for a lookup.

        The system resolver takes no timeout and may wait on a DNS server much longer than
        a try may last: the lookup runs on a thread of its own, which tries of the same
        host share, and whose answer is kept even when it comes after they gave up (the
        next try then has it at once)."""
        key = (target.host, target.port, allow_private)
        with self._lock:
            hit = self._resolved.get(key)
            if hit is not None and hit[0] > time.monotonic():
                return hit[1]
            lookup = self._lookups.get(key)
            if lookup is None:
                if len(self._lookups) >= MAX_LOOKUPS:
                    # Lookups hang (a resolver that never answers): no more threads.
                    raise _NoAnswerInTime
                lookup = self._lookups[key] = _Lookup()
                threading.Thread(
                    target=self._look_up,
                    args=(key, target, lookup),
                    name="tally-webhook-dns",
                    daemon=True,
                ).start()
        if not lookup.done.wait(wait):
            raise _NoAnswerInTime
        if lookup.refused is not None:
            raise Refused(lookup.refused)
        if lookup.found is None:
            raise RuntimeError(f"the lookup of {target.host} failed")
        return lookup.found

    def _look_up(self, key: _HostKey, target: Target, lookup: "_Lookup") -> None:
        try:
            lookup.found = resolve(target, allow_private=key[2])
        except Refused as exc:
            lookup.refused = str(exc)
        except Exception:  # an unexpected failure: the waiting tries say so
            log.exception("webhook host lookup %s", target.host)
        finally:
            with self._lock:
                del self._lookups[key]
                if lookup.found is not None:
                    if len(self._resolved) > 10_000:
                        self._resolved.clear()
                    self._resolved[key] = (time.monotonic() + self._ttl, lookup.found)
            lookup.done.set()

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
            # What is left of the try's time (the lookup took some) bounds the rest.
            left = timeout - (time.monotonic() - started)
            if left <= 0:
                if connection is not None:
                    connection.close()
                return done(None, f"timed out after {timeout:g} s")
            if connection is None:
                connection = _connect(target, address, left)
            elif connection.sock is not None:
                connection.sock.settimeout(left)
            # The socket timeout bounds each read, not the whole answer: a receiver that
            # drips a byte at a time is cut off when the try's time is up.
            expired = threading.Event()
            deadline = threading.Timer(left, _cut, (connection, expired))
            deadline.daemon = True
            deadline.start()
            try:
                if connection.sock is None:
                    # Connected here, not by request(): the cut needs the socket, and a
                    # deadline passed while connecting finds none to shut down.
                    connection.connect()
                    if expired.is_set():
                        raise TimeoutError
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


@dataclass
class _Lookup:
    done: threading.Event = field(default_factory=threading.Event)
    found: list[str] | None = None
    refused: str | None = None  # why the addresses are refused


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
