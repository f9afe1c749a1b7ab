"""`tally db copy` between SQLite and PostgreSQL, both ways: the API answers the same on
the copy (orders, redemptions, customers, events, exports, webhook deliveries), and the copy
carries on where it was (new events list after the copied ones, a webhook endpoint is sent
only new events); a copy interrupted mid-table, or killed, ends with exactly the right rows
when run again; a changed or missing row is found and its table named; copies that must
not run are refused before anything is written."""

import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import pytest
import sqlalchemy as sa
from psycopg import sql

from support.inprocess import open_app_client
from support.postgres import PostgresServer
from support.receiver import receiver
from support.server import tally_command, tally_env, tally_executable
from tally.db.backup import backup
from tally.db.copy import copy_database, verify_database
from tally.db.copy_progress import copy_progress
from tally.db.migrate import upgrade
from tally.db.refused import Refused
from tally.events.tables import events
from tally.orders.tables import orders as orders_table
from tally.projects.tables import projects
from tally.webhooks.tables import webhooks

from .shop import (
    all_events,
    answers,
    held_open,
    ok,
    orders,
    release_connections,
    shop,
    wait_delivered,
)

SQLITE_SOURCE = pytest.mark.parametrize("migrated_db_url", ["sqlite"], indirect=True)
APP = {"webhooks_allow_private": True, "job_poll_ms": 20}


def tally(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `tally` command, whatever its exit status (the URLs are in its arguments)."""
    return tally_command(args, db_url="sqlite:///unused.db", cwd=cwd)


def driver_url(url: str) -> str:
    """A SQLAlchemy PostgreSQL URL as psycopg takes it."""
    return (
        sa.engine.make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    )


def has_progress_table(url: str) -> bool:
    engine = sa.create_engine(url)
    try:
        return sa.inspect(engine).has_table(copy_progress.name)
    finally:
        engine.dispose()


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_sqlite_to_postgresql_and_back_answers_the_same_and_carries_on(
    migrated_db_url: str, empty_postgres: str, empty_sqlite: str, tmp_path: Path
) -> None:
    with receiver() as hooks:
        with open_app_client(migrated_db_url, **APP) as client:
            shop(client, hooks)
            before = answers(client)
            keys = client.project
        release_connections()
        sent = len(hooks.received)

        there = tally(["db", "copy", "--from", migrated_db_url, "--to", empty_postgres], tmp_path)
        assert there.returncode == 0, there.stderr
        assert "every table matches" in there.stdout
        lines = {line.split()[0]: line.split() for line in there.stdout.splitlines()[2:]}
        assert lines["orders"][1:3] == ["10", "10"] and lines["orders"][-1] == "ok"
        assert lines["events"][1] == str(len(before["events"]))

        with open_app_client(empty_postgres, **APP) as app:
            client = app.as_project(keys)
            assert answers(client) == before
            ok(
                client.post(
                    "/v1/orders", json={"source_id": "after", "amount": 5, "status": "PAID"}
                )
            )
            last = before["events"][-1]["id"]
            new = ok(client.get("/v1/events", params={"starting_after": last}))["events"]
            assert [e["type"] for e in new] == ["customer.order.created", "customer.order.paid"]
            # The endpoint's cursor came along: only the new events are sent.
            arrived = hooks.wait_for(sent + 2)
            time.sleep(0.3)
            assert len(hooks.received) == sent + 2
            assert sorted(r.json["event"]["id"] for r in arrived[sent:]) == sorted(
                e["id"] for e in new
            )
            wait_delivered(client)
            on_postgres = answers(client)
        release_connections()

    back_to_sqlite = ["--from", empty_postgres, "--to", empty_sqlite]
    back = tally(["db", "copy", *back_to_sqlite, "--project", keys.project_id], tmp_path)
    assert back.returncode == 0, back.stderr
    assert "every table matches" in back.stdout
    with open_app_client(empty_sqlite, **APP) as app:
        assert answers(app.as_project(keys)) == on_postgres
    assert not has_progress_table(empty_postgres) and not has_progress_table(empty_sqlite)


class Interrupted(Exception):
    """Stands for the copy's process dying after a committed batch."""


@pytest.mark.postgresql
@pytest.mark.parametrize(
    ("migrated_db_url", "into"),
    [
        ("sqlite", "empty_postgres"),
        ("postgresql", "empty_sqlite"),
        ("postgresql", "empty_postgres"),
    ],
    indirect=["migrated_db_url"],
)
def test_an_interrupted_copy_carries_on_with_no_row_lost_or_doubled(
    migrated_db_url: str, into: str, request: pytest.FixtureRequest, tmp_path: Path
) -> None:
    target = request.getfixturevalue(into)
    with open_app_client(migrated_db_url) as client:
        orders(client, 12)
        ok(client.put("/v1/customers/o-cust-0", json={"name": "Changed"}))
        second = client.new_project("second")
        orders(client.as_project(second), 7, prefix="s")
    release_connections()
    inserted = 0

    def stop_in(project_id: str, table: str) -> Callable[[str, str, int], None]:
        """Interrupts the copy after the second batch of ``table`` in ``project_id``."""
        seen = 0

        def after_batch(project: str, name: str, rows: int) -> None:
            nonlocal seen, inserted
            inserted += rows
            if (project, name) == (project_id, table):
                seen += 1
                if seen == 2:
                    raise Interrupted

        return after_batch

    # The events of the first project (numbered anew on the target), then the orders of
    # the second (keyed by their ids), once the first is whole.
    for project_id, table in ((client.project.project_id, "events"), (second.project_id, "orders")):
        with pytest.raises(Interrupted):
            copy_database(
                migrated_db_url, target, batch_size=3, after_batch=stop_in(project_id, table)
            )
        assert has_progress_table(target)
    if migrated_db_url.startswith("sqlite"):
        # Another database with the same data is not where the copy began.
        twin = tmp_path / "twin.db"
        shutil.copyfile(migrated_db_url.removeprefix("sqlite:///"), twin)
        with pytest.raises(Refused, match="unfinished copy of project"):
            copy_database(f"sqlite:///{twin}", target)
    first, last = copy_database(migrated_db_url, target, batch_size=3)
    assert first.resumed and last.resumed
    assert not first.mismatched and not last.mismatched
    assert sum(first.copied.values()) == 0  # it was whole already
    inserted += sum(last.copied.values())
    everything = sum(s.rows for copy in (first, last) for s in copy.source.values())
    assert inserted == everything  # each row once
    assert first.target["orders"].rows == 12 and last.target["orders"].rows == 7
    assert not has_progress_table(target)


@pytest.mark.postgresql
@pytest.mark.parametrize("migrated_db_url", ["postgresql"], indirect=True)
def test_events_of_overlapping_transactions_are_listed_in_the_same_order_on_the_copy(
    migrated_db_url: str, empty_sqlite: str
) -> None:
    """On PostgreSQL events are listed by (txid, seq): a transaction that began first but
    wrote its event last lists it first. The copy, where every txid is 0, keeps that."""
    with open_app_client(migrated_db_url) as client:
        orders(client, 1)
        keys = client.project
    release_connections()

    def event(name: str) -> dict[str, object]:
        return {
            "id": f"evcus_{name}",
            "project_id": keys.project_id,
            "type": "customer.updated",
            "entity_id": name,
            "channel": "API",
            "data": {"name": name},
            "created_at": datetime.now(UTC),
        }

    engine = sa.create_engine(migrated_db_url)
    try:
        with engine.connect() as first, engine.connect() as second:
            first.execute(sa.text("SELECT pg_current_xact_id()"))  # its transaction id first
            second.execute(events.insert().values(event("later")))
            second.commit()
            first.execute(events.insert().values(event("earlier")))
            first.commit()
        with engine.connect() as conn:
            written = dict(conn.execute(sa.select(events.c.id, events.c.seq)).all())
    finally:
        engine.dispose()
    assert written["evcus_earlier"] > written["evcus_later"]  # numbered the other way round

    with open_app_client(migrated_db_url) as app:
        listed = all_events(app.as_project(keys))
    release_connections()
    assert [e["id"] for e in listed][-2:] == ["evcus_earlier", "evcus_later"]
    (copied,) = copy_database(migrated_db_url, empty_sqlite, project=keys.project_id)
    assert not copied.mismatched
    with open_app_client(empty_sqlite) as app:
        assert all_events(app.as_project(keys)) == listed


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_a_killed_copy_is_carried_on_by_the_same_command(
    migrated_db_url: str, empty_postgres: str, tmp_path: Path
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 8)
    release_connections()
    command = [str(tally_executable()), "db", "copy", "-v", "--batch-size", "1"]
    command += ["--from", migrated_db_url, "--to", empty_postgres]
    process = subprocess.Popen(
        command,
        env=tally_env("sqlite:///unused.db"),
        cwd=tmp_path,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    try:
        copied_events = 0
        while copied_events < 3:
            line = process.stdout.readline()
            assert line, "the copy ended before it was killed"
            copied_events += " events: +1 rows" in line
        assert process.poll() is None
        os.kill(process.pid, signal.SIGKILL)
    finally:
        process.wait(timeout=30)
        process.stdout.close()
    assert has_progress_table(empty_postgres)

    again = tally(["db", "copy", "--from", migrated_db_url, "--to", empty_postgres], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "(carried on)" in again.stdout and "every table matches" in again.stdout


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_a_changed_or_missing_row_is_found_and_its_table_named(
    migrated_db_url: str, empty_postgres: str, tmp_path: Path
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 5)
    release_connections()
    (copied,) = copy_database(migrated_db_url, empty_postgres)
    assert not copied.mismatched

    source = sa.create_engine(migrated_db_url)
    target = sa.create_engine(empty_postgres)
    try:
        # The same document written another way (key order, spaces) is the same data.
        with source.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE orders SET metadata = "
                    """'{ "é": "ü", "nothing": null, "ratio": 0.375, "n": 3 }' """
                    "WHERE source_id = 'o-3'"
                )
            )
        (same,) = verify_database(migrated_db_url, empty_postgres)
        assert not same.mismatched
        with target.begin() as conn:
            conn.execute(
                sa.text(
                    "UPDATE orders SET metadata = jsonb_set(metadata, '{n}', '99') "
                    "WHERE source_id = 'o-2'"
                )
            )
            conn.execute(sa.text("DELETE FROM customer_order_days WHERE orders_count = 1"))
    finally:
        source.dispose()
        target.dispose()
    (tampered,) = verify_database(migrated_db_url, empty_postgres)
    assert tampered.mismatched == ["customer_order_days", "orders"]
    assert tampered.source["orders"].rows == tampered.target["orders"].rows == 5
    assert tampered.source["orders"].checksum != tampered.target["orders"].checksum

    checked = tally(["db", "verify", "--from", migrated_db_url, "--to", empty_postgres], tmp_path)
    assert checked.returncode == 1
    assert "the databases differ in customer_order_days" in checked.stderr
    assert "orders (project" in checked.stderr
    mismatch_lines = [line for line in checked.stdout.splitlines() if "MISMATCH" in line]
    assert [line.split()[0] for line in mismatch_lines] == ["customer_order_days", "orders"]


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_copies_that_must_not_run_are_refused(
    migrated_db_url: str,
    empty_postgres: str,
    postgres_server: object,
    tmp_path: Path,
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 2)
    release_connections()
    path = Path(migrated_db_url.removeprefix("sqlite:///"))

    for alias in (migrated_db_url, f"sqlite:///{path.parent}/../{path.parent.name}/{path.name}"):
        with pytest.raises(Refused, match="the same database"):
            copy_database(migrated_db_url, alias)
    # Two URLs of one PostgreSQL database that do not look alike: the probe finds it.
    upgrade(empty_postgres)
    url = sa.engine.make_url(empty_postgres)
    alias = (
        f"postgresql+psycopg:///{url.database}?host={url.host}&port={url.port}&user={url.username}"
    )
    with pytest.raises(Refused, match="the same database"):
        copy_database(empty_postgres, alias)
    assert not has_progress_table(empty_postgres)

    # Another process has the source open (a server that was not stopped).
    with held_open(path, "orders"), pytest.raises(Refused, match="open in another process"):
        copy_database(migrated_db_url, empty_postgres)

    # A PostgreSQL target someone is connected to.
    held = psycopg.connect(
        sa.engine.make_url(empty_postgres)
        .set(drivername="postgresql")
        .render_as_string(hide_password=False)
    )
    try:
        with pytest.raises(Refused, match="other connection"):
            copy_database(migrated_db_url, empty_postgres)
    finally:
        held.close()

    (copied,) = copy_database(migrated_db_url, empty_postgres)
    assert not copied.mismatched
    with pytest.raises(Refused, match="already holds project"):
        copy_database(migrated_db_url, empty_postgres)
    assert not has_progress_table(empty_postgres)

    older = tmp_path / "older.db"
    upgrade(f"sqlite:///{older}", "0012")
    with pytest.raises(Refused, match="at migration 0012"):
        copy_database(f"sqlite:///{older}", empty_postgres)


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_a_row_the_target_refuses_is_named_without_its_values(
    migrated_db_url: str, empty_postgres: str, tmp_path: Path
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 2)
        project_id = client.project.project_id
    release_connections()
    # Longer than PostgreSQL's varchar(100); SQLite does not check lengths.
    secret = "whsec_" + secrets.token_hex(60)
    source = sa.create_engine(migrated_db_url)
    try:
        with source.begin() as conn:
            conn.execute(
                webhooks.insert().values(
                    id="wh_long",
                    project_id=project_id,
                    url="https://example.com/hook",
                    events=["*"],
                    secret=secret,
                    active=True,
                    created_at=datetime.now(UTC),
                )
            )
            token_hash = conn.execute(sa.select(projects.c.app_token_hash)).scalar_one()
    finally:
        source.dispose()

    for _attempt in range(2):
        failed = tally(["db", "copy", "--from", migrated_db_url, "--to", empty_postgres], tmp_path)
        assert failed.returncode == 1, failed.stdout
        said = failed.stdout + failed.stderr
        assert secret not in said and secret[:20] not in said and token_hash not in said
        assert "parameters" not in said and "INSERT" not in said
        assert f"(copying webhooks of project {project_id}): value too long" in failed.stderr
        # Running it again does not help, and it is not told to.
        assert "would stop at the same row" in failed.stderr
        assert "interrupted" not in failed.stderr


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_an_interrupted_copy_says_to_run_it_again(
    migrated_db_url: str, empty_postgres: str, tmp_path: Path
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 3)
    release_connections()
    upgrade(empty_postgres)
    # The copy's connection is ended (a server restarted, a session killed) while it waits
    # to write the orders.
    locker = psycopg.connect(driver_url(empty_postgres))
    watcher = psycopg.connect(driver_url(empty_postgres), autocommit=True)
    try:
        locker.execute("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE")
        command = [str(tally_executable()), "db", "copy", "--force"]
        copying = subprocess.Popen(
            [*command, "--from", migrated_db_url, "--to", empty_postgres],
            env=tally_env("sqlite:///unused.db"),
            cwd=tmp_path,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        waiting = (
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE application_name LIKE 'tally-db-copy-%' AND wait_event_type = 'Lock'"
        )
        deadline = time.monotonic() + 60
        while not watcher.execute(waiting).fetchall():
            assert copying.poll() is None, copying.communicate()
            assert time.monotonic() < deadline, "the copy never waited for the lock"
            time.sleep(0.05)
        _out, err = copying.communicate(timeout=60)
    finally:
        locker.close()
        watcher.close()
    assert copying.returncode == 1, err
    assert "(copying orders of project" in err
    assert "the copy was interrupted or could not connect" in err
    assert "run the same command" in err
    again = tally(["db", "copy", "--from", migrated_db_url, "--to", empty_postgres], tmp_path)
    assert again.returncode == 0, again.stderr
    assert "(carried on)" in again.stdout and "every table matches" in again.stdout


@pytest.mark.postgresql
@pytest.mark.parametrize("migrated_db_url", ["postgresql"], indirect=True)
def test_a_password_in_the_source_url_is_kept_nowhere(
    migrated_db_url: str, empty_sqlite: str
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 3)
    release_connections()
    # The test server trusts local connections: the password is given, and not needed.
    with_password = f"{migrated_db_url}?password=hunter2"

    def interrupt(_project: str, _table: str, _rows: int) -> None:
        raise Interrupted

    with pytest.raises(Interrupted):
        copy_database(with_password, empty_sqlite, after_batch=interrupt)
    target = sa.create_engine(empty_sqlite)
    try:
        with target.connect() as conn:
            labels = set(conn.execute(sa.select(copy_progress.c.source)).scalars())
    finally:
        target.dispose()
    assert labels and not any("hunter2" in label for label in labels)
    # The same database, named without the password, carries the copy on.
    (copied,) = copy_database(migrated_db_url, empty_sqlite)
    assert copied.resumed and not copied.mismatched


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_a_target_used_by_a_server_of_another_role_is_refused(
    migrated_db_url: str, empty_postgres: str, postgres_server: PostgresServer
) -> None:
    """The copy runs as a role that cannot read other roles' session details (no
    pg_read_all_stats); a server connected as another role still counts."""
    database = sa.engine.make_url(empty_postgres).database
    assert database is not None
    suffix = secrets.token_hex(4)
    copier, server = f"copier_{suffix}", f"server_{suffix}"
    admin = psycopg.connect(**postgres_server.conninfo(), autocommit=True)
    try:
        for role in (copier, server):
            admin.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(database), sql.Identifier(copier)
            )
        )
        serving = psycopg.connect(
            **{**postgres_server.conninfo(database), "user": server},
            application_name="tally-serve",
        )
        try:
            as_copier = sa.engine.make_url(empty_postgres).set(username=copier)
            with pytest.raises(Refused, match="1 other connection"):
                copy_database(migrated_db_url, as_copier.render_as_string(hide_password=False))
        finally:
            serving.close()
    finally:
        with psycopg.connect(**postgres_server.conninfo(database), autocommit=True) as owned:
            for role in (copier, server):
                owned.execute(sql.SQL("DROP OWNED BY {}").format(sql.Identifier(role)))
        admin.execute(
            sql.SQL("ALTER DATABASE {} OWNER TO {}").format(
                sql.Identifier(database), sql.Identifier(postgres_server.user)
            )
        )
        for role in (copier, server):
            admin.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))
        admin.close()


@SQLITE_SOURCE
def test_the_copy_keeps_its_own_locks_on_the_source(
    migrated_db_url: str, empty_sqlite: str
) -> None:
    """Its in-use check must not drop the locks of the copy's own connections (closing any
    descriptor of a file drops all of a process's POSIX locks on it): while it copies,
    another process sees the source open, as it would a server."""
    with open_app_client(migrated_db_url) as client:
        orders(client, 2)
    release_connections()
    path = Path(migrated_db_url.removeprefix("sqlite:///"))
    seen: list[str] = []

    def ask_another_process(_project: str, _table: str, _rows: int) -> None:
        if not seen:
            probe = subprocess.run(
                [
                    sys.executable,
                    "-c",
                    "import pathlib, sys\n"
                    "from tally.db.sqlite_files import opened_by_another_process\n"
                    "print(opened_by_another_process(pathlib.Path(sys.argv[1])))",
                    str(path),
                ],
                capture_output=True,
                text=True,
                check=True,
            )
            seen.append(probe.stdout.strip())

    (copied,) = copy_database(migrated_db_url, empty_sqlite, after_batch=ask_another_process)
    assert not copied.mismatched
    assert seen == ["True"]


@SQLITE_SOURCE
def test_a_source_open_through_a_symbolic_link_is_refused(
    migrated_db_url: str, empty_sqlite: str, tmp_path: Path
) -> None:
    real = Path(migrated_db_url.removeprefix("sqlite:///"))
    link = tmp_path / "srv" / "tally.db"
    link.parent.mkdir()
    link.symlink_to(real)
    with held_open(link, "orders"), pytest.raises(Refused, match="open in another process"):
        copy_database(f"sqlite:///{link}", empty_sqlite)
    assert not Path(empty_sqlite.removeprefix("sqlite:///")).exists()


@SQLITE_SOURCE
def test_every_project_is_checked_before_any_is_copied(
    migrated_db_url: str, empty_sqlite: str
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 2)
        second = client.new_project("second")
        orders(client.as_project(second), 1, prefix="s")
    release_connections()
    copy_database(migrated_db_url, empty_sqlite, project=second.project_id)

    # Every project: the first (older) is not in the target, the second is.
    with pytest.raises(Refused, match=f"already holds project {second.project_id}"):
        copy_database(migrated_db_url, empty_sqlite)
    target = sa.create_engine(empty_sqlite)
    try:
        with target.connect() as conn:
            assert conn.execute(sa.select(projects.c.id)).scalars().all() == [second.project_id]
            assert conn.execute(sa.select(sa.func.count()).select_from(orders_table)).scalar() == 1
    finally:
        target.dispose()
    assert not has_progress_table(empty_sqlite)


@SQLITE_SOURCE
@pytest.mark.postgresql
def test_events_hidden_by_their_txid_fail_the_verification(
    migrated_db_url: str, empty_postgres: str, tmp_path: Path
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 3)
        project_id = client.project.project_id
    release_connections()
    (copied,) = copy_database(migrated_db_url, empty_postgres)
    assert not copied.mismatched and copied.hidden_events == 0
    target = sa.create_engine(empty_postgres)
    try:
        with target.begin() as conn:
            # What a pg_restore from another cluster leaves: ids this one has not reached.
            hidden = conn.execute(events.update().values(txid=10**12)).rowcount
    finally:
        target.dispose()
    assert hidden > 0

    (checked,) = verify_database(migrated_db_url, empty_postgres)
    assert checked.hidden_events == hidden
    assert checked.mismatched == ["events"]
    said = tally(["db", "verify", "--from", migrated_db_url, "--to", empty_postgres], tmp_path)
    assert said.returncode == 1
    assert f"the databases differ in events (project {project_id})" in said.stderr
    assert f"{hidden} of project {project_id} events are not listed" in said.stderr
    assert "scratch database" in said.stderr


@SQLITE_SOURCE
def test_sqlite_files_that_are_only_read_are_opened_read_only(
    migrated_db_url: str, empty_sqlite: str, tmp_path: Path
) -> None:
    with open_app_client(migrated_db_url) as client:
        orders(client, 2)
    release_connections()
    backups = tmp_path / "backups"
    backups.mkdir()
    nightly = backup(migrated_db_url, backups / "nightly.db").path  # one file, no WAL
    untouched = nightly.read_bytes()

    (same,) = verify_database(migrated_db_url, f"sqlite:///{nightly}")
    assert not same.mismatched
    (copied,) = copy_database(f"sqlite:///{nightly}", empty_sqlite)
    assert not copied.mismatched
    assert nightly.read_bytes() == untouched  # not turned to WAL mode, nothing written
    assert [p.name for p in backups.iterdir()] == ["nightly.db"]

    typo = backups / "nightyl.db"
    for run in (
        lambda: verify_database(migrated_db_url, f"sqlite:///{typo}"),
        lambda: verify_database(f"sqlite:///{typo}", migrated_db_url),
        lambda: copy_database(f"sqlite:///{typo}", empty_sqlite),
    ):
        with pytest.raises(Refused, match="no SQLite database at"):
            run()
    assert not typo.exists()
    said = tally(["db", "verify", "--from", migrated_db_url, "--to", f"sqlite:///{typo}"], tmp_path)
    assert said.returncode == 2 and f"no SQLite database at {typo}" in said.stderr
    assert not typo.exists()
