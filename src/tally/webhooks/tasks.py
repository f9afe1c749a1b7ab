"""The deliverer: sends each active endpoint the events after its cursor, and retries.

It runs beside the job runner: a thread in each `tally serve` (the embedded default) and in
each `tally worker`. Deliveries are not jobs: there are many and they are small, and an
endpoint that hangs for its whole timeout must hold up neither exports and imports nor
the deliveries to other endpoints, so tries run in a small pool.

Requests write events only. The deliverer reads the events after an endpoint's cursor
(`webhooks.cursor_txid/seq`), sends them in order, and then, in one write transaction
for everything that ended since its last one, writes a delivery row per try (the log:
succeeded, or pending a retry) and moves each cursor past what was sent. On SQLite every
write takes the lock the API's writers need, so a delivery costs one row in a batched
transaction, and nothing is written before the try.

One deliverer at a time sends an endpoint's events: it holds a lease on the endpoint
(`webhooks.lease_worker/until`), taken with a write when it starts on an endpoint and
renewed by the transaction that moves the cursor, so one that keeps up writes nothing
else. Failed first tries become pending rows, claimed and retried on the schedule like
any delivery (BEHAVIOR 20.6).

At least once: a deliverer that dies leaves the cursor where its last write put it and
its lease to run out; whoever takes the endpoint next sends the same events again, with
the same delivery ids (tally.webhooks.service.delivery_id), so receivers can tell. A
retry is leased to one deliverer while it tries it, and redone the same way.
"""

import logging
import os
import queue
import socket
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import DBAPIError

from tally.clock import utcnow
from tally.db.engine import Database
from tally.db.prepared import Row
from tally.events import repository as events_repository
from tally.ids import alnum
from tally.metrics import registry as metrics
from tally.webhooks import presenter, repository, sender, service

log = logging.getLogger("tally.webhooks")

Position = tuple[int, int]

# Lease time kept in hand past a try and its recording: other hosts' clocks may run ahead.
_LEASE_MARGIN_SECONDS = 2.0
# How long an endpoint whose tries could not be recorded is left before it is taken again.
_PAUSE_SECONDS = 60.0


@dataclass
class _Sent:
    """An event handed to the pool; ``tried`` once its try has ended."""

    position: Position
    tried: service.Tried | None = None
    done: bool = False
    # Not sent after all: the endpoint stopped wanting its type since it was read.
    skipped: bool = False


@dataclass(eq=False)
class _Stream:
    """An endpoint this deliverer holds the lease on, and its events in flight."""

    endpoint: Row
    recorded: Position  # the cursor as written
    read_to: Position  # the last event read
    lease_until: datetime
    # Wanted events read and not yet handed to the pool: (position, event). The delivery
    # is made when it is handed over, from the endpoint as it is then (its url, secret and
    # wanted events may have changed since the read).
    waiting: deque[tuple[Position, Row]] = field(default_factory=deque)
    # Handed to the pool, oldest first, not yet recorded.
    sent: deque[_Sent] = field(default_factory=deque)
    in_flight: int = 0
    more: bool = False  # the last read filled its page: more events are likely
    dead: bool = False  # lost (the lease, or the endpoint): results are dropped

    def progress(self) -> tuple[Position, list[service.Tried], int]:
        """How far the cursor can move now: past every try that ended before the first one
        still running; the tries it passes, and how many sent items that is."""
        tried: list[service.Tried] = []
        to = self.recorded
        count = 0
        for sent in self.sent:
            if sent.skipped:
                to = sent.position
                count += 1
                continue
            if not sent.done or sent.tried is None:
                break
            tried.append(sent.tried)
            to = sent.position
            count += 1
        else:
            if not self.waiting:
                to = self.read_to  # past the events it does not want, too
        return to, tried, count


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
        batch: int = 500,
        write_every_seconds: float = 0.2,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.allow_private = allow_private
        self.timeout = timeout_seconds
        # A try must end well within its lease, or a second deliverer would start another:
        # a claimed retry may wait for one try ahead of it in the pool, then take its own.
        # A try is handed out only with this much of its stream's lease left: its timeout,
        # its recording (at most write_every later), and a margin for the clocks of other
        # machines a little ahead of ours.
        self._needed = timedelta(
            seconds=timeout_seconds + write_every_seconds + _LEASE_MARGIN_SECONDS
        )
        self.lease = max(
            timedelta(seconds=max(lease_seconds, 3 * timeout_seconds)),
            2 * self._needed + timedelta(seconds=1),
        )
        self.poll_seconds = poll_seconds
        self.concurrency = concurrency
        self.retry_scale = retry_scale
        self.batch = batch
        # Tries that end are written at most this often: each write holds SQLite's lock
        # against the API's writers (who then sleep in SQLite's busy handler), so fewer,
        # larger transactions cost them less. Sending goes on meanwhile. Measured (issue 7's
        # bench): recording at once delivered 15% slower than every 50 ms; 200 ms kept a
        # point or two more of the API's throughput than 50 ms.
        self.write_every = write_every_seconds
        self.clock = clock
        self.worker = f"{socket.gethostname()[:40]}:{os.getpid()}:{alnum(8)}"
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._pool = ThreadPoolExecutor(concurrency, thread_name_prefix="tally-webhook")
        self._senders = sender.Senders()
        self._streams: dict[str, _Stream] = {}
        # Endpoints whose tries could not be recorded, left alone until then (monotonic):
        # taken again at once, their events would go out again every poll.
        self._paused: dict[str, float] = {}
        self._retries: deque[Row] = deque()  # claimed, not yet handed to the pool
        self._retried: list[service.Tried] = []  # ended, not yet recorded
        # Tries handed to the pool whose outcome has not come back; outcomes come back here.
        self._in_flight = 0
        self._done: queue.SimpleQueue[tuple[_Stream | None, Any, service.Tried | None]] = (
            queue.SimpleQueue()
        )
        self._next_look = 0.0  # when to look for new events and due retries without a wake
        self._last_write = 0.0
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
        """Stop sending; tries in flight finish and are recorded (up to their timeout)."""
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
            self._collect(deadline - time.monotonic())
        try:
            self._record()
        except Exception:  # stopping anyway: what is unrecorded is sent again (at least once)
            log.exception("webhook deliverer could not record its last tries")
        # Released whatever happened above: retries never sent and endpoints whose tries
        # were not recorded are sent again by others at once (at least once).
        try:
            unsent = [row["seq"] for row in self._retries]
            with self.db.transaction(write=True) as conn:
                repository.release_claims(conn, self.worker, unsent)
                repository.release_leases(conn, self.worker)
            self._retries.clear()
        except Exception:  # their leases run out instead
            log.exception("webhook deliverer could not release its leases")

    def _step(self) -> None:
        if self._wake.is_set() or time.monotonic() >= self._next_look or self._hungry():
            self._wake.clear()
            self._next_look = time.monotonic() + self.poll_seconds
            self._look()
        self._dispatch()
        write_at = self._last_write + self.write_every
        if self._recordable() and time.monotonic() >= write_at:
            self._record()
            self._dispatch()
        if self._recordable():
            wait = write_at - time.monotonic()
        else:
            wait = self._next_look - time.monotonic()
        wait = max(0.0, wait)
        if self._in_flight:
            self._collect(min(wait, self.poll_seconds))
        else:
            self._wake.wait(wait)

    def _hungry(self) -> bool:
        """A stream whose last read filled its page is running short of events to send."""
        return any(s.more and len(s.waiting) < self.concurrency for s in self._streams.values())

    def _recordable(self) -> bool:
        if self._retried:
            return True
        return any(s.progress()[0] != s.recorded for s in self._streams.values())

    def _look(self) -> None:
        """Read the events after each stream and each unheld endpoint; lease endpoints that
        have events for this deliverer (one write, only when there is one to take); claim
        the retries that are due."""
        now = self.clock()
        # A lease is renewed once half of it is gone, so one that keeps being used never
        # comes near its end (the dispatch guard would stop sending).
        renew_before = now + max(self.lease / 2, self._needed + timedelta(seconds=1))
        to_take: list[tuple[Row, list[Row]]] = []
        with self.db.transaction(write=False) as conn:
            rows = repository.streams(conn)
            self._endpoints = bool(rows)
            seen = set()
            for row in rows:
                seen.add(row["id"])
                if self._paused.get(row["id"], 0.0) > time.monotonic():
                    continue
                cursor = (row["cursor_txid"], row["cursor_seq"])
                stream = self._streams.get(row["id"])
                if stream is not None and (
                    row["lease_worker"] != self.worker or cursor != stream.recorded
                ):
                    self._drop(stream)  # taken over, or turned off and on again
                    stream = None
                if stream is not None:
                    stream.endpoint = row  # its url, secret and wanted events may change
                    if len(stream.waiting) < self.concurrency:
                        self._read(conn, stream)
                    if stream.waiting and stream.lease_until < renew_before:
                        to_take.append((row, []))
                    continue
                if row["lease_worker"] not in (None, self.worker) and row["lease_until"] >= now:
                    continue  # another deliverer's
                page = events_repository.page(
                    conn, row["project_id"], limit=self.batch, after=cursor
                )
                if page:
                    to_take.append((row, page))
            for gone in set(self._streams) - seen:
                self._drop(self._streams[gone])  # deleted or turned off
            due = self._room() > 0 and repository.any_due(conn, now=now)
        if to_take:
            # Taken in the order _record writes them (code points, not the database's
            # collation), so two deliverers never wait on each other's rows crosswise.
            self._take(sorted(to_take, key=lambda taken: str(taken[0]["id"])))
        if due:
            self._claim()

    def _read(self, conn: Any, stream: _Stream) -> None:
        page = events_repository.page(
            conn, stream.endpoint["project_id"], limit=self.batch, after=stream.read_to
        )
        self._add(stream, page)

    def _add(self, stream: _Stream, page: list[Row]) -> None:
        stream.more = len(page) == self.batch
        for event in page:
            if service.wants(stream.endpoint, event["type"]):
                stream.waiting.append(((event["txid"], event["seq"]), event))
        if page:
            stream.read_to = (page[-1]["txid"], page[-1]["seq"])

    def _take(self, wanted: list[tuple[Row, list[Row]]]) -> None:
        now = self.clock()
        until = now + self.lease
        taken: list[tuple[Row, list[Row]]] = []
        with self.db.transaction(write=True) as conn:
            for row, page in wanted:
                cursor = (row["cursor_txid"], row["cursor_seq"])
                if repository.take_lease(
                    conn,
                    row["id"],
                    row["project_id"],
                    cursor=cursor,
                    worker=self.worker,
                    now=now,
                    until=until,
                ):
                    taken.append((row, page))
        self._last_write = time.monotonic()
        for row, page in taken:
            stream = self._streams.get(row["id"])
            if stream is not None:
                stream.lease_until = until
                continue
            cursor = (row["cursor_txid"], row["cursor_seq"])
            stream = _Stream(endpoint=row, recorded=cursor, read_to=cursor, lease_until=until)
            self._add(stream, page)
            self._streams[row["id"]] = stream

    def _drop(self, stream: _Stream) -> None:
        stream.dead = True
        if self._streams.get(stream.endpoint["id"]) is stream:  # not a newer one for it
            del self._streams[stream.endpoint["id"]]

    def _room(self) -> int:
        # Up to two rounds of retries: the next round waits ready for the pool.
        return 2 * self.concurrency - self._in_flight - len(self._retries)

    def _claim(self) -> None:
        room = self._room()
        now = self.clock()
        with self.db.transaction(write=True) as conn:
            rows = repository.claim(
                conn, now=now, until=now + self.lease, worker=self.worker, limit=room
            )
        self._last_write = time.monotonic()
        self._retries.extend(rows)

    def _dispatch(self) -> None:
        """Hand tries to the pool while it has a free thread: claimed retries first, then
        each stream's events in order, the stream with the fewest in flight first. A try
        starts only if it ends well within its stream's lease."""
        latest = self.clock() + self._needed
        while self._in_flight < self.concurrency and not self._stop.is_set():
            if self._retries:
                self._submit(None, self._retries.popleft(), None)
                continue
            # At most a batch sent and not yet recorded per stream: one slow try holds the
            # cursor back, and what was sent after it would otherwise pile up (in memory,
            # in the next recording, and in what a take-over sends again).
            ready = [
                s
                for s in self._streams.values()
                if s.waiting and s.lease_until > latest and len(s.sent) < self.batch
            ]
            if not ready:
                return
            stream = min(ready, key=lambda s: s.in_flight)
            position, event = stream.waiting.popleft()
            sent = _Sent(position)
            stream.sent.append(sent)
            if not service.wants(stream.endpoint, event["type"]):
                sent.done = sent.skipped = True
                continue
            stream.in_flight += 1
            self._submit(stream, service.first_try(stream.endpoint, event), sent)

    def _submit(self, stream: _Stream | None, claimed: Any, sent: _Sent | None) -> None:
        self._in_flight += 1
        self._pool.submit(self._try, stream, claimed, sent)

    def _try(self, stream: _Stream | None, claimed: Row, sent: _Sent | None) -> None:
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
            # that is silently tried again and again.
            log.exception("webhook delivery %s", claimed["id"])
            outcome = sender.Outcome(None, f"internal error: {type(exc).__name__}", 0)
        except BaseException:
            self._done.put((stream, sent, None))  # not recorded: sent again later
            raise
        self._done.put((stream, sent, service.Tried(claimed, outcome, self.clock())))

    def _collect(self, wait_seconds: float) -> int:
        """Take the outcomes of tries that ended: the first waited for up to
        ``wait_seconds``, then any others already there; how many."""
        try:
            first = (
                self._done.get(timeout=wait_seconds)
                if wait_seconds > 0
                else self._done.get_nowait()
            )
        except queue.Empty:
            return 0
        ended = [first]
        while True:
            try:
                ended.append(self._done.get_nowait())
            except queue.Empty:
                break
        self._in_flight -= len(ended)
        for stream, sent, tried in ended:
            if tried is not None:
                metrics.webhook_tries.labels("ok" if tried.outcome.ok else "failed").inc()
                if not tried.outcome.ok:
                    log.warning(
                        "webhook delivery %s to %s failed: %s",
                        tried.claimed["id"],
                        tried.claimed["webhook_id"],
                        tried.outcome.status or tried.outcome.error,
                    )
            if stream is None:
                if tried is not None:
                    self._retried.append(tried)
                continue
            stream.in_flight -= 1
            if stream.dead:
                continue  # someone else sends and records these events
            assert sent is not None
            sent.tried, sent.done = tried, True
            if tried is None:
                self._drop(stream)  # its lease runs out; whoever takes it sends again
        return len(ended)

    def _record(self) -> None:
        """Write every try that ended and can be written, and move the cursors past them:
        one transaction."""
        retried, self._retried = self._retried, []
        moves = []
        for stream in sorted(self._streams.values(), key=lambda s: str(s.endpoint["id"])):
            to, tried, count = stream.progress()
            if to != stream.recorded:
                moves.append((stream, to, tried, count))
        if not retried and not moves:
            return
        until = self.clock() + self.lease
        lost = []
        try:
            with self.db.transaction(write=True) as conn:
                # Each in a savepoint: one that cannot be written (whatever the cause) is
                # left out, logged, and must not keep every other endpoint's deliveries
                # from being recorded, again and again.
                for one in retried:
                    try:
                        with conn.begin_nested():
                            service.record(
                                conn, one, worker=self.worker, retry_scale=self.retry_scale
                            )
                    except DBAPIError:
                        # Its lease runs out and it is tried again.
                        log.exception(
                            "webhook delivery %s: its try not recorded", one.claimed["id"]
                        )
                for stream, to, tried, _ in moves:
                    try:
                        with conn.begin_nested():
                            written = service.record_batch(
                                conn,
                                stream.endpoint,
                                cursor=stream.recorded,
                                to=to,
                                tried=tried,
                                worker=self.worker,
                                lease_until=until,
                                retry_scale=self.retry_scale,
                            )
                    except DBAPIError:
                        log.exception(
                            "webhook %s: its tries not recorded; its events are sent again"
                            " in %.0f s",
                            stream.endpoint["id"],
                            _PAUSE_SECONDS,
                        )
                        self._paused[stream.endpoint["id"]] = time.monotonic() + _PAUSE_SECONDS
                        written = False
                    if not written:
                        lost.append(stream)
        except BaseException:
            self._retried = retried + self._retried
            raise
        finally:
            self._last_write = time.monotonic()
        for stream, to, _, count in moves:
            if any(stream is gone for gone in lost):
                self._drop(stream)
                continue
            for _ in range(count):
                stream.sent.popleft()
            stream.recorded = to
            stream.lease_until = until
