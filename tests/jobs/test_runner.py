"""The job runner on both engines: a job a dead worker left behind is taken up at its last
checkpoint and each order is written once; a worker whose lease was taken over cannot
commit; jobs nobody can run fail with a reason; `tally worker` processes SIGKILLed
mid-import, restarted, and two at once, each job run once."""

import contextlib
import os
import signal
import subprocess
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from support.server import create_project_cli, run_tally, tally_env, tally_executable
from support.sessions import holding
from tally.async_actions import service as async_actions
from tally.async_actions.tables import async_actions as actions_table
from tally.clock import utcnow
from tally.db.engine import Database
from tally.db.locks import lock_number
from tally.jobs import repository as jobs_repository
from tally.jobs import service as jobs
from tally.jobs.runner import Runner
from tally.jobs.service import LostLease, Step
from tally.jobs.tables import jobs as jobs_table
from tally.orders import service as orders
from tally.orders.schemas import OrderCreate
from tally.orders.tables import orders as orders_table
from tally.projects.service import create_project
from tally.tasks import HANDLERS


def _project(db: Database) -> str:
    with db.transaction(write=True) as conn:
        return create_project(conn, name=f"p{time.monotonic_ns()}").project_id


def _schedule(db: Database, project_id: str, count: int, prefix: str = "o") -> str:
    bodies = [
        OrderCreate.model_validate(
            {"source_id": f"{prefix}-{n}", "amount": 100 + n, "status": "PAID"}
        )
        for n in range(count)
    ]
    with db.transaction(write=True) as conn:
        return orders.schedule_import(
            conn, project_id=project_id, bodies=bodies, request_id=None, now=utcnow()
        )


def _action(db: Database, project_id: str, action_id: str) -> Any:
    with db.transaction(write=False) as conn:
        return async_actions.get(conn, project_id=project_id, action_id=action_id)


def _order_count(db: Database, project_id: str) -> int:
    with db.transaction(write=False) as conn:
        return int(
            conn.execute(
                sa.select(sa.func.count()).where(orders_table.c.project_id == project_id)
            ).scalar_one()
        )


def test_a_job_left_by_a_dead_worker_goes_on_from_its_checkpoint(db: Database) -> None:
    project_id = _project(db)
    action_id = _schedule(db, project_id, 300)
    # A worker claimed it, committed its first step (250 orders), then died.
    with db.transaction(write=True) as conn:
        job = jobs_repository.claim(conn, now=utcnow())
        assert job is not None
        jobs_repository.update(
            conn,
            job["seq"],
            {
                "status": "running",
                "worker": "dead",
                "attempts": 1,
                "lease_until": utcnow() - timedelta(seconds=1),
                "checkpoint": {"next": 250, "done": 250, "failed": []},
            },
        )
    assert Runner(db, HANDLERS).run_one()
    action = _action(db, project_id, action_id)
    assert (action["status"], action["result"]["done_count"]) == ("DONE", 300)
    # Only the 50 after the checkpoint were written by the new worker.
    assert _order_count(db, project_id) == 50
    with db.transaction(write=False) as conn:
        row = conn.execute(sa.select(jobs_table)).mappings().one()
    assert (row["status"], row["attempts"], row["lease_until"]) == ("done", 2, None)
    assert not Runner(db, HANDLERS).run_one()  # nothing left


def test_a_running_job_is_taken_again_only_once_its_lease_has_run_out(db: Database) -> None:
    # The runner's query is built once and given the time as a parameter: each side of the
    # lease's end must be seen from the time passed, not the time the query was built.
    project_id = _project(db)
    _schedule(db, project_id, 1)
    now = utcnow()
    with db.transaction(write=True) as conn:
        job = jobs_repository.claim(conn, now=now)
        assert job is not None
        jobs_repository.update(
            conn,
            job["seq"],
            {"status": "running", "worker": "alive", "lease_until": now + timedelta(minutes=5)},
        )
    for later, runnable in ((timedelta(minutes=4), False), (timedelta(minutes=6), True)):
        with db.transaction(write=False) as conn:
            assert jobs_repository.any_runnable(conn, now=now + later) is runnable
        with db.transaction(write=True) as conn:
            claimed = jobs_repository.claim(conn, now=now + later)
            assert (claimed is not None) is runnable
            assert claimed is None or claimed["seq"] == job["seq"]


def test_a_worker_that_lost_its_lease_cannot_commit(db: Database) -> None:
    project_id = _project(db)
    _schedule(db, project_id, 1)
    with db.transaction(write=True) as conn:
        job = jobs_repository.claim(conn, now=utcnow())
        assert job is not None
        jobs_repository.update(conn, job["seq"], {"status": "running", "worker": "new-holder"})
    step = Step(db, job, "old-holder", timedelta(seconds=30), utcnow, lambda: False)
    with pytest.raises(LostLease), db.transaction(write=True) as conn:
        step.save(conn, {"next": 1, "done": 1, "failed": []})
    with pytest.raises(LostLease), db.transaction(write=True) as conn:
        step.finish(conn)


def test_jobs_nobody_can_run_fail_saying_why(db: Database) -> None:
    project_id = _project(db)
    with db.transaction(write=True) as conn:
        action_id = async_actions.create(
            conn, project_id=project_id, type_="ORDERS.IMPORT", request_id=None, now=utcnow()
        )
        jobs.enqueue(
            conn,
            project_id=project_id,
            kind="orders.import",
            payload={"orders": []},
            now=utcnow(),
            subject_id=action_id,
        )
        jobs.enqueue(conn, project_id=project_id, kind="mystery", payload={}, now=utcnow())
    runner = Runner(db, HANDLERS)
    # The import of nothing finishes; the job of an unknown kind fails with its reason.
    assert runner.run_one() and runner.run_one()
    assert _action(db, project_id, action_id)["status"] == "DONE"
    with db.transaction(write=False) as conn:
        failed = (
            conn.execute(sa.select(jobs_table).where(jobs_table.c.kind == "mystery"))
            .mappings()
            .one()
        )
    assert (failed["status"], failed["error"]) == ("failed", "no handler for jobs of kind mystery")
    # A job that took its worker down five times is not tried a sixth.
    _schedule(db, project_id, 1, prefix="crashy")
    with db.transaction(write=True) as conn:
        conn.execute(
            jobs_table.update()
            .where(jobs_table.c.status == "queued")
            .values(attempts=jobs.MAX_ATTEMPTS)
        )
    assert runner.run_one()
    with db.transaction(write=False) as conn:
        last = (
            conn.execute(
                sa.select(actions_table).order_by(actions_table.c.created_at.desc()).limit(1)
            )
            .mappings()
            .one()
        )
    assert (last["status"], last["operation_status"]) == ("FAILED", "FAILED")
    assert "attempts" in last["result"]["message"]


def _start_worker(db_url: str, workdir: Path, name: str) -> subprocess.Popen[bytes]:
    log = (workdir / f"{name}.log").open("wb")
    return subprocess.Popen(
        [str(tally_executable()), "worker"],
        cwd=workdir,
        env=tally_env(db_url, {"TALLY_JOB_LEASE_SECONDS": "1", "TALLY_JOB_POLL_MS": "50"}),
        stdin=subprocess.DEVNULL,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _wait(predicate: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)


def _waiting_for_lock(db: Database, number: int) -> bool:
    """PostgreSQL: whether some transaction waits for advisory lock ``number`` now."""
    with db.transaction(write=False) as conn:
        waiting = conn.execute(
            sa.text(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
                " AND classid::bigint = :hi AND objid::bigint = :lo"
            ),
            {"hi": number >> 32, "lo": number & 0xFFFFFFFF},
        ).scalar_one()
    return int(waiting) > 0


def _checkpoint(db: Database) -> Any:
    with db.transaction(write=False) as conn:
        return conn.execute(sa.select(jobs_table.c.checkpoint)).scalar_one()


@pytest.mark.slow
def test_a_worker_killed_mid_import_and_restarted_writes_every_order_once(
    migrated_db_url: str, tmp_path: Path, db: Database
) -> None:
    project_id = _project(db)
    held: contextlib.AbstractContextManager[None]
    if db.is_sqlite:
        # SQLite imports wait for no session: the worker is killed once its first step
        # (250 orders) has committed, and the rest takes it long enough (about a second
        # unloaded) that the kill lands mid-way, which is checked below.
        count = 30_000
        held = contextlib.nullcontext()
    else:
        # An order half-way through is held as a request would hold it: the step that
        # writes it waits, its earlier steps committed. The worker is killed right there.
        count = 2000
        held = holding(migrated_db_url, project_id, "s:o-1000")
    with held:
        action_id = _schedule(db, project_id, count)
        first = _start_worker(migrated_db_url, tmp_path, "first")
        try:
            if db.is_sqlite:
                _wait(lambda: _order_count(db, project_id) >= 250, 60, "the worker wrote nothing")
            else:
                number = lock_number(project_id, "s:o-1000")
                _wait(
                    lambda: _waiting_for_lock(db, number),
                    60,
                    "no import step waited for the held order",
                )
            os.killpg(first.pid, signal.SIGKILL)
            first.wait(10)
        finally:
            _stop(first)
    # It died mid-job: some steps committed, each with its checkpoint, not all of them.
    written = _order_count(db, project_id)
    assert 0 < written < count, written
    assert _checkpoint(db)["next"] == written
    assert _action(db, project_id, action_id)["status"] != "DONE"
    second = _start_worker(migrated_db_url, tmp_path, "second")
    try:
        _wait(
            lambda: _action(db, project_id, action_id)["status"] == "DONE",
            120,
            "the restarted worker did not finish the import",
        )
    finally:
        _stop(second)
    action = _action(db, project_id, action_id)
    assert (action["result"]["done_count"], action["result"]["failed_count"]) == (count, 0)
    assert _order_count(db, project_id) == count
    with db.transaction(write=False) as conn:
        duplicates = conn.execute(
            sa.select(orders_table.c.source_id)
            .where(orders_table.c.project_id == project_id)
            .group_by(orders_table.c.source_id)
            .having(sa.func.count() > 1)
        ).all()
        # Nor was one written again over itself (the restart went on from the checkpoint).
        rewritten = conn.execute(
            sa.select(sa.func.count()).where(
                orders_table.c.project_id == project_id, orders_table.c.updated_at.is_not(None)
            )
        ).scalar_one()
    assert duplicates == []
    assert rewritten == 0


@pytest.mark.slow
def test_two_workers_run_each_job_once(migrated_db_url: str, tmp_path: Path, db: Database) -> None:
    projects = [_project(db) for _ in range(4)]
    workers = [_start_worker(migrated_db_url, tmp_path, f"w{i}") for i in range(2)]
    try:
        # Both polling before any job exists: an import of 300 orders takes a fraction of
        # a second, and a worker still starting would find every job done.
        _wait(
            lambda: all(b"started" in (tmp_path / f"w{i}.log").read_bytes() for i in range(2)),
            60,
            "the workers did not start",
        )
        scheduled = [
            (project_id, _schedule(db, project_id, 300, prefix=f"w{i}"))
            for project_id in projects
            for i in range(2)
        ]
        _wait(
            lambda: all(_action(db, p, a)["status"] == "DONE" for p, a in scheduled),
            180,
            "the workers did not finish every import",
        )
    finally:
        for process in workers:
            _stop(process)
    for project_id in projects:
        assert _order_count(db, project_id) == 600
    with db.transaction(write=False) as conn:
        rows = conn.execute(sa.select(jobs_table.c.attempts, jobs_table.c.worker)).all()
    assert [attempts for attempts, _ in rows] == [1] * 8
    if not db.is_sqlite:
        assert len({worker for _, worker in rows}) == 2  # both took part
    run_tally(["migrate"], db_url=migrated_db_url, cwd=tmp_path)  # the CLI still works beside them
    assert create_project_cli("after", db_url=migrated_db_url, cwd=tmp_path)["app_id"]


def test_a_stopping_runner_keeps_the_step_it_committed(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tally.orders.tasks as tasks

    monkeypatch.setattr(tasks, "STEP_ORDERS", 4)
    project_id = _project(db)
    action_id = _schedule(db, project_id, 10)
    runner = Runner(db, HANDLERS)
    runner.stop()  # stopping: the runner ends the job after its first committed step
    assert runner.run_one()
    assert _order_count(db, project_id) == 4
    with db.transaction(write=False) as conn:
        row = conn.execute(sa.select(jobs_table)).mappings().one()
    assert (row["status"], row["attempts"], row["worker"]) == ("queued", 0, None)
    assert row["checkpoint"]["next"] == 4
    assert _action(db, project_id, action_id)["status"] == "IN_PROGRESS"
    assert Runner(db, HANDLERS).run_one()
    assert _order_count(db, project_id) == 10
    assert _action(db, project_id, action_id)["status"] == "DONE"
