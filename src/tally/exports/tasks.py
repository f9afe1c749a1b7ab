"""Writing an export's file (BEHAVIOR 18.6), run by the job runner.

The whole file is one read of the database (one snapshot), written to a file of this try's
own and renamed into place only by the try that still holds the job when it finishes: a
worker that died, or lost the job to another, leaves at most a stray partial file, never a
wrong one. An export that is tried again starts its file again.
"""

import logging
import os
import secrets
import time
from datetime import datetime
from pathlib import Path

from sqlalchemy.engine import Connection

from tally.db.prepared import Row
from tally.exports import repository, writer
from tally.exports.service import EXPORT_KIND as EXPORT_KIND
from tally.exports.service import resolved, source_of
from tally.jobs.service import Handler, Step

log = logging.getLogger("tally.exports")


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
    partial = final.with_name(f"{final.name}.{secrets.token_hex(4)}.part")
    try:
        count = _write(step, row, partial)
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
    finally:
        partial.unlink(missing_ok=True)


def _write(step: Step, row: Row, path: Path) -> int:
    source = source_of(row["exported_object"])
    fields, order, filters = resolved(source, row["parameters"] or {})
    renew_every = step.lease.total_seconds() / 3
    renewed = time.monotonic()

    def after_batch(_count: int) -> None:
        # The read holds one snapshot for the whole file; the lease is renewed beside it.
        nonlocal renewed
        if time.monotonic() - renewed < renew_every:
            return
        with step.db.transaction(write=True) as conn:
            step.save(conn, None)
        step.yield_if_stopping()
        renewed = time.monotonic()

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
