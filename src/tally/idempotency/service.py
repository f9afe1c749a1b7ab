"""Idempotency keys (Stripe's semantics; Voucherify has none): a mutating request sent
again with the same ``Idempotency-Key`` and the same request is answered as the first one
was, without doing the work again; the same key on another request is a 409.

The answer is stored in the transaction that did the work, so either both are kept or
neither: a request that failed without writing anything (bad input, a taken order) stores
nothing and may be retried with its key. Keys live 24 hours, per project.
"""

import hashlib
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

import orjson
from sqlalchemy.engine import Connection

from tally.errors import TallyError
from tally.idempotency import repository

KEPT_FOR = timedelta(hours=24)
MAX_KEY_LENGTH = 255
# Every this many keys a process stores, it deletes up to PURGE_BATCH expired ones.
PURGE_EVERY = 200
PURGE_BATCH = 1000

_stored = itertools.count(1)


@dataclass(frozen=True)
class Answer:
    status: int
    body: bytes
    replayed: bool = False


def check_key(key: str) -> str:
    if not 1 <= len(key) <= MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise TallyError(
            400,
            "invalid_idempotency_key",
            "Invalid idempotency key",
            f"Idempotency-Key must be 1 to {MAX_KEY_LENGTH} printable ASCII characters",
        )
    return key


def fingerprint(method: str, path: str, query: str, body: bytes) -> str:
    """What makes two requests the same: method, path, query, and the body as JSON with
    sorted keys (key order and spacing are not a different request). A body that is not
    JSON, or that orjson reads but cannot write back (it writes 254 levels of nesting and
    reads 1024), is compared as sent."""
    try:
        canonical = orjson.dumps(orjson.loads(body), option=orjson.OPT_SORT_KEYS) if body else b""
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        canonical = body
    digest = hashlib.sha256()
    for part in (method.encode(), path.encode(), query.encode(), canonical):
        digest.update(len(part).to_bytes(8, "big"))
        digest.update(part)
    return digest.hexdigest()


def once(
    conn: Connection,
    *,
    project_id: str,
    key: str,
    fingerprint: str,
    now: datetime,
    work: Callable[[Connection], tuple[int, bytes]],
) -> Answer:
    """The stored answer for ``key``, or ``work``'s, stored with it."""
    found = repository.get(conn, project_id, key)
    if found is not None and found["created_at"] <= now - KEPT_FOR:
        repository.forget(conn, project_id, key)
        found = None
    if found is not None:
        if found["fingerprint"] != fingerprint:
            raise TallyError(
                409,
                "idempotency_key_reused",
                "Idempotency key reused",
                f"Idempotency key {key} was used for another request; use a new key for a new "
                "request",
            )
        return Answer(found["status"], bytes(found["body"]), replayed=True)
    status, body = work(conn)
    repository.insert(
        conn,
        {
            "project_id": project_id,
            "key": key,
            "fingerprint": fingerprint,
            "status": status,
            "body": body,
            "created_at": now,
        },
    )
    if next(_stored) % PURGE_EVERY == 0:
        repository.purge(conn, before=now - KEPT_FOR, limit=PURGE_BATCH)
    return Answer(status, body)
