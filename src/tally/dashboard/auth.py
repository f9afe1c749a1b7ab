"""Dashboard sign-in: a session cookie signed with a key derived from the project's API token
and the server's dashboard secret.

An operator signs in with the project's app id and token (the credentials the project
already has: nothing else to create, store or lose). The cookie names the project and
carries an expiry and a random nonce, signed with HMAC-SHA256 under a key derived from the
stored hash of the project's token, so a new token ends every session, and from the
server's secret (tally.dashboard.secret), which is not in the database: the hash alone, in
any backup or read-only copy, signs nothing. It is HttpOnly, SameSite=Strict and scoped to
/dashboard; Secure when the request came over HTTPS. Forms carry a CSRF token derived from
the session's nonce under the same key, checked on every POST; the sign-in form itself uses
a double-submit cookie.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

SESSION_COOKIE = "tally_session"
SIGN_IN_COOKIE = "tally_sign_in"
SESSION_SECONDS = 8 * 3600
PATH = "/dashboard"


@dataclass(frozen=True)
class Session:
    project_id: str
    expires: int
    nonce: str
    csrf: str


def _key(token_hash: str, secret: bytes) -> bytes:
    # v2: v1 keys came from the token hash alone, so no cookie signed under one is valid.
    message = b"tally dashboard session v2\x00" + token_hash.encode()
    return hmac.new(secret, message, hashlib.sha256).digest()


def _sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def _csrf(key: bytes, nonce: str) -> str:
    return _sign(key, f"csrf:{nonce}")[:40]


def issue(project_id: str, token_hash: str, *, secret: bytes, now: int) -> str:
    """A new session's cookie value."""
    payload = f"{project_id}.{now + SESSION_SECONDS}.{secrets.token_urlsafe(18)}"
    return f"{payload}.{_sign(_key(token_hash, secret), payload)}"


def project_of(value: str) -> str | None:
    """The project a cookie value claims (not yet verified)."""
    if len(value) > 300 or "\x00" in value:
        return None  # PostgreSQL refuses NUL in any text: never sent to a query
    parts = value.split(".")
    return parts[0] if len(parts) == 4 and 0 < len(parts[0]) <= 40 else None


def verify(value: str, token_hash: str, *, secret: bytes, now: int) -> Session | None:
    """The session of a cookie value signed under the project's key and not expired."""
    parts = value.split(".")
    if len(parts) != 4 or len(value) > 300:
        return None
    project_id, expires, nonce, signature = parts
    key = _key(token_hash, secret)
    if not hmac.compare_digest(_sign(key, f"{project_id}.{expires}.{nonce}"), signature):
        return None
    if not expires.isdigit() or int(expires) < now:
        return None
    return Session(project_id, int(expires), nonce, _csrf(key, nonce))


def csrf_matches(session: Session, given: str | None) -> bool:
    return given is not None and hmac.compare_digest(session.csrf, given)


def new_sign_in_token() -> str:
    return secrets.token_urlsafe(24)
