"""The deliverer: sends due webhook deliveries, a few at a time, and records each try.

It runs beside the job runner: a thread in each `tally serve` (the embedded default) and in
each `tally worker`. Deliveries are their own queue rather than one job each: there are
many and they are small, and an endpoint that hangs for its whole timeout must hold up
neither exports and imports nor the deliveries to other endpoints, so tries run in a
small pool and each is recorded as soon as it ends.

At least once: a delivery is leased to one deliverer while it tries it; a deliverer that
dies leaves the lease to run out, and the next claim tries it again (the same event id and
delivery id, so receivers can tell).
"""

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from datetime import datetime, timedelta

from tally.clock import utcnow
from tally.db.engine import Database
from tally.db.prepared import Row
from tally.ids import alnum
from tally.webhooks import presenter, repository, sender, service

log = logging.getLogger("tally.webhooks")


class Deliverer:
    def __init__(
        self,
        db: Database,
        *,
        allow_private: bool = False,
        timeout_seconds: float = 10.0,
        lease_seconds: float = 30.0,
        poll_seconds: float = 1.0,
        concurrency: int = 8,
        retry_scale: float = 1.0,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.allow_private = allow_private
        self.timeout = timeout_seconds
        # A try must end well within its lease, or a second deliverer would start another.
        self.lease = timedelta(seconds=max(lease_seconds, 2 * timeout_seconds + 1))
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.retry_scale = retry_scale
        self.clock = clock
        self.worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{alnum(8)}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="tally-webhook")
        self._in_flight: dict[Future[service.Tried], Row] = {}

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="tally-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Deliveries were just committed: look now rather than at the next poll."""
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop claiming; tries in flight finish and are recorded (up to their timeout)."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        self._pool.shutdown(wait=False, cancel_futures=True)

    def run_forever(self) -> None:
        while not self._stop.is_set():
            try:
                claimed = self._claim_more()
                finished = self._collect(wait_seconds=0 if claimed else None)
            except Exception:  # the loop outlives any one failure (logged, retried later)
                log.exception("webhook deliverer step failed")
                claimed, finished = 0, 0
                self._stop.wait(self.poll_seconds)
            if not claimed and not finished and not self._in_flight:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
        self._collect(wait_seconds=self.timeout + 1)

    def run_once(self) -> int:
        """Claim what is due, try it all and record it; how many were tried (tests, CLI)."""
        count = self._claim_more()
        while self._in_flight:
            self._collect(wait_seconds=self.timeout + 1)
        return count

    def _claim_more(self) -> int:
        room = self.concurrency - len(self._in_flight)
        if room <= 0:
            return 0
        now = self.clock()
        with self.db.transaction(write=False) as conn:
            if not repository.any_due(conn, now=now):
                return 0
        with self.db.transaction(write=True) as conn:
            rows = repository.claim(
                conn, now=now, until=now + self.lease, worker=self.worker, limit=room
            )
        for row in rows:
            self._in_flight[self._pool.submit(self._try, row)] = row
        return len(rows)

    def _try(self, claimed: Row) -> service.Tried:
        body = presenter.envelope(claimed)
        headers = service.headers(claimed, body, now=int(time.time()))
        outcome = sender.post(
            claimed["url"],
            body,
            headers,
            timeout=self.timeout,
            allow_private=self.allow_private,
        )
        return service.Tried(claimed, outcome, self.clock())

    def _collect(self, wait_seconds: float | None) -> int:
        """Record the tries that ended, waiting up to ``wait_seconds`` for one (None: a
        moment, so new deliveries are still claimed while a slow try goes on); how many."""
        if not self._in_flight:
            return 0
        timeout = min(self.poll_seconds, 0.05) if wait_seconds is None else wait_seconds
        done, _ = wait(list(self._in_flight), timeout=timeout, return_when=FIRST_COMPLETED)
        if not done:
            return 0
        tried = []
        for future in done:
            claimed = self._in_flight.pop(future)
            failure = future.exception()
            if failure is None:
                tried.append(future.result())
            else:
                # Not recorded: its lease runs out and it is tried again.
                log.error("webhook delivery %s: %r", claimed["id"], failure)
        with self.db.transaction(write=True) as conn:
            for one in tried:
                service.record(conn, one, worker=self.worker, retry_scale=self.retry_scale)
        for one in tried:
            if not one.outcome.ok:
                log.warning(
                    "webhook delivery %s to %s failed: %s",
                    one.claimed["id"],
                    one.claimed["webhook_id"],
                    one.outcome.status or one.outcome.error,
                )
        return len(tried)
