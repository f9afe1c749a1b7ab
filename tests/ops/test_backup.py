"""`tally backup` and `tally restore` on the embedded SQLite database: a backup taken while
orders keep being written is one consistent snapshot that passes SQLite's integrity check;
a restore gives back exactly the data of the backup as the API answers it, refuses while
the database is open and refuses files that are not Tally databases, migrates an older
backup; both refuse PostgreSQL and point at pg_dump."""

import sqlite3
import subprocess
import threading
from pathlib import Path

import pytest

from support.inprocess import open_app_client
from support.server import tally_env, tally_executable
from tally.db.backup import backup, restore
from tally.db.migrate import upgrade
from tally.db.refused import Refused
from tally.db.schema_version import head_revision

from .shop import answers, ok, orders, release_connections, shop

SQLITE_ONLY = pytest.mark.parametrize("migrated_db_url", ["sqlite"], indirect=True)


def tally(args: list[str], db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `tally` command, whatever its exit status."""
    return subprocess.run(
        [str(tally_executable()), *args],
        cwd=cwd,
        env=tally_env(db_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


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
