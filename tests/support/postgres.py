"""A throwaway PostgreSQL server for the test session.

The server is initialised in a fresh temporary directory, listens on 127.0.0.1 on a free
port (its Unix socket stays inside that directory), trusts every local connection and runs
with durability switched off (``fsync``, ``synchronous_commit``, ``full_page_writes``): the
data lives only as long as the test session.

PostgreSQL refuses to run as root, so when the tests run as root the directory is handed to
the ``postgres`` user and ``initdb`` / ``pg_ctl`` run through ``runuser`` (or ``setpriv``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import re
import secrets
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql

from support.net import free_port

_REQUIRED_BINARIES = ("initdb", "pg_ctl", "postgres")
_SUPERUSER = "postgres"
_HOST = "127.0.0.1"


class PostgresUnavailable(RuntimeError):
    """PostgreSQL cannot be started on this machine (binaries or a non-root user missing)."""


def _has_binaries(bindir: Path) -> bool:
    return all(os.access(bindir / name, os.X_OK) for name in _REQUIRED_BINARIES)


def _version_key(bindir: Path) -> tuple[int, ...]:
    # /usr/lib/postgresql/<version>/bin; versions are "15" or, before 10, "9.6".
    return tuple(int(part) for part in re.findall(r"\d+", bindir.parent.name))


def find_bindir() -> Path | None:
    """Directory holding initdb/pg_ctl/postgres, or None when PostgreSQL is not installed.

    Order: ``$TALLY_TEST_PG_BINDIR``, ``pg_config --bindir``, the newest
    ``/usr/lib/postgresql/*/bin``, then ``initdb`` on ``PATH``.
    """
    override = os.environ.get("TALLY_TEST_PG_BINDIR")
    if override:
        path = Path(override)
        if not _has_binaries(path):
            raise PostgresUnavailable(f"TALLY_TEST_PG_BINDIR={override} lacks initdb/pg_ctl")
        return path
    candidates: list[Path] = []
    pg_config = shutil.which("pg_config")
    if pg_config:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            out = subprocess.run(
                [pg_config, "--bindir"], capture_output=True, text=True, timeout=10, check=True
            ).stdout.strip()
            if out:
                candidates.append(Path(out))
    candidates.extend(
        sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    )
    initdb = shutil.which("initdb")
    if initdb:
        candidates.append(Path(initdb).parent)
    return next((path for path in candidates if _has_binaries(path)), None)


def _privilege_drop() -> tuple[list[str], pwd.struct_passwd | None]:
    """Command prefix that runs a program as ``postgres`` when we are root, and that user."""
    if os.geteuid() != 0:
        return [], None
    try:
        user = pwd.getpwnam(_SUPERUSER)
    except KeyError:
        raise PostgresUnavailable(
            "running as root, and there is no 'postgres' user to run PostgreSQL as"
        ) from None
    runuser = shutil.which("runuser")
    if runuser:
        return [runuser, "-u", user.pw_name, "--"], user
    setpriv = shutil.which("setpriv")
    if setpriv:
        return [
            setpriv,
            f"--reuid={user.pw_uid}",
            f"--regid={user.pw_gid}",
            "--init-groups",
            "--",
        ], user
    raise PostgresUnavailable("running as root, and neither runuser nor setpriv is installed")


def _clean_env() -> dict[str, str]:
    # PGDATA, PGPORT, PGHOST... from the developer's shell must not steer our server.
    env = {key: value for key, value in os.environ.items() if not key.startswith("PG")}
    env["LC_ALL"] = "C"
    return env


class PostgresServer:
    """One running throwaway server. Use :meth:`start`, then :meth:`stop` at the end."""

    def __init__(self, bindir: Path, base_dir: Path, prefix: list[str]) -> None:
        self.bindir = bindir
        self.base_dir = base_dir
        self.data_dir = base_dir / "data"
        self.socket_dir = base_dir / "sock"
        self.log_file = base_dir / "postgres.log"
        self.host = _HOST
        self.port = 0
        self.user = _SUPERUSER
        self._prefix = prefix
        self._running = False

    # -- lifecycle -------------------------------------------------------------------------

    @classmethod
    def start(cls, *, attempts: int = 3) -> PostgresServer:
        """Initialise and start a server; raises PostgresUnavailable if it cannot exist here."""
        bindir = find_bindir()
        if bindir is None:
            raise PostgresUnavailable(
                "PostgreSQL server binaries not found (pg_config --bindir, "
                "/usr/lib/postgresql/*/bin, PATH); install the 'postgresql' package"
            )
        prefix, user = _privilege_drop()
        # pytest's own tmp dirs are private to the current user (mode 0700), so the postgres
        # user could not reach them: use a directory directly under /tmp instead.
        parent = "/tmp" if user is not None and os.path.isdir("/tmp") else None
        base_dir = Path(tempfile.mkdtemp(prefix="tally-pg-", dir=parent))
        server = cls(bindir, base_dir, prefix)
        try:
            server.socket_dir.mkdir()
            if user is not None:
                for path in (base_dir, server.socket_dir):
                    os.chown(path, user.pw_uid, user.pw_gid)
            server._initdb()
            server._launch(attempts)
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, *args: str | Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
        cmd = [*self._prefix, *(str(arg) for arg in args)]
        return subprocess.run(
            cmd,
            cwd=self.base_dir,  # readable by the postgres user, unlike root's home
            env=_clean_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def _initdb(self) -> None:
        result = self._run(
            self.bindir / "initdb",
            "-D",
            self.data_dir,
            "-U",
            self.user,
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"initdb failed ({result.returncode}):\n{result.stdout}\n{result.stderr}"
            )
        settings = {
            "listen_addresses": f"'{_HOST}'",
            "unix_socket_directories": f"'{self.socket_dir}'",
            "fsync": "off",
            "synchronous_commit": "off",
            "full_page_writes": "off",
            # Every server process and in-process app keeps a pool; many tests run in a row.
            "max_connections": "300",
            "log_min_messages": "warning",
        }
        # Appending as root keeps the file's owner (postgres), so no chown is needed.
        with (self.data_dir / "postgresql.conf").open("a", encoding="utf-8") as conf:
            conf.write("\n# tally test settings\n")
            conf.writelines(f"{key} = {value}\n" for key, value in settings.items())

    def _launch(self, attempts: int) -> None:
        for attempt in range(1, attempts + 1):
            self.port = free_port(_HOST)
            result = self._run(
                self.bindir / "pg_ctl",
                "-D",
                self.data_dir,
                "-l",
                self.log_file,
                "-o",
                f"-p {self.port}",
                "-w",
                "-t",
                "60",
                "start",
                timeout=90,
            )
            if result.returncode == 0:
                self._running = True
                return
            log = self.read_log()
            port_taken = "could not bind" in log or "already in use" in log
            if not port_taken or attempt == attempts:
                raise RuntimeError(
                    f"pg_ctl start failed ({result.returncode}):\n{result.stdout}\n"
                    f"{result.stderr}\n--- server log ---\n{log}"
                )

    def stop(self) -> None:
        """Stop the server (fast, then immediate) and delete its directory."""
        if self._running:
            for mode in ("fast", "immediate"):
                result = self._run(
                    self.bindir / "pg_ctl",
                    "-D",
                    self.data_dir,
                    "-m",
                    mode,
                    "-w",
                    "stop",
                    timeout=60,
                )
                if result.returncode == 0:
                    break
            self._running = False
        shutil.rmtree(self.base_dir, ignore_errors=True)

    def read_log(self) -> str:
        try:
            return self.log_file.read_text(encoding="utf-8", errors="replace")
        except OSError:
            return ""

    # -- databases -------------------------------------------------------------------------

    def conninfo(self, dbname: str = "postgres") -> dict[str, Any]:
        """Keyword arguments for ``psycopg.connect``."""
        return {"host": self.host, "port": self.port, "user": self.user, "dbname": dbname}

    def url(self, dbname: str) -> str:
        """SQLAlchemy URL of one database on this server."""
        return f"postgresql+psycopg://{self.user}@{self.host}:{self.port}/{dbname}"

    def create_database(self, prefix: str = "tally", *, template: str | None = None) -> str:
        """Create a database with a random name (empty, or a copy of ``template``)."""
        name = f"{prefix}_{secrets.token_hex(6)}"
        statement = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            statement = sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                sql.Identifier(name), sql.Identifier(template)
            )
        with psycopg.connect(**self.conninfo(), autocommit=True) as conn:
            conn.execute(statement)
        return name

    def create_database_url(self, prefix: str = "tally") -> str:
        """Create an empty database; returns its SQLAlchemy URL."""
        return self.url(self.create_database(prefix))

    def drop_database(self, name: str) -> None:
        """Drop a database, disconnecting anyone still connected to it."""
        with psycopg.connect(**self.conninfo(), autocommit=True) as conn:
            # WITH (FORCE) needs PostgreSQL 13 or newer.
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
