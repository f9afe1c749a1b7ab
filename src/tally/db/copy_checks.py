"""What a copy between databases checks before it writes anything: that the two are not
one database, that the source's schema is this code's, and that no other process uses
either of them (a copy of a database being written would not be the data of any moment).
"""

import os
import secrets
import time

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from tally.db import copy_progress as progress
from tally.db import sqlite_files
from tally.db.refused import Refused
from tally.db.schema_version import head_revision, revision_of

SESSIONS_GRACE_SECONDS = 2.0


def source_label(url: str) -> str:
    """How a copy names its source in the target (and on the terminal): without a
    password, whether in the URL's user part or its query (``?password=``, which
    ``hide_password`` does not hide), and a SQLite file by its real path (a relative one
    depends on where the command ran)."""
    path = sqlite_files.database_path(url)
    if path is not None:
        return f"sqlite:///{path.resolve()}"
    parsed = sa.engine.make_url(url)
    secrets_in_query = [key for key in parsed.query if "password" in key.lower()]
    return parsed.difference_update_query(secrets_in_query).render_as_string(hide_password=True)


def same_place(a: str, b: str) -> bool:
    """Whether two URLs name one database (a SQLite file by any path to it; a PostgreSQL
    database by host, port and name). Aliases such as a host's two names are caught later
    by writing a probe to the target and looking for it in the source."""
    first, second = sa.engine.make_url(a), sa.engine.make_url(b)
    if first.get_backend_name() != second.get_backend_name():
        return False
    path_a, path_b = sqlite_files.database_path(a), sqlite_files.database_path(b)
    if path_a is not None and path_b is not None:
        if path_a.resolve() == path_b.resolve():
            return True
        return path_a.exists() and path_b.exists() and os.path.samefile(path_a, path_b)
    local = {None, "", "localhost", "127.0.0.1", "::1"}

    def place(url: sa.engine.URL) -> tuple[str | None, int, str | None]:
        host = "local" if url.host in local else url.host
        return host, url.port or 5432, url.database

    return place(first) == place(second)


def require_head(source: Engine) -> None:
    with source.connect() as conn:
        found = revision_of(conn)
    head = head_revision()
    if found != head:
        raise Refused(
            f"the source is at migration {found or '(none)'} and this Tally at {head}: copy "
            "with the Tally version that wrote it, or migrate the source first (tally migrate)"
        )


def named(url: str, tag: str) -> str:
    if sqlite_files.database_path(url) is not None:
        return url
    named = sa.engine.make_url(url).update_query_dict({"application_name": tag})
    return named.render_as_string(hide_password=False)


def refuse_in_use(engine: Engine, url: str, role: str, tag: str) -> None:
    """Refuses a database another process uses. For a SQLite file, call it before this
    process opens any connection to that file (sqlite_files.opened_by_another_process
    says why)."""
    advice = "stop the servers and workers that use it (or pass --force and let the check tell)"
    path = sqlite_files.database_path(url)
    if path is not None:
        # Only other processes' locks are seen, so this run's own connections would not
        # count; but there are none yet, and there must not be (see above).
        if sqlite_files.opened_by_another_process(path):
            raise Refused(f"the {role} {path} is open in another process: {advice}")
        return
    others = _other_sessions(engine, tag)
    if others:
        raise Refused(f"the {role} database has {others} other connection(s): {advice}")


def _other_sessions(engine: Engine, tag: str) -> int:
    """Other client connections to the PostgreSQL database; those of processes that were
    just stopped are given a moment to go (a backend leaves the list once it has exited).

    A role without pg_read_all_stats sees other roles' sessions with most columns NULL,
    backend_type among them (the database and the application name stay): a server
    connected as another role than the copy's is one of those, so NULL counts as a client
    (so does another role's autovacuum worker, which the grace period lets finish)."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
        "AND pid <> pg_backend_pid() "
        "AND (backend_type IS NULL OR backend_type = 'client backend') "
        "AND application_name IS DISTINCT FROM :tag"
    )
    deadline = time.monotonic() + SESSIONS_GRACE_SECONDS
    with engine.connect() as conn:
        while True:
            others = int(conn.execute(query, {"tag": tag}).scalar_one())
            conn.rollback()  # the statistics are a snapshot taken once a transaction
            if not others or time.monotonic() > deadline:
                return others
            time.sleep(0.1)


def refuse_same_database(source: Engine, target: Engine) -> None:
    token = secrets.token_hex(8)
    with target.begin() as conn:
        progress.ensure_table(conn)
        progress.probe(conn, token)
    try:
        with source.connect() as conn:
            same = progress.has_probe(conn, token)
    finally:
        with target.begin() as conn:
            progress.drop_probe(conn, token)
            progress.drop_if_empty(conn)
    if same:
        raise Refused("--from and --to are the same database")
