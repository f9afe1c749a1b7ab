"""Order export from the request to DONE (issue 6's export benchmark), on SQLite and on
PostgreSQL, with the serving process's peak memory.

    .venv/bin/python bench/exports.py                          # 1,000,000 orders an engine
    .venv/bin/python bench/exports.py --orders 200000 --engines sqlite

The orders are written straight into the database (bulk inserts: this measures the export,
not the import), each with three lines and about 300 bytes of metadata. One ``tally serve``
(its own job runner) pinned to one core writes the CSV: 10 fields including ``metadata`` and
``metadata.payment_mean``. Timed from POST /v1/orders/export to the export's DONE, polled
every 20 ms; then the file is downloaded by its token and its rows counted. Printed: seconds,
rows/s, the server's resident memory before the export and its peak (VmHWM) after.
Targets: at least 100,000 rows/s, peak under 150 MB.
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
import urllib.request
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support.postgres: the throwaway PostgreSQL server

from bench.run import BIN, _request, print_table, running  # noqa: E402
from bench.sessions import _tally, database  # noqa: E402

FIELDS = [
    "id",
    "source_id",
    "status",
    "created_at",
    "amount",
    "discount_amount",
    "total_amount",
    "customer_id",
    "metadata",
    "metadata.payment_mean",
]


def seed(url: str, project_id: str, count: int) -> None:
    """``count`` orders of three lines, inserted in batches of 10,000."""
    import sqlalchemy as sa

    from tally.db.engine import Database
    from tally.orders.tables import orders

    rng = random.Random(7)
    start = datetime(2024, 1, 1, tzinfo=UTC)
    db = Database(url, pool_size=1)
    try:
        for first in range(0, count, 10_000):
            rows = []
            for n in range(first, min(count, first + 10_000)):
                lines = [
                    {
                        "id": f"ordli_{n:08d}{k}",
                        "source_id": f"sku-{rng.randrange(500)}",
                        "related_object": "product",
                        "quantity": 1 + k,
                        "price": 1000 + k,
                        "amount": (1000 + k) * (1 + k),
                        "discount_amount": 0,
                        "initial_amount": (1000 + k) * (1 + k),
                    }
                    for k in range(3)
                ]
                amount = sum(line["amount"] for line in lines)
                rows.append(
                    {
                        "id": f"ord_bench{n:015d}",
                        "project_id": project_id,
                        "source_id": f"src-{n}",
                        "status": "PAID" if n % 3 else "CREATED",
                        "amount": amount,
                        "initial_amount": amount,
                        "discount_amount": 0,
                        "items_discount_amount": 0,
                        "total_amount": amount,
                        "items": lines,
                        "metadata": {
                            "payment_mean": rng.choice(["card", "cash", "=transfer"]),
                            "channel": "web",
                            "campaign": f"spring-{n % 17}",
                            "note": "x" * rng.randrange(50, 200),
                            "score": rng.random(),
                        },
                        "redemptions": {},
                        "customer_id": None,
                        "referrer_id": None,
                        "created_at": start + timedelta(seconds=n * 7),
                        "updated_at": None,
                    }
                )
            with db.transaction(write=True) as conn:
                conn.execute(sa.insert(orders), rows)
    finally:
        db.dispose()


def _rss_kb(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def _export(base: str, headers: dict[str, str]) -> tuple[float, str]:
    started = time.perf_counter()
    body = {"parameters": {"fields": FIELDS, "order": "-created_at"}}
    status, raw = _request(base, "POST", "/v1/orders/export", headers, body)
    if status != 200:
        raise SystemExit(f"export answered {status}: {raw[:300]!r}")
    export_id = json.loads(raw)["id"]
    while True:
        status, raw = _request(base, "GET", f"/v1/exports/{export_id}", headers, None)
        export = json.loads(raw)
        if export["status"] in ("DONE", "ERROR"):
            break
        time.sleep(0.02)
    elapsed = time.perf_counter() - started
    if export["status"] != "DONE":
        raise SystemExit(f"export ended {export['status']}")
    return elapsed, export["result"]["url"]


def _download_rows(url: str) -> int:
    lines = 0
    with urllib.request.urlopen(url, timeout=600) as response:
        while chunk := response.read(1 << 20):
            lines += chunk.count(b"\n")
    return lines - 1  # the header


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--orders", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--server-cpu", default="0")
    options = parser.parse_args(argv)
    rows: list[tuple[str, ...]] = []
    for engine in options.engines:
        with tempfile.TemporaryDirectory(prefix=f"tally-exports-{engine}-") as tmp:
            workdir = Path(tmp)
            with database(engine, workdir) as url:
                _tally(["migrate"], url)
                made = json.loads(_tally(["projects", "create", "bench", "--json"], url))
                headers = {"X-App-Id": made["app_id"], "X-App-Token": made["app_token"]}
                began = time.perf_counter()
                seed(url, made["project_id"], options.orders)
                print(
                    f"{engine}: seeded {options.orders:,} orders in "
                    f"{time.perf_counter() - began:.0f} s",
                    flush=True,
                )
                env = {
                    "TALLY_DATABASE_URL": url,
                    "TALLY_JOB_POLL_MS": "50",
                    "TALLY_EXPORTS_DIR": str(workdir / "exports"),
                }
                command = [str(BIN / "tally"), "serve"]
                with running(
                    "tally", command, cpu=options.server_cpu, env=env, log=workdir / "serve.log"
                ) as server:
                    pid = server.proc.pid
                    for round_no in range(options.repeat):
                        before = _rss_kb(pid, "VmRSS")
                        seconds, url_ = _export(server.base, headers)
                        peak = _rss_kb(pid, "VmHWM")
                        counted = _download_rows(url_)
                        if counted != options.orders:
                            raise SystemExit(f"the file has {counted} rows")
                        rows.append(
                            (
                                engine,
                                str(round_no + 1),
                                f"{seconds:.2f}",
                                f"{options.orders / seconds:,.0f}",
                                f"{before / 1024:.0f}",
                                f"{peak / 1024:.0f}",
                            )
                        )
                        print(" ".join(rows[-1]), flush=True)
    print_table(
        f"export of {options.orders:,} orders, {len(FIELDS)} fields",
        rows,
        ("engine", "round", "seconds", "rows/s", "RSS before MB", "peak RSS MB"),
    )
    print("targets: >= 100,000 rows/s; peak RSS < 150 MB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
