"""The loop that claims jobs and runs them: a thread in each `tally serve` process (the
embedded default) or the whole of a `tally worker` process."""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from tally.clock import utcnow
from tally.db.engine import Database, is_busy
from tally.db.prepared import Row
from tally.db.races import lost_race
from tally.ids import alnum
from tally.jobs import repository
from tally.jobs.service import MAX_ATTEMPTS, Handler, LostLease, Step, Stopping

log = logging.getLogger("tally.jobs")


class Runner:
    def __init__(
        self,
        db: Database,
        handlers: Mapping[str, Handler],
        *,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.handlers = handlers
        self.lease = timedelta(seconds=lease_seconds)
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{alnum(8)}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="tally-jobs", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """A job was just committed: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 60.0) -> None:
        """Stop after the current step (steps end within a second or so)."""
        self.stop_soon()
        if self._thread is not None:
            self._thread.join(timeout)

    def stop_soon(self) -> None:
        """Ask for a stop after the current step, without waiting for it: a server stops
        its webhook deliverer meanwhile, and a job must not run on to its end while that
        takes its time (SIGTERM mid-export: the export must be handed back)."""
        self._stop.set()
        self._wake.set()

    def stop_from_signal(self, *_: object) -> None:
        """A signal handler that stops the runner (``tally worker`` on SIGTERM). A handler
        runs on the thread the signal interrupts, between two bytecodes: it may be this
        runner's loop, inside ``Event.wait`` or ``clear`` with the lock of ``_wake`` held,
        and setting ``_wake`` takes that lock again: the worker then never ended (seen
        about once in 300 SIGTERMs with a fast poll, when this called :meth:`stop`). So the
        stop flag is set here (the loop only reads it, never holding its lock) and the loop
        is woken from another thread."""
        self._stop.set()
        threading.Thread(target=self._wake.set, daemon=True).start()

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                ran = self.run_one()
            except Exception:  # the loop outlives any one failure (logged, retried later)
                log.exception("job runner step failed")
                ran = False
            if not ran:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()

    def run_one(self) -> bool:
        """Claim one job and run it; whether there was one."""
        now = self.clock()
        with self.db.transaction(write=False) as conn:
            if not repository.any_runnable(conn, now=now):
                return False
        with self.db.transaction(write=True) as conn:
            job = repository.claim(conn, now=now)
            if job is None:
                return False
            handler = self.handlers.get(job["kind"])
            if handler is None or job["attempts"] >= MAX_ATTEMPTS:
                why = (
                    f"no handler for jobs of kind {job['kind']}"
                    if handler is None
                    else f"stopped after {MAX_ATTEMPTS} attempts that did not finish"
                )
                self._fail(conn, job, handler, why, now)
                return True
            repository.update(
                conn,
                job["seq"],
                {
                    "status": "running",
                    "worker": self.worker,
                    "attempts": job["attempts"] + 1,
                    "lease_until": now + self.lease,
                    "started_at": job["started_at"] or now,
                },
            )
        step = Step(
            self.db,
            job,
            self.worker,
            self.lease,
            self.clock,
            self._stop.is_set,
            checkpoint=job["checkpoint"],
        )
        started = time.monotonic()
        try:
            handler.run(step)
        except (LostLease, Stopping):
            return True
        except DBAPIError as exc:
            if not (lost_race(exc) or (self.db.is_sqlite and is_busy(exc))):
                return self._failed(job, handler, exc)
            # A deadlock with a request, or a busy SQLite: the step rolled back and the job
            # waits in the queue at its last checkpoint; the try does not count.
            log.warning("job %s (%s) step lost a race; queued again", job["id"], job["kind"])
            with self.db.transaction(write=True) as conn:
                repository.update(
                    conn,
                    job["seq"],
                    {
                        "status": "queued",
                        "worker": None,
                        "lease_until": None,
                        "attempts": job["attempts"],
                    },
                    worker=self.worker,
                )
            return False  # the loop pauses before the next claim
        except Exception as exc:
            return self._failed(job, handler, exc)
        log.info(
            "job %s (%s) done in %.0f ms",
            job["id"],
            job["kind"],
            (time.monotonic() - started) * 1000,
        )
        return True

    def _failed(self, job: Row, handler: Handler, exc: Exception) -> bool:
        log.exception("job %s (%s) failed", job["id"], job["kind"])
        with self.db.transaction(write=True) as conn:
            current = repository.get(conn, job["seq"])
            if current is not None and current["worker"] == self.worker:
                self._fail(conn, current, handler, _reason(exc), self.clock())
        return True

    def _fail(
        self, conn: Connection, job: Row, handler: Handler | None, why: str, now: datetime
    ) -> None:
        repository.update(
            conn,
            job["seq"],
            {"status": "failed", "error": why, "finished_at": now, "lease_until": None},
        )
        if handler is not None:
            handler.failed(conn, job, why, now)


def _reason(exc: Exception) -> str:
    """What a failed job records: the kind of error and its message, never a traceback, nor
    a database's own text (statements, parameters)."""
    if isinstance(exc, DBAPIError):
        return f"database error ({type(exc).__name__}); see the server log"
    text = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
