"""`tally backup` and `tally restore` on the embedded SQLite database: a backup taken while
orders keep being written is one consistent snapshot that passes SQLite's integrity check;
a restore gives back exactly the data of the backup as the API answers it, refuses while
the database is open and refuses files that are not Tally databases, migrates an older
backup; both refuse PostgreSQL and point at pg_dump."""

import os
import sqlite3
import stat
import subprocess
import sys
import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from support.inprocess import open_app_client
from support.server import tally_command
from tally.db.backup import backup, restore
from tally.db.migrate import upgrade
from tally.db.refused import Refused
from tally.db.schema_version import head_revision
from tally.projects.service import create_project

from .shop import answers, held_open, ok, orders, release_connections, shop

SQLITE_ONLY = pytest.mark.parametrize("migrated_db_url", ["sqlite"], indirect=True)


def tally(args: list[str], db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `tally` command, whatever its exit status."""
    return tally_command(args, db_url=db_url, cwd=cwd)


def database_file(url: str) -> Path:
    return Path(url.removeprefix("sqlite:///"))


def source_ids(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT source_id FROM orders")]
    finally:
        conn.close()


@SQLITE_ONLY
def test_a_backup_taken_while_orders_are_written_is_one_consistent_snapshot(
    migrated_db_url: str, tmp_path: Path
) -> None:
    target = tmp_path / "backups" / "tally-backup.db"
    target.parent.mkdir()
    with open_app_client(migrated_db_url) as client:
        orders(client, 20, prefix="before")
        stop = threading.Event()
        written: list[str] = []

        def keep_writing() -> None:
            while not stop.is_set():
                source_id = f"bg-{len(written)}"
                ok(client.post("/v1/orders", json={"source_id": source_id, "amount": 100}))
                written.append(source_id)

        writer = threading.Thread(target=keep_writing)
        writer.start()
        during: list[str] = []

        def between_steps(copied: int, total: int) -> None:
            # A write between two steps of the backup goes through at once, and does not
            # start the backup over (it would never end: every step is followed by one).
            source_id = f"during-{len(during)}"
            ok(client.post("/v1/orders", json={"source_id": source_id, "amount": 1}))
            during.append(source_id)

        try:
            while len(written) < 3:
                threading.Event().wait(0.01)
            made = backup(migrated_db_url, target, pages_per_step=4, progress=between_steps)
        finally:
            stop.set()
            writer.join()
        live = set(source_ids(database_file(migrated_db_url)))

    assert len(during) >= 10  # many steps, a committed write after each
    assert sorted(p.name for p in target.parent.iterdir()) == [target.name]  # no -wal, no temp
    conn = sqlite3.connect(target)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)
        created_events = conn.execute(
            "SELECT count(*) FROM events WHERE type = 'customer.order.created'"
        ).fetchone()[0]
    finally:
        conn.close()
    copied = source_ids(target)
    # The snapshot of the moment the backup began: every order before it, the writer's
    # orders up to some point and none after, nothing written between the steps.
    assert {f"before-{n}" for n in range(20)} <= set(copied)
    background = [s for s in copied if s.startswith("bg-")]
    assert background == written[: len(background)] and len(background) >= 3
    assert not [s for s in copied if s.startswith("during-")]
    assert set(copied) < live
    # Each order and its event were written in one transaction: both or neither are in.
    assert created_events == len(copied)
    assert made.contents.rows["orders"] == len(copied)
    assert made.contents.revision == head_revision()
    assert made.size == target.stat().st_size


@SQLITE_ONLY
def test_a_restore_gives_back_exactly_the_data_of_the_backup(
    migrated_db_url: str, tmp_path: Path
) -> None:
    nightly = tmp_path / "nightly.db"
    with open_app_client(migrated_db_url) as client:
        shop(client)
        before = answers(client)
        made = tally(["backup", str(nightly)], migrated_db_url, tmp_path)
        assert made.returncode == 0, made.stderr
        assert "integrity ok" in made.stdout and "10 orders" in made.stdout, made.stdout
        orders(client, 2, prefix="later")
        ok(client.put("/v1/customers/o-cust-1", json={"name": "Changed"}))
        assert answers(client) != before
        refused = tally(["restore", str(nightly)], migrated_db_url, tmp_path)
        assert refused.returncode == 2
        assert "open in another process" in refused.stderr, refused.stderr
        keys = client.project
    release_connections()

    restored = tally(["restore", str(nightly)], migrated_db_url, tmp_path)
    assert restored.returncode == 0, restored.stderr
    assert "the replaced database is kept as" in restored.stdout, restored.stdout
    database = database_file(migrated_db_url)
    kept = [p for p in database.parent.iterdir() if ".before-restore-" in p.name]
    assert len(kept) == 1 and "later-0" in source_ids(kept[0])
    assert not (database.parent / f"{database.name}-wal").exists()
    with open_app_client(migrated_db_url) as reopened:
        assert answers(reopened.as_project(keys)) == before


@SQLITE_ONLY
def test_a_restore_refuses_what_is_not_a_tally_database(
    migrated_db_url: str, tmp_path: Path
) -> None:
    database = database_file(migrated_db_url)
    untouched = database.read_bytes()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    beside = sorted(p.name for p in database.parent.iterdir())
    notes = elsewhere / "notes.txt"
    notes.write_text("not a database")
    other = elsewhere / "other.db"
    conn = sqlite3.connect(other)
    conn.execute("CREATE TABLE things (x)")
    conn.close()

    for path, says in ((notes, "is not a SQLite database"), (other, "is not a Tally database")):
        refused = tally(["restore", str(path)], migrated_db_url, tmp_path)
        assert refused.returncode == 2 and says in refused.stderr, refused.stderr
    made = tally(["backup", str(database)], migrated_db_url, tmp_path)
    assert made.returncode == 2 and "the database itself" in made.stderr
    assert database.read_bytes() == untouched
    assert sorted(p.name for p in database.parent.iterdir()) == beside  # no temporary left


def test_an_older_backup_is_migrated_when_restored_even_over_a_damaged_database(
    tmp_path: Path,
) -> None:
    old = tmp_path / "old.db"
    upgrade(f"sqlite:///{old}", "0012")
    fresh = tmp_path / "new-machine" / "tally.db"
    fresh.parent.mkdir()
    url = f"sqlite:///{fresh}"
    restored = restore(url, old)
    assert restored.restored_revision == "0012"
    assert restored.contents.revision == head_revision()
    assert restored.previous is None  # there was no database to keep
    # Not the temporary file's 0600: the group (the server's, once chowned) may read it.
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o640
    assert restore(url, old).previous is not None  # the second time there was
    fresh.write_bytes(b"damaged beyond reading")  # what a restore is for
    damaged = restore(url, old)
    assert damaged.contents.rows["projects"] == 0
    assert damaged.previous is not None and damaged.previous.read_bytes().startswith(b"damaged")
    with pytest.raises(Refused, match="is the database itself"):
        restore(url, fresh)


@pytest.mark.postgresql
def test_backup_and_restore_refuse_postgresql(empty_postgres: str, tmp_path: Path) -> None:
    some_file = tmp_path / "backup.db"
    some_file.write_bytes(b"")
    for args in (["backup", str(tmp_path / "new.db")], ["restore", str(some_file)]):
        refused = tally(args, empty_postgres, tmp_path)
        assert refused.returncode == 2, refused.stdout
        assert "pg_dump -Fc" in refused.stderr and "docs/operations.md" in refused.stderr
    assert not (tmp_path / "new.db").exists()


def commit_and_die(database: Path) -> None:
    """What a server that dies before any checkpoint leaves: a row committed only in the
    -wal (the table is made first, and checkpointed, so the -wal holds no page 1)."""
    conn = sqlite3.connect(database)
    conn.execute("CREATE TABLE late (note TEXT)")
    conn.commit()
    conn.close()
    subprocess.run(
        [
            sys.executable,
            "-c",
            "import os, sqlite3, sys\n"
            "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
            "c.execute('PRAGMA journal_mode=WAL'); c.execute('PRAGMA wal_autocheckpoint=0')\n"
            "c.execute(\"INSERT INTO late VALUES ('after the last checkpoint')\")\n"
            "os._exit(0)\n",
            str(database),
        ],
        check=True,
    )


@pytest.mark.parametrize("old", ["whole", "damaged"])
def test_a_server_that_opens_the_restored_database_at_once_keeps_what_it_writes(
    old: str, tmp_path: Path
) -> None:
    """From the rename on, the restored file is the database: a server may open it, make
    its -wal and commit there. Nothing of the restore may touch those files after it,
    whether the replaced database could be folded into one file or not (a connection that
    opened a -wal deletes it by name when it closes)."""
    nightly = tmp_path / "nightly.db"
    upgrade(f"sqlite:///{nightly}")
    database = tmp_path / "tally.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    if old == "damaged":
        commit_and_die(database)
        with database.open("r+b") as file:
            file.seek(16)
            file.write(b"\x00\x03")  # no page size: SQLite opens it, and its -wal, then fails
    server_code = (
        "import sqlite3, sys, time\n"
        "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n"
        "c.execute('PRAGMA journal_mode=WAL')\n"
        "c.execute('CREATE TABLE written_by_the_server (note TEXT)')\n"
        "c.execute(\"INSERT INTO written_by_the_server VALUES ('first order')\")\n"
        "print('committed', flush=True)\n"
        "time.sleep(60)\n"
    )
    servers: list[subprocess.Popen[str]] = []
    state = "before the rename"

    def server_starts_right_after_the_rename(event: str, args: tuple[Any, ...]) -> None:
        # An audit hook (it cannot be removed: it does nothing once the test is over) sees
        # every rename and file opened, just before it is done.
        nonlocal state
        if state == "before the rename" and event == "os.rename":
            if os.fspath(args[1]) == str(database):
                state = "renaming"
        elif state == "renaming" and event == "open":
            # The restore's first file opened after the rename into place.
            state = "server started"
            server = subprocess.Popen(
                [sys.executable, "-c", server_code, str(database)],
                stdout=subprocess.PIPE,
                text=True,
            )
            servers.append(server)
            assert server.stdout is not None and server.stdout.readline() == "committed\n"

    sys.addaudithook(server_starts_right_after_the_rename)
    try:
        restore(url, nightly)
    finally:
        seen, state = state, "over"
    try:
        assert seen == "server started"
        conn = sqlite3.connect(database)
        try:
            written = conn.execute("SELECT note FROM written_by_the_server").fetchall()
        finally:
            conn.close()
        assert written == [("first order",)]
    finally:
        for server in servers:
            server.kill()
            server.wait()
            assert server.stdout is not None
            server.stdout.close()


def test_a_restore_over_a_damaged_database_keeps_its_last_commits_beside_the_kept_copy(
    tmp_path: Path,
) -> None:
    nightly = tmp_path / "nightly.db"
    upgrade(f"sqlite:///{nightly}")
    database = tmp_path / "tally.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    commit_and_die(database)
    wal = database.with_name(f"{database.name}-wal")
    committed = wal.read_bytes()
    assert committed
    header = database.read_bytes()[:16]
    with database.open("r+b") as file:
        file.write(b"X" * 16)  # the damage: SQLite can no longer open it to fold the -wal in

    restored = restore(url, nightly)
    assert restored.contents.rows["projects"] == 0  # the backup's data
    kept = restored.previous
    assert kept is not None
    assert kept.with_name(f"{kept.name}-wal").read_bytes() == committed
    assert not wal.exists()  # and never applied to the restored database
    # Once its header is mended, the kept copy opens with that last commit.
    with kept.open("r+b") as file:
        file.write(header)
    conn = sqlite3.connect(kept)
    try:
        assert conn.execute("SELECT note FROM late").fetchall() == [("after the last checkpoint",)]
    finally:
        conn.close()


def test_a_table_whose_name_holds_a_quote_is_counted_not_spliced_into_sql(
    tmp_path: Path,
) -> None:
    database = tmp_path / "tally.db"
    url = f"sqlite:///{database}"
    upgrade(url)
    conn = sqlite3.connect(database)
    conn.execute('CREATE TABLE "odd""name" (x)')
    conn.executemany('INSERT INTO "odd""name" VALUES (?)', [(1,), (2,)])
    conn.commit()
    conn.close()
    made = backup(url, tmp_path / "nightly.db")
    assert made.contents.rows['odd"name'] == 2
    restored = restore(f"sqlite:///{tmp_path / 'elsewhere.db'}", made.path)
    assert restored.contents.rows['odd"name'] == 2


def test_a_restore_through_a_symbolic_link_sees_a_process_using_the_database(
    tmp_path: Path,
) -> None:
    nightly = tmp_path / "nightly.db"
    upgrade(f"sqlite:///{nightly}")
    real = tmp_path / "data" / "tally.db"
    real.parent.mkdir()
    upgrade(f"sqlite:///{real}")
    link = tmp_path / "srv" / "tally.db"
    link.parent.mkdir()
    link.symlink_to(real)
    # SQLite follows the link: the -shm whose locks tell is beside the real file.
    with held_open(link, "projects"), pytest.raises(Refused, match="open in another process"):
        restore(f"sqlite:///{link}", nightly)


def test_a_restore_and_a_backup_through_symbolic_links_write_the_files_they_name(
    tmp_path: Path,
) -> None:
    # A database on a mounted volume, named by a link in the service's directory: the
    # restore must land on the volume and leave the link, not replace it with a file.
    real = tmp_path / "volume" / "tally.db"
    real.parent.mkdir()
    upgrade(f"sqlite:///{real}")
    link = tmp_path / "srv" / "tally.db"
    link.parent.mkdir()
    link.symlink_to(real)
    nightly = tmp_path / "nightly.db"
    upgrade(f"sqlite:///{nightly}")
    engine = sa.create_engine(f"sqlite:///{nightly}")
    with engine.begin() as conn:
        project_id = create_project(conn, name="from the backup").project_id
    engine.dispose()

    restored = restore(f"sqlite:///{link}", nightly)

    assert link.is_symlink() and link.resolve() == real
    assert restored.path == real
    assert restored.previous is not None and restored.previous.parent == real.parent
    assert sorted(p.name for p in link.parent.iterdir()) == ["tally.db"]
    assert files_projects(real) == [project_id]

    # A backup to a path that is a link writes the file the link names.
    latest = tmp_path / "backups" / "2026-11-24.db"
    latest.parent.mkdir()
    latest.write_bytes(b"")
    pointer = tmp_path / "latest.db"
    pointer.symlink_to(latest)
    made = backup(f"sqlite:///{link}", pointer)
    assert pointer.is_symlink() and made.path == latest
    assert files_projects(latest) == [project_id]


def files_projects(path: Path) -> list[str]:
    conn = sqlite3.connect(path)
    try:
        return [row[0] for row in conn.execute("SELECT id FROM projects")]
    finally:
        conn.close()
