"""The deliverer: sends due webhook deliveries, a few at a time, and records each try.

It runs beside the job runner: a thread in each `tally serve` (the embedded default) and in
each `tally worker`. Deliveries are their own queue rather than one job each: there are
many and they are small, and an endpoint that hangs for its whole timeout must hold up
neither exports and imports nor the deliveries to other endpoints, so tries run in a
small pool and each is recorded as soon as it ends.

Requests write events only. The deliverer turns them into deliveries after commit (one
per endpoint that wants the event, in batches, following a cursor per endpoint), so an
endpoint costs the request that caused the event nothing.

At least once: a delivery is leased to one deliverer while it tries it; a deliverer that
dies leaves the lease to run out, and the next claim tries it again (the same event id and
delivery id, so receivers can tell).
"""

import logging
import os
import queue
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta

from tally.clock import utcnow
from tally.db.engine import Database
from tally.db.prepared import Row
from tally.ids import alnum
from tally.metrics import registry as metrics
from tally.webhooks import presenter, repository, sender, service

log = logging.getLogger("tally.webhooks")

# Tries that end within this long of each other are recorded in one transaction.
_GATHER_SECONDS = 0.005


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
        # A try must end well within its lease, or a second deliverer would start another:
        # a claimed delivery may wait for one try ahead of it in the pool, then take its own.
        self.lease = timedelta(seconds=max(lease_seconds, 3 * timeout_seconds))
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.retry_scale = retry_scale
        self.clock = clock
        self.worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{alnum(8)}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="tally-webhook")
        self._senders = sender.Senders()
        # Tries handed to the pool and not recorded yet; their outcomes come back here.
        self._in_flight = 0
        self._done: queue.SimpleQueue[tuple[Row, service.Tried | None]] = queue.SimpleQueue()
        self._next_look = 0.0  # when to look for new events and due retries without a wake
        self._endpoints = True  # whether any endpoint was active at the last look

    def start(self) -> None:
        self._thread = threading.Thread(target=self.run_forever, name="tally-webhooks", daemon=True)
        self._thread.start()

    def wake(self) -> None:
        """Events were just committed: look now rather than at the next poll. Ignored while
        no endpoint is active (known at the last poll): every write request would otherwise
        cost this thread a query on the server's core for nothing."""
        if self._endpoints:
            self._wake.set()

    def endpoints_changed(self) -> None:
        """An endpoint was added or changed in this process: look at once."""
        self._endpoints = True
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
                self._step()
            except Exception:  # the loop outlives any one failure (logged, retried later)
                log.exception("webhook deliverer step failed")
                self._stop.wait(self.poll_seconds)
        deadline = time.monotonic() + self.timeout + 1
        while self._in_flight and time.monotonic() < deadline:
            self._record(wait_seconds=deadline - time.monotonic())

    def _step(self) -> None:
        woken = self._wake.is_set()
        if woken or time.monotonic() >= self._next_look:
            self._wake.clear()
            self._next_look = time.monotonic() + self.poll_seconds
            self._relay()
            claimed = self._claim()
        elif self._in_flight <= self.concurrency:
            # Room for a full round of tries: claim what is due (a claim is a write on
            # SQLite, so tries are claimed a round at a time, not one by one).
            claimed = self._claim()
        else:
            claimed = 0
        if self._in_flight == 0:
            self._wake.wait(max(0.0, self._next_look - time.monotonic()))
            return
        self._record(wait_seconds=0.0 if claimed else min(self.poll_seconds, 0.05))

    def _relay(self) -> int:
        """Make the deliveries of newly committed events (tally.webhooks.service.relay)."""
        with self.db.transaction(write=False) as conn:
            self._endpoints = repository.any_active(conn)
            if not self._endpoints or not repository.behind(conn):
                return 0
        with self.db.transaction(write=True) as conn:
            return service.relay(conn, now=self.clock())

    def _claim(self) -> int:
        # Up to two rounds of tries: the next round waits ready in the pool's queue.
        room = 2 * self.concurrency - self._in_flight
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
            self._pool.submit(self._try, row)
        self._in_flight += len(rows)
        return len(rows)

    def _try(self, claimed: Row) -> None:
        try:
            body = presenter.envelope(claimed)
            headers = service.headers(claimed, body, now=int(time.time()))
            outcome = self._senders.post(
                claimed["url"],
                body,
                headers,
                timeout=self.timeout,
                allow_private=self.allow_private,
            )
        except Exception as exc:
            # A failed try like any other (counted, retried on the schedule), never one
            # that is silently claimed again and again.
            log.exception("webhook delivery %s", claimed["id"])
            outcome = sender.Outcome(None, f"internal error: {type(exc).__name__}", 0)
        except BaseException:
            self._done.put((claimed, None))  # not recorded: its lease runs out
            raise
        self._done.put((claimed, service.Tried(claimed, outcome, self.clock())))

    def _record(self, wait_seconds: float) -> int:
        """Record the tries that ended: the first waited for up to ``wait_seconds``, then
        those ending within a few milliseconds of it, in one transaction; how many."""
        ended: list[service.Tried] = []
        try:
            first = (
                self._done.get(timeout=wait_seconds) if wait_seconds else self._done.get_nowait()
            )
        except queue.Empty:
            return 0
        gathered = [first]
        deadline = time.monotonic() + _GATHER_SECONDS
        while len(gathered) < self._in_flight:
            left = deadline - time.monotonic()
            try:
                gathered.append(
                    self._done.get(timeout=left) if left > 0 else self._done.get_nowait()
                )
            except queue.Empty:
                break
        self._in_flight -= len(gathered)
        ended = [tried for _, tried in gathered if tried is not None]
        if not ended:
            return 0
        with self.db.transaction(write=True) as conn:
            for one in ended:
                service.record(conn, one, worker=self.worker, retry_scale=self.retry_scale)
        for one in ended:
            metrics.webhook_tries.labels("ok" if one.outcome.ok else "failed").inc()
            if not one.outcome.ok:
                log.warning(
                    "webhook delivery %s to %s failed: %s",
                    one.claimed["id"],
                    one.claimed["webhook_id"],
                    one.outcome.status or one.outcome.error,
                )
        return len(ended)
