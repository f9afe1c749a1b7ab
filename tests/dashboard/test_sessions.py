"""Dashboard sessions are signed with the server's secret as well as the token hash: a
cookie forged from what the database holds is refused, a new token still ends every
session, servers given one secret share sessions and servers with different ones do not,
SQLite's key file is made once (mode 0600) and outlives a restart, and a server without a
secret (PostgreSQL without TALLY_DASHBOARD_SECRET) says it cannot sign anyone in."""

import hashlib
import hmac
import logging
import os
import re
import secrets
import stat
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from dashboard.test_dashboard import browser, csrf_of, sign_in
from support.inprocess import AppClient, ProjectKeys, open_app_client
from support.postgres import PostgresServer
from support.server import start_live_server
from tally.db.engine import Database

SECRET_A = "a-secret-shared-by-two-servers-0123456789"
SECRET_B = "another-servers-own-secret-9876543210abc"


def _stored(db: Database, project_id: str) -> str:
    with db.transaction(write=False) as conn:
        value: str = conn.execute(
            sa.text("SELECT app_token_hash FROM projects WHERE id = :id"), {"id": project_id}
        ).scalar_one()
    return value


def _forge(key: bytes, project_id: str) -> tuple[str, str]:
    """A session cookie and its CSRF token signed under ``key``, as a forger would."""
    nonce = secrets.token_urlsafe(18)
    payload = f"{project_id}.{int(time.time()) + 3600}.{nonce}"
    cookie = f"{payload}.{hmac.new(key, payload.encode(), hashlib.sha256).hexdigest()}"
    csrf = hmac.new(key, f"csrf:{nonce}".encode(), hashlib.sha256).hexdigest()[:40]
    return cookie, csrf


@contextmanager
def another_server(db_url: str, **settings: Any) -> Iterator[TestClient]:
    """Another app (its own lifespan: a restart, a worker, a second machine) on ``db_url``,
    as a browser keeping cookies."""
    from tally.app import create_app
    from tally.config import Settings

    with TestClient(create_app(Settings(database_url=db_url, **settings))) as page:
        yield page


def _signed_cookie(page: TestClient, keys: ProjectKeys) -> str:
    """Sign ``page`` in; the session cookie it was given."""
    value = sign_in(page, keys).cookies.get("tally_session")
    assert value is not None
    return value


def another_browser(page: TestClient) -> TestClient:
    """A second browser on the app ``page`` runs (its lifespan's event loop shared)."""
    other = TestClient(page.app)
    other.portal = page.portal
    return other


def _with_cookie(page: TestClient, value: str) -> TestClient:
    page.cookies.set("tally_session", value, path="/dashboard")
    return page


def _signed_in(page: TestClient) -> bool:
    response = page.get("/dashboard/orders", follow_redirects=False)
    assert response.status_code in (200, 303), response.status_code
    return response.status_code == 200


@pytest.fixture
def postgres_url(postgres_server: PostgresServer) -> Iterator[str]:
    name = postgres_server.create_database()
    try:
        yield postgres_server.url(name)
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(autouse=True)
def _no_secret_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TALLY_DASHBOARD_SECRET", raising=False)


def test_a_session_forged_from_the_database_is_refused(client: AppClient) -> None:
    """What a reviewer's proof (forge.py) did: the stored token hash alone signed a session and
    its CSRF token, and the forger listed orders and started an export."""
    assert client.post("/v1/orders", json={"source_id": "secret-order"}).status_code == 200
    project_id = client.project.project_id
    stored = _stored(client.db, project_id)
    keys = (
        # The key sessions were signed with before (the hash alone).
        hmac.new(stored.encode(), b"tally dashboard session v1", hashlib.sha256).digest(),
        # Today's derivation with the hash standing in for the secret, or no secret.
        hmac.new(
            stored.encode(), b"tally dashboard session v2\x00" + stored.encode(), hashlib.sha256
        ).digest(),
        hmac.new(b"", b"tally dashboard session v2\x00" + stored.encode(), hashlib.sha256).digest(),
    )
    for key in keys:
        cookie, csrf = _forge(key, project_id)
        page = _with_cookie(browser(client), cookie)
        listed = page.get("/dashboard/orders", follow_redirects=False)
        assert listed.status_code == 303 and listed.headers["location"] == "/dashboard/sign-in"
        assert "secret-order" not in listed.text
        export = page.post(
            "/dashboard/exports",
            data={"csrf": csrf, "fields": ["id", "source_id"]},
            follow_redirects=False,
        )
        assert export.headers.get("location") == "/dashboard/sign-in"
    assert client.get("/v1/exports").json()["total"] == 0
    # The real sign-in still opens the dashboard.
    page = browser(client)
    assert sign_in(page, client.project).status_code == 303
    assert "secret-order" in page.get("/dashboard/orders").text


def test_a_new_token_ends_every_session(client: AppClient) -> None:
    page = browser(client)
    sign_in(page, client.project)
    assert _signed_in(page)
    with client.db.transaction(write=True) as conn:
        conn.execute(
            sa.text("UPDATE projects SET app_token_hash = :h WHERE id = :id"),
            {"h": hashlib.sha256(b"a new token").hexdigest(), "id": client.project.project_id},
        )
    assert not _signed_in(page)


def test_servers_given_one_secret_share_sessions_and_others_do_not(
    migrated_db_url: str,
) -> None:
    with (
        open_app_client(migrated_db_url, dashboard_secret=SECRET_A) as first,
        another_server(migrated_db_url, dashboard_secret=SECRET_A) as same,
        another_server(migrated_db_url, dashboard_secret=SECRET_B) as other,
    ):
        page = browser(first)
        cookie = _signed_cookie(page, first.project)
        assert _signed_in(_with_cookie(same, cookie))
        # A form of one server is accepted by the other: the CSRF token is shared too.
        csrf = csrf_of(same.get("/dashboard/settings").text)
        saved = page.post(
            "/dashboard/settings", data={"csrf": csrf, "currency": "EUR"}, follow_redirects=False
        )
        assert saved.status_code == 303
        assert not _signed_in(_with_cookie(other, cookie))
        # Nor does the first server take the other's sessions.
        theirs = _signed_cookie(another_browser(other), first.project)
        assert _signed_in(_with_cookie(another_browser(other), theirs))
        assert not _signed_in(_with_cookie(browser(first), theirs))


def test_sqlite_keeps_its_secret_in_a_key_file_beside_the_database(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    database = Path(sqlite_url.removeprefix("sqlite:///"))
    key_file = database.parent / "tally.db-dashboard-key"
    caplog.set_level(logging.DEBUG)
    with open_app_client(sqlite_url) as first:
        cookie = _signed_cookie(browser(first), first.project)
    made = key_file.read_bytes()
    assert re.fullmatch(rb"[0-9a-f]{64}\n", made)
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    # Beside the database, nothing but the key file and SQLite's own: no temporary left.
    assert sorted(p.name for p in database.parent.iterdir() if "dashboard" in p.name) == [
        key_file.name
    ]
    assert made.strip().decode() not in caplog.text
    # A restart (or another worker) reads the same file: the session goes on.
    with another_server(sqlite_url) as restarted:
        assert _signed_in(_with_cookie(restarted, cookie))
    assert key_file.read_bytes() == made
    # The setting comes first, the file is left alone.
    with another_server(sqlite_url, dashboard_secret=SECRET_A) as configured:
        assert not _signed_in(_with_cookie(configured, cookie))
    assert SECRET_A not in caplog.text


def test_workers_starting_together_agree_on_one_key_file(tmp_path: Path) -> None:
    from tally.dashboard import secret as dashboard_secret

    path = tmp_path / "tally.db-dashboard-key"
    start = threading.Barrier(8)
    found: list[bytes] = []

    def worker() -> None:
        start.wait()
        found.append(dashboard_secret.read_or_create(path))

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(found) == 8 and len(set(found)) == 1
    assert os.listdir(tmp_path) == [path.name]


def test_a_key_file_that_cannot_be_used_or_a_short_secret_turns_sign_in_off(
    sqlite_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    key_file = Path(sqlite_url.removeprefix("sqlite:///") + "-dashboard-key")
    key_file.write_bytes(b"")
    with another_server(sqlite_url) as page:
        form = page.get("/dashboard/sign-in")
        assert form.status_code == 503
        assert "key file" in form.text and "<form" not in form.text
        # The public page names no path; the log does.
        assert str(key_file) not in form.text and str(key_file) in caplog.text
    short = "too-short-a-secret"
    with another_server(sqlite_url, dashboard_secret=short) as page:
        form = page.get("/dashboard/sign-in")
        assert form.status_code == 503 and "shorter than 32" in form.text
        assert short not in form.text


@pytest.mark.postgresql
def test_postgresql_without_a_secret_says_the_dashboard_cannot_sign_in(
    postgres_url: str,
) -> None:
    with open_app_client(postgres_url, dashboard_secret=None) as client:
        page = browser(client)
        form = page.get("/dashboard/sign-in")
        assert form.status_code == 503
        assert "TALLY_DASHBOARD_SECRET" in form.text and "<form" not in form.text
        posted = page.post(
            "/dashboard/sign-in",
            data={"token": "x", "app_id": client.project.app_id, "app_token": "y"},
        )
        assert posted.status_code == 503
        # A cookie signed under the hash alone opens nothing either.
        stored = _stored(client.db, client.project.project_id)
        key = hmac.new(stored.encode(), b"tally dashboard session v1", hashlib.sha256).digest()
        assert not _signed_in(_with_cookie(page, _forge(key, client.project.project_id)[0]))
        # The API does not need the dashboard's secret.
        assert client.get("/v1/orders").status_code == 200


@pytest.mark.slow
@pytest.mark.sqlite
def test_workers_of_one_server_accept_each_others_sessions(tmp_path: Path) -> None:
    """`tally serve --workers 2` on the SQLite default: both workers start at once and
    read one key file, so a session works whichever worker a connection reaches."""
    database = tmp_path / "tally.db"
    server = start_live_server(f"sqlite:///{database}", tmp_path / "server", workers=2)
    try:
        with httpx.Client(base_url=server.base_url, timeout=30) as page:
            form = page.get("/dashboard/sign-in")
            token = re.search(r'name="token" value="([^"]+)"', form.text)
            assert token is not None
            signed = page.post(
                "/dashboard/sign-in",
                data={
                    "token": token.group(1),
                    "app_id": server.app_id,
                    "app_token": server.app_token,
                },
            )
            assert signed.status_code == 303, signed.text
            cookie = page.cookies["tally_session"]
        for _ in range(20):
            # A new connection each time: either worker may take it.
            with httpx.Client(base_url=server.base_url, timeout=30) as fresh:
                fresh.cookies.set("tally_session", cookie, path="/dashboard")
                assert fresh.get("/dashboard/orders").status_code == 200
        key_file = tmp_path / "tally.db-dashboard-key"
        assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
        assert key_file.read_text().strip() not in server.log()
    finally:
        server.stop()
