"""Order import from the request to DONE (issue 6's import benchmark), on SQLite and on
PostgreSQL.

    .venv/bin/python bench/imports.py                  # 3 imports of 2,000 orders an engine
    .venv/bin/python bench/imports.py --engines sqlite --repeat 5

One ``tally serve`` (its own job runner) pinned to one core. Each import is 2,000 orders of
three lines (bench/seed.py's create body: a new customer each, products by source_id), new
source_ids every time. Timed from sending POST /v1/orders/import to the async action's DONE,
polled every 50 ms; also printed, the async action's own processing_time (from its creation
in the request to DONE, measured by the server, not by the polling). Target: under 1 s on
SQLite, under 2 s on PostgreSQL.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support.postgres: the throwaway PostgreSQL server

from bench.run import BIN, _request, print_table, running  # noqa: E402
from bench.seed import order_body  # noqa: E402
from bench.sessions import _tally, database  # noqa: E402


def _import(
    base: str, headers: dict[str, str], orders: list[dict[str, Any]]
) -> tuple[float, float]:
    started = time.perf_counter()
    status, raw = _request(base, "POST", "/v1/orders/import", headers, orders)  # type: ignore[arg-type]
    if status != 200:
        raise SystemExit(f"import answered {status}: {raw[:300]!r}")
    action_id = json.loads(raw)["async_action_id"]
    while True:
        status, raw = _request(base, "GET", f"/v1/async-actions/{action_id}", headers, None)
        action = json.loads(raw)
        if action["status"] in ("DONE", "FAILED"):
            break
        # Every 50 ms: a poll takes its turn on the server's one core with the import itself
        # (at 10 ms the polls slowed the job they were waiting for by a third).
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    result = action.get("result") or {}
    if action["status"] != "DONE" or result.get("failed_count"):
        raise SystemExit(f"import ended {action['status']}: {json.dumps(result)[:300]}")
    return elapsed, action["processing_time"] / 1000


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--orders", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--server-cpu", default="0")
    options = parser.parse_args(argv)
    rows: list[tuple[str, ...]] = []
    for engine in options.engines:
        with tempfile.TemporaryDirectory(prefix=f"tally-imports-{engine}-") as tmp:
            workdir = Path(tmp)
            with database(engine, workdir) as url:
                _tally(["migrate"], url)
                made = json.loads(_tally(["projects", "create", "bench", "--json"], url))
                headers = {"X-App-Id": made["app_id"], "X-App-Token": made["app_token"]}
                env = {"TALLY_DATABASE_URL": url, "TALLY_JOB_POLL_MS": "50"}
                command = [str(BIN / "tally"), "serve"]
                times: list[float] = []
                processing_times: list[float] = []
                with running(
                    "tally", command, cpu=options.server_cpu, env=env, log=workdir / "serve.log"
                ) as server:
                    for round_no in range(options.repeat):
                        orders = [
                            order_body(f"{round_no}-{n}", variant=n) for n in range(options.orders)
                        ]
                        elapsed, processing = _import(server.base, headers, orders)
                        times.append(elapsed)
                        processing_times.append(processing)
                rows.append(
                    (
                        engine,
                        " / ".join(f"{t:.2f}" for t in times),
                        " / ".join(f"{options.orders / t:,.0f}" for t in times),
                        " / ".join(f"{t:.2f}" for t in processing_times),
                    )
                )
    print_table(
        f"Import of {options.orders:,} orders (3 lines, a new customer each), request to DONE",
        rows,
        ("engine", "seconds by round", "orders/s by round", "processing_time s"),
    )
    print("target: under 1 s on SQLite, under 2 s on PostgreSQL")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
