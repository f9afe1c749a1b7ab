"""Tally's HTTP benchmark: wrk from another process against one server process on SQLite,
with the no-database baselines of the same stack measured in the same run.

    .venv/bin/python bench/run.py                      # full: 15 s a scenario, 1M orders
    .venv/bin/python bench/run.py --duration 5 --orders-large 100000   # quick

Needs ``wrk`` (``apt-get install -y wrk``) and ``taskset`` (util-linux). The server under
test is pinned to one core (``--server-cpu``, default 0) and wrk to another (``--client-cpu``,
default 1). Each scenario gets a warm-up run (discarded) and then the measured run; the whole
scenario list is repeated ``--repeat`` times (default 2), each round on fresh server
processes, so the spread between rounds shows the machine's noise. Figures are printed as a
table and written to ``bench/results/<timestamp>.json``.

Scenarios (wrk -t2 -c32, scripts in bench/lua/):

- B-echo / B-get: bench/baseline_app.py, Tally's stack with no database.
- create: POST /v1/orders, 3 lines, a new customer and a new source_id each time, on a
  database seeded with ``--orders-small`` orders.
- validate: POST /v1/validations, three vouchers (created before the check) on a 5-line
  order of catalogue products, on the same database as create; nothing is written.
- redeem: POST /v1/redemptions, the same three vouchers on a new 5-line order each time,
  at 50 connections, against B-echo at 50 connections (b-echo@50).
- get by id / get by source_id / list (limit=100) page 1 and page 100, on a database with
  ``--orders-small`` (1,000) orders and on one with ``--orders-large`` (1,000,000).

Targets: create >= 50% of B-echo's requests/s; validation >= 40%; redemption >= 25% of
B-echo@50's, with p99 <= 4x B-echo@50's; get >= 60% of B-get's;
list p99 with the large database <= 2x its p99 with the small one. Each target's ratio is
taken within each round (both figures from the same round), and judged on the median of
those ratios; the table shows the medians of the figures beside them.

Useful options: ``--data-dir DIR`` keeps the seeded databases and reuses them (seeding 1M
orders takes about 2 minutes); ``--only KEY...`` runs some scenarios; ``--report FILE``
reprints a saved result; ``--analyze`` is a what-if with SQLite planner statistics (Tally
never runs ANALYZE, so the default measures without them). Servers run with Tally's
default ``TALLY_LOG_LEVEL=INFO`` (one JSON access-log line a request, to a log file), the
baselines included; ``--log-level WARNING`` measures without it. Before each scenario the
runner waits up to ``--quiet-wait`` seconds for the two cores to be idle, and it reports how
much of the server's core other processes took during each measured run.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import resource
import secrets
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from importlib import metadata as pkg_metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if __package__ in (None, ""):
    # Run as a script (`python bench/run.py`, `make bench`): make `bench` importable.
    sys.path.insert(0, str(ROOT))

from bench.seed import (  # noqa: E402
    BENCH_VOUCHERS,
    Seeded,
    order_body,
    sample_refs,
    seed,
    validation_body,
)

BENCH = ROOT / "bench"
LUA = BENCH / "lua"
RESULTS = BENCH / "results"
BIN = Path(sys.executable).parent
HOST = "127.0.0.1"
# Bump when the seeded data changes shape, so that --data-dir does not reuse stale files.
SEED_VERSION = 2
REFS = 10_000


# --------------------------------------------------------------------------- data


@dataclass(frozen=True)
class Dataset:
    name: str
    path: Path
    seeded: Seeded

    @property
    def url(self) -> str:
        return f"sqlite:///{self.path}"


def _sidecar(path: Path) -> Path:
    return path.with_suffix(".json")


def _remove_db(path: Path) -> None:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    _sidecar(path).unlink(missing_ok=True)


def ensure_dataset(name: str, path: Path, n_orders: int) -> Dataset:
    """A database of ``n_orders`` seeded orders at ``path``: reused when a previous run of the
    same seed version left it there, else (re)seeded."""
    sidecar = _sidecar(path)
    if path.exists() and sidecar.exists():
        info = json.loads(sidecar.read_text())
        if info.get("seed_version") == SEED_VERSION and info.get("orders") == n_orders:
            info.pop("seed_version")
            print(f"  {name}: reusing {path} ({n_orders:,} orders)")
            return Dataset(name, path, Seeded(**info))
    _remove_db(path)
    print(f"  {name}: seeding {n_orders:,} orders into {path}", flush=True)
    seeded = seed(f"sqlite:///{path}", n_orders, progress=n_orders >= 50_000)
    sidecar.write_text(json.dumps({**asdict(seeded), "seed_version": SEED_VERSION}))
    print(
        f"  {name}: {n_orders:,} orders in {seeded.seconds:.1f} s "
        f"({n_orders / seeded.seconds:,.0f} orders/s), {path.stat().st_size / 1e6:,.0f} MB"
    )
    return Dataset(name, path, seeded)


def set_statistics(dataset: Dataset, *, analyze: bool) -> None:
    """With ``analyze``, give SQLite's planner statistics (ANALYZE), which a database filled
    through Tally's API does not have (Tally never runs ANALYZE); without it, make sure no
    statistics are left from an earlier --analyze run on a reused database."""
    with sqlite3.connect(dataset.path) as conn:
        has_stats = conn.execute(
            "SELECT count(*) FROM sqlite_master WHERE name = 'sqlite_stat1'"
        ).fetchone()[0]
        if analyze:
            started = time.monotonic()
            conn.execute("ANALYZE")
            print(f"  {dataset.name}: ANALYZE in {time.monotonic() - started:.1f} s")
        elif has_stats:
            conn.execute("DELETE FROM sqlite_stat1")


def copy_dataset(source: Dataset, name: str, path: Path) -> Dataset:
    """A fresh copy (the create scenario writes into its database)."""
    _remove_db(path)
    with sqlite3.connect(source.path) as src, sqlite3.connect(path) as dst:
        src.backup(dst)
    return Dataset(name, path, source.seeded)


def write_refs(dataset: Dataset, directory: Path) -> tuple[Path, Path]:
    """Files of order ids and of source_ids for the get scripts, in the same random order."""
    refs = sample_refs(dataset.url, dataset.seeded.project_id, REFS)
    ids_file = directory / f"{dataset.name}-ids.txt"
    sources_file = directory / f"{dataset.name}-source-ids.txt"
    ids_file.write_text("".join(f"{i}\n" for i, _ in refs))
    sources_file.write_text("".join(f"{s}\n" for _, s in refs))
    return ids_file, sources_file


# --------------------------------------------------------------------------- servers


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    name: str
    proc: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def cpu_seconds(self) -> float:
        """User + system CPU of the server process (all its threads) so far."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        ticks = int(fields[11]) + int(fields[12])
        return ticks / os.sysconf("SC_CLK_TCK")


def start_server(
    name: str,
    command: list[str],
    *,
    cpu: str | None,
    env: dict[str, str],
    log: Path,
) -> Server:
    port = free_port()
    argv = [*command, "--host", HOST, "--port", str(port)]
    if cpu is not None:
        argv = ["taskset", "-c", cpu, *argv]
    with log.open("ab") as out:
        proc = subprocess.Popen(
            argv,
            cwd=ROOT,
            env={**os.environ, "PYTHONUNBUFFERED": "1", **env},
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=out,
        )
    server = Server(name, proc, port, log)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{name} server exited with {proc.returncode}; see {log}")
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(f"{server.base}/health", timeout=2) as resp,
        ):
            if resp.status == 200:
                return server
        time.sleep(0.2)
    stop_server(server)
    raise SystemExit(f"{name} server did not answer /health within 60 s; see {log}")


def stop_server(server: Server) -> None:
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGINT)
        try:
            server.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.proc.kill()
            server.proc.wait()


@contextlib.contextmanager
def running(
    name: str, command: list[str], *, cpu: str | None, env: dict[str, str], log: Path
) -> Iterator[Server]:
    server = start_server(name, command, cpu=cpu, env=env, log=log)
    try:
        yield server
    finally:
        stop_server(server)


# --------------------------------------------------------------------------- load


@dataclass(frozen=True)
class Scenario:
    key: str
    label: str
    server: str  # baseline | create | small | large
    script: str
    args: tuple[str, ...]
    # One request sent with urllib before the warm-up, to fail fast on a wrong set-up.
    check_method: str
    check_path: str
    # The check request posts the benchmark's order body (with a fresh key).
    check_posts_order: bool = False
    # Or posts this body.
    check_body: dict[str, Any] | None = None
    # Sent once before the check: (method, path, body); a 409 (already there) is fine.
    setup: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    # wrk's connections for this scenario (None: --connections).
    connections: int | None = None


@dataclass
class Measured:
    scenario: str
    round: int
    rps: float
    p50_ms: float
    p99_ms: float
    raw: dict[str, Any]
    # CPU shares during the measured run: the server's, wrk's, and other processes' on the
    # two cores (this machine is shared; a high "others" share makes the figure suspect).
    noise: dict[str, Any]
    check: dict[str, Any] = field(default_factory=dict)

    @property
    def errors(self) -> int:
        return int(sum(self.raw["errors"].values()))


def _cpu_times() -> dict[str, tuple[int, int]]:
    """Per core: (busy ticks, total ticks) from /proc/stat."""
    out: dict[str, tuple[int, int]] = {}
    for line in Path("/proc/stat").read_text().splitlines():
        if line.startswith("cpu") and line[3:4].isdigit():
            name, *values = line.split()
            ticks = [int(v) for v in values]
            idle = ticks[3] + ticks[4]
            out[name[3:]] = (sum(ticks[:8]) - idle, sum(ticks[:8]))
    return out


def _busy(
    before: dict[str, tuple[int, int]], after: dict[str, tuple[int, int]]
) -> dict[str, float]:
    out: dict[str, float] = {}
    for core, (busy, total) in after.items():
        d_total = max(1, total - before[core][1])
        out[core] = 100.0 * (busy - before[core][0]) / d_total
    return out


def _others(busy: dict[str, float], core: str | None, own_pct: float) -> float | None:
    if core is None or core not in busy:
        return None
    return round(max(0.0, busy[core] - own_pct), 1)


def _children_cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def wait_for_quiet(options: argparse.Namespace) -> float:
    """Wait (up to --quiet-wait seconds) until the pinned cores are mostly idle: other
    sessions share this machine. Returns the seconds waited."""
    cores = [c for c in (options.server_cpu, options.client_cpu) if c is not None]
    if options.quiet_wait <= 0 or not cores:
        return 0.0
    started = time.monotonic()
    while True:
        before = _cpu_times()
        time.sleep(1.0)
        busy = _busy(before, _cpu_times())
        if all(busy.get(c, 0.0) <= options.quiet_threshold for c in cores):
            break
        if time.monotonic() - started >= options.quiet_wait:
            shown = ", ".join(f"core {c} {busy.get(c, 0.0):.0f}%" for c in cores)
            print(
                f"    (still busy after {options.quiet_wait:g} s: {shown}; measuring anyway)",
                flush=True,
            )
            break
    return time.monotonic() - started


def _request(
    base: str, method: str, path: str, headers: dict[str, str], body: dict[str, Any] | None
) -> tuple[int, bytes]:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(f"{base}{path}", data=data, method=method, headers=headers)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            return resp.status, resp.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def run_wrk(
    server: Server,
    script: str,
    args: Sequence[str],
    *,
    creds: tuple[str, str],
    duration: float,
    options: argparse.Namespace,
    connections: int | None = None,
) -> tuple[dict[str, Any], str]:
    argv = [
        "wrk",
        f"-t{options.threads}",
        f"-c{connections or options.connections}",
        f"-d{duration:g}s",
        "--latency",
        "--timeout",
        f"{options.timeout:g}s",
        "-s",
        str(LUA / script),
        server.base,
        "--",
        *creds,
        *args,
    ]
    if options.client_cpu is not None:
        argv = ["taskset", "-c", options.client_cpu, *argv]
    done = subprocess.run(argv, capture_output=True, text=True, check=False, timeout=duration + 60)
    for line in done.stdout.splitlines():
        if line.startswith("BENCH_RESULT "):
            result: dict[str, Any] = json.loads(line.removeprefix("BENCH_RESULT "))
            return result, done.stdout + done.stderr
    raise SystemExit(
        f"wrk printed no result (exit {done.returncode}):\n{done.stdout}\n{done.stderr}"
    )


def measure(
    scenario: Scenario,
    server: Server,
    *,
    creds: tuple[str, str],
    round_no: int,
    options: argparse.Namespace,
) -> Measured:
    headers = {"X-App-Id": creds[0], "X-App-Token": creds[1]}
    run_id = secrets.token_hex(4)
    for method, path, setup_body in scenario.setup:
        status, body = _request(server.base, method, path, headers, setup_body)
        if not (200 <= status < 300 or status == 409):
            raise SystemExit(f"{scenario.label}: set-up {method} {path} answered {status}")
    check_body = scenario.check_body
    if scenario.check_posts_order:
        status_arg = scenario.args[1]
        check_body = order_body(
            f"check-{run_id}", status=None if status_arg == "none" else status_arg
        )
    status, body = _request(
        server.base, scenario.check_method, scenario.check_path, headers, check_body
    )
    if not 200 <= status < 300:
        raise SystemExit(
            f"{scenario.label}: check request {scenario.check_method} "
            f"{scenario.check_path} answered {status}: {body[:500]!r}"
        )
    check: dict[str, Any] = {"status": status, "body_bytes": len(body)}
    parsed = json.loads(body)
    if isinstance(parsed, dict) and parsed.get("object") == "list":
        check["list_size"] = len(parsed.get("orders", []))
        check["total"] = parsed.get("total")

    waited = wait_for_quiet(options)
    if options.warmup > 0:
        warm_args = tuple(a.replace("{run}", f"w{run_id}") for a in scenario.args)
        run_wrk(
            server,
            scenario.script,
            warm_args,
            creds=creds,
            duration=options.warmup,
            options=options,
            connections=scenario.connections,
        )
    args = tuple(a.replace("{run}", f"m{run_id}") for a in scenario.args)
    cpu_before = server.cpu_seconds()
    wrk_before = _children_cpu()
    cores_before = _cpu_times()
    started = time.monotonic()
    raw, output = run_wrk(
        server,
        scenario.script,
        args,
        creds=creds,
        duration=options.duration,
        options=options,
        connections=scenario.connections,
    )
    elapsed = time.monotonic() - started
    busy = _busy(cores_before, _cpu_times())
    server_pct = 100.0 * (server.cpu_seconds() - cpu_before) / elapsed
    wrk_pct = 100.0 * (_children_cpu() - wrk_before) / elapsed
    noise = {
        "server_cpu_pct": round(server_pct, 1),
        "wrk_cpu_pct": round(wrk_pct, 1),
        # What else ran on the two cores during the measured run: other processes.
        "others_on_server_core_pct": _others(busy, options.server_cpu, server_pct),
        "others_on_client_core_pct": _others(busy, options.client_cpu, wrk_pct),
        "cores_busy_pct": {k: round(v, 1) for k, v in busy.items()},
        "quiet_wait_s": round(waited, 1),
        "loadavg": os.getloadavg(),
    }
    if raw["errors"]["status"] or raw["requests"] == 0:
        print(output, file=sys.stderr)
    return Measured(
        scenario=scenario.key,
        round=round_no,
        rps=float(raw["rps"]),
        p50_ms=float(raw["latency_ms"]["p50"]),
        p99_ms=float(raw["latency_ms"]["p99"]),
        raw=raw,
        noise=noise,
        check=check,
    )


# --------------------------------------------------------------------------- report


def human_count(n: int) -> str:
    if n >= 1_000_000 and n % 1_000_000 == 0:
        return f"{n // 1_000_000}M"
    if n >= 1_000 and n % 1_000 == 0:
        return f"{n // 1_000}k"
    return f"{n:,}"


# The p99 target for redemption is set at 50 concurrent connections.
REDEEM_CONNECTIONS = 50
VOUCHER_SETUP = tuple(
    ("POST", f"/v1/vouchers/{code}", {"type": "DISCOUNT_VOUCHER", "discount": discount})
    for code, discount in BENCH_VOUCHERS.items()
)


def scenarios(
    small: int,
    large: int,
    refs: dict[str, tuple[Path, Path]],
    create_status: str,
    validation_file: Path,
) -> list[Scenario]:
    s, big = human_count(small), human_count(large)
    status = create_status
    out = [
        Scenario(
            "b-echo",
            "B-echo (validate + echo, no db)",
            "baseline",
            "create.lua",
            ("{run}", status),
            "POST",
            "/v1/orders",
            True,
        ),
        Scenario(
            "b-get",
            "B-get (fixed order, no db)",
            "baseline",
            "get.lua",
            (str(refs["large"][0]),),
            "GET",
            "/v1/orders/any",
        ),
        Scenario(
            "create",
            f"create order (3 items, new customer; db {s})",
            "create",
            "create.lua",
            ("{run}", status),
            "POST",
            "/v1/orders",
            True,
        ),
        Scenario(
            "b-echo@50",
            "B-echo at 50 connections",
            "baseline",
            "create.lua",
            ("{run}", status),
            "POST",
            "/v1/orders",
            True,
            connections=REDEEM_CONNECTIONS,
        ),
        Scenario(
            "redeem",
            f"redeem 3 vouchers, new 5-line order, 50 connections (db {s})",
            "create",
            "post.lua",
            (str(validation_file), "/v1/redemptions"),
            "POST",
            "/v1/redemptions",
            check_body=validation_body(),
            setup=VOUCHER_SETUP,
            connections=REDEEM_CONNECTIONS,
        ),
        Scenario(
            "validate",
            f"validate 3 vouchers, 5-line order (db {s})",
            "create",
            "post.lua",
            (str(validation_file), "/v1/validations"),
            "POST",
            "/v1/validations",
            check_body=validation_body(),
            setup=VOUCHER_SETUP,
        ),
    ]
    for name, n in (("small", s), ("large", big)):
        ids_file, sources_file = refs[name]
        first_id = ids_file.read_text().split("\n", 1)[0]
        first_source = sources_file.read_text().split("\n", 1)[0]
        out += [
            Scenario(
                f"get-id@{name}",
                f"get by id ({n} orders)",
                name,
                "get.lua",
                (str(ids_file),),
                "GET",
                f"/v1/orders/{first_id}",
            ),
            Scenario(
                f"get-source@{name}",
                f"get by source_id ({n} orders)",
                name,
                "get.lua",
                (str(sources_file),),
                "GET",
                f"/v1/orders/{first_source}",
            ),
            Scenario(
                f"list-p1@{name}",
                f"list limit=100 page=1 ({n} orders)",
                name,
                "list.lua",
                ("1", "100"),
                "GET",
                "/v1/orders?limit=100&page=1",
            ),
            Scenario(
                f"list-p100@{name}",
                f"list limit=100 page=100 ({n} orders)",
                name,
                "list.lua",
                ("100", "100"),
                "GET",
                "/v1/orders?limit=100&page=100",
            ),
        ]
    return out


@dataclass(frozen=True)
class Target:
    label: str
    kind: str  # "rps-ratio" (higher is better) | "p99-ratio" (lower is better)
    numerator: str
    denominator: str
    bound: float


def targets(small: int, large: int) -> list[Target]:
    s, big = human_count(small), human_count(large)
    out = [
        Target("create req/s >= 50% of B-echo", "rps-ratio", "create", "b-echo", 0.5),
        Target("validation req/s >= 40% of B-echo", "rps-ratio", "validate", "b-echo", 0.4),
        Target(
            "redemption req/s >= 25% of B-echo (both at 50 connections)",
            "rps-ratio",
            "redeem",
            "b-echo@50",
            0.25,
        ),
        Target(
            "redemption p99 <= 4x B-echo's (both at 50 connections)",
            "p99-ratio",
            "redeem",
            "b-echo@50",
            4.0,
        ),
    ]
    for name, n in (("large", big), ("small", s)):
        out.append(
            Target(
                f"get by id ({n}) req/s >= 60% of B-get",
                "rps-ratio",
                f"get-id@{name}",
                "b-get",
                0.6,
            )
        )
        out.append(
            Target(
                f"get by source_id ({n}) req/s >= 60% of B-get",
                "rps-ratio",
                f"get-source@{name}",
                "b-get",
                0.6,
            )
        )
    for page in ("p1", "p100"):
        out.append(
            Target(
                f"list {page} p99: {big} orders <= 2x {s} orders",
                "p99-ratio",
                f"list-{page}@large",
                f"list-{page}@small",
                2.0,
            )
        )
    # Page 100 of 1,000 orders is empty; this one compares two full pages.
    out.append(
        Target(
            f"list p100 p99: {big} orders <= 2x p1 of {s} (both full pages)",
            "p99-ratio",
            "list-p100@large",
            "list-p1@small",
            2.0,
        )
    )
    return out


def _ratio(target: Target, num: dict[str, Any], den: dict[str, Any]) -> float | None:
    """``target``'s ratio of two figures (req/s, or p99 when the target is on latency);
    None when a p99 is missing (no request completed within a run)."""
    if target.kind == "rps-ratio":
        return float(num["rps"] / den["rps"]) if den["rps"] else 0.0
    if num["p99_ms"] is None or den["p99_ms"] is None:
        return None
    return float(num["p99_ms"] / den["p99_ms"]) if den["p99_ms"] else float("inf")


def _round_ratios(target: Target, results: list[dict[str, Any]]) -> list[float | None]:
    """The target's ratio within each round: both figures measured minutes apart on the same
    machine, rather than medians that may come from different rounds."""
    out: list[float | None] = []
    for round_no in sorted({r["round"] for r in results}):
        mine = {r["scenario"]: r for r in results if r["round"] == round_no}
        num, den = mine.get(target.numerator), mine.get(target.denominator)
        if num is None or den is None:
            continue
        if not num["raw"]["requests"] or not den["raw"]["requests"]:
            out.append(None)
            continue
        out.append(_ratio(target, num, den))
    return out


def _shown_ratio(target: Target, ratio: float | None) -> str:
    if ratio is None:
        return "none done"
    return f"{ratio:.0%}" if target.kind == "rps-ratio" else f"{ratio:.2f}x"


def evaluate(
    target: Target, by_key: dict[str, dict[str, Any]], results: list[dict[str, Any]]
) -> dict[str, Any]:
    """A target's verdict on the median of its ratio within each round (with two rounds,
    their mean): a p99 target judged on medians passed once only because the baseline's p99
    of one round was three times its other (50.7 against 12.9 ms)."""
    num, den = by_key.get(target.numerator), by_key.get(target.denominator)
    if num is None or den is None:
        return {"target": target.label, "result": "n/a", "shown": "not measured"}
    per_round = _round_ratios(target, results)
    by_round = " / ".join(_shown_ratio(target, r) for r in per_round)
    if not per_round or any(r is None for r in per_round):
        # Some round completed no request at all: its latency is beyond the run's length.
        return {
            "target": target.label,
            "ratio": None,
            "by_round": per_round,
            "result": "MISS",
            "shown": "no request completed within a measured run",
        }
    ratio = statistics.median(r for r in per_round if r is not None)
    if target.kind == "rps-ratio":
        ok = ratio >= target.bound
        shown = (
            f"{num['rps']:,.0f} / {den['rps']:,.0f}; by round {by_round}: "
            f"{ratio:.0%} (need >= {target.bound:.0%})"
        )
    else:
        ok = ratio <= target.bound
        shown = (
            f"{num['p99_ms']:.1f} / {den['p99_ms']:.1f} ms; by round {by_round}: "
            f"{ratio:.2f}x (need <= {target.bound:g}x)"
        )
    return {
        "target": target.label,
        "ratio": ratio,
        "by_round": per_round,
        "shown": shown,
        "result": "PASS" if ok else "MISS",
    }


def summarise(results: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """Per scenario, the median over rounds of req/s, p50 and p99 (and the spread). p50/p99
    are None when a round completed no request (every request outlasted the run)."""
    out: dict[str, dict[str, Any]] = {}
    for key in dict.fromkeys(r["scenario"] for r in results):
        rows = [r for r in results if r["scenario"] == key]
        rps = [r["rps"] for r in rows]
        done = all(r["raw"]["requests"] > 0 for r in rows)
        out[key] = {
            "rps": statistics.median(rps),
            "p50_ms": statistics.median(r["p50_ms"] for r in rows) if done else None,
            "p99_ms": statistics.median(r["p99_ms"] for r in rows) if done else None,
            "rps_min": min(rps),
            "rps_max": max(rps),
            "requests_min": min(r["raw"]["requests"] for r in rows),
            "rounds": len(rows),
        }
    return out


def print_table(title: str, rows: list[tuple[str, ...]], header: tuple[str, ...]) -> None:
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(len(header))]
    print(f"\n{title}")
    line = "  ".join(
        h.ljust(w) if i == 0 else h.rjust(w)
        for i, (h, w) in enumerate(zip(header, widths, strict=True))
    )
    print(line)
    print("-" * len(line))
    for r in rows:
        print(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(r, widths, strict=True))
            )
        )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.2f}"


def render(record: dict[str, Any]) -> int:
    """Print the figures of a run (also ``--report FILE``); add summary and verdicts to the
    record. Returns the exit status: 1 when any request failed or timed out."""
    options = record["options"]
    results: list[dict[str, Any]] = record["results"]
    labels = {r["scenario"]: r["label"] for r in results}
    summary = summarise(results)
    rows: list[tuple[str, ...]] = []
    for key, figures in summary.items():
        mine = [r for r in results if r["scenario"] == key]
        noisiest = max((r["noise"]["others_on_server_core_pct"] or 0.0) for r in mine)
        cpu = statistics.median(r["noise"]["server_cpu_pct"] for r in mine)
        rows.append(
            (
                labels[key],
                f"{figures['rps']:,.0f}",
                _ms(figures["p50_ms"]),
                _ms(figures["p99_ms"]),
                " / ".join(f"{r['rps']:,.0f}" for r in mine),
                " / ".join(
                    f"{r['p99_ms']:.1f}" if r["raw"]["requests"] else "none done" for r in mine
                ),
                f"{cpu:.0f}%",
                f"{noisiest:.0f}%",
            )
        )
    print_table(
        f"Tally on SQLite, wrk -t{options['threads']} -c{options['connections']} "
        f"-d{options['duration']:g}s (medians of {options['repeat']} rounds)"
        + (", WITH ANALYZE statistics (what-if)" if options.get("analyze") else ""),
        rows,
        (
            "scenario",
            "req/s",
            "p50 ms",
            "p99 ms",
            "req/s by round",
            "p99 by round",
            "server cpu",
            "others max",
        ),
    )
    print(
        "server cpu: the server process's CPU over the measured run (100% = its core); "
        "others max: the largest share\nof the server's core that other processes took "
        "in a measured run (this machine is shared: high values mean noise).\n"
        "'-' / 'none done': no request completed within the run (each took longer)."
    )
    sizes = {r["check"].get("list_size") for r in results if r["scenario"] == "list-p100@small"}
    if sizes == {0}:
        print(f"note: {labels['list-p100@small']} is an empty page (offset 9,900 is past the end).")
    verdicts = [
        evaluate(t, summary, results)
        for t in targets(options["orders_small"], options["orders_large"])
    ]
    print_table(
        "targets",
        [(v["target"], v["shown"], v["result"]) for v in verdicts],
        ("target", "medians; the ratio in each round: their median (the verdict)", "result"),
    )
    record["summary"] = {labels[k]: v for k, v in summary.items()}
    record["targets"] = verdicts
    failures = [r for r in results if sum(r["raw"]["errors"].values()) or not r["raw"]["requests"]]
    if failures:
        print(
            "\nFAILED: non-2xx responses, socket errors, timeouts or no completed request in: "
            + "; ".join(
                f"{r['label']} (round {r['round']}): {r['raw']['requests']} done, "
                f"errors {r['raw']['errors']}"
                for r in failures
            ),
            file=sys.stderr,
        )
        return 1
    return 0


# --------------------------------------------------------------------------- main


def environment(options: argparse.Namespace) -> dict[str, Any]:
    versions = {}
    for pkg in (
        "fastapi",
        "starlette",
        "pydantic",
        "sqlalchemy",
        "uvicorn",
        "uvloop",
        "httptools",
        "orjson",
    ):
        with contextlib.suppress(pkg_metadata.PackageNotFoundError):
            versions[pkg] = pkg_metadata.version(pkg)
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    wrk_version = subprocess.run(
        ["wrk", "-v"], capture_output=True, text=True, check=False
    ).stdout.splitlines()[:1]
    commit = subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = bool(
        subprocess.run(
            ["git", "status", "--porcelain", "src"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
    )
    return {
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "packages": versions,
        "wrk": wrk_version[0] if wrk_version else "",
        "cpu_model": cpu_model,
        "cpus": os.cpu_count(),
        "platform": platform.platform(),
        "git_commit": commit,
        "src_dirty": dirty,
        "log_level": options.log_level,
    }


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description="Tally HTTP benchmark (see the module docstring).")
    p.add_argument("--duration", type=float, default=15.0, help="seconds a measured run")
    p.add_argument("--warmup", type=float, default=3.0, help="seconds of warm-up a scenario")
    p.add_argument("--repeat", type=int, default=2, help="rounds over every scenario")
    p.add_argument("--orders-small", type=int, default=1_000)
    p.add_argument("--orders-large", type=int, default=1_000_000)
    p.add_argument("--connections", type=int, default=32)
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        help="wrk's per-request timeout in seconds; timed-out requests count as errors",
    )
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--server-cpu", default="0", help="core for the server ('' = no pinning)")
    p.add_argument("--client-cpu", default="1", help="core for wrk ('' = no pinning)")
    p.add_argument(
        "--log-level",
        default="INFO",
        help="TALLY_LOG_LEVEL of the servers (INFO, Tally's default, writes one "
        "access-log line a request to the server log file)",
    )
    p.add_argument(
        "--create-status",
        default="PAID",
        help="status of created orders; 'none' leaves it out (CREATED)",
    )
    p.add_argument(
        "--quiet-wait",
        type=float,
        default=60.0,
        help="before each scenario, wait up to this many seconds for the pinned cores to be "
        "idle (0 = don't wait)",
    )
    p.add_argument(
        "--quiet-threshold", type=float, default=20.0, help="busy %% that counts as idle"
    )
    p.add_argument(
        "--data-dir",
        type=Path,
        default=None,
        help="keep the seeded databases here and reuse them on the next run",
    )
    p.add_argument(
        "--analyze",
        action="store_true",
        help="what-if: run ANALYZE on the seeded databases first (Tally never does, so the "
        "default measures databases without planner statistics)",
    )
    p.add_argument(
        "--report",
        type=Path,
        default=None,
        help="print the tables of a saved bench/results/*.json instead of running",
    )
    p.add_argument(
        "--only",
        nargs="*",
        default=None,
        help="scenario keys to run (b-echo b-get create get-id@small ...)",
    )
    args = p.parse_args(argv)
    args.server_cpu = args.server_cpu or None
    args.client_cpu = args.client_cpu or None
    return args


def main(argv: Sequence[str] | None = None) -> int:
    options = parse_args(argv)
    if options.report is not None:
        return render(json.loads(options.report.read_text()))
    missing = [tool for tool in ("wrk", "taskset") if shutil.which(tool) is None]
    if "taskset" in missing and options.server_cpu is None and options.client_cpu is None:
        missing.remove("taskset")
    if missing:
        print(
            f"missing: {', '.join(missing)}. Install with: apt-get install -y "
            f"{' '.join('util-linux' if m == 'taskset' else m for m in missing)}",
            file=sys.stderr,
        )
        return 2
    if (options.server_cpu or options.client_cpu) and (os.cpu_count() or 1) < 2:
        print("pinning needs 2 cores; pass --server-cpu '' --client-cpu ''", file=sys.stderr)
        return 2

    started_at = datetime.now(UTC)
    stamp = started_at.strftime("%Y%m%dT%H%M%SZ")
    tmp: tempfile.TemporaryDirectory[str] | None = None
    if options.data_dir is None:
        tmp = tempfile.TemporaryDirectory(prefix="tally-bench-")
        data_dir = Path(tmp.name)
    else:
        data_dir = options.data_dir.resolve()
        data_dir.mkdir(parents=True, exist_ok=True)
    logs = data_dir / "logs" / stamp
    logs.mkdir(parents=True, exist_ok=True)

    try:
        print(f"data in {data_dir}")
        small = ensure_dataset(
            "small", data_dir / f"small-{options.orders_small}.db", options.orders_small
        )
        large = ensure_dataset(
            "large", data_dir / f"large-{options.orders_large}.db", options.orders_large
        )
        for ds in (small, large):
            set_statistics(ds, analyze=options.analyze)
        refs = {"small": write_refs(small, data_dir), "large": write_refs(large, data_dir)}
        validation_file = data_dir / "validation-body.json"
        validation_file.write_text(json.dumps(validation_body()))
        plan = scenarios(
            options.orders_small,
            options.orders_large,
            refs,
            options.create_status,
            validation_file,
        )
        if options.only:
            unknown = set(options.only) - {s.key for s in plan}
            if unknown:
                print(
                    f"unknown scenarios: {sorted(unknown)}; known: {[s.key for s in plan]}",
                    file=sys.stderr,
                )
                return 2
            plan = [s for s in plan if s.key in options.only]
        base_env = {"TALLY_LOG_LEVEL": options.log_level}
        results: list[Measured] = []
        for round_no in range(1, options.repeat + 1):
            print(f"\nround {round_no}/{options.repeat}")
            # The create scenario writes: give each round a fresh copy of the small database.
            create_db = copy_dataset(small, "create", data_dir / "create.db")
            servers: dict[str, tuple[list[str], dict[str, str], tuple[str, str]]] = {
                "baseline": (
                    [sys.executable, "-m", "bench.baseline_app"],
                    {
                        "TALLY_BENCH_APP_ID": small.seeded.app_id,
                        "TALLY_BENCH_APP_TOKEN": small.seeded.app_token,
                    },
                    (small.seeded.app_id, small.seeded.app_token),
                ),
            }
            for ds in (create_db, small, large):
                servers[ds.name] = (
                    [str(BIN / "tally"), "serve"],
                    {"TALLY_DATABASE_URL": ds.url},
                    (ds.seeded.app_id, ds.seeded.app_token),
                )
            for server_name in ("baseline", "create", "small", "large"):
                todo = [s for s in plan if s.server == server_name]
                if not todo:
                    continue
                command, env, creds = servers[server_name]
                log = logs / f"{server_name}-round{round_no}.log"
                with running(
                    server_name, command, cpu=options.server_cpu, env={**base_env, **env}, log=log
                ) as server:
                    for scenario in todo:
                        m = measure(
                            scenario, server, creds=creds, round_no=round_no, options=options
                        )
                        results.append(m)
                        flag = "" if m.errors == 0 else f"  ERRORS {m.raw['errors']}"
                        print(
                            f"  {scenario.label:<46} {m.rps:>8,.0f} req/s  "
                            f"p50 {m.p50_ms:6.2f} ms  p99 {m.p99_ms:7.2f} ms  "
                            f"cpu: server {m.noise['server_cpu_pct']:3.0f}% "
                            f"wrk {m.noise['wrk_cpu_pct']:3.0f}% "
                            f"others {m.noise['others_on_server_core_pct']}%"
                            f"/{m.noise['others_on_client_core_pct']}%"
                            f"  (waited {m.noise['quiet_wait_s']:g} s){flag}",
                            flush=True,
                        )

        labels = {s.key: s.label for s in plan}
        record: dict[str, Any] = {
            "started_at": started_at.isoformat(),
            "options": {k: str(v) if isinstance(v, Path) else v for k, v in vars(options).items()},
            "environment": environment(options),
            "datasets": {
                d.name: {
                    "orders": d.seeded.orders,
                    "customers": d.seeded.customers,
                    "seed_seconds": d.seeded.seconds,
                }
                for d in (small, large)
            },
            "results": [{**asdict(r), "label": labels[r.scenario]} for r in results],
        }
        status = render(record)
        RESULTS.mkdir(exist_ok=True)
        out = RESULTS / f"{stamp}.json"
        out.write_text(json.dumps(record, indent=2))
        kept = "" if tmp is None else " (removed with the temporary data; see --data-dir)"
        print(f"\nresults: {out}\nserver logs: {logs}{kept}")
        return status
    finally:
        if tmp is not None:
            tmp.cleanup()


if __name__ == "__main__":
    sys.exit(main())
