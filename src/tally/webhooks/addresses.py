"""Where a webhook may be sent: http(s) URLs whose host resolves only to public addresses.

A webhook URL is chosen by an API caller and fetched by the server, so without this check
a caller could make Tally send requests into the network it runs in (server-side request
forgery): loopback, private, link-local (cloud metadata at 169.254.169.254), carrier-grade
NAT and other non-global ranges are refused, unless TALLY_WEBHOOKS_ALLOW_PRIVATE=1 (local
development, the tests). The check runs when the endpoint is saved and again before every
delivery, and the delivery connects to the address that was checked, so a DNS answer that
changes in between (rebinding) cannot slip through.
"""

import ipaddress
import socket
from dataclasses import dataclass
from urllib.parse import quote, urlsplit

MAX_URL_LENGTH = 2000
# Characters a path or query may hold as they are (RFC 3986 reserved and unreserved, and %).
_PATH_SAFE = "/%:@!$&'()*+,;=-._~"


class Refused(ValueError):
    """A URL Tally will not send to; the message says why."""


@dataclass(frozen=True)
class Target:
    scheme: str
    host: str
    port: int
    path: str  # with the query

    @property
    def host_header(self) -> str:
        default = 443 if self.scheme == "https" else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def parse(url: str) -> Target:
    """The parts of an acceptable URL, or Refused."""
    if len(url) > MAX_URL_LENGTH:
        raise Refused(f"the URL is longer than {MAX_URL_LENGTH} characters")
    if any(c.isspace() or ord(c) < 32 for c in url):
        raise Refused("the URL contains whitespace or control characters")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise Refused("the URL is not valid") from None
    if parts.scheme not in ("http", "https"):
        raise Refused("the URL must start with http:// or https://")
    if parts.username is not None or parts.password is not None:
        raise Refused("the URL must not carry a user name or password")
    if not parts.hostname:
        raise Refused("the URL has no host")
    if parts.fragment:
        raise Refused("the URL must not have a fragment (#...)")
    # What goes on the wire is ASCII: a name in another script as its IDNA form, other
    # characters of the path and query percent-encoded (escapes already there are kept).
    try:
        host = (
            parts.hostname.encode("idna").decode("ascii")
            if not parts.hostname.isascii()
            else parts.hostname
        )
    except UnicodeError:
        raise Refused(f"the host {parts.hostname} is not a valid name") from None
    path = quote(parts.path or "/", safe=_PATH_SAFE)
    if parts.query:
        path += "?" + quote(parts.query, safe=_PATH_SAFE + "?")
    default = 443 if parts.scheme == "https" else 80
    return Target(parts.scheme, host, port or default, path)


def is_public(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def resolve(target: Target, *, allow_private: bool) -> list[str]:
    """The addresses ``target``'s host resolves to, all of them allowed; else Refused."""
    try:
        infos = socket.getaddrinfo(target.host, target.port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError):
        raise Refused(f"the host {target.host} does not resolve") from None
    addresses = list(dict.fromkeys(str(info[4][0]) for info in infos))
    if not addresses:
        raise Refused(f"the host {target.host} does not resolve")
    if not allow_private:
        blocked = [a for a in addresses if not is_public(a)]
        if blocked:
            raise Refused(
                f"the host {target.host} resolves to a loopback, private or otherwise "
                f"non-public address ({blocked[0]}); set TALLY_WEBHOOKS_ALLOW_PRIVATE=1 to "
                "allow such addresses"
            )
    return addresses
