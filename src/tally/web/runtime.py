"""What the app holds for its lifetime: the database, its thread limiter, the key cache and
the order-session settings."""

import asyncio
import time
from functools import partial
from pathlib import Path

import anyio
from fastapi import Request

from tally.core.token_bucket import Limit
from tally.dashboard.secret import DashboardSecret
from tally.db.engine import Database
from tally.errors import TallyError
from tally.jobs.runner import Runner
from tally.projects import repository as projects_repository
from tally.projects import service as projects
from tally.web.batches import Batches, Waiting
from tally.web.queue import Queue
from tally.web.ratelimits import RateLimits, limit_of
from tally.webhooks.tasks import Deliverer

# How long a verified key pair is trusted without asking the database again.
_AUTH_TTL_SECONDS = 30.0
# Once a trusted pair has less than this share of its lifetime left, the next request that
# presents it has it checked again in the background, while it is still trusted.
_REFRESH_SHARE = 1 / 6

# What a key check answers: the project and the rate limit it is held to (None: none).
Caller = tuple[str, Limit | None]


class Runtime:
    """What the app holds for its lifetime: the database, its write gate and the key cache."""

    def __init__(
        self,
        db: Database,
        *,
        exports_dir: Path,
        session_wait_ms: int = 500,
        public_url: str | None = None,
        webhooks_allow_private: bool = False,
        rate_limit: Limit | None = None,
        metrics_token: str | None = None,
        key_ttl_seconds: float = _AUTH_TTL_SECONDS,
        dashboard_secret: DashboardSecret | None = None,
    ) -> None:
        self.db = db
        # Where export files are written and served from; the base of their download URLs
        # (None: the address each caller used).
        self.exports_dir = exports_dir
        self.public_url = public_url.rstrip("/") if public_url else None
        # How long a request waits for an order session another request holds, and the
        # line this process's requests wait in (tally.web.sessions).
        self.session_wait = session_wait_ms / 1000
        self.order_queue = Queue()
        # The job runner of this process (None: jobs run in `tally worker` processes).
        self.jobs: Runner | None = None
        # The webhook deliverer of this process (None: `tally worker` processes deliver).
        self.deliverer: Deliverer | None = None
        self.webhooks_allow_private = webhooks_allow_private
        # Verified key pairs: (project id, its rate limit or None, trusted until).
        self._keys: dict[tuple[str, str], tuple[str, Limit | None, float]] = {}
        self._key_ttl = key_ttl_seconds
        # The one check of each pair under way, which every request presenting it awaits.
        self._checking: dict[tuple[str, str], asyncio.Future[Caller]] = {}
        # Checks of key pairs against the database so far (for tests and diagnostics).
        self.key_checks = 0
        self.rate_limits = RateLimits(rate_limit)
        # The bearer token GET /metrics asks for (None: open).
        self.metrics_token = metrics_token
        # What dashboard sessions are signed with besides the token hash; without it the
        # dashboard signs no one in and says why.
        self.dashboard_secret = dashboard_secret or DashboardSecret(
            None, "The dashboard cannot sign anyone in: this server has no signing secret."
        )
        # SQLite work on one object is CPU in this process and never waits: a read never
        # does (WAL), a write is only tried here when the write lock is free. It costs
        # less than the hop to a worker thread and back (about 170 us), so it runs on the
        # event loop. Lists stay on threads: run inline, their few milliseconds each
        # starved other connections (list p99 2.6 s instead of 0.3 s under load).
        self.inline_quick_work = db.is_sqlite
        # Event-loop writers waiting for the write lock, and their shared retry timer.
        self.write_waiting = Waiting()
        db.on_gate_given = self.write_waiting.gate_given
        # The event loop's writes of one turn, committed together (SQLite).
        self.batches = Batches(db)
        # Threads that may run database work at once. SQLite work is CPU in this process:
        # more threads only trade the GIL back and forth (measured: get-by-id p99 halved and
        # throughput +20% with 2 threads instead of anyio's 40 at 32 connections).
        # PostgreSQL work waits on the network, so it gets a thread per pooled connection.
        self.limiter = anyio.CapacityLimiter(
            2 if db.engine.dialect.name == "sqlite" else max(2, db.engine.pool.size())  # type: ignore[attr-defined]
        )

    async def caller(self, app_id: str, app_token: str) -> Caller:
        """The project of a key pair and its rate limit: from the cache while the pair is
        trusted, else from the one check of that pair under way (started here if none).

        One check, not one per request: when a trusted pair ran out under load, every
        request in flight used to queue its own check for the two database threads, and
        those threads wait for the GIL behind the busy event loop; the last waited half a
        second (one benchmark's p99 was that stall). A pair near the end of its lifetime
        is checked again in the background, so that under steady use it never runs out."""
        key = (app_id, app_token)
        hit = self._keys.get(key)
        now = time.monotonic()
        if hit is not None and hit[2] > now:
            if hit[2] - now < self._key_ttl * _REFRESH_SHARE:
                self._check(key)
            return hit[0], hit[1]
        # Shielded: a request that goes away does not cancel the others' check.
        return await asyncio.shield(self._check(key))

    def _check(self, key: tuple[str, str]) -> "asyncio.Future[Caller]":
        pending = self._checking.get(key)
        if pending is None:
            pending = asyncio.ensure_future(
                anyio.to_thread.run_sync(self.authenticate, *key, limiter=self.limiter)
            )
            self._checking[key] = pending
            pending.add_done_callback(partial(self._checked, key))
        return pending

    def _checked(self, key: tuple[str, str], done: "asyncio.Future[Caller]") -> None:
        del self._checking[key]
        if done.cancelled():
            return
        error = done.exception()  # also marks a background check's failure as seen
        if error is not None:
            if isinstance(error, TallyError) and error.status == 401:
                self._keys.pop(key, None)  # revoked while trusted: trusted no longer
            return
        project_id, limit = done.result()
        if len(self._keys) > 10_000:
            self._keys.clear()
        self._keys[key] = (project_id, limit, time.monotonic() + self._key_ttl)

    def authenticate(self, app_id: str | None, app_token: str | None) -> Caller:
        """The project of a key pair and the rate limit it is held to (None: none), read
        from the database; a changed limit takes effect within the cache's lifetime."""
        self.key_checks += 1
        with self.db.transaction(write=False) as conn:
            project_id = projects.authenticate(conn, app_id=app_id, app_token=app_token)
            per_second, burst = projects_repository.rate_limit(conn, project_id)
        limit = self.rate_limits.default if per_second is None else limit_of(per_second, burst)
        return project_id, limit


def runtime_of(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime
