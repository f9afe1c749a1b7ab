"""Fixtures: real SQLite and PostgreSQL databases, the in-process app, real server processes.

Fixtures (see tests/support/ for the objects they yield):

- ``postgres_server`` (session): a throwaway PostgreSQL server (``support.postgres``).
  Missing PostgreSQL skips the PostgreSQL variants locally and fails them when ``CI=true``.
- ``db_url`` (function, params ``sqlite``/``postgresql``): a fresh empty database URL.
- ``client`` (function, both engines): ``support.inprocess.AppClient`` over TestClient.
- ``server`` (function, both engines) / ``live_server`` (module, both engines): a real
  ``tally serve`` process (``support.server.LiveServer``). Tests using them are marked
  ``slow`` automatically, so ``pytest -m "not slow"`` leaves them out.

Every test that uses one of these also gets a ``sqlite`` or ``postgresql`` marker, so
``pytest -m "not postgresql"`` runs the SQLite half only.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Generator, Iterator
from pathlib import Path

import pytest

from support.inprocess import AppClient, open_app_client
from support.postgres import PostgresServer, PostgresUnavailable
from support.server import LiveServer, start_live_server
from tally.db.engine import Database

ENGINES = ("sqlite", "postgresql")
SERVER_FIXTURES = frozenset({"server", "live_server", "failfast_servers"})


def pytest_configure(config: pytest.Config) -> None:
    # Export files of every app and server the tests start go to a directory of this run,
    # never to the working directory (the default for PostgreSQL).
    os.environ.setdefault("TALLY_EXPORTS_DIR", tempfile.mkdtemp(prefix="tally-exports-"))
    config.addinivalue_line("markers", "sqlite: runs against SQLite")
    config.addinivalue_line("markers", "postgresql: runs against the throwaway PostgreSQL")


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # tryfirst: markers must be in place before `-m` deselects anything.
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & SERVER_FIXTURES:
            item.add_marker(pytest.mark.slow)
        callspec = getattr(item, "callspec", None)
        if callspec is not None:
            for name in ("db_url", "migrated_db_url", "live_server", "failfast_servers"):
                engine = callspec.params.get(name)
                if engine in ENGINES:
                    item.add_marker(getattr(pytest.mark, engine))


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    """Attach the server process's output to the report of a failed test."""
    report = yield
    if report.failed:
        funcargs = getattr(item, "funcargs", {})
        for name in sorted(SERVER_FIXTURES):
            live = funcargs.get(name)
            if isinstance(live, LiveServer):
                report.sections.append((f"tally serve output ({name})", live.log()))
    return report


def _in_ci() -> bool:
    return os.environ.get("CI", "").lower() == "true"


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """The session's PostgreSQL server, started on first use and stopped at the end."""
    unavailable = ""
    try:
        server = PostgresServer.start()
    except PostgresUnavailable as exc:
        unavailable = str(exc)
    if unavailable:
        if _in_ci():
            pytest.fail(f"PostgreSQL is required in CI: {unavailable}", pytrace=False)
        pytest.skip(f"PostgreSQL not available: {unavailable}")
    try:
        yield server
    finally:
        server.stop()


def _fresh_database(
    engine: str, request: pytest.FixtureRequest, directory: Path
) -> Generator[str, None, None]:
    if engine == "sqlite":
        yield f"sqlite:///{directory}/tally.db"
        return
    pg: PostgresServer = request.getfixturevalue("postgres_server")
    name = pg.create_database()
    try:
        yield pg.url(name)
    finally:
        pg.drop_database(name)


@pytest.fixture(params=ENGINES, ids=ENGINES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database (no migrations run): SQLite file or PostgreSQL database."""
    yield from _fresh_database(request.param, request, tmp_path)


@pytest.fixture(scope="session")
def migrated_templates(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """engine -> a migrated database to copy, made once per session (SQLite file name or
    PostgreSQL database name); copying is much cheaper than migrating for every test."""
    from tally.db.migrate import upgrade

    path = tmp_path_factory.mktemp("templates") / "template.db"
    upgrade(f"sqlite:///{path}")
    return {"sqlite": str(path)}


def _migrated_sqlite(directory: Path, migrated_templates: dict[str, str]) -> str:
    target = directory / "tally.db"
    shutil.copyfile(migrated_templates["sqlite"], target)
    return f"sqlite:///{target}"


@pytest.fixture
def sqlite_url(tmp_path: Path, migrated_templates: dict[str, str]) -> str:
    """A fresh SQLite database file already at the newest migration, for what only SQLite
    has (its file locks, the dashboard's key file beside it)."""
    return _migrated_sqlite(tmp_path, migrated_templates)


@pytest.fixture(params=ENGINES, ids=ENGINES)
def migrated_db_url(
    request: pytest.FixtureRequest, tmp_path: Path, migrated_templates: dict[str, str]
) -> Iterator[str]:
    """A fresh database already at the newest migration."""
    if request.param == "sqlite":
        yield _migrated_sqlite(tmp_path, migrated_templates)
        return
    pg: PostgresServer = request.getfixturevalue("postgres_server")
    if "postgresql" not in migrated_templates:
        from tally.db.migrate import upgrade

        template = pg.create_database("template")
        upgrade(pg.url(template))
        migrated_templates["postgresql"] = template
    name = pg.create_database(template=migrated_templates["postgresql"])
    try:
        yield pg.url(name)
    finally:
        pg.drop_database(name)


@pytest.fixture
def db(migrated_db_url: str) -> Iterator[Database]:
    """A Database (the engines a process keeps) on a fresh migrated database; its pool
    holds three connections (an export job reads while another writes)."""
    database = Database(migrated_db_url, pool_size=3)
    try:
        yield database
    finally:
        database.dispose()


@pytest.fixture
def client(migrated_db_url: str) -> Iterator[AppClient]:
    """The app in-process (lifespan run), migrated, with project "test" authenticated."""
    with open_app_client(migrated_db_url) as app_client:
        yield app_client


@pytest.fixture
def server(db_url: str, tmp_path: Path) -> Iterator[LiveServer]:
    """A real ``tally serve`` process on a fresh database, for one test."""
    live = start_live_server(db_url, tmp_path / "server")
    try:
        yield live
    finally:
        live.stop()


@pytest.fixture(scope="module", params=ENGINES, ids=ENGINES)
def live_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """A real ``tally serve`` process shared by the tests of one module (per engine).

    Tests sharing it see each other's data: create what you need with unique ids, or use
    ``live_server.new_project(...)`` for an empty project.
    """
    yield from _module_server(request, tmp_path_factory, "live")


@pytest.fixture(scope="module", params=ENGINES, ids=ENGINES)
def failfast_servers(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    """Like ``live_server``, with two worker processes that fail at once on an order another
    request holds (TALLY_ORDER_SESSION_WAIT_MS=0, Voucherify's own behaviour)."""
    yield from _module_server(
        request, tmp_path_factory, "failfast", workers=2, env={"TALLY_ORDER_SESSION_WAIT_MS": "0"}
    )


def _module_server(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    name: str,
    *,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> Iterator[LiveServer]:
    directory = tmp_path_factory.mktemp(f"{name}-{request.param}")
    databases = _fresh_database(request.param, request, directory)
    url = next(databases)
    try:
        live = start_live_server(url, directory / "server", workers=workers, env=env)
        try:
            yield live
        finally:
            live.stop()
    finally:
        databases.close()  # runs the generator's cleanup (drops the PostgreSQL database)
