"""A real ``tally serve`` process, started exactly the way an operator would start it."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from support.inprocess import POSTGRES_DASHBOARD_SECRET
from support.net import free_port

HEALTH_TIMEOUT = 30.0
COMMAND_TIMEOUT = 120.0
_HOST = "127.0.0.1"


def tally_executable() -> Path:
    """The ``tally`` console script of the interpreter running the tests."""
    path = Path(sys.executable).parent / "tally"
    if not path.exists():
        pytest.fail(f"{path} not found: install the project first (pip install -e '.[dev]')")
    return path


def tally_env(db_url: str, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ)
    if not db_url.startswith("sqlite"):
        # PostgreSQL's servers need the dashboard's secret given (SQLite's make a key file).
        env.setdefault("TALLY_DASHBOARD_SECRET", POSTGRES_DASHBOARD_SECRET)
    env.update(extra or {})
    env["TALLY_DATABASE_URL"] = db_url
    env["PYTHONUNBUFFERED"] = "1"
    return env


def tally_command(
    args: list[str], *, db_url: str, cwd: Path, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run one ``tally`` command to completion, whatever its exit status."""
    return subprocess.run(
        [str(tally_executable()), *args],
        cwd=cwd,
        env=tally_env(db_url),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def run_tally(
    args: list[str], *, db_url: str, cwd: Path, timeout: float = COMMAND_TIMEOUT
) -> subprocess.CompletedProcess[str]:
    """Run one ``tally`` command to completion; fails the test if it exits non-zero."""
    result = tally_command(args, db_url=db_url, cwd=cwd, timeout=timeout)
    if result.returncode != 0:
        pytest.fail(
            f"`tally {' '.join(args)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout}\n--- stderr ---\n{result.stderr}"
        )
    return result


def parse_credentials(stdout: str) -> dict[str, str]:
    """The JSON object printed by ``tally projects create NAME --json``."""
    text = stdout.strip()
    # Tolerate log lines before the JSON: take the whole output, else its last JSON line.
    candidates = [text, *(line for line in reversed(text.splitlines()) if line.startswith("{"))]
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict) and {"project_id", "app_id", "app_token"} <= value.keys():
            return {key: str(value[key]) for key in ("project_id", "app_id", "app_token")}
    pytest.fail(f"`tally projects create --json` printed no credentials:\n{stdout}")


def create_project_cli(name: str, *, db_url: str, cwd: Path) -> dict[str, str]:
    result = run_tally(["projects", "create", name, "--json"], db_url=db_url, cwd=cwd)
    return parse_credentials(result.stdout)


@dataclass
class LiveServer:
    """A running ``tally serve`` with one project ("test") already created."""

    base_url: str
    app_id: str
    app_token: str
    project_id: str
    db_url: str
    workdir: Path = field(repr=False)
    process: subprocess.Popen[bytes] = field(repr=False)
    stdout_path: Path = field(repr=False)
    stderr_path: Path = field(repr=False)
    extra_projects: list[dict[str, str]] = field(default_factory=list, repr=False)

    @property
    def headers(self) -> dict[str, str]:
        """Authentication headers of the "test" project."""
        return {"X-App-Id": self.app_id, "X-App-Token": self.app_token}

    def new_project(self, name: str) -> dict[str, str]:
        """Create another project with the CLI; returns project_id / app_id / app_token."""
        credentials = create_project_cli(name, db_url=self.db_url, cwd=self.workdir)
        self.extra_projects.append(credentials)
        return credentials

    def client(self, *, timeout: float = 30.0) -> httpx.Client:
        """An httpx client on this server, authenticated as the "test" project."""
        return httpx.Client(base_url=self.base_url, headers=self.headers, timeout=timeout)

    def log(self, limit: int = 20_000) -> str:
        """The tail of the server's stderr and stdout, for failure reports."""
        parts = []
        for label, path in (("stderr", self.stderr_path), ("stdout", self.stdout_path)):
            try:
                text = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                text = ""
            parts.append(f"--- {label} ---\n{text[-limit:]}")
        return "\n".join(parts)

    def kill(self) -> None:
        """SIGKILL to the server and its workers at once: nothing gets to clean up."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=10)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL to the whole process group after 10 s."""
        proc = self.process
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                # The server runs in its own session, so its group holds only its workers.
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)


def _wait_healthy(server: LiveServer, timeout: float) -> bool:
    """True once GET /health answers 200; False if the process died first."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=server.base_url, timeout=2.0) as http:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                return False
            with contextlib.suppress(httpx.TransportError):
                if http.get("/health").status_code == 200:
                    return True
            time.sleep(0.1)
    server.stop()
    pytest.fail(f"tally serve did not answer GET /health within {timeout:.0f}s\n{server.log()}")


def start_live_server(
    db_url: str,
    workdir: Path,
    *,
    timeout: float = HEALTH_TIMEOUT,
    attempts: int = 3,
    workers: int = 1,
    env: dict[str, str] | None = None,
) -> LiveServer:
    """``tally migrate``, ``tally projects create test --json``, then ``tally serve``
    (with ``env`` added to its environment)."""
    workdir.mkdir(parents=True, exist_ok=True)
    run_tally(["migrate"], db_url=db_url, cwd=workdir)
    credentials = create_project_cli("test", db_url=db_url, cwd=workdir)
    for attempt in range(1, attempts + 1):
        port = free_port(_HOST)
        stdout_path = workdir / f"serve-{port}.stdout.log"
        stderr_path = workdir / f"serve-{port}.stderr.log"
        with stdout_path.open("wb") as out, stderr_path.open("wb") as err:
            process = subprocess.Popen(
                [
                    str(tally_executable()),
                    *("serve", "--host", _HOST, "--port", str(port)),
                    *("--workers", str(workers)),
                ],
                cwd=workdir,
                env=tally_env(db_url, env),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=err,
                start_new_session=True,
            )
        server = LiveServer(
            base_url=f"http://{_HOST}:{port}",
            app_id=credentials["app_id"],
            app_token=credentials["app_token"],
            project_id=credentials["project_id"],
            db_url=db_url,
            workdir=workdir,
            process=process,
            stdout_path=stdout_path,
            stderr_path=stderr_path,
        )
        if _wait_healthy(server, timeout):
            return server
        log = server.log()
        # Another process may have taken the port between free_port() and bind(): retry.
        if "address already in use" not in log.lower() or attempt == attempts:
            pytest.fail(f"tally serve exited with {process.returncode} before /health\n{log}")
    raise AssertionError("unreachable")
