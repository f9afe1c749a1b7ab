"""Webhook signatures (pure): Tally's timestamped one and Voucherify's body-only one.

``X-Tally-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<raw body>">``: the time
is signed with the body, so a receiver that refuses old timestamps cannot be fed a
captured payload again. ``x-voucherify-signature``: hex HMAC-SHA256 of the body with the
whitespace outside strings removed (BEHAVIOR 20.5); Tally's bodies have none, so it is the
HMAC of the body as sent.
"""

import hashlib
import hmac
import secrets

SECRET_PREFIX = "whsec_"
# How old a signed time a receiver accepts by default: a few minutes of clock skew and
# retry delay, far less than a replayed capture needs.
TOLERANCE_SECONDS = 300


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


def tally_signature(secret: str, body: bytes, timestamp: int) -> str:
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def voucherify_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(
    secret: str, body: bytes, header: str, *, now: int, tolerance: int = TOLERANCE_SECONDS
) -> bool:
    """Whether ``header`` (an X-Tally-Signature value) signs ``body`` with ``secret`` at a
    time within ``tolerance`` seconds of ``now``: what a receiver checks."""
    parts: dict[str, list[str]] = {}
    for item in header.split(","):
        name, _, value = item.strip().partition("=")
        parts.setdefault(name, []).append(value)
    try:
        timestamp = int(parts["t"][0])
    except (KeyError, ValueError):
        return False
    if abs(now - timestamp) > tolerance:
        return False
    expected = tally_signature(secret, body, timestamp).split(",v1=", 1)[1]
    return any(hmac.compare_digest(expected, given) for given in parts.get("v1", []))
