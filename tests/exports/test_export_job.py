"""The export job on both engines: one a dead worker left is written again from the start
by the next runner (its stale partial file removed, the file complete, each row once); one
whose worker lost the job renames nothing; one deleted before it ran ends without a file;
the lease is renewed beside a long read, which learns of a lost job or a deleted export."""

import csv
import io
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

from tally.clock import utcnow
from tally.db.engine import Database
from tally.db.prepared import Row
from tally.exports import repository as exports_repository
from tally.exports import service as exports
from tally.exports import tasks as export_tasks
from tally.exports.schemas import ExportParameters
from tally.jobs import repository as jobs_repository
from tally.jobs.runner import Runner
from tally.jobs.service import LostLease, Step
from tally.jobs.tables import jobs as jobs_table
from tally.orders.tables import orders
from tally.projects.service import create_project
from tally.tasks import HANDLERS

ORDERS = 5000


def _project_with_orders(db: Database, count: int) -> str:
    with db.transaction(write=True) as conn:
        project_id = create_project(conn, name=f"p{time.monotonic_ns()}").project_id
        now = utcnow()
        conn.execute(
            sa.insert(orders),
            [
                {
                    "id": f"ord_job{n:021d}",
                    "project_id": project_id,
                    "source_id": f"s-{n}",
                    "status": "PAID",
                    "amount": n,
                    "initial_amount": n,
                    "discount_amount": 0,
                    "items_discount_amount": 0,
                    "total_amount": n,
                    "items": [],
                    "metadata": {"n": n},
                    "redemptions": {},
                    "customer_id": None,
                    "referrer_id": None,
                    "created_at": now + timedelta(milliseconds=n),
                    "updated_at": None,
                }
                for n in range(count)
            ],
        )
    return project_id


def _export(db: Database, project_id: str, directory: Path) -> str:
    with db.transaction(write=True) as conn:
        row = exports.create(
            conn,
            project_id=project_id,
            exported_object="order",
            parameters=ExportParameters(fields=["source_id", "amount", "metadata.n"]),
            directory=directory,
            now=utcnow(),
        )
    return str(row["id"])


def _row(db: Database, project_id: str, export_id: str) -> dict[str, object]:
    with db.transaction(write=False) as conn:
        row = exports_repository.get(conn, project_id, export_id)
    assert row is not None
    return dict(row)


def _claim_as(db: Database, worker: str, lease: timedelta) -> Row:
    with db.transaction(write=True) as conn:
        job = jobs_repository.claim(conn, now=utcnow())
        assert job is not None
        jobs_repository.update(
            conn,
            job["seq"],
            {"status": "running", "worker": worker, "attempts": 1, "lease_until": utcnow() + lease},
        )
    return job


def test_an_export_a_dead_worker_left_is_written_again(db: Database, tmp_path: Path) -> None:
    project_id = _project_with_orders(db, ORDERS)
    export_id = _export(db, project_id, tmp_path)
    # A worker claimed it, began its file, and died: its lease ran out.
    _claim_as(db, "dead", timedelta(seconds=-1))
    final = tmp_path / project_id / f"{export_id}.csv"
    final.parent.mkdir(parents=True)
    stale = final.with_name(f"{final.name}.deadbeef.part")
    stale.write_text("source_id,amount,metadata.n\ns-0,0,0\ns-1,")

    assert Runner(db, HANDLERS).run_one()
    row = _row(db, project_id, export_id)
    assert (row["status"], row["row_count"]) == ("DONE", ORDERS)
    assert not stale.exists()
    assert sorted(p.name for p in final.parent.iterdir()) == [final.name]
    lines = list(csv.reader(io.StringIO(final.read_text(), newline="")))
    assert lines[0] == ["source_id", "amount", "metadata.n"]
    assert sorted(lines[1:]) == sorted([f"s-{n}", str(n), str(n)] for n in range(ORDERS))
    with db.transaction(write=False) as conn:
        attempts = conn.execute(sa.select(jobs_table.c.attempts)).scalar_one()
    assert attempts == 2


def test_a_worker_that_lost_the_job_leaves_no_file(db: Database, tmp_path: Path) -> None:
    project_id = _project_with_orders(db, 10)
    export_id = _export(db, project_id, tmp_path)
    job = _claim_as(db, "new-holder", timedelta(seconds=30))
    step = Step(db, job, "old-holder", timedelta(seconds=30), utcnow, lambda: False)
    with pytest.raises(LostLease):
        export_tasks.EXPORT.run(step)
    assert _row(db, project_id, export_id)["status"] != "DONE"
    folder = tmp_path / project_id
    assert not folder.exists() or list(folder.iterdir()) == []


def test_an_export_deleted_before_it_ran_ends_quietly(db: Database, tmp_path: Path) -> None:
    project_id = _project_with_orders(db, 10)
    export_id = _export(db, project_id, tmp_path)
    with db.transaction(write=True) as conn:
        exports.delete(conn, project_id=project_id, export_id=export_id)
    assert Runner(db, HANDLERS).run_one()
    with db.transaction(write=False) as conn:
        assert conn.execute(sa.select(jobs_table.c.status)).scalar_one() == "done"
    assert not (tmp_path / project_id).exists()


def _until(predicate: Callable[[], bool], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def test_the_heartbeat_renews_the_lease_and_notices_a_lost_job(
    db: Database, tmp_path: Path
) -> None:
    """Beside a long read: the lease keeps moving; a job taken over, or an export deleted,
    is noticed at the next batch."""
    project_id = _project_with_orders(db, 1)
    export_id = _export(db, project_id, tmp_path)
    lease = timedelta(seconds=0.3)
    job = _claim_as(db, "me", lease)
    step = Step(db, job, "me", lease, utcnow, lambda: False)

    def lease_until() -> datetime:
        with db.transaction(write=False) as conn:
            return conn.execute(sa.select(jobs_table.c.lease_until)).scalar_one()

    with export_tasks._Heartbeat(step, project_id, export_id) as heartbeat:
        first = lease_until()
        _until(lambda: lease_until() > first, "the lease was not renewed")
        heartbeat.check()
        with db.transaction(write=True) as conn:
            conn.execute(sa.update(jobs_table).values(worker="someone-else"))
        _until(lambda: heartbeat.lost, "the heartbeat did not notice the job was taken over")
        with pytest.raises(LostLease):
            heartbeat.check()

    with db.transaction(write=True) as conn:
        conn.execute(sa.update(jobs_table).values(worker="me"))
        exports.delete(conn, project_id=project_id, export_id=export_id)
    with export_tasks._Heartbeat(step, project_id, export_id) as heartbeat:
        _until(lambda: heartbeat.gone, "the heartbeat did not notice the export was deleted")
        with pytest.raises(export_tasks._Deleted):
            heartbeat.check()
