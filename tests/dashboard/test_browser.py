"""The dashboard end to end in a real browser: headless Chromium from Debian driven by
Playwright, against a real `tally serve` on both engines. Sign in, see an order made through
the API, open it and see its redemptions, run an export and download it, upload an import
and watch it finish, sign out; at 1280 px and at a phone's width. Screenshots of the main
pages go to ``test-artifacts/screenshots/`` (not committed) for a person to look at.

Without Chromium the test is skipped locally and fails in CI (`.ci/run` installs it)."""

import csv
import io
import os
import shutil
from pathlib import Path

import httpx
import pytest

from support.server import LiveServer

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screenshots"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


def _browser_or_skip() -> None:
    if Path(CHROMIUM).exists():
        return
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail("Chromium is required in CI (apt-get install chromium)", pytrace=False)
    pytest.skip("Chromium not installed (apt-get install chromium)")


def _seed(server: LiveServer) -> None:
    with httpx.Client(base_url=server.base_url, headers=server.headers, timeout=30) as api:
        for code, amount in (("E2E-10", 1000), ("E2E-5", 500)):
            body = {
                "type": "DISCOUNT_VOUCHER",
                "discount": {"type": "AMOUNT", "amount_off": amount},
            }
            assert api.post(f"/v1/vouchers/{code}", json=body).status_code == 200
        order = {
            "source_id": "web-order-1",
            "customer": {"source_id": "web-customer", "name": "Grace Hopper"},
            "items": [
                {
                    "source_id": "keyboard",
                    "quantity": 1,
                    "price": 8900,
                    "product": {"name": "Keyboard"},
                },
                {"source_id": "mouse", "quantity": 2, "price": 2500, "product": {"name": "Mouse"}},
            ],
            "metadata": {"channel": "web"},
        }
        redeemed = api.post(
            "/v1/redemptions",
            json={
                "redeemables": [
                    {"object": "voucher", "id": "E2E-10"},
                    {"object": "voucher", "id": "E2E-5"},
                ],
                "customer": {"source_id": "web-customer"},
                "order": order,
            },
        )
        assert redeemed.status_code == 200, redeemed.text
        for i in range(3):
            api.post(
                "/v1/orders", json={"source_id": f"plain-{i}", "amount": 1000 + i, "status": "PAID"}
            )


def test_an_operator_works_through_the_dashboard(server: LiveServer, tmp_path: Path) -> None:
    _browser_or_skip()
    from playwright.sync_api import expect, sync_playwright

    _seed(server)
    engine = "sqlite" if server.db_url.startswith("sqlite") else "postgresql"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=["--headless", "--no-sandbox", "--disable-gpu"]
        )
        try:
            context = browser.new_context(
                viewport={"width": 1280, "height": 900}, accept_downloads=True
            )
            page = context.new_page()
            page.goto(f"{server.base_url}/dashboard/orders")
            expect(page).to_have_url(f"{server.base_url}/dashboard/sign-in")
            page.screenshot(path=ARTIFACTS / f"{engine}-sign-in.png", full_page=True)
            page.fill("input[name=app_id]", server.app_id)
            page.fill("input[name=app_token]", "wrong")
            page.click("button[type=submit]")
            expect(page.get_by_role("alert")).to_contain_text("do not open")
            page.fill("input[name=app_id]", server.app_id)
            page.fill("input[name=app_token]", server.app_token)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{server.base_url}/dashboard/orders")
            expect(page.get_by_role("link", name="web-order-1")).to_be_visible()
            page.screenshot(path=ARTIFACTS / f"{engine}-orders.png", full_page=True)

            page.get_by_role("link", name="web-order-1").click()
            expect(page.get_by_role("heading", name="Order web-order-1")).to_be_visible()
            expect(page.get_by_text("Stacked redemption")).to_be_visible()
            expect(page.get_by_text("E2E-10")).to_be_visible()
            # 89.00 + 2 x 25.00 = 139.00, less 10.00 and 5.00.
            expect(page.locator(".amounts dd.total")).to_have_text("124.00")
            page.screenshot(path=ARTIFACTS / f"{engine}-order.png", full_page=True)
            page.get_by_role("link", name="Grace Hopper").click()
            expect(page.get_by_text("customer.redemption.succeeded").first).to_be_visible()
            page.screenshot(path=ARTIFACTS / f"{engine}-customer.png", full_page=True)

            page.goto(f"{server.base_url}/dashboard/exports")
            page.uncheck("input[value=status]")
            page.check("input[value=total_amount]")
            page.select_option("select[name=status]", "PAID")
            page.click("text=Start export")
            download_link = page.locator("a[data-field=download]")
            expect(download_link).to_be_visible(timeout=30_000)
            page.screenshot(path=ARTIFACTS / f"{engine}-export.png", full_page=True)
            with page.expect_download() as waiting:
                download_link.click()
            saved = tmp_path / "orders.csv"
            waiting.value.save_as(saved)
            rows = list(csv.reader(io.StringIO(saved.read_text())))
            assert rows[0] == ["id", "source_id", "total_amount"]
            assert sorted(r[1] for r in rows[1:]) == [
                "plain-0",
                "plain-1",
                "plain-2",
                "web-order-1",
            ]

            # An import uploaded from a file, watched until its async action is done.
            upload = tmp_path / "more-orders.json"
            upload.write_text(
                '[{"source_id": "imported-1", "amount": 700},'
                ' {"source_id": "imported-2", "amount": 800}]'
            )
            page.goto(f"{server.base_url}/dashboard/imports")
            page.set_input_files("input[name=file]", str(upload))
            page.click("button:has-text('Import')")
            expect(page.locator("[data-field=status]")).to_have_text("DONE", timeout=30_000)
            expect(page.locator("[data-field=done]")).to_have_text("2")
            page.screenshot(path=ARTIFACTS / f"{engine}-import.png", full_page=True)
            page.goto(f"{server.base_url}/dashboard/orders")
            expect(page.get_by_role("link", name="imported-2")).to_be_visible()

            # A phone's width: the same pages, readable.
            phone = browser.new_context(
                viewport={"width": 390, "height": 844}, storage_state=context.storage_state()
            )
            small = phone.new_page()
            small.goto(f"{server.base_url}/dashboard/orders")
            expect(small.get_by_role("link", name="web-order-1")).to_be_visible()
            small.screenshot(path=ARTIFACTS / f"{engine}-orders-phone.png", full_page=True)
            small.goto(f"{server.base_url}/dashboard/orders/web-order-1")
            small.screenshot(path=ARTIFACTS / f"{engine}-order-phone.png", full_page=True)
            phone.close()

            page.goto(f"{server.base_url}/dashboard/orders")
            page.click("text=Sign out")
            expect(page).to_have_url(f"{server.base_url}/dashboard/sign-in")
            page.goto(f"{server.base_url}/dashboard/orders")
            expect(page).to_have_url(f"{server.base_url}/dashboard/sign-in")
        finally:
            browser.close()
