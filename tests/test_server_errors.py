"""A real fault inside the app is a 500 with the error JSON and nothing internal in it."""

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from support.inprocess import AppClient, open_app_client


@pytest.fixture
def fragile(db_url: str, tmp_path: Path) -> Iterator[AppClient]:
    with open_app_client(db_url, raise_server_exceptions=False) as app_client:
        yield app_client


def test_database_fault_is_a_clean_500(fragile: AppClient) -> None:
    assert fragile.post("/v1/orders", json={"source_id": "x"}).status_code == 200
    # Break the storage under the running app: the orders table disappears.
    with fragile.db.transaction(write=True) as conn:
        conn.execute(sa.text("ALTER TABLE orders RENAME TO orders_gone"))
    response = fragile.get("/v1/orders/x")
    assert response.status_code == 500
    body = response.json()
    assert body["code"] == 500
    assert body["key"] == "internal_error"
    assert body["request_id"] in body["details"]
    text = response.text.lower()
    for leak in ("traceback", "sqlalchemy", "orders_gone", "select", 'file "'):
        assert leak not in text
