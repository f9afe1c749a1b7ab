"""The `tally` command."""

import json
from typing import Annotated, Any

import typer

from tally.config import get_settings

app = typer.Typer(
    help="Tally: orders and promotions engine speaking Voucherify's API.",
    no_args_is_help=True,
    add_completion=False,
)
projects_app = typer.Typer(help="Projects and their API keys.", no_args_is_help=True)
app.add_typer(projects_app, name="projects")


@app.command()
def migrate() -> None:
    """Apply every pending database migration (TALLY_DATABASE_URL)."""
    from tally.db.migrate import upgrade

    upgrade(get_settings().database_url)
    typer.echo("database is up to date")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, help="Server processes.")] = 1,
) -> None:
    """Run the HTTP API. On the embedded SQLite default the database migrates itself."""
    import uvicorn

    from tally.app import configure_logging
    from tally.db.engine import is_sqlite
    from tally.db.migrate import upgrade

    settings = get_settings()
    configure_logging(settings.log_level)
    if is_sqlite(settings.database_url):
        upgrade(settings.database_url)
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
    """Run jobs (order imports) until stopped: for running them apart from the API
    (set TALLY_JOBS_IN_SERVER=false on the servers). Any number may run, on any machine."""
    import signal

    from tally.app import configure_logging
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
    # SIGTERM ends the loop at the next step boundary; the job goes back to the queue.
    signal.signal(signal.SIGTERM, lambda *_: runner.stop(timeout=0))
    try:
        runner.run_forever()
    except KeyboardInterrupt:
        pass
    finally:
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
    from tally.db.engine import Database
    from tally.projects.repository import list_projects

    db = Database(get_settings().database_url, pool_size=1)
    try:
        with db.transaction(write=False) as conn:
            for row in list_projects(conn):
                typer.echo(f"{row['id']}\t{row['app_id']}\t{row['name']}")
    finally:
        db.dispose()


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
    from tally.db.engine import Database
    from tally.projects.repository import set_stacking_rules, stacking_rules
    from tally.validations.stacking import StackingRules

    db = Database(get_settings().database_url, pool_size=1)
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


def _project_id(conn: Any, project: str) -> str:
    from tally.projects.repository import list_projects

    for row in list_projects(conn):
        if project in (row["id"], row["name"]):
            return str(row["id"])
    typer.echo(f"error: no project {project}", err=True)
    raise typer.Exit(2)


def main() -> None:
    app()
