"""Liveness and readiness probes."""

from __future__ import annotations

from support.inprocess import open_app_client


def test_ready_when_migrated_and_not_when_the_database_is_behind(migrated_db_url: str) -> None:
    from tally.db.migrate import downgrade, upgrade

    with open_app_client(migrated_db_url) as client:
        assert client.anonymous.get("/health").json() == {"status": "ok"}
        assert client.anonymous.get("/health/ready").json() == {"status": "ok"}
        # A database older than the code (a deploy that skipped `tally migrate`).
        downgrade(migrated_db_url, "0014")
        try:
            live = client.anonymous.get("/health")
            ready = client.anonymous.get("/health/ready")
        finally:
            upgrade(migrated_db_url)
        assert live.status_code == 200  # alive all the same: do not restart it
        assert ready.status_code == 503
        body = ready.json()
        assert body["status"] == "unavailable"
        assert "0014" in body["reason"] and "tally migrate" in body["reason"]
        assert "postgresql" not in body["reason"] and "sqlite" not in body["reason"]
        assert client.anonymous.get("/health/ready").status_code == 200


def test_a_database_migrated_past_this_release_keeps_it_ready(migrated_db_url: str) -> None:
    """A rolling deploy runs `tally migrate` first: the old release's processes must not
    all turn unready at that moment (migrations are additive)."""
    import sqlalchemy as sa

    from tally.db.engine import Database

    with open_app_client(migrated_db_url) as client:
        db = Database(migrated_db_url, pool_size=1)
        try:
            with db.transaction(write=True) as conn:
                before = conn.execute(sa.text("SELECT version_num FROM alembic_version")).scalar()
                conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
            try:
                ready = client.anonymous.get("/health/ready")
            finally:
                with db.transaction(write=True) as conn:
                    conn.execute(
                        sa.text("UPDATE alembic_version SET version_num = :v"), {"v": before}
                    )
        finally:
            db.dispose()
        assert ready.status_code == 200, ready.text
