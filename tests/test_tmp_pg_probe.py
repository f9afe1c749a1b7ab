import psycopg
from sqlalchemy import create_engine, text

from support.postgres import PostgresServer


def test_pg_select_1(postgres_server: PostgresServer) -> None:
    name = postgres_server.create_database()
    with psycopg.connect(**postgres_server.conninfo(name)) as conn:
        assert conn.execute("select 1").fetchone() == (1,)
        assert conn.execute("show fsync").fetchone() == ("off",)
        assert conn.execute("select current_database()").fetchone() == (name,)
    postgres_server.drop_database(name)


def test_db_url(db_url: str) -> None:
    engine = create_engine(db_url)
    with engine.connect() as conn:
        assert conn.execute(text("select 1")).scalar() == 1
        if db_url.startswith("postgresql"):
            assert conn.execute(text("show synchronous_commit")).scalar() == "off"
            assert conn.execute(text("show full_page_writes")).scalar() == "off"
    engine.dispose()
    print(db_url)
