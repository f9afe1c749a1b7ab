"""The app in the test process: migrations, one project, and Starlette's TestClient.

``tally`` is imported inside the functions so that the rest of the suite (and the spec
validator's own tests) still collect while the application package is incomplete.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import httpx
from fastapi.testclient import TestClient

if TYPE_CHECKING:
    from fastapi import FastAPI

    from tally.db.engine import Database


@dataclass(frozen=True)
class ProjectKeys:
    project_id: str
    app_id: str
    app_token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"X-App-Id": self.app_id, "X-App-Token": self.app_token}


@dataclass
class AppClient:
    """``http`` sends as the "test" project; ``anonymous`` sends no credentials.

    The request helpers (``get``, ``post``...) forward to ``http``.
    """

    http: TestClient
    anonymous: TestClient
    project: ProjectKeys
    db_url: str
    app: FastAPI
    db: Database

    def new_project(self, name: str) -> ProjectKeys:
        """Create another project directly in the database."""
        return _create_project(self.db, name)

    def as_project(self, project: ProjectKeys) -> TestClient:
        """A client on the same running app, authenticated as another project."""
        client = TestClient(self.app, headers=project.headers)
        client.portal = self.http.portal  # share the lifespan's event loop
        return client

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.http.request(method, url, **kwargs)
        return response

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.http.get(url, **kwargs)
        return response

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.http.post(url, **kwargs)
        return response

    def put(self, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.http.put(url, **kwargs)
        return response

    def patch(self, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.http.patch(url, **kwargs)
        return response

    def delete(self, url: str, **kwargs: Any) -> httpx.Response:
        response: httpx.Response = self.http.delete(url, **kwargs)
        return response


def _create_project(db: Database, name: str) -> ProjectKeys:
    from tally.projects.service import create_project

    with db.transaction(write=True) as conn:
        created = create_project(conn, name=name)
    return ProjectKeys(
        project_id=created.project_id, app_id=created.app_id, app_token=created.app_token
    )


# PostgreSQL has no file beside the database for the dashboard's signing secret: its
# servers are given one, as an operator gives them TALLY_DASHBOARD_SECRET.
POSTGRES_DASHBOARD_SECRET = "tests-dashboard-secret-0123456789abcdef"


@contextmanager
def open_app_client(
    db_url: str, *, raise_server_exceptions: bool = True, **settings: Any
) -> Iterator[AppClient]:
    """Migrate ``db_url``, create project "test", and run the app (lifespan included) with
    ``settings`` over the environment's (on PostgreSQL, a dashboard secret unless given)."""
    from tally.app import create_app
    from tally.config import Settings
    from tally.db.engine import Database, is_sqlite
    from tally.db.migrate import upgrade

    if not is_sqlite(db_url):
        settings.setdefault("dashboard_secret", POSTGRES_DASHBOARD_SECRET)
    upgrade(db_url)
    db = Database(db_url, pool_size=2)
    try:
        project = _create_project(db, "test")
        app = create_app(Settings(database_url=db_url, **settings))
        http = TestClient(
            app, headers=project.headers, raise_server_exceptions=raise_server_exceptions
        )
        anonymous = TestClient(app, raise_server_exceptions=raise_server_exceptions)
        with http:
            # Entering ``http`` ran the lifespan on its portal (event loop); let the anonymous
            # client use the same one instead of a fresh loop per request.
            anonymous.portal = http.portal
            try:
                yield AppClient(
                    http=http,
                    anonymous=anonymous,
                    project=project,
                    db_url=db_url,
                    app=app,
                    db=db,
                )
            finally:
                anonymous.portal = None
    finally:
        db.dispose()
