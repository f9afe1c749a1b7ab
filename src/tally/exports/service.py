"""Exports (BEHAVIOR 18): asked for by a request, written by a job, downloaded with a token.

Keyword-only functions over one connection; the caller owns the transaction.
"""

import hmac
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import sqlalchemy as sa
from sqlalchemy.engine import Connection

from tally import ids
from tally.db.prepared import Row
from tally.errors import UNAUTHORIZED, TallyError, invalid_payload, not_found
from tally.exports import filters as filtering
from tally.exports import repository
from tally.exports.columns import METADATA_PREFIX, SOURCES, UNBUILT_OBJECTS, Source
from tally.exports.schemas import ExportParameters
from tally.exports.tables import EXPORT_ID_PREFIX
from tally.jobs import service as jobs

# The kind of job that writes an export's file (tally.exports.tasks runs it).
EXPORT_KIND = "exports.write"
EXPORTS_DIR_NAME = "tally-exports"


def files_dir(database_url: str, configured: str | None) -> Path:
    """Where export files go: TALLY_EXPORTS_DIR, else next to the SQLite database file,
    else (PostgreSQL) in the working directory. Processes on several machines need a
    directory they all mount (docs/ deployment guide)."""
    if configured:
        return Path(configured).resolve()
    url = sa.engine.make_url(database_url)
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        return Path(url.database).resolve().parent / EXPORTS_DIR_NAME
    return (Path.cwd() / EXPORTS_DIR_NAME).resolve()


def source_of(exported_object: str) -> Source:
    if exported_object in SOURCES:
        return SOURCES[exported_object]
    if exported_object in UNBUILT_OBJECTS:
        raise invalid_payload(
            f"Property .exported_object: exports of {exported_object} are not supported by "
            f"Tally yet (supported: {', '.join(SOURCES)})"
        )
    allowed = ", ".join(
        ["voucher", "redemption", "customer", "publication", "order", "points_expiration"]
    )
    raise invalid_payload(
        f"Property .exported_object should be equal to one of the allowed values [ {allowed} ]"
    )


def check_parameters(source: Source, parameters: ExportParameters | None) -> dict[str, Any]:
    """The parameters as the export keeps and prints them, or the 400 that refuses them."""
    if parameters is None:
        return {}
    stored: dict[str, Any] = {}
    if parameters.order is not None:
        if parameters.order not in source.sorts:
            raise invalid_payload(
                "Property .parameters.order should be equal to one of the allowed values "
                f"[ {', '.join(source.sorts)} ]"
            )
        stored["order"] = parameters.order
    if parameters.fields is not None:
        for name in parameters.fields:
            _check_field(source, name)
        if parameters.fields:
            stored["fields"] = list(parameters.fields)
    if parameters.filters:
        filtering.parse(source, parameters.filters)
        # Kept as JSON keeps it, and checked again in that form: what runs is what was
        # checked (a value JSON cannot hold would otherwise change on the way).
        try:
            kept = orjson.loads(orjson.dumps(parameters.filters))
        except TypeError:
            raise invalid_payload(
                "Property .parameters.filters holds a value JSON cannot keep"
            ) from None
        filtering.parse(source, kept)
        stored["filters"] = kept
    return stored


def _check_field(source: Source, name: str) -> None:
    if name in source.fields:
        return
    if name.startswith(METADATA_PREFIX) and len(name) > len(METADATA_PREFIX):
        return
    if name in source.unbuilt:
        raise invalid_payload(f"Property .parameters.fields: {name} is not supported by Tally yet")
    raise TallyError(
        400,
        "invalid_export_fields",
        "Invalid Export",
        f"Unsupported field used. Allowed fields: {', '.join(source.fields)}",
    )


def resolved(
    source: Source, parameters: Mapping[str, Any]
) -> tuple[list[str], str, filtering.Filters]:
    """Fields, order and filters of stored parameters, with the defaults filled in."""
    fields = list(parameters.get("fields") or source.default_fields)
    order = parameters.get("order") or source.default_sort
    return fields, order, filtering.parse(source, parameters.get("filters"))


def create(
    conn: Connection,
    *,
    project_id: str,
    exported_object: str,
    parameters: ExportParameters | None,
    directory: Path,
    now: datetime,
    channel: str = "API",
) -> Row:
    """Check the request, record the export and queue the job that writes it."""
    source = source_of(exported_object)
    stored = check_parameters(source, parameters)
    export_id = ids.new_id(EXPORT_ID_PREFIX)
    row = {
        "id": export_id,
        "project_id": project_id,
        "exported_object": source.name,
        "parameters": stored,
        "status": "SCHEDULED",
        "channel": channel,
        "file_path": str(directory / project_id / f"{export_id}.csv"),
        "token": None,
        "row_count": None,
        "error": None,
        "created_at": now,
        "updated_at": None,
    }
    repository.insert(conn, row)
    jobs.enqueue(
        conn, project_id=project_id, kind=EXPORT_KIND, payload={}, now=now, subject_id=export_id
    )
    return row


def get(conn: Connection, *, project_id: str, export_id: str) -> Row:
    row = repository.get(conn, project_id, export_id)
    if row is None:
        raise not_found("export", export_id)
    return row


def list_page(
    conn: Connection, *, project_id: str, limit: int, page: int, order: str
) -> tuple[list[Row], int]:
    return repository.page(conn, project_id, order=order, limit=limit, page=page)


def delete(conn: Connection, *, project_id: str, export_id: str) -> None:
    """Forget the export and remove its file. The file goes while the transaction is still
    open: a commit that then failed would leave an export whose download is a 404, never a
    file the API no longer lists. A job still writing it finds the export gone and stops."""
    row = get(conn, project_id=project_id, export_id=export_id)
    repository.delete(conn, project_id, export_id)
    Path(row["file_path"]).unlink(missing_ok=True)


def downloadable(conn: Connection, *, export_id: str, token: str) -> Row:
    """The finished export ``token`` opens, or the spec's 401 (an unknown id, an unfinished
    export and a wrong token look the same)."""
    if len(token) > 200:
        raise UNAUTHORIZED
    row = repository.get_any_project(conn, export_id)
    expected = row["token"] if row is not None else None
    if row is None or row["status"] != "DONE" or not expected:
        hmac.compare_digest(token.encode(), b"x" * 43)  # the same work either way
        raise UNAUTHORIZED
    if not hmac.compare_digest(token.encode(), str(expected).encode()):
        raise UNAUTHORIZED
    return row


def file_of(row: Row) -> Path:
    """The finished export's file; a 404 if it is gone (removed by hand, another disk)."""
    if row["status"] != "DONE":
        raise TallyError(
            404,
            "not_found",
            "Resource not found",
            f"Export {row['id']} has no file yet: it is {row['status']}",
            resource_id=row["id"],
            resource_type="export",
        )
    path = Path(row["file_path"])
    if not path.is_file():
        raise TallyError(
            404,
            "not_found",
            "Resource not found",
            f"The file of export {row['id']} is missing on this server",
            resource_id=row["id"],
            resource_type="export",
        )
    return path
