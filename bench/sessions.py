"""Redemptions with several server processes and on contended orders, on SQLite and on
PostgreSQL (issue 4's benchmark).

    .venv/bin/python bench/sessions.py                 # 10 s a run
    .venv/bin/python bench/sessions.py --duration 5 --engines sqlite

Two measurements per engine, each run after a discarded warm-up, wrk on its own core:

- redeem: bench/run.py's redemption (three vouchers, a new five-line order of catalogue
  products each request, 50 connections) against ``tally serve --workers 1`` and then
  ``--workers 2``: requests/s and p99 of each, and their ratio. The server processes share
  one core (``--server-cpu``) in both runs, so the ratio is what coordinating processes costs
  (or saves), not what a second core adds. PostgreSQL itself is not pinned.
- contended: 50 connections redeem one voucher on 10 existing orders (bench/lua/hot.lua),
  with TALLY_ORDER_SESSION_WAIT_MS=0 (Voucherify's fail-fast) and at Tally's default: the
  requests/s and the share answered ``multiple_requests``. The run is checked: redemptions
  recorded must equal the successful answers.

Figures go to stdout and to ``bench/results/sessions-<timestamp>.json``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))  # support.postgres: the throwaway PostgreSQL server

from bench.run import (  # noqa: E402
    BIN,
    RESULTS,
    VOUCHER_SETUP,
    Server,
    _request,
    print_table,
    run_wrk,
    running,
)
from bench.seed import PRODUCTS, validation_body  # noqa: E402

CONNECTIONS = 50
HOT_ORDERS = 10
DEFAULT_WAIT_MS = 500  # tally.config.Settings.order_session_wait_ms


def _tally(args: list[str], url: str) -> str:
    done = subprocess.run(
        [str(BIN / "tally"), *args],
        env={**os.environ, "TALLY_DATABASE_URL": url},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout


@contextlib.contextmanager
def database(engine: str, workdir: Path) -> Iterator[str]:
    if engine == "sqlite":
        yield f"sqlite:///{workdir / 'sessions.db'}"
        return
    from support.postgres import PostgresServer  # type: ignore[import-not-found]

    pg = PostgresServer.start()
    try:
        yield pg.url(pg.create_database("bench"))
    finally:
        pg.stop()


def _server(url: str, workers: int, wait_ms: int, log: Path, cpu: str | None) -> Any:
    env = {
        "TALLY_DATABASE_URL": url,
        "TALLY_ORDER_SESSION_WAIT_MS": str(wait_ms),
        "TALLY_DB_POOL_SIZE": "10",
    }
    command = [str(BIN / "tally"), "serve", "--workers", str(workers)]
    return running(f"tally x{workers}", command, cpu=cpu, env=env, log=log)


def _post(server: Server, headers: dict[str, str], path: str, body: dict[str, Any]) -> Any:
    status, raw = _request(server.base, "POST", path, headers, body)
    if not (200 <= status < 300 or status == 409):
        raise SystemExit(f"set-up POST {path} answered {status}: {raw[:300]!r}")
    return json.loads(raw) if raw else None


def _get(server: Server, headers: dict[str, str], path: str) -> Any:
    status, raw = _request(server.base, "GET", path, headers, None)
    if status != 200:
        raise SystemExit(f"GET {path} answered {status}")
    return json.loads(raw)


def _wrk(
    server: Server,
    script: str,
    args: Sequence[str],
    creds: tuple[str, str],
    duration: float,
    options: argparse.Namespace,
) -> dict[str, Any]:
    wrk_options = argparse.Namespace(
        threads=2, connections=CONNECTIONS, timeout=10.0, client_cpu=options.client_cpu
    )
    run_wrk(server, script, args, creds=creds, duration=min(3.0, duration), options=wrk_options)
    result, _ = run_wrk(server, script, args, creds=creds, duration=duration, options=wrk_options)
    return result


def redeem_runs(
    url: str, creds: tuple[str, str], workdir: Path, options: argparse.Namespace
) -> dict[int, dict[str, Any]]:
    headers = {"X-App-Id": creds[0], "X-App-Token": creds[1]}
    body_file = workdir / "redeem.json"
    body_file.write_text(json.dumps(validation_body()))
    out: dict[int, dict[str, Any]] = {}
    for workers in (1, 2):
        log = workdir / f"redeem-x{workers}.log"
        with _server(url, workers, DEFAULT_WAIT_MS, log, options.server_cpu) as server:
            for source_id, name, price, meta in PRODUCTS:
                product = {"source_id": source_id, "name": name, "price": price, "metadata": meta}
                _post(server, headers, "/v1/products", product)
            for _method, path, voucher in VOUCHER_SETUP:
                _post(server, headers, path, voucher)
            result = _wrk(
                server,
                "post.lua",
                (str(body_file), "/v1/redemptions"),
                creds,
                options.duration,
                options,
            )
        if result["errors"]["status"]:
            raise SystemExit(f"redeem x{workers}: {result['errors']['status']} failed answers")
        out[workers] = result
    return out


def contended_runs(
    url: str, creds: tuple[str, str], workdir: Path, options: argparse.Namespace
) -> dict[int, dict[str, Any]]:
    headers = {"X-App-Id": creds[0], "X-App-Token": creds[1]}
    out: dict[int, dict[str, Any]] = {}
    for wait_ms in (0, DEFAULT_WAIT_MS):
        run = secrets.token_hex(3)
        code = f"HOT-{run}".upper()
        log = workdir / f"contended-{wait_ms}.log"
        with _server(url, 1, wait_ms, log, options.server_cpu) as server:
            voucher = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": 1}}
            _post(server, headers, f"/v1/vouchers/{code}", voucher)
            ids = []
            for n in range(HOT_ORDERS):
                order = {"source_id": f"hot-{run}-{n}", "amount": 10**12}
                ids.append(_post(server, headers, "/v1/orders", order)["id"])
            ids_file = workdir / f"hot-{run}.txt"
            ids_file.write_text("\n".join(ids) + "\n")
            result = _wrk(
                server, "hot.lua", (str(ids_file), code), creds, options.duration, options
            )
            landed = _get(server, headers, f"/v1/vouchers/{code}")["redemption"][
                "redeemed_quantity"
            ]
        answered = result["requests"]
        refused = result["errors"]["status"]
        # Warm-up and measured run both redeemed: compare what the database holds with what
        # the measured run alone cannot tell, so check the weaker invariant here and the exact
        # one in the tests (tests/redemptions/test_redemptions_concurrency.py).
        if landed < answered - refused:
            raise SystemExit(f"contended wait {wait_ms}: {landed} recorded < successful answers")
        result["refused_share"] = refused / answered if answered else 0.0
        out[wait_ms] = result
    return out


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--engines", nargs="+", default=["sqlite", "postgresql"])
    parser.add_argument("--server-cpu", default="0", help='a taskset list, or "none"')
    parser.add_argument("--client-cpu", default="1")
    options = parser.parse_args(argv)
    if options.server_cpu == "none":
        options.server_cpu = None
    record: dict[str, Any] = {"started": datetime.now(UTC).isoformat(), "engines": {}}
    rows: list[tuple[str, ...]] = []
    for engine in options.engines:
        with tempfile.TemporaryDirectory(prefix=f"tally-sessions-{engine}-") as tmp:
            workdir = Path(tmp)
            with database(engine, workdir) as url:
                _tally(["migrate"], url)
                made = json.loads(_tally(["projects", "create", "bench", "--json"], url))
                creds = (made["app_id"], made["app_token"])
                redeem = redeem_runs(url, creds, workdir, options)
                contended = contended_runs(url, creds, workdir, options)
        record["engines"][engine] = {"redeem": redeem, "contended": contended}
        one, two = redeem[1], redeem[2]
        rows.append(
            (
                engine,
                "redeem x1 / x2",
                f"{one['rps']:.0f} / {two['rps']:.0f}",
                f"{two['rps'] / one['rps']:.2f}",
                f"{one['latency_ms']['p99']:.0f} / {two['latency_ms']['p99']:.0f}",
            )
        )
        for wait_ms, result in contended.items():
            rows.append(
                (
                    engine,
                    f"contended wait {wait_ms} ms",
                    f"{result['rps']:.0f}",
                    f"{result['refused_share']:.1%} multiple_requests",
                    f"{result['latency_ms']['p99']:.0f}",
                )
            )
    print_table(
        f"Order sessions, {options.duration:g} s a run, {CONNECTIONS} connections",
        rows,
        ("engine", "run", "requests/s", "ratio / refused", "p99 ms"),
    )
    RESULTS.mkdir(exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S")
    (RESULTS / f"sessions-{stamp}.json").write_text(json.dumps(record, indent=2))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
