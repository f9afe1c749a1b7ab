"""The dashboard on both engines, through the app in-process: sign-in with the project's
keys, the session cookie's flags and signature, CSRF on every form, every page refused
without a session, pages that show the API's orders and redemptions (escaped), keyset
paging, and another project's session seeing nothing of this one."""

import re
import time
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from support.inprocess import AppClient, ProjectKeys

PAGES = (
    "/dashboard/orders",
    "/dashboard/orders/o-1",
    "/dashboard/customers/cu-1",
    "/dashboard/redemptions",
)


def browser(client: AppClient, base_url: str = "http://testserver") -> TestClient:
    """A client without API keys, keeping cookies like a browser."""
    other = TestClient(client.app, base_url=base_url)
    other.portal = client.http.portal
    return other


def sign_in(page: TestClient, keys: ProjectKeys) -> Any:
    form = page.get("/dashboard/sign-in")
    assert form.status_code == 200
    token = re.search(r'name="token" value="([^"]+)"', form.text)
    assert token is not None
    return page.post(
        "/dashboard/sign-in",
        data={"token": token.group(1), "app_id": keys.app_id, "app_token": keys.app_token},
        follow_redirects=False,
    )


def csrf_of(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


@pytest.fixture
def shop(client: AppClient) -> Iterator[AppClient]:
    """A project with an order, a customer and a stacked redemption on another order."""
    for code, amount in (("DASH-A", 100), ("DASH-B", 250)):
        body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": amount}}
        assert client.post(f"/v1/vouchers/{code}", json=body).status_code == 200
    order = {
        "source_id": "o-1",
        "amount": 123_456,
        "status": "PAID",
        "customer": {"source_id": "cu-1", "name": "Ada <b>Lovelace</b>"},
        "metadata": {"note": "<script>alert(1)</script>"},
    }
    assert client.post("/v1/orders", json=order).status_code == 200
    redeemed = client.post(
        "/v1/redemptions",
        json={
            "redeemables": [
                {"object": "voucher", "id": "DASH-A"},
                {"object": "voucher", "id": "DASH-B"},
            ],
            "customer": {"source_id": "cu-1"},
            "order": {
                "source_id": "o-2",
                "items": [{"source_id": "sku-1", "quantity": 2, "price": 1500}],
            },
        },
    )
    assert redeemed.status_code == 200, redeemed.text
    yield client


def test_every_page_needs_a_session(shop: AppClient) -> None:
    page = browser(shop)
    for path in PAGES:
        response = page.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"] == "/dashboard/sign-in"
        assert "o-1" not in response.text
    # The API's keys are not a dashboard session either.
    assert shop.get("/dashboard/orders", follow_redirects=False).status_code == 303
    # A forged or altered cookie is no session.
    page.cookies.set(
        "tally_session", f"{shop.project.project_id}.9999999999.x.00", path="/dashboard"
    )
    assert page.get("/dashboard/orders", follow_redirects=False).status_code == 303
    # The stylesheet holds no project data: served to anyone.
    css = page.get("/dashboard/static/app.css")
    assert css.status_code == 200 and "text/css" in css.headers["content-type"]
    assert page.get("/dashboard/static/..%2Fauth.py").status_code == 404


def test_sign_in_sets_a_safe_cookie_and_refuses_bad_keys_and_forged_forms(
    shop: AppClient,
) -> None:
    page = browser(shop)
    wrong = ProjectKeys(shop.project.project_id, shop.project.app_id, "not-the-token")
    refused = sign_in(page, wrong)
    assert refused.status_code == 401 and "tally_session" not in refused.headers.get(
        "set-cookie", ""
    )
    # A form posted without the sign-in page's own token (cross-site) is refused.
    forged = browser(shop).post(
        "/dashboard/sign-in",
        data={"token": "x", "app_id": shop.project.app_id, "app_token": shop.project.app_token},
        follow_redirects=False,
    )
    assert forged.status_code == 403
    signed = sign_in(page, shop.project)
    assert signed.status_code == 303 and signed.headers["location"] == "/dashboard/orders"
    cookie = next(c for c in signed.headers.get_list("set-cookie") if "tally_session=" in c)
    flags = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/dashboard"} <= flags
    assert "secure" not in flags  # plain http here
    tls = browser(shop, base_url="https://testserver")
    tls_cookie = next(
        c for c in sign_in(tls, shop.project).headers.get_list("set-cookie") if "tally_session" in c
    )
    assert "secure" in {part.strip().lower() for part in tls_cookie.split(";")[1:]}


def test_pages_show_the_api_data_escaped(shop: AppClient) -> None:
    page = browser(shop)
    sign_in(page, shop.project)
    listed = page.get("/dashboard/orders")
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in listed.headers["content-security-policy"]
    assert "o-1" in listed.text and "o-2" in listed.text
    assert "1,234.56" in listed.text  # 123456 cents as money
    order = page.get("/dashboard/orders/o-1")
    assert order.status_code == 200
    assert "<script>alert(1)</script>" not in order.text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in order.text
    assert "Ada &lt;b&gt;Lovelace&lt;/b&gt;" in order.text
    stacked = page.get("/dashboard/orders/o-2")
    assert "Stacked redemption" in stacked.text
    assert "DASH-A" in stacked.text and "DASH-B" in stacked.text
    assert "26.50" in stacked.text  # 3,000 - 100 - 250 = 2,650 cents
    customer = page.get("/dashboard/customers/cu-1")
    assert customer.status_code == 200 and "customer.order.created" in customer.text
    redemptions = page.get("/dashboard/redemptions", params={"result": "SUCCESS"})
    assert redemptions.status_code == 200 and "DASH-B" in redemptions.text
    assert page.get("/dashboard/orders/nope").status_code == 404
    filtered = page.get("/dashboard/orders", params={"source_id": "o-2"})
    assert "o-2" in filtered.text and "/dashboard/orders/o-1" not in filtered.text
    assert page.get("/dashboard/orders", params={"created_from": "junk"}).status_code == 200


def test_sign_out_needs_the_csrf_token(shop: AppClient) -> None:
    page = browser(shop)
    sign_in(page, shop.project)
    html = page.get("/dashboard/orders").text
    assert page.post("/dashboard/sign-out", data={}, follow_redirects=False).status_code == 403
    assert (
        page.post("/dashboard/sign-out", data={"csrf": "wrong"}, follow_redirects=False).status_code
        == 403
    )
    assert page.get("/dashboard/orders", follow_redirects=False).status_code == 200
    out = page.post("/dashboard/sign-out", data={"csrf": csrf_of(html)}, follow_redirects=False)
    assert out.status_code == 303
    assert page.get("/dashboard/orders", follow_redirects=False).status_code == 303


def test_another_project_sees_nothing_of_this_one(shop: AppClient) -> None:
    other = shop.new_project("other")
    page = browser(shop)
    sign_in(page, other)
    assert "o-1" not in page.get("/dashboard/orders").text
    assert page.get("/dashboard/orders/o-1").status_code == 404
    assert page.get("/dashboard/customers/cu-1").status_code == 404
    assert "DASH-A" not in page.get("/dashboard/redemptions").text


def test_orders_page_by_keyset(client: AppClient) -> None:
    for i in range(120):
        assert (
            client.post("/v1/orders", json={"source_id": f"k-{i:03d}", "amount": 100}).status_code
            == 200
        )
    page = browser(client)
    sign_in(page, client.project)
    seen: list[str] = []
    url = "/dashboard/orders"
    pages = 0
    while url:
        html = page.get(url).text
        seen += re.findall(r">(k-\d{3})</a>", html)
        found = re.search(r'href="(\?[^"]*after=[^"]*)" rel="next"', html)
        url = "/dashboard/orders" + found.group(1).replace("&amp;", "&") if found else ""
        pages += 1
    assert pages == 3
    assert seen == [f"k-{i:03d}" for i in reversed(range(120))]


def test_an_uploaded_import_runs_and_its_progress_shows(client: AppClient) -> None:
    page = browser(client)
    sign_in(page, client.project)
    html = page.get("/dashboard/imports").text
    csrf = csrf_of(html)
    orders = (
        b'[{"source_id": "up-1", "amount": 100}, {"source_id": "up-2", "amount": 200},'
        b' {"source_id": "up-3", "amount": 300, "customer": {"id": "cust_nobody"}}]'
    )
    refused = page.post(
        "/dashboard/imports",
        data={},
        files={"file": ("orders.json", orders)},
        follow_redirects=False,
    )
    assert refused.status_code == 403
    bad = page.post(
        "/dashboard/imports",
        data={"csrf": csrf},
        files={"file": ("orders.json", b'[{"amount": "lots"}]')},
        follow_redirects=False,
    )
    assert bad.status_code == 400 and "Order 0.amount" in bad.text
    started = page.post(
        "/dashboard/imports",
        data={"csrf": csrf},
        files={"file": ("orders.json", orders)},
        follow_redirects=False,
    )
    assert started.status_code == 303, started.text
    action_url = started.headers["location"]
    assert action_url.startswith("/dashboard/async-actions/aa_")
    status: dict[str, Any] = {}
    for _ in range(300):
        status = page.get(action_url + "/status").json()
        if status["status"] in ("DONE", "FAILED"):
            break
        time.sleep(0.05)
    assert (status["status"], status["done"], status["failed"]) == ("DONE", 2, 1)
    detail = page.get(action_url)
    assert detail.status_code == 200 and "up-3" in detail.text
    assert client.get("/v1/orders/up-2").status_code == 200
    listed = page.get("/dashboard/async-actions")
    assert action_url.rsplit("/", 1)[1] in listed.text
    # Another project's session sees neither the page nor its status.
    other = browser(client)
    sign_in(other, client.new_project("other"))
    assert other.get(action_url).status_code == 404
    assert other.get(action_url + "/status").status_code == 404


def test_the_display_currency(shop: AppClient) -> None:
    page = browser(shop)
    sign_in(page, shop.project)
    csrf = csrf_of(page.get("/dashboard/settings").text)
    assert page.post("/dashboard/settings", data={"currency": "EUR"}).status_code == 403
    bad = page.post("/dashboard/settings", data={"csrf": csrf, "currency": "EURO"})
    assert bad.status_code == 400
    saved = page.post(
        "/dashboard/settings", data={"csrf": csrf, "currency": "eur"}, follow_redirects=False
    )
    assert saved.status_code == 303
    assert "1,234.56 EUR" in page.get("/dashboard/orders").text
    # Display only: the API's amounts are unchanged.
    assert shop.get("/v1/orders/o-1").json()["amount"] == 123_456
    page.post("/dashboard/settings", data={"csrf": csrf, "currency": ""})
    assert "1,234.56 EUR" not in page.get("/dashboard/orders").text


def test_a_cookie_with_a_nul_is_no_session(client: AppClient) -> None:
    page = browser(client)
    response = page.get(
        "/dashboard/orders",
        headers={"Cookie": 'tally_session="proj\\000x.1.2.3"'},
        follow_redirects=False,
    )
    assert response.status_code == 303


def test_keyset_paging_keeps_microseconds(client: AppClient) -> None:
    """Imported orders may carry times finer than a millisecond: a page's cursor keeps
    them, so no order between two pages is skipped."""
    for i in range(51):
        body = {
            "source_id": f"us-{i:02d}",
            "amount": 100,
            "created_at": f"2026-01-01T00:00:00.{123000 + i:06d}Z",
        }
        response = client.post("/v1/orders", json=body)
        assert response.status_code == 200, response.text
    page = browser(client)
    sign_in(page, client.project)
    first = page.get("/dashboard/orders").text
    found = re.search(r'href="(\?[^"]*after=[^"]*)" rel="next"', first)
    assert found is not None
    second = page.get("/dashboard/orders" + found.group(1).replace("&amp;", "&")).text
    seen = re.findall(r">(us-\d{2})</a>", first) + re.findall(r">(us-\d{2})</a>", second)
    assert sorted(seen) == [f"us-{i:02d}" for i in range(51)]


def test_a_cursor_out_of_range_in_utc_is_the_first_page(client: AppClient) -> None:
    """A cursor is the client's to send: one that does not parse, or whose offset takes it
    before year 1 in UTC, pages from the start (that one was a 500)."""
    assert client.post("/v1/orders", json={"source_id": "only", "amount": 100}).status_code == 200
    page = browser(client)
    sign_in(page, client.project)
    for after in ("0001-01-01T00:00:00+01:00|ord_x", "9999-12-31T23:00:00-05:00|ord_x", "x|y"):
        response = page.get("/dashboard/orders", params={"after": after})
        assert response.status_code == 200, after
        assert ">only</a>" in response.text


def test_the_export_form_refuses_too_many_fields_and_too_long_a_name(client: AppClient) -> None:
    """More fields than an export takes, or a name longer than one can be, is the form's
    fault: the page that refuses an unknown field (400), not a server error."""
    page = browser(client)
    sign_in(page, client.project)
    csrf = csrf_of(page.get("/dashboard/exports").text)
    for fields, says in (
        (["id"] * 101, "Property .fields: "),
        (["a" * 400], "Property .fields.0: "),
        (["bogus"], "Unsupported field used"),
    ):
        refused = page.post(
            "/dashboard/exports", data={"csrf": csrf, "fields": fields}, follow_redirects=False
        )
        assert refused.status_code == 400, (len(fields), refused.text[:200])
        assert "Export refused" in refused.text and says in refused.text
        assert "Sign out" in refused.text or "sign-out" in refused.text
    assert client.get("/v1/exports").json()["total"] == 0
    # The most the form may ask still starts an export.
    started = page.post(
        "/dashboard/exports", data={"csrf": csrf, "fields": ["id"] * 100}, follow_redirects=False
    )
    assert started.status_code == 303, started.text[:300]
