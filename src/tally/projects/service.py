"""Projects own all data; their API keys authenticate every /v1 request."""

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.engine import Connection

from tally import ids
from tally.clock import utcnow
from tally.errors import UNAUTHORIZED
from tally.projects import repository


@dataclass(frozen=True)
class Credentials:
    project_id: str
    app_id: str
    app_token: str


def _hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_project(conn: Connection, *, name: str) -> Credentials:
    name = name.strip()
    if not name:
        raise ValueError("project name must not be empty")
    credentials = Credentials(
        project_id=ids.new_id("proj"),
        app_id=secrets.token_hex(16),
        app_token=secrets.token_urlsafe(32),
    )
    repository.insert_project(
        conn,
        project_id=credentials.project_id,
        name=name,
        app_id=credentials.app_id,
        token_hash=_hash_token(credentials.app_token),
        now=utcnow(),
    )
    return credentials


# A fixed hash to compare against when the app id is unknown, so that an unknown id and a
# wrong token take the same path and the same time.
_NO_TOKEN_HASH = _hash_token(secrets.token_urlsafe(32))


def authenticate(conn: Connection, *, app_id: str | None, app_token: str | None) -> str:
    """The project id of a valid key pair; anything else is the spec's 401."""
    if not app_id or not app_token or len(app_id) > 64 or len(app_token) > 256:
        raise UNAUTHORIZED
    if "\x00" in app_id:
        raise UNAUTHORIZED
    found = repository.find_credentials(conn, app_id)
    project_id, stored = found if found else ("", _NO_TOKEN_HASH)
    if not hmac.compare_digest(stored, _hash_token(app_token)) or not found:
        raise UNAUTHORIZED
    return project_id
