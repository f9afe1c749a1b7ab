"""Webhooks' cost (issue 7's benchmark): stacked redemption throughput with two webhook
endpoints subscribed to every event versus none, and how fast deliveries reach a local
receiver.

    .venv/bin/python bench/webhooks.py                   # 15 s runs, 2 rounds
    .venv/bin/python bench/webhooks.py --duration 5 --repeat 1

The redeem scenario of bench/run.py (3 vouchers on a new 5-line order, 50 connections, wrk
pinned to --client-cpu) against one `tally serve` on SQLite pinned to --server-cpu, on a
fresh copy of a 1,000-order database each run. "none": no endpoint. "2 endpoints": two
endpoints that want every event (each redemption writes five: the order created and paid,
one per voucher), so ten deliveries a redemption, sent to a receiver process (on the client
core) that answers 200 at once. By default a `tally worker` on the client core sends them
and the server only writes them (``--deliver-in server``: the server's own deliverer, the
embedded default, which then shares the server's core with the API). The modes alternate
within each round so that machine noise hits both. Target: with endpoints at most 15%
fewer redemptions/s than without.

Delivery throughput: after the "2 endpoints" load stops, the deliveries still waiting are
drained by the same server; events/s is that backlog over the time it took (deliveries/s
counts each endpoint's copy).
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    sys.path.insert(0, str(ROOT))

from bench.run import (  # noqa: E402
    BIN,
    _request,
    copy_dataset,
    ensure_dataset,
    measure,
    parse_args,
    print_table,
    running,
    scenarios,
)
from bench.seed import validation_body  # noqa: E402

RECEIVER = """
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()
    def log_message(self, *a):
        pass
server = ThreadingHTTPServer(("127.0.0.1", 0), H)
server.daemon_threads = True
print(server.server_address[1], flush=True)
server.serve_forever()
"""


def _pinned(cpu: str | None, argv: list[str]) -> list[str]:
    return ["taskset", "-c", cpu, *argv] if cpu is not None else argv


def _counts(db: Path) -> dict[str, int]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT status, count(*) FROM webhook_deliveries GROUP BY status")
        return {status: count for status, count in rows}


def _events(db: Path) -> int:
    with sqlite3.connect(db) as conn:
        return int(conn.execute("SELECT count(*) FROM events").fetchone()[0])


def main(argv: Sequence[str] | None = None) -> int:
    extra = argparse.ArgumentParser(add_help=False)
    extra.add_argument("--endpoints", type=int, default=2)
    extra.add_argument(
        "--deliver-in",
        choices=("worker", "server", "after"),
        default="worker",
        help="who sends the deliveries: a `tally worker` process on the client core "
        "(TALLY_JOBS_IN_SERVER=false, the scaled-out layout), the server itself, or a worker "
        "started once the load has stopped (the request path's own cost, nothing else)",
    )
    mine, rest = extra.parse_known_args(argv)
    options = parse_args(rest)
    rows: list[tuple[str, ...]] = []
    drains: list[tuple[str, ...]] = []
    by_mode: dict[str, list[float]] = {"none": [], "hooks": []}
    receiver = subprocess.Popen(
        _pinned(options.client_cpu, [sys.executable, "-c", RECEIVER]),
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert receiver.stdout is not None
        port = int(receiver.stdout.readline())
        with tempfile.TemporaryDirectory(prefix="tally-bench-webhooks-") as tmp:
            work = Path(tmp)
            small = ensure_dataset("small", work / "small.db", options.orders_small)
            validation_file = work / "validation-body.json"
            validation_file.write_text(json.dumps(validation_body()))
            empty = work / "empty.txt"
            empty.write_text("x\n")
            (redeem,) = [
                s
                for s in scenarios(
                    options.orders_small,
                    options.orders_large,
                    {"small": (empty, empty), "large": (empty, empty)},
                    options.create_status,
                    validation_file,
                )
                if s.key == "redeem"
            ]
            creds = (small.seeded.app_id, small.seeded.app_token)
            headers = {"X-App-Id": creds[0], "X-App-Token": creds[1]}
            for round_no in range(options.repeat):
                for mode in ("none", "hooks"):
                    db = copy_dataset(small, f"{mode}-{round_no}", work / f"{mode}-{round_no}.db")
                    env = {
                        "TALLY_DATABASE_URL": db.url,
                        "TALLY_LOG_LEVEL": options.log_level,
                        "TALLY_WEBHOOKS_ALLOW_PRIVATE": "1",
                    }
                    if mine.deliver_in != "server":
                        env["TALLY_JOBS_IN_SERVER"] = "false"
                    command = [str(BIN / "tally"), "serve"]
                    log = work / f"{mode}-{round_no}.log"

                    def start_worker(
                        env: dict[str, str] = env, tag: str = f"{mode}-{round_no}"
                    ) -> Any:
                        # Niced: on this two-core machine it shares wrk's core, and wrk must
                        # not be starved (that would lower the figure without the server
                        # doing less). On a real deployment it runs on machines of its own.
                        return subprocess.Popen(
                            _pinned(
                                options.client_cpu,
                                ["nice", "-n", "19", str(BIN / "tally"), "worker"],
                            ),
                            env={**os.environ, **env, "TALLY_JOB_POLL_MS": "100"},
                            stdout=(work / f"worker-{tag}.log").open("wb"),
                            stderr=subprocess.STDOUT,
                        )

                    worker = start_worker() if mine.deliver_in == "worker" else None
                    with running(
                        "tally", command, cpu=options.server_cpu, env=env, log=log
                    ) as server:
                        if mode == "hooks":
                            for n in range(mine.endpoints):
                                status, raw = _request(
                                    server.base,
                                    "POST",
                                    "/v1/webhooks",
                                    headers,
                                    {"url": f"http://127.0.0.1:{port}/h{n}", "events": ["*"]},
                                )
                                if status != 200:
                                    raise SystemExit(f"webhook set-up answered {status}: {raw!r}")
                        measured = measure(
                            redeem, server, creds=creds, round_no=round_no, options=options
                        )
                        by_mode[mode].append(measured.rps)
                        label = "none" if mode == "none" else f"{mine.endpoints} endpoints"
                        events = _events(db.path)
                        rows.append(
                            (
                                str(round_no + 1),
                                label,
                                f"{measured.rps:,.0f}",
                                f"{measured.p50_ms:.1f}",
                                f"{measured.p99_ms:.1f}",
                                f"{measured.errors}",
                                f"{events:,}",
                                f"{measured.noise['others_on_server_core_pct']}",
                            )
                        )
                        if mode == "hooks":
                            expected = events * mine.endpoints
                            backlog = expected - _counts(db.path).get("succeeded", 0)
                            started = time.monotonic()
                            if worker is None and mine.deliver_in == "after":
                                worker = start_worker()
                            while _counts(db.path).get("succeeded", 0) < expected and (
                                time.monotonic() - started < 600
                            ):
                                time.sleep(0.2)
                            drained = time.monotonic() - started
                            final = _counts(db.path)
                            drains.append(
                                (
                                    str(round_no + 1),
                                    f"{sum(final.values()):,}",
                                    f"{backlog:,}",
                                    f"{drained:.1f}",
                                    f"{backlog / drained:,.0f}" if drained else "-",
                                    f"{backlog / drained / mine.endpoints:,.0f}"
                                    if drained
                                    else "-",
                                    f"{final.get('failed', 0)}",
                                )
                            )
                    if worker is not None:
                        worker.terminate()
                        worker.wait(30)
    finally:
        receiver.kill()
    print_table(
        "Stacked redemption (3 vouchers, new 5-line order, 50 connections), SQLite",
        rows,
        ("round", "webhooks", "req/s", "p50 ms", "p99 ms", "errors", "events", "others %"),
    )
    print_table(
        "Delivery of the backlog left when the load stopped (same server, local receiver)",
        drains,
        ("round", "deliveries", "backlog", "seconds", "deliveries/s", "events/s", "failed"),
    )
    none, hooks = by_mode["none"], by_mode["hooks"]
    if none and hooks:
        ratios = [h / n for n, h in zip(none, hooks, strict=True)]
        print(
            "with endpoints / without, by round: "
            + ", ".join(f"{r:.0%}" for r in ratios)
            + " (target: at least 85%)"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
