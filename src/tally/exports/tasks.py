"""Writing an export's file (BEHAVIOR 18.6), run by the job runner.

The whole file is one read of the database (one snapshot), written to a file of this try's
own and renamed into place only by the try that still holds the job when it finishes: a
worker that died, or lost the job to another, leaves at most a stray partial file, never a
wrong one. An export that is tried again starts its file again.
"""

import logging
import os
import secrets
import threading
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection

from tally.db.prepared import Row
from tally.exports import repository, writer
from tally.exports.service import EXPORT_KIND as EXPORT_KIND
from tally.exports.service import resolved, source_of
from tally.jobs.service import Handler, LostLease, Step

log = logging.getLogger("tally.exports")


class _Deleted(Exception):
    """The export was deleted while its file was being written."""


class _Heartbeat:
    """Renews the job's lease every third of it on a thread of its own, beside the long
    read (whose first batch alone may be a sort of every row), and notes a job taken over
    or an export deleted meanwhile; the writer looks after every batch."""

    def __init__(self, step: Step, project_id: str, export_id: str) -> None:
        self.step = step
        self.project_id = project_id
        self.export_id = export_id
        self.lost = False
        self.gone = False
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="tally-export-lease", daemon=True)

    def __enter__(self) -> "_Heartbeat":
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        every = self.step.lease.total_seconds() / 3
        while not self._stop.wait(every):
            try:
                with self.step.db.transaction(write=True) as conn:
                    if repository.get(conn, self.project_id, self.export_id) is None:
                        self.gone = True
                        return
                    self.step.save(conn, None)
            except LostLease:
                self.lost = True
                return
            except Exception:  # a busy database: the next beat tries again
                log.warning("export %s: lease not renewed", self.export_id, exc_info=True)

    def check(self) -> None:
        if self.lost:
            raise LostLease
        if self.gone:
            raise _Deleted


def _run_export(step: Step) -> None:
    project_id = step.job["project_id"]
    export_id = step.job["subject_id"]
    with step.db.transaction(write=True) as conn:
        row = repository.get(conn, project_id, export_id)
        if row is None:  # deleted before it ran
            step.finish(conn)
            return
        repository.update(
            conn, project_id, export_id, {"status": "IN_PROGRESS", "updated_at": step.clock()}
        )
        step.save(conn, None)
    final = Path(row["file_path"])
    final.parent.mkdir(parents=True, exist_ok=True)
    # What an earlier try left when its process died. A try still running somewhere (its
    # lease lost) keeps writing to the unlinked file and never renames it: it fails at
    # finish first.
    for stale in final.parent.glob(f"{final.name}.*.part"):
        stale.unlink(missing_ok=True)
    partial = final.with_name(f"{final.name}.{secrets.token_hex(4)}.part")
    try:
        try:
            with _Heartbeat(step, project_id, export_id) as heartbeat:
                count = _write(step, row, partial, heartbeat)
        except _Deleted:
            with step.db.transaction(write=True) as conn:
                step.finish(conn)
            return
        with step.db.transaction(write=True) as conn:
            step.finish(conn)  # raises LostLease if another worker took the job over
            done = repository.update(
                conn,
                project_id,
                export_id,
                {
                    "status": "DONE",
                    "token": secrets.token_urlsafe(32),
                    "row_count": count,
                    "updated_at": step.clock(),
                },
            )
            if done:
                os.replace(partial, final)
                _sync_directory(final.parent)  # the rename outlives a power cut, as DONE does
    finally:
        partial.unlink(missing_ok=True)


def _sync_directory(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write(step: Step, row: Row, path: Path, heartbeat: _Heartbeat) -> int:
    source = source_of(row["exported_object"])
    fields, order, filters = resolved(source, row["parameters"] or {})

    def after_batch(_count: int) -> None:
        heartbeat.check()
        step.yield_if_stopping()

    with (
        step.db.transaction(write=False) as conn,
        path.open("w", encoding="utf-8", newline="") as out,
    ):
        plan = writer.plan(
            source,
            project_id=row["project_id"],
            fields=fields,
            filters=filters,
            order=order,
            dialect=conn.dialect.name,
        )
        count = writer.write(conn, plan, out, after_batch=after_batch)
        out.flush()
        os.fsync(out.fileno())
    return count


def _export_failed(conn: Connection, job: Row, why: str, now: datetime) -> None:
    log.warning("export %s failed: %s", job["subject_id"], why)
    repository.update(
        conn,
        job["project_id"],
        job["subject_id"],
        {"status": "ERROR", "error": why, "updated_at": now},
    )


EXPORT = Handler(run=_run_export, failed=_export_failed)
