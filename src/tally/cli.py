"""The `tally` command."""

import json
import logging
import sqlite3
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from tally.config import get_settings

if TYPE_CHECKING:
    from tally.db.copy import ProjectCopy

app = typer.Typer(
    help="Tally: orders and promotions engine speaking Voucherify's API.",
    no_args_is_help=True,
    add_completion=False,
)
projects_app = typer.Typer(help="Projects and their API keys.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")
orders_app = typer.Typer(help="Import and export orders in bulk.", no_args_is_help=True)
app.add_typer(orders_app, name="orders")
webhooks_app = typer.Typer(
    help="Webhook endpoints: where a project's events are sent.", no_args_is_help=True
)
app.add_typer(webhooks_app, name="webhooks")
db_app = typer.Typer(help="Move a data set between databases.", no_args_is_help=True)
app.add_typer(db_app, name="db")

ProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="Project id or name (needed when there are several)."),
]


@app.command()
def migrate() -> None:
    """Apply every pending database migration (TALLY_DATABASE_URL)."""
    from tally.db.migrate import upgrade

    upgrade(get_settings().database_url)
    typer.echo("database is up to date")


@app.command()
def backup(
    file: Annotated[Path, typer.Argument(dir_okay=False, help="The backup file to write.")],
) -> None:
    """Back up the embedded SQLite database to FILE while it serves (SQLite's online backup),
    check the copy, and print what it holds. On PostgreSQL: pg_dump (docs/operations.md)."""
    from tally.db.backup import backup as take_backup
    from tally.db.refused import Refused

    try:
        with _progress(100, label="pages") as bar:
            done = 0

            def advance(copied: int, total: int) -> None:
                nonlocal done
                percent = copied * 100 // total if total else 100
                bar.update(percent - done)
                done = percent

            made = take_backup(get_settings().database_url, file, progress=advance)
    except Refused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (sqlite3.Error, OSError) as exc:
        typer.echo(f"error: the backup failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"backup {made.path}: {made.size} bytes, integrity ok")
    typer.echo(f"  {made.contents.summary()}")


@app.command()
def restore(
    file: Annotated[
        Path, typer.Argument(exists=True, dir_okay=False, help="A backup made by tally backup.")
    ],
) -> None:
    """Replace the embedded SQLite database with the backup FILE (stop every server and
    worker first), keeping the replaced database beside it, and migrate the result."""
    from tally.db.backup import restore as restore_backup
    from tally.db.refused import Refused

    try:
        restored = restore_backup(get_settings().database_url, file)
    except Refused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except (sqlite3.Error, OSError) as exc:
        typer.echo(f"error: the restore failed: {exc}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"restored {restored.path} from {file} (schema {restored.restored_revision})")
    typer.echo(f"  now: {restored.contents.summary()}")
    if restored.previous is not None:
        typer.echo(f"  the replaced database is kept as {restored.previous}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
) -> None:
    """Run the HTTP API. On the embedded SQLite default the database migrates itself."""
    import atexit
    import os
    import shutil
    import tempfile

    import uvicorn

    from tally.app import configure_logging
    from tally.db.engine import is_sqlite
    from tally.db.migrate import upgrade
    from tally.metrics.exposition import MULTIPROC_ENV

    settings = get_settings()
    configure_logging(settings.log_level)
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    if workers > 1 and not os.environ.get(MULTIPROC_ENV):
        # Each worker process counts in a file here, and GET /metrics on any of them adds
        # up all (the workers are spawned after this and inherit the variable).
        metrics_dir = tempfile.mkdtemp(prefix="tally-metrics-")
        atexit.register(shutil.rmtree, metrics_dir, ignore_errors=True)
        os.environ[MULTIPROC_ENV] = metrics_dir
    uvicorn.run(
        "tally.app:serve_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        log_config=None,
        server_header=False,
        timeout_graceful_shutdown=10,
    )


@app.command()
def worker() -> None:
    """Run jobs (imports, exports) and deliver webhooks until stopped: for running them
    apart from the API (set TALLY_JOBS_IN_SERVER=false on the servers). Any number may run,
    on any machine."""
    import signal

    from tally.app import configure_logging, deliverer_for
    from tally.db.engine import Database, is_sqlite
    from tally.db.migrate import upgrade
    from tally.jobs.runner import Runner
    from tally.tasks import HANDLERS

    settings = get_settings()
    configure_logging(settings.log_level)
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
    db = Database(
        settings.database_url,
        pool_size=2,
        busy_seconds=settings.sqlite_busy_timeout_ms / 1000,
    )
    runner = Runner(
        db,
        HANDLERS,
        lease_seconds=settings.job_lease_seconds,
        poll_seconds=settings.job_poll_ms / 1000,
    )
    deliverer = deliverer_for(db, settings)
    deliverer.start()
    # SIGTERM ends the loop at the next step boundary; the job goes back to the queue.
    signal.signal(signal.SIGTERM, runner.stop_from_signal)
    logging.getLogger("tally.jobs").info("worker %s started", runner.worker)
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
        deliverer.stop()
        db.dispose()


@projects_app.command("create")
def projects_create(
    name: Annotated[str, typer.Argument(help="Project name.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Create a project and print its API keys (the token is shown only once)."""
    from tally.db.engine import Database, is_sqlite
    from tally.db.migrate import upgrade
    from tally.projects.service import create_project

    url = get_settings().database_url
    if is_sqlite(url):
        upgrade(url)
    db = Database(url, pool_size=1)
    try:
        with db.transaction(write=True) as conn:
            creds = create_project(conn, name=name)
    except ValueError as exc:  # the name refused (empty, too long)
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    finally:
        db.dispose()
    if as_json:
        typer.echo(
            json.dumps(
                {
                    "project_id": creds.project_id,
                    "app_id": creds.app_id,
                    "app_token": creds.app_token,
                }
            )
        )
        return
    typer.echo(f"project_id: {creds.project_id}")
    typer.echo(f"X-App-Id:    {creds.app_id}")
    typer.echo(f"X-App-Token: {creds.app_token}")
    typer.echo("Keep the token: Tally stores only its hash.")


@projects_app.command("list")
def projects_list() -> None:
    """List projects (ids and app ids; tokens are never shown again)."""
    from tally.projects.repository import list_projects

    db = _open_db()
    try:
        with db.transaction(write=False) as conn:
            for row in list_projects(conn):
                typer.echo(f"{row['id']}\t{row['app_id']}\t{row['name']}")
    finally:
        db.dispose()


@projects_app.command("currency")
def projects_currency(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    code: Annotated[
        str | None, typer.Argument(help="ISO 4217 code, e.g. EUR; leave out to show it.")
    ] = None,
    clear: Annotated[bool, typer.Option("--clear", help="Print amounts without one.")] = False,
) -> None:
    """Show or set the currency the dashboard prints a project's amounts with (display
    only: amounts are integers in the smallest unit and carry no currency)."""
    from tally.projects.repository import dashboard_key, set_currency

    if code is not None and not (len(code) == 3 and code.isascii() and code.isalpha()):
        typer.echo("error: a currency is three letters (ISO 4217)", err=True)
        raise typer.Exit(2)
    db = _open_db()
    try:
        with db.transaction(write=code is not None or clear) as conn:
            project_id = _project_id(conn, project)
            if code is not None or clear:
                set_currency(conn, project_id, None if clear else code.upper() if code else None)
            found = dashboard_key(conn, project_id)
    finally:
        db.dispose()
    typer.echo((found[2] if found else None) or "(none)")


@projects_app.command("rate-limit")
def projects_rate_limit(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    per_second: Annotated[
        float | None,
        typer.Option("--per-second", min=0, help="Requests a second per server process; 0: none."),
    ] = None,
    burst: Annotated[
        int | None, typer.Option("--burst", min=1, help="Requests at once (default: 1 s worth).")
    ] = None,
    reset: Annotated[
        bool, typer.Option("--reset", help="Back to the server's TALLY_RATE_LIMIT_*.")
    ] = False,
) -> None:
    """Show or set a project's rate limit. It overrides the server's TALLY_RATE_LIMIT_* for
    this project; running servers apply a change within 30 seconds."""
    from tally.projects.repository import rate_limit, set_rate_limit

    if burst is not None and per_second is None and not reset:
        typer.echo("error: --burst goes with --per-second", err=True)
        raise typer.Exit(2)
    changing = per_second is not None or reset
    db = _open_db()
    try:
        with db.transaction(write=changing) as conn:
            project_id = _project_id(conn, project)
            if changing:
                set_rate_limit(conn, project_id, None if reset else per_second, burst)
            found = rate_limit(conn, project_id)
    finally:
        db.dispose()
    if found[0] is None:
        typer.echo("server default (TALLY_RATE_LIMIT_PER_SECOND)")
    elif found[0] == 0:
        typer.echo("no limit")
    else:
        shown_burst = found[1] or max(1, round(found[0]))
        typer.echo(f"{found[0]:g} requests a second per server process, bursts of {shown_burst}")


@projects_app.command("stacking")
def projects_stacking(
    project: Annotated[str, typer.Argument(help="Project id or name.")],
    application_mode: Annotated[
        str | None,
        typer.Option(
            "--application-mode", help="ALL: one refusal refuses all; PARTIAL: the rest apply."
        ),
    ] = None,
    applicable_limit: Annotated[
        int | None,
        typer.Option("--applicable-redeemables-limit", help="Redeemables applied at most."),
    ] = None,
    redeemables_limit: Annotated[
        int | None, typer.Option("--redeemables-limit", help="Redeemables a request, 1-30.")
    ] = None,
    reset: Annotated[bool, typer.Option("--reset", help="Back to the defaults.")] = False,
) -> None:
    """Show or change a project's stacking rules (Voucherify sets them in its dashboard).
    Running servers apply a change within 30 seconds."""
    from tally.projects.repository import set_stacking_rules, stacking_rules
    from tally.validations.stacking import StackingRules

    db = _open_db()
    try:
        with db.transaction(write=True) as conn:
            project_id = _project_id(conn, project)
            stored = {} if reset else (stacking_rules(conn, project_id) or {})
            changes = {
                "redeemables_application_mode": application_mode,
                "applicable_redeemables_limit": applicable_limit,
                "redeemables_limit": redeemables_limit,
            }
            stored.update({k: v for k, v in changes.items() if v is not None})
            try:
                rules = StackingRules(**stored)
            except (TypeError, ValueError) as exc:
                typer.echo(f"error: {exc}", err=True)
                raise typer.Exit(2) from None
            set_stacking_rules(conn, project_id, rules.stored())
    finally:
        db.dispose()
    typer.echo(json.dumps(rules.json(), indent=2))


def _project_id(conn: Any, project: str | None) -> str:
    from tally.projects.repository import list_projects

    rows = list(list_projects(conn))
    if project is None:
        if len(rows) == 1:
            return str(rows[0]["id"])
        typer.echo("error: name the project with --project (id or name)", err=True)
        raise typer.Exit(2)
    for row in rows:
        if project == row["id"]:
            return str(row["id"])
    named = [row for row in rows if project == row["name"]]
    if len(named) > 1:
        # Names need not be unique: picking one would write into a project the operator
        # may not have meant (as tally db copy refuses it).
        typer.echo(f"error: several projects are named {project}: name it by id", err=True)
        raise typer.Exit(2)
    if named:
        return str(named[0]["id"])
    typer.echo(f"error: no project {project}", err=True)
    raise typer.Exit(2)


@orders_app.command("import")
def orders_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="JSON or CSV.")],
    project: ProjectOption = None,
) -> None:
    """Import orders from a file: a JSON array of orders (as POST /v1/orders/import takes),
    JSON lines, or CSV with an order export's columns. Orders are written as the import
    endpoint writes them, a few hundred a transaction; one that fails is listed and the
    others land. Running it again with the same file updates the same orders (by source_id)."""
    from tally.db.engine import Database, is_sqlite
    from tally.db.migrate import upgrade
    from tally.orders.files import OrderFileError, read_orders
    from tally.orders.tasks import import_all

    try:
        bodies = read_orders(file)
    except (OrderFileError, UnicodeDecodeError, ValueError, OSError) as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    url = get_settings().database_url
    if is_sqlite(url):
        upgrade(url)
    db = Database(url, pool_size=2)
    try:
        with db.transaction(write=False) as conn:
            project_id = _project_id(conn, project)
        with _progress(len(bodies)) as bar:
            result = import_all(db, project_id, bodies, progress=bar.update)
    finally:
        db.dispose()
    typer.echo(result["message"])
    for failure in result["failed"][:50]:
        typer.echo(f"  failed: {json.dumps(failure)}", err=True)
    if result["failed_count"] > 50:
        typer.echo(f"  ... and {result['failed_count'] - 50} more", err=True)
    if result["failed_count"]:
        raise typer.Exit(1)


@orders_app.command("export")
def orders_export(
    project: ProjectOption = None,
    fields: Annotated[
        str | None,
        typer.Option(help="Comma-separated fields, e.g. id,status,amount,metadata.channel."),
    ] = None,
    filter_: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            help="FIELD:CONDITION:VALUE, e.g. status:is:PAID, amount:more_than:1000, "
            "status:in:PAID,FULFILLED, created_at:after:2024-01-01 (repeatable).",
        ),
    ] = None,
    junction: Annotated[str, typer.Option(help="How --filter conditions join: and, or.")] = "and",
    filters_json: Annotated[
        str | None, typer.Option("--filters", help="The API's filters object, as JSON.")
    ] = None,
    order: Annotated[str | None, typer.Option(help="e.g. -created_at (the default).")] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="File to write (default: stdout).")
    ] = None,
) -> None:
    """Export orders as CSV (the API's export: the same fields, filters and order), read in
    one snapshot and written as it is read."""
    import sqlalchemy as sa

    from tally.errors import TallyError
    from tally.exports import writer
    from tally.exports.columns import ORDER
    from tally.exports.schemas import ExportParameters
    from tally.exports.service import check_parameters, resolved

    try:
        filters = json.loads(filters_json) if filters_json else _filters(filter_ or [], junction)
        parameters = ExportParameters(
            fields=[f.strip() for f in fields.split(",")] if fields else None,
            order=order,
            filters=filters or None,
        )
        chosen, sort, parsed = resolved(ORDER, check_parameters(ORDER, parameters))
    except (ValueError, TallyError) as exc:
        typer.echo(f"error: {getattr(exc, 'details', None) or exc}", err=True)
        raise typer.Exit(2) from None
    db = _open_db()
    try:
        with db.transaction(write=False) as conn:
            project_id = _project_id(conn, project)
            plan = writer.plan(
                ORDER,
                project_id=project_id,
                fields=chosen,
                filters=parsed,
                order=sort,
                dialect=conn.dialect.name,
            )
            total = conn.execute(
                sa.select(sa.func.count()).select_from(plan.statement.order_by(None).subquery())
            ).scalar_one()
            out = output.open("w", encoding="utf-8", newline="") if output else sys.stdout
            try:
                with _progress(total) as bar:
                    written = 0

                    def advance(count: int) -> None:
                        nonlocal written
                        bar.update(count - written)
                        written = count

                    writer.write(conn, plan, out, after_batch=advance)
            finally:
                if output:
                    out.close()
                else:
                    out.flush()
    finally:
        db.dispose()


class _Quiet:
    """No progress bar: stderr is not a terminal (a log, a pipe)."""

    def __enter__(self) -> "_Quiet":
        return self

    def __exit__(self, *_: object) -> None:
        return None

    def update(self, _steps: int) -> None:
        return None


def _progress(total: int, label: str = "orders") -> Any:
    """A progress bar on stderr when it is a terminal (stdout may be the CSV itself)."""
    if not sys.stderr.isatty():
        return _Quiet()
    return typer.progressbar(length=total, label=label, file=sys.stderr)


def _filters(specs: list[str], junction: str) -> dict[str, Any]:
    """--filter FIELD:CONDITION:VALUE options as the API's filters object."""
    filters: dict[str, Any] = {"junction": junction} if specs else {}
    for spec in specs:
        parts = spec.split(":", 2)
        if len(parts) < 2:
            raise ValueError(f"--filter {spec}: expected FIELD:CONDITION:VALUE")
        field, condition = parts[0], "$" + parts[1].lstrip("$")
        value: Any = parts[2] if len(parts) == 3 else True
        if condition in ("$in", "$not_in"):
            value = value.split(",")
        filters.setdefault(field, {"conditions": {}})["conditions"][condition] = value
    return filters


def _open_db() -> Any:
    """The database of TALLY_DATABASE_URL, an embedded SQLite one migrated first (as
    `tally serve` does): no command meets a file without Tally's tables."""
    from tally.db.engine import Database, is_sqlite
    from tally.db.migrate import upgrade

    url = get_settings().database_url
    if is_sqlite(url):
        upgrade(url)
    return Database(url, pool_size=1)


@webhooks_app.command("add")
def webhooks_add(
    url: Annotated[str, typer.Argument(help="Where to POST the events (http or https).")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", help="An event type to send (repeat it); default: all ('*')."),
    ] = None,
    project: ProjectOption = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False,
) -> None:
    """Add a webhook endpoint and print its signing secret (shown only once)."""
    from tally.clock import utcnow
    from tally.errors import TallyError
    from tally.webhooks import presenter, service

    settings = get_settings()
    try:
        service.check_url(url, allow_private=settings.webhooks_allow_private)
    except TallyError as exc:
        typer.echo(f"error: {exc.details or exc.message}", err=True)
        raise typer.Exit(2) from None
    db = _open_db()
    try:
        with db.transaction(write=True) as conn:
            try:
                row = service.create(
                    conn,
                    project_id=_project_id(conn, project),
                    url=url,
                    events=event or [service.ALL_EVENTS],
                    now=utcnow(),
                )
            except TallyError as exc:
                typer.echo(f"error: {exc.details or exc.message}", err=True)
                raise typer.Exit(2) from None
    finally:
        db.dispose()
    if as_json:
        typer.echo(json.dumps(presenter.webhook_json(row, with_secret=True), indent=2))
        return
    typer.echo(f"webhook_id: {row['id']}")
    typer.echo(f"url:        {row['url']}")
    typer.echo(f"events:     {', '.join(row['events'])}")
    typer.echo(f"secret:     {row['secret']}")


@webhooks_app.command("list")
def webhooks_list(project: ProjectOption = None) -> None:
    """The project's webhook endpoints (without their secrets)."""
    from tally.webhooks import service

    db = _open_db()
    try:
        with db.transaction(write=False) as conn:
            rows, _ = service.list_page(
                conn, project_id=_project_id(conn, project), limit=100, page=1
            )
    finally:
        db.dispose()
    for row in rows:
        state = "active" if row["active"] else f"disabled ({row['disabled_reason']})"
        typer.echo(f"{row['id']}  {row['url']}  [{', '.join(row['events'])}]  {state}")


@webhooks_app.command("remove")
def webhooks_remove(
    webhook_id: Annotated[str, typer.Argument(help="The endpoint's id (wh_...).")],
    project: ProjectOption = None,
) -> None:
    """Remove a webhook endpoint and its delivery log."""
    from tally.errors import TallyError
    from tally.webhooks import service

    db = _open_db()
    try:
        with db.transaction(write=True) as conn:
            try:
                service.delete(conn, project_id=_project_id(conn, project), webhook_id=webhook_id)
            except TallyError as exc:
                typer.echo(f"error: {exc.details or exc.message}", err=True)
                raise typer.Exit(2) from None
    finally:
        db.dispose()
    typer.echo(f"removed {webhook_id}")


FromOption = Annotated[
    str, typer.Option("--from", help="The database to read (SQLAlchemy URL).", show_default=False)
]
ToOption = Annotated[
    str, typer.Option("--to", help="The database to write (SQLAlchemy URL).", show_default=False)
]
CopyProjectOption = Annotated[
    str | None,
    typer.Option("--project", help="Project id or name; default: every project of --from."),
]
BatchOption = Annotated[int, typer.Option("--batch-size", min=1, help="Rows a transaction.")]


@db_app.command("copy")
def db_copy(
    from_url: FromOption,
    to_url: ToOption,
    project: CopyProjectOption = None,
    batch_size: BatchOption = 2000,
    force: Annotated[
        bool, typer.Option("--force", help="Copy even when another process uses a database.")
    ] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="A line per batch.")] = False,
) -> None:
    """Copy a project's data (every project's without --project) from one database to
    another, e.g. SQLite to PostgreSQL: migrates --to first, copies in batches, carries on
    where an interrupted copy stopped when run again, and compares every table's rows and
    checksum at the end (exit status 1 on a difference). Stop servers and workers first."""
    from sqlalchemy.exc import SQLAlchemyError

    from tally.db.copy import copy_database
    from tally.db.refused import Refused

    def progress(project_id: str, table: str, rows: int) -> None:
        if verbose:
            typer.echo(f"{project_id} {table}: +{rows} rows")

    try:
        copies = copy_database(
            from_url,
            to_url,
            project=project,
            batch_size=batch_size,
            force=force,
            after_batch=progress,
        )
    except Refused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        _database_error(exc, copying=True)
        raise typer.Exit(1) from None
    _print_copies(copies, copying=True)


@db_app.command("verify")
def db_verify(
    from_url: FromOption,
    to_url: ToOption,
    project: CopyProjectOption = None,
    batch_size: BatchOption = 2000,
) -> None:
    """Compare a project's rows (every project's without --project) in two databases by
    count and checksum, as db copy does at its end; exit status 1 on a difference."""
    from sqlalchemy.exc import SQLAlchemyError

    from tally.db.copy import verify_database
    from tally.db.refused import Refused

    try:
        copies = verify_database(from_url, to_url, project=project, batch_size=batch_size)
    except Refused as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    except SQLAlchemyError as exc:
        _database_error(exc, copying=False)
        raise typer.Exit(1) from None
    _print_copies(copies, copying=False)


def _database_error(exc: Exception, *, copying: bool) -> None:
    """What went wrong, as the driver's first line and where (tally.db.copy notes which
    table of which project it was copying): never SQLAlchemy's whole text, which shows the
    statement and the rows' values, API token hashes and webhook secrets among them. Then
    whether running the command again helps: after an interruption it does, after a row
    the target refuses it does not (it would stop at the same row)."""
    from sqlalchemy.exc import DBAPIError, IntegrityError, InterfaceError, OperationalError

    from tally.db.sqlite_files import is_busy

    cause = exc.orig if isinstance(exc, DBAPIError) else exc
    lines = str(cause).strip().splitlines()
    said = lines[0] if lines else type(cause).__name__
    notes: list[str] = getattr(exc, "__notes__", [])
    typer.echo(f"error{''.join(f' ({note})' for note in notes)}: {said}", err=True)
    if not copying:
        return
    if isinstance(cause, sqlite3.Error):
        # SQLite's OperationalError is also a missing file or table: only a lock another
        # process held goes away by itself.
        interrupted = is_busy(cause)
    else:
        # PostgreSQL: a connection refused or lost, a server shut down, a lock or a timeout.
        interrupted = isinstance(exc, OperationalError | InterfaceError) or (
            isinstance(exc, DBAPIError) and exc.connection_invalidated
        )
    if interrupted:
        advice = (
            "the copy was interrupted or could not connect (nothing in the data): once the "
            "databases are reachable, run the same command: a copy that had begun goes on "
            "after its last batch"
        )
    elif notes or isinstance(exc, IntegrityError):
        advice = (
            "the target refused a row (not an interruption): the same command would stop at "
            "the same row. Correct what the error names (the row in the source, or what it "
            "clashes with in the target), then run the same command: it goes on after its "
            "last batch"
        )
    else:
        advice = (
            "not an interruption: correct its cause, then run the same command (a copy that "
            "had begun goes on after its last batch)"
        )
    typer.echo(advice, err=True)


def _print_copies(copies: "list[ProjectCopy]", *, copying: bool) -> None:
    """Each table's rows and checksum on both sides (the checksums cut to 16 digits: the
    comparison is made on all 32)."""
    failed: list[str] = []
    hidden: list[str] = []
    for copy in copies:
        state = " (carried on)" if copy.resumed else ""
        typer.echo(f"project {copy.project_id} ({copy.name}){state}")
        typer.echo(
            f"  {'table':<28}{'rows from':>11}{'rows to':>11}  {'checksum from':<18}"
            f"{'checksum to':<18}"
        )
        for table, source in copy.source.items():
            target = copy.target[table]
            verdict = "ok" if table not in copy.mismatched else "MISMATCH"
            typer.echo(
                f"  {table:<28}{source.rows:>11}{target.rows:>11}  {source.checksum[:16]:<18}"
                f"{target.checksum[:16]:<18}{verdict}"
            )
        if copy.hidden_events:
            typer.echo(f"  {copy.hidden_events} events are hidden in the target by their txid")
            hidden.append(f"{copy.hidden_events} of project {copy.project_id}")
        if copying:
            typer.echo(f"  copied {sum(copy.copied.values())} rows in this run")
        failed.extend(f"{table} (project {copy.project_id})" for table in copy.mismatched)
    if failed:
        typer.echo(f"error: the databases differ in {', '.join(failed)}", err=True)
        if hidden:
            typer.echo(
                f"error: events table: {', '.join(hidden)} events are not listed by the "
                "target (GET /v1/events, customer activity, webhooks): their txid is not "
                "below its oldest running transaction, as after a pg_restore from another "
                "PostgreSQL server. Restore into a scratch database of the target's server "
                "and tally db copy from it (docs/operations.md, section Backups)",
                err=True,
            )
        raise typer.Exit(1)
    typer.echo("every table matches")


def main() -> None:
    app()
