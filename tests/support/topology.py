"""Tally scaled out, started the way an operator would start it on several machines: one
PostgreSQL database migrated once (``tally migrate``), ``tally serve`` processes on ports of
their own with ``TALLY_JOBS_IN_SERVER=false``, and ``tally worker`` processes, all on that
database and one ``TALLY_EXPORTS_DIR``. Requests are spread over the servers by the tests
themselves (round-robin, as a load balancer would); no balancer runs.

Each process can be stopped (SIGTERM, its exit status kept) and started again as it was,
a server on the same port: what a rolling restart does.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from support.net import free_port
from support.server import (
    COMMAND_TIMEOUT,
    create_project_cli,
    run_tally,
    tally_env,
    tally_executable,
)

HOST = "127.0.0.1"
HEALTH_TIMEOUT = 30.0
# How long a process gets to end by itself after SIGTERM before the test calls it a hang
# (uvicorn's graceful shutdown is 10 s; generous for a shared, noisy machine).
EXIT_TIMEOUT = 30.0
# The exit statuses of a clean stop on SIGTERM: a worker returns 0; uvicorn finishes its
# graceful shutdown, restores the default handler and raises the signal it caught again,
# so `tally serve` ends by SIGTERM (Popen: -15), as a process that handled nothing would.
CLEAN_EXITS = (0, -signal.SIGTERM)
_BACKGROUND = ThreadPoolExecutor(1, thread_name_prefix="topology")


@dataclass
class Member:
    """One process of the topology: a server (with its port) or a worker."""

    name: str
    args: list[str]
    env: dict[str, str]
    workdir: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = field(default=None, repr=False)
    logs: list[Path] = field(default_factory=list, repr=False)

    @property
    def is_server(self) -> bool:
        return self.port is not None

    @property
    def base_url(self) -> str:
        assert self.port is not None, f"{self.name} is not a server"
        return f"http://{HOST}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, f"{self.name} was never started"
        return self.process.pid

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start the process (again), logging to a file of this start."""
        assert not self.running(), f"{self.name} is running"
        path = self.workdir / f"{self.name}.{len(self.logs) + 1}.log"
        argv = [str(tally_executable()), *self.args]
        if self.port is not None:
            argv += ["--host", HOST, "--port", str(self.port)]
        with path.open("wb") as log:
            self.process = subprocess.Popen(
                argv,
                cwd=self.workdir,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        self.logs.append(path)

    def signal(self, sig: int = signal.SIGTERM) -> None:
        assert self.process is not None
        with contextlib.suppress(ProcessLookupError):
            self.process.send_signal(sig)

    def wait_exit(self, timeout: float = EXIT_TIMEOUT) -> int:
        """The exit status once the process has ended; a test failure (after SIGKILL to its
        process group) if it is still running after ``timeout`` seconds: a hang."""
        assert self.process is not None
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"{self.name} still running {timeout:.0f}s after SIGTERM\n{self.log()}")

    def terminate(self, timeout: float = EXIT_TIMEOUT) -> int:
        """SIGTERM and the exit status (see :meth:`wait_exit`)."""
        self.signal(signal.SIGTERM)
        return self.wait_exit(timeout)

    def kill(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(10)

    def log(self, limit: int = 12_000) -> str:
        parts = []
        for path in self.logs:
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            parts.append(f"--- {path.name} ---\n{text[-limit:]}")
        return "\n".join(parts)


@dataclass
class Topology:
    """The processes, the project they all serve ("scale"), and ways to reach them."""

    db_url: str
    workdir: Path
    exports_dir: Path
    keys: dict[str, str]
    servers: list[Member]
    workers: list[Member]
    _engine: sa.Engine | None = field(default=None, repr=False)

    @property
    def project_id(self) -> str:
        return self.keys["project_id"]

    @property
    def headers(self) -> dict[str, str]:
        return {"X-App-Id": self.keys["app_id"], "X-App-Token": self.keys["app_token"]}

    def client(self, server: int, *, timeout: float = 30.0) -> httpx.Client:
        """An httpx client on server ``server`` (0 is "A", 1 is "B"), as the project."""
        return httpx.Client(
            base_url=self.servers[server].base_url, headers=self.headers, timeout=timeout
        )

    def balanced(self, *, timeout: float = 30.0) -> Balanced:
        """A client that sends each request to the next server in turn."""
        return Balanced([self.client(i, timeout=timeout) for i in range(len(self.servers))])

    def restart(self, member: Member) -> None:
        """Start a stopped member again (a server on its port, ready when this returns)."""
        member.start()
        if member.is_server:
            wait_healthy([member])

    def heal(self) -> None:
        """Start again whatever a test stopped and did not start (it failed half-way), so
        the next test finds every process running."""
        stopped = [m for m in (*self.servers, *self.workers) if not m.running()]
        for member in stopped:
            member.start()
        wait_healthy([m for m in stopped if m.is_server])

    def log_marks(self) -> dict[Path, int]:
        """How long each log is now: :meth:`server_lines` reads what comes after."""
        return {path: path.stat().st_size for m in self.servers for path in m.logs}

    def server_lines(self, since: dict[Path, int]) -> list[str]:
        """The servers' log lines written after ``since`` (all of a log started since)."""
        lines = []
        for member in self.servers:
            for path in member.logs:
                with path.open("rb") as log:
                    log.seek(since.get(path, 0))
                    text = log.read().decode("utf-8", errors="replace")
                lines += [f"{path.name}: {line}" for line in text.splitlines()]
        return lines

    def worker_of(self, job_worker: str | None) -> Member | None:
        """The worker process a job's ``worker`` column names (``host:pid:random``)."""
        if job_worker is None:
            return None
        pid = int(job_worker.split(":")[-2])
        return next((m for m in self.workers if m.process is not None and m.pid == pid), None)

    def rows(self, statement: str, **params: Any) -> list[sa.Row[Any]]:
        """Rows of one SQL statement, read straight from the database."""
        if self._engine is None:
            self._engine = sa.create_engine(self.db_url, pool_size=2)
        with self._engine.connect() as conn:
            return list(conn.execute(sa.text(statement), params))

    def job(self, subject_id: str) -> Any:
        """The jobs row of an async action or export (None until it exists)."""
        found = self.rows(
            "SELECT status, worker, attempts, checkpoint FROM jobs WHERE subject_id = :s",
            s=subject_id,
        )
        return found[0] if found else None

    def log(self) -> str:
        return "\n".join(f"===== {m.name} =====\n{m.log()}" for m in (*self.servers, *self.workers))

    def stop(self) -> None:
        """SIGTERM to every process at once, then SIGKILL to whatever has not ended."""
        members = [m for m in (*self.servers, *self.workers) if m.running()]
        for member in members:
            member.signal(signal.SIGTERM)
        for member in members:
            try:
                assert member.process is not None
                member.process.wait(EXIT_TIMEOUT)
            except subprocess.TimeoutExpired:
                member.kill()
        if self._engine is not None:
            self._engine.dispose()


class Balanced:
    """Requests spread over one client per server in turn, as a load balancer would."""

    def __init__(self, clients: list[httpx.Client]) -> None:
        self.clients = clients
        self._turn = itertools.count()
        self._lock = threading.Lock()

    def next_index(self) -> int:
        with self._lock:
            return next(self._turn) % len(self.clients)

    def request(self, method: str, url: str, **kwargs: Any) -> httpx.Response:
        return self.clients[self.next_index()].request(method, url, **kwargs)

    def get(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", url, **kwargs)

    def close(self) -> None:
        for client in self.clients:
            client.close()

    def __enter__(self) -> Balanced:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()


def wait_healthy(servers: Sequence[Member], timeout: float = HEALTH_TIMEOUT) -> None:
    """Until every server answers GET /health with 200; a test failure if one exits first
    or does not answer within ``timeout``."""
    deadline = time.monotonic() + timeout
    waiting = list(servers)
    with httpx.Client(timeout=2.0) as http:
        while waiting:
            for member in list(waiting):
                if not member.running():
                    pytest.fail(f"{member.name} exited before /health\n{member.log()}")
                with contextlib.suppress(httpx.TransportError):
                    if http.get(f"{member.base_url}/health").status_code == 200:
                        waiting.remove(member)
            if waiting:
                if time.monotonic() > deadline:
                    names = ", ".join(m.name for m in waiting)
                    pytest.fail(f"{names}: no /health within {timeout:.0f}s")
                time.sleep(0.05)


def start_topology(
    db_url: str,
    workdir: Path,
    *,
    servers: int = 2,
    workers: int = 2,
    env: dict[str, str] | None = None,
) -> Topology:
    """``tally migrate`` and ``tally projects create`` once, then every server and worker
    at the same time; returns once every server answers /health."""
    workdir.mkdir(parents=True, exist_ok=True)
    exports_dir = workdir / "exports"
    exports_dir.mkdir()
    run_tally(["migrate"], db_url=db_url, cwd=workdir)
    # The project is made while the processes start (they need the schema only).
    creating = _BACKGROUND.submit(create_project_cli, "scale", db_url=db_url, cwd=workdir)
    keys: dict[str, str] = {}
    shared = {"TALLY_EXPORTS_DIR": str(exports_dir), **(env or {})}
    server_env = tally_env(db_url, {**shared, "TALLY_JOBS_IN_SERVER": "false"})
    # Workers look for jobs often: the servers cannot wake them.
    worker_env = tally_env(db_url, {**shared, "TALLY_JOB_POLL_MS": "300"})
    topology = Topology(
        db_url=db_url,
        workdir=workdir,
        exports_dir=exports_dir,
        keys=keys,
        servers=[
            Member(f"server-{'AB'[i] if i < 2 else i}", ["serve"], server_env, workdir, port=0)
            for i in range(servers)
        ],
        workers=[
            Member(f"worker-{i + 1}", ["worker"], worker_env, workdir) for i in range(workers)
        ],
    )
    try:
        for member in topology.workers:
            member.start()
        _start_servers(topology.servers)
        keys.update(creating.result(COMMAND_TIMEOUT))
    except BaseException:
        topology.stop()
        raise
    return topology


def _start_servers(servers: list[Member], attempts: int = 3) -> None:
    """Start every server on a free port at once; a server that lost its port to another
    process between free_port() and bind() is started again on another."""
    pending = list(servers)
    for attempt in range(1, attempts + 1):
        for member in pending:
            member.port = free_port(HOST)
            member.start()
        deadline = time.monotonic() + HEALTH_TIMEOUT
        while True:
            pending = [m for m in pending if not (m.running() and _healthy(m))]
            if not pending:
                return
            if not any(m.running() for m in pending):
                break  # every one left has exited
            if time.monotonic() > deadline:
                wait_healthy(pending, timeout=0)  # fails, saying which
            time.sleep(0.05)
        if attempt == attempts or not all(_port_taken(m) for m in pending):
            wait_healthy(pending, timeout=0)  # fails with the log of the one that exited


def _healthy(member: Member) -> bool:
    try:
        return httpx.get(f"{member.base_url}/health", timeout=2.0).status_code == 200
    except httpx.TransportError:
        return False


def _port_taken(member: Member) -> bool:
    return "address already in use" in member.log().lower()


@contextlib.contextmanager
def topology_on(postgres: Any, workdir: Path, **options: Any) -> Iterator[Topology]:
    """A topology on a fresh database of the session's PostgreSQL server, dropped after."""
    name = postgres.create_database("scale")
    try:
        topology = start_topology(postgres.url(name), workdir, **options)
        try:
            yield topology
        finally:
            topology.stop()
    finally:
        postgres.drop_database(name)
