"""One HTTP POST of a webhook body, to the address its URL was checked against."""

import http.client
import socket
import ssl
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


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, allow_private: bool
) -> Outcome:
    """POST ``body``; any 2xx within ``timeout`` seconds is success, redirects are not
    followed (a 3xx is a failure like any other non-2xx)."""
    started = time.monotonic()

    def done(status: int | None, error: str | None) -> Outcome:
        return Outcome(status, error, int((time.monotonic() - started) * 1000))

    try:
        target = parse(url)
        address = resolve(target, allow_private=allow_private)[0]
    except Refused as exc:
        return done(None, f"refused: {exc}")
    connection: http.client.HTTPConnection
    if target.scheme == "https":
        connection = _PinnedHTTPS(address, target, timeout)
    else:
        connection = http.client.HTTPConnection(address, target.port, timeout=timeout)
    try:
        connection.request(
            "POST", target.path, body=body, headers={**headers, "Host": target.host_header}
        )
        response = connection.getresponse()
        response.read(_MAX_RESPONSE_BYTES)
        if time.monotonic() - started > timeout:
            return done(None, f"timed out after {timeout:g} s")
        return done(response.status, None)
    except TimeoutError:
        return done(None, f"timed out after {timeout:g} s")
    except ssl.SSLError as exc:
        return done(None, f"TLS error: {exc.reason or exc}")
    except (OSError, http.client.HTTPException) as exc:
        return done(None, f"{type(exc).__name__}: {exc}"[:300])
    finally:
        connection.close()
