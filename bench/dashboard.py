"""The dashboard's speed at a million orders (issue 8's benchmark): the orders list and an
order page against the API's own answers for the same data, on SQLite.

    .venv/bin/python bench/dashboard.py                        # 1,000,000 orders
    .venv/bin/python bench/dashboard.py --orders 100000 --data-dir /tmp/tally-bench

One `tally serve` pinned to --server-cpu; requests one after another on one kept-alive
connection, so each time is the server's time plus a loopback round trip. Pairs, each page
of 50 orders:

- list page 1: GET /v1/orders?limit=50&page=1 vs /dashboard/orders
- list page 100: GET /v1/orders?limit=50&page=100 (an offset of 4,950) vs the dashboard's
  100th page, reached by its keyset cursor
- order: GET /v1/orders/{id} vs /dashboard/orders/{id}

Target: each dashboard page under 3x the API's time for the same page (median of the runs).
"""

from __future__ import annotations

import argparse
import http.client
import re
import statistics
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.run import BIN, HOST, ensure_dataset, print_table, running  # noqa: E402


class Client:
    def __init__(self, port: int) -> None:
        self.conn = http.client.HTTPConnection(HOST, port, timeout=60)
        self.cookies: dict[str, str] = {}

    def request(
        self, method: str, path: str, *, headers: dict[str, str] | None = None, body: str = ""
    ) -> tuple[int, str, float]:
        sent = dict(headers or {})
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if body:
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        started = time.perf_counter()
        self.conn.request(method, path, body=body or None, headers=sent)
        response = self.conn.getresponse()
        text = response.read().decode()
        elapsed = time.perf_counter() - started
        for header, value in response.getheaders():
            if header.lower() == "set-cookie":
                name, _, rest = value.partition("=")
                self.cookies[name] = rest.split(";", 1)[0]
        return response.status, text, elapsed


def _times(client: Client, path: str, runs: int, headers: dict[str, str] | None = None) -> float:
    found = []
    for _ in range(runs):
        status, _, elapsed = client.request("GET", path, headers=headers)
        if status != 200:
            raise SystemExit(f"GET {path} answered {status}")
        found.append(elapsed)
    return statistics.median(found)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=50)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--data-dir", type=Path, default=None)
    options = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="tally-bench-dashboard-") as tmp:
        data_dir = options.data_dir or Path(tmp)
        data_dir.mkdir(parents=True, exist_ok=True)
        dataset = ensure_dataset("dashboard", data_dir / "dashboard.db", options.orders)
        api = {"X-App-Id": dataset.seeded.app_id, "X-App-Token": dataset.seeded.app_token}
        env = {"TALLY_DATABASE_URL": dataset.url, "TALLY_LOG_LEVEL": "WARNING"}
        command = [str(BIN / "tally"), "serve"]
        with running(
            "tally", command, cpu=options.server_cpu, env=env, log=data_dir / "serve.log"
        ) as server:
            client = Client(server.port)
            _, form, _ = client.request("GET", "/dashboard/sign-in")
            token = re.search(r'name="token" value="([^"]+)"', form)
            assert token is not None
            body = urllib.parse.urlencode(
                {
                    "token": token.group(1),
                    "app_id": api["X-App-Id"],
                    "app_token": api["X-App-Token"],
                }
            )
            status, _, _ = client.request("POST", "/dashboard/sign-in", body=body)
            if status != 303:
                raise SystemExit(f"sign-in answered {status}")
            # The dashboard's 100th page: its cursor, reached page by page.
            path = "/dashboard/orders"
            for _ in range(99):
                _, html, _ = client.request("GET", path)
                found = re.search(r'href="(\?[^"]*after=[^"]*)" rel="next"', html)
                assert found is not None, "no next page"
                path = "/dashboard/orders" + found.group(1).replace("&amp;", "&")
            _, html, _ = client.request("GET", "/dashboard/orders")
            order_id = re.search(r'href="/dashboard/orders/(ord_[^"]+)"', html)
            assert order_id is not None
            pairs = [
                ("list page 1 (50 orders)", "/v1/orders?limit=50&page=1", "/dashboard/orders"),
                ("list page 100 (50 orders)", "/v1/orders?limit=50&page=100", path),
                (
                    "order page",
                    f"/v1/orders/{order_id.group(1)}",
                    f"/dashboard/orders/{order_id.group(1)}",
                ),
            ]
            rows = []
            for label, api_path, page_path in pairs:
                _times(client, api_path, 5, api)  # warm
                _times(client, page_path, 5)
                api_ms = _times(client, api_path, options.runs, api) * 1000
                page_ms = _times(client, page_path, options.runs) * 1000
                rows.append(
                    (
                        label,
                        f"{api_ms:.2f}",
                        f"{page_ms:.2f}",
                        f"{page_ms / api_ms:.2f}x",
                        "ok" if page_ms < 3 * api_ms else "MISS",
                    )
                )
    print_table(
        f"Dashboard against the API, {options.orders:,} orders, SQLite (median of {options.runs})",
        rows,
        ("page", "API ms", "dashboard ms", "ratio", "target < 3x"),
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
