"""What validation rules cost a redemption (issue 5's benchmark), on SQLite.

    .venv/bin/python bench/rules.py                     # 10 s a run, 10,000 past orders
    .venv/bin/python bench/rules.py --duration 5 --past-orders 2000

One ``tally serve`` pinned to one core, wrk (50 connections) on the other. Two vouchers with
the same discount: PLAIN has no rules; RULED has one rule of five conditions (order amount,
items count, order metadata, customer metadata, and purchase history: the customer's paid
orders in the last 365 days). Both are redeemed by one customer with ``--past-orders`` paid
orders spread over the last two years, on a new five-line order each request, one after
the other in each of ``--repeat`` rounds. Printed: requests/s and p99 of each, and
RULED / PLAIN. Target: the rules cost at most 30% of the throughput.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.run import BIN, Server, _request, print_table, run_wrk, running  # noqa: E402
from bench.seed import PRODUCTS, validation_body  # noqa: E402

RULE = {
    "name": "five conditions",
    "rules": {
        "1": {"name": "order.amount", "conditions": {"$more_than_or_equal": [1000]}},
        "2": {"name": "order.items.count", "conditions": {"$more_than_or_equal": [2]}},
        "3": {"name": "order.metadata", "property": "channel", "conditions": {"$is": ["web"]}},
        "4": {
            "name": "customer.metadata",
            "property": "tier",
            "conditions": {"$in": ["gold", "silver"]},
        },
        "5": {
            "name": "x.customer.orders.count",
            "conditions": {"$more_than_or_equal": [1]},
            "rules": {
                "1": {
                    "name": "x.customer.orders.created_at",
                    "conditions": {"$less_than_ago": [365]},
                },
                "logic": "1",
            },
        },
        "logic": "1 and 2 and 3 and 4 and 5",
    },
}
CUSTOMER = {"source_id": "bench-heavy", "metadata": {"tier": "gold"}}


def _post(server: Server, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    status, raw = _request(server.base, "POST", path, headers, body)
    if not 200 <= status < 300:
        raise SystemExit(f"set-up POST {path} answered {status}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


def _setup(server: Server, headers: dict[str, str], past_orders: int) -> None:
    for source_id, name, price, meta in PRODUCTS:
        body = {"source_id": source_id, "name": name, "price": price, "metadata": meta}
        _post(server, headers, "/v1/products", body)
    _post(server, headers, "/v1/customers", CUSTOMER)
    discount = {"type": "AMOUNT", "amount_off": 300}
    for code in ("PLAIN", "RULED"):
        _post(
            server,
            headers,
            f"/v1/vouchers/{code}",
            {"type": "DISCOUNT_VOUCHER", "discount": discount},
        )
    rule = _post(server, headers, "/v1/validation-rules", RULE)
    _post(server, headers, f"/v1/validation-rules/{rule['id']}/assignments", {"voucher": "RULED"})
    # Spread over the last two years, as a loyal customer's orders would be: the rule's
    # 365-day window then spans a year of day buckets and cuts one day with orders on it.
    now = datetime.now(UTC)
    step = timedelta(days=730) / max(past_orders, 1)

    def past(number: int) -> Any:
        order = {
            "amount": 2500,
            "status": "PAID",
            "customer": {"source_id": CUSTOMER["source_id"]},
            "created_at": (now - step * (number + 1)).isoformat(),
        }
        return _post(server, headers, "/v1/orders", order)

    with ThreadPoolExecutor(max_workers=8) as pool:
        list(pool.map(past, range(past_orders)))


def _body(code: str) -> dict[str, Any]:
    body = validation_body()
    customer = {"source_id": CUSTOMER["source_id"]}
    body["redeemables"] = [{"object": "voucher", "id": code}]
    body["customer"] = customer
    body["order"] = {**body["order"], "metadata": {"channel": "web"}, "customer": customer}
    return body


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--past-orders", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--server-cpu", default="0")
    parser.add_argument("--client-cpu", default="1")
    options = parser.parse_args(argv)
    wrk = argparse.Namespace(threads=2, connections=50, timeout=10.0, client_cpu=options.client_cpu)
    results: dict[str, list[dict[str, Any]]] = {"PLAIN": [], "RULED": []}
    with tempfile.TemporaryDirectory(prefix="tally-rules-") as tmp:
        workdir = Path(tmp)
        url = f"sqlite:///{workdir / 'rules.db'}"
        env = {"TALLY_DATABASE_URL": url}
        subprocess.run(
            [str(BIN / "tally"), "migrate"],
            env={**os.environ, **env},
            check=True,
            capture_output=True,
        )
        made = json.loads(
            subprocess.run(
                [str(BIN / "tally"), "projects", "create", "bench", "--json"],
                env={**os.environ, **env},
                check=True,
                capture_output=True,
                text=True,
            ).stdout
        )
        creds = (made["app_id"], made["app_token"])
        headers = {"X-App-Id": creds[0], "X-App-Token": creds[1]}
        files = {}
        for code in results:
            files[code] = workdir / f"{code}.json"
            files[code].write_text(json.dumps(_body(code)))
        command = [str(BIN / "tally"), "serve"]
        with running(
            "tally", command, cpu=options.server_cpu, env=env, log=workdir / "setup.log"
        ) as server:
            _setup(server, headers, options.past_orders)
        for round_no in range(options.repeat):
            for code in results:
                log = workdir / f"{code}-{round_no}.log"
                with running("tally", command, cpu=options.server_cpu, env=env, log=log) as server:
                    args = (str(files[code]), "/v1/redemptions")
                    run_wrk(server, "post.lua", args, creds=creds, duration=3, options=wrk)
                    result, _ = run_wrk(
                        server,
                        "post.lua",
                        args,
                        creds=creds,
                        duration=options.duration,
                        options=wrk,
                    )
                if result["errors"]["status"]:
                    raise SystemExit(
                        f"{code}: {result['errors']['status']} failed answers; see {log}"
                    )
                results[code].append(result)
    rows: list[tuple[str, ...]] = []
    for code, runs in results.items():
        rows.append(
            (
                code,
                " / ".join(f"{r['rps']:.0f}" for r in runs),
                " / ".join(f"{r['latency_ms']['p99']:.0f}" for r in runs),
            )
        )
    ratios = [r["rps"] / p["rps"] for r, p in zip(results["RULED"], results["PLAIN"], strict=True)]
    print_table(
        f"Redemption with and without 5 rules, {options.past_orders:,} past orders, "
        f"{options.duration:g} s a run",
        rows,
        ("voucher", "requests/s by round", "p99 ms by round"),
    )
    print("RULED / PLAIN by round: " + ", ".join(f"{ratio:.2f}" for ratio in ratios))
    print("target: >= 0.70 (the rules cost at most 30%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
