"""Jobs: enqueued in the transaction of the request that asks for them, run after commit.

A job runs in steps, each its own transaction that also records how far the job got (its
checkpoint) and extends its lease. A process that dies mid-job leaves it ``running`` with a
lease that runs out; another claims it and goes on from the last checkpoint, so the work of
every committed step happens once. A step commits only while its worker still holds the job.
"""

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.engine import Connection

from tally import ids
from tally.db.engine import Database
from tally.db.locks import lock_number, wait_advisory
from tally.db.prepared import Row
from tally.jobs import repository
from tally.jobs.tables import JOB_ID_PREFIX

# A job that took its process down this many times is not tried again.
MAX_ATTEMPTS = 5


class LostLease(Exception):
    """The job was taken over (its lease ran out): this worker's step must not commit."""


class Stopping(Exception):
    """The runner is shutting down: the job goes back to the queue at its last checkpoint."""


def hold_queue(conn: Connection, project_id: str, queue_key: str) -> None:
    """PostgreSQL: wait for any other transaction enqueueing on ``queue_key`` to end, so the
    jobs of one key commit in the order of their sequence numbers (which the claim's FIFO
    reads). SQLite transactions that write take turns already."""
    if conn.dialect.name == "sqlite":
        return
    wait_advisory(conn, [lock_number(project_id, f"queue:{queue_key}")])


def enqueue(
    conn: Connection,
    *,
    project_id: str,
    kind: str,
    payload: Mapping[str, Any],
    now: datetime,
    queue_key: str | None = None,
    subject_id: str | None = None,
) -> str:
    """A job to run once this transaction commits; its id."""
    job_id = ids.new_id(JOB_ID_PREFIX)
    repository.insert(
        conn,
        {
            "id": job_id,
            "project_id": project_id,
            "kind": kind,
            "queue_key": queue_key,
            "subject_id": subject_id,
            "payload": dict(payload),
            "status": "queued",
            "checkpoint": None,
            "attempts": 0,
            "created_at": now,
        },
    )
    return job_id


@dataclass
class Step:
    """What a handler gets: the job, and the way to end each step of it."""

    db: Database
    job: Row
    worker: str
    lease: timedelta
    clock: Callable[[], datetime]
    stopping: Callable[[], bool]
    checkpoint: Any = field(default=None)

    def save(self, conn: Connection, checkpoint: Any) -> None:
        """Record how far the job got, in the step's own transaction, and extend the lease.
        Raises LostLease (rolling the step back) if another worker took the job over."""
        values = {"checkpoint": checkpoint, "lease_until": self.clock() + self.lease}
        if not repository.update(conn, self.job["seq"], values, worker=self.worker):
            raise LostLease
        self.checkpoint = checkpoint

    def yield_if_stopping(self) -> None:
        """Between steps (after one committed): if the runner is shutting down, put the job
        back in the queue at its checkpoint, the try not counted, and stop here."""
        if not self.stopping():
            return
        with self.db.transaction(write=True) as conn:
            repository.update(
                conn,
                self.job["seq"],
                {
                    "status": "queued",
                    "worker": None,
                    "lease_until": None,
                    "attempts": self.job["attempts"],
                },
                worker=self.worker,
            )
        raise Stopping

    def finish(self, conn: Connection) -> None:
        """Mark the job done in its last step's transaction."""
        values = {"status": "done", "finished_at": self.clock(), "lease_until": None}
        if not repository.update(conn, self.job["seq"], values, worker=self.worker):
            raise LostLease


@dataclass(frozen=True)
class Handler:
    """How a kind of job runs, and what it tells its subject when it fails for good."""

    run: Callable[[Step], None]
    failed: Callable[[Connection, Row, str, datetime], None]
