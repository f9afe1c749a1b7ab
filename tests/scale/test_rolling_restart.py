"""Graceful shutdown and rolling restarts (issue 9). SIGTERM to ``tally serve`` lets the
request in flight finish, refuses new connections, frees the order sessions and exits
cleanly; servers restarted one after the other under a steady stream of redemptions lose
no request and do none twice (clients retry what was not answered with the same
Idempotency-Key); SIGTERM to a ``tally worker`` mid-import hands the job back at its last
committed step and another worker finishes it, every order written once."""

from __future__ import annotations

import json
import secrets
import signal
import socket
import threading
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import sqlalchemy as sa

from support.polling import wait_until_finished
from support.server import LiveServer
from support.sessions import blocking_redemptions_of, holding, is_held
from support.topology import CLEAN_EXITS, Topology
from tally.db.locks import lock_number

pytestmark = [pytest.mark.slow, pytest.mark.scale]
on_postgresql = pytest.mark.postgresql

A, B = 0, 1
# Not answered, nothing of it can have been done past what the Idempotency-Key covers: the
# connection was refused, or closed or reset before an answer came.
UNANSWERED = (httpx.ConnectError, httpx.RemoteProtocolError, httpx.ReadError, httpx.WriteError)


def _until(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"not {what} after {timeout:.0f}s")
        time.sleep(0.02)


def _ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, f"{response.request.url}: {response.text}"
    body: dict[str, Any] = response.json()
    return body


def _voucher(http: httpx.Client, code: str, amount_off: int) -> None:
    body = {"type": "DISCOUNT_VOUCHER", "discount": {"type": "AMOUNT", "amount_off": amount_off}}
    _ok(http.post(f"/v1/vouchers/{code}", json=body))


def _refuses_connections(base_url: str) -> bool:
    host, port = base_url.removeprefix("http://").split(":")
    try:
        socket.create_connection((host, int(port)), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def test_sigterm_lets_the_request_in_flight_finish_and_frees_its_order(
    server: LiveServer,
) -> None:
    with server.client() as http:
        _voucher(http, "HELD", 300)
    body = {
        "redeemables": [{"object": "voucher", "id": "HELD"}],
        "order": {"source_id": "in-flight", "amount": 2000},
    }
    outcome: list[httpx.Response | Exception] = []

    def redeem() -> None:
        try:
            with server.client() as http:
                outcome.append(http.post("/v1/redemptions", json=body))
        except httpx.HTTPError as exc:
            outcome.append(exc)

    caller = threading.Thread(target=redeem)
    with blocking_redemptions_of(server.db_url, "HELD"):
        caller.start()
        _until(lambda: is_held(server.db_url, server.project_id, "s:in-flight"), "in flight")
        server.process.send_signal(signal.SIGTERM)
        _until(lambda: _refuses_connections(server.base_url), "refusing new connections")
        # Shutting down, and still waiting for the request it is serving.
        assert server.process.poll() is None
        assert outcome == []
    caller.join(30)
    assert len(outcome) == 1 and isinstance(outcome[0], httpx.Response), outcome
    redeemed = _ok(outcome[0])
    assert (redeemed["order"]["discount_amount"], redeemed["order"]["total_amount"]) == (300, 1700)
    assert server.process.wait(30) in CLEAN_EXITS, server.log()
    assert not is_held(server.db_url, server.project_id, "s:in-flight")
    assert not is_held(server.db_url, server.project_id, f"o:{redeemed['order']['id']}")
    engine = sa.create_engine(server.db_url)
    try:
        with engine.connect() as conn:
            used = conn.execute(sa.text("SELECT redeemed_quantity FROM vouchers")).scalar_one()
    finally:
        engine.dispose()
    assert used == 1


@dataclass
class Load:
    """Clients redeeming one voucher without pause, each redemption on a new order with an
    Idempotency-Key of its own, sent to the servers in turn. A request not answered
    (:data:`UNANSWERED`), or refused as retryable, is sent again with the same key to the
    next server, as a client behind a load balancer would, until it is answered."""

    topology: Topology
    code: str
    threads: int = 2
    run_id: str = field(default_factory=lambda: secrets.token_hex(3))
    answered: dict[str, dict[str, Any]] = field(default_factory=dict)
    answered_by: Counter[int] = field(default_factory=Counter)
    retried: Counter[str] = field(default_factory=Counter)
    replayed: int = 0
    sent: int = 0
    unexpected: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _running: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        for number in range(self.threads):
            thread = threading.Thread(target=self._client, args=(number,), daemon=True)
            thread.start()
            self._running.append(thread)

    def stop(self) -> None:
        self._stop.set()
        for thread in self._running:
            thread.join(90)
            assert not thread.is_alive(), "a client never got its answer"

    def wait(self, condition: Callable[[], bool], what: str) -> None:
        _until(lambda: condition() or bool(self.unexpected), what, timeout=60)
        assert self.unexpected == []

    def count(self, server: int | None = None) -> int:
        with self._lock:
            return len(self.answered) if server is None else self.answered_by[server]

    def summary(self) -> str:
        return (
            f"sent {self.sent}, answered {len(self.answered)}, replayed {self.replayed}, "
            f"answered by server {dict(self.answered_by)}, retried {dict(self.retried)}"
        )

    def _client(self, number: int) -> None:
        servers = len(self.topology.servers)
        clients = [self.topology.client(i) for i in range(servers)]
        turn = number
        try:
            for n in range(1_000_000):
                if self._stop.is_set():
                    return
                with self._lock:
                    self.sent += 1
                self._until_answered(clients, f"{self.run_id}-{number}-{n}", turn % servers)
                turn += 1
        finally:
            for client in clients:
                client.close()

    def _until_answered(self, clients: list[httpx.Client], key: str, server: int) -> None:
        body = {
            "redeemables": [{"object": "voucher", "id": self.code}],
            "order": {"source_id": key, "amount": 1000},
        }
        deadline = time.monotonic() + 60
        while True:
            reason = None
            try:
                response = clients[server].post(
                    "/v1/redemptions", json=body, headers={"Idempotency-Key": key}
                )
            except UNANSWERED as exc:
                reason = type(exc).__name__
            except httpx.HTTPError as exc:  # a timeout: the server hung
                self._unexpected(f"{key}: {exc!r}")
                return
            else:
                if response.status_code == 200:
                    with self._lock:
                        self.answered[key] = response.json()
                        self.answered_by[server] += 1
                        self.replayed += response.headers.get("idempotent-replayed") == "true"
                    return
                reason = _retryable(response)
                if reason is None:
                    self._unexpected(f"{key}: {response.status_code} {response.text}")
                    return
            with self._lock:
                self.retried[reason] += 1
            if time.monotonic() > deadline:
                self._unexpected(f"{key}: not answered in 60 s ({reason})")
                return
            server = (server + 1) % len(clients)
            time.sleep(0.01)

    def _unexpected(self, what: str) -> None:
        with self._lock:
            self.unexpected.append(what)


def _retryable(response: httpx.Response) -> str | None:
    """The refusals the API defines as worth a retry with the same key: nothing was done
    and nothing stored for the key. 503 ``database_busy`` (SQLite's write lock) and 400
    ``multiple_requests`` (the order is held by another request, e.g. a first try still in
    flight), both sent with Retry-After."""
    try:
        key = response.json().get("key")
    except json.JSONDecodeError:
        return None
    if (response.status_code, key) in ((503, "database_busy"), (400, "multiple_requests")):
        return f"{response.status_code} {key}"
    return None


def _redemptions_per_order(topology: Topology, code: str) -> dict[str, int]:
    rows = topology.rows(
        "SELECT o.source_id, count(*) FROM redemptions r JOIN orders o ON o.id = r.order_id"
        " WHERE r.project_id = :p AND r.voucher_code = :c AND r.object = 'redemption'"
        " AND r.result = 'SUCCESS' GROUP BY o.source_id",
        p=topology.project_id,
        c=code,
    )
    return {source_id: count for source_id, count in rows}


def _errors(lines: list[str]) -> list[str]:
    """Log lines at ERROR or above (a request cancelled at shutdown, a traceback)."""
    marks = ('"level":"ERROR"', '"level":"CRITICAL"', "Traceback")
    return [line for line in lines if any(mark in line for mark in marks)]


@on_postgresql
def test_servers_restarted_one_after_the_other_under_load_lose_and_repeat_nothing(
    topology: Topology,
) -> None:
    code = f"ROLL-{secrets.token_hex(4)}"
    with topology.client(A) as http:
        _voucher(http, code, 100)  # no usage limit: every redemption counts
    load = Load(topology, code, threads=3)
    exits: dict[str, int] = {}
    marks = topology.log_marks()
    load.start()
    try:
        load.wait(lambda: load.count() >= 20, "redeeming")
        for index, member in enumerate(topology.servers):
            exits[member.name] = member.terminate()
            topology.restart(member)  # on its port again, ready
            served = load.count(index)
            load.wait(lambda i=index, s=served: load.count(i) >= s + 10, f"{member.name} back")
    finally:
        load.stop()
    print(f"rolling restart: {load.summary()}, exits {exits}")
    assert load.unexpected == [], load.unexpected
    assert all(status in CLEAN_EXITS for status in exits.values()), exits
    # Every request was answered, and each did its redemption once.
    assert load.sent == len(load.answered) > 0, load.summary()
    ids = {answer["redemptions"][0]["id"] for answer in load.answered.values()}
    assert len(ids) == len(load.answered)
    assert {answer["order"]["source_id"] for answer in load.answered.values()} == set(load.answered)
    assert _redemptions_per_order(topology, code) == dict.fromkeys(load.answered, 1)
    for server in (A, B):
        with topology.client(server) as http:
            voucher = _ok(http.get(f"/v1/vouchers/{code}"))
            assert voucher["redemption"]["redeemed_quantity"] == len(load.answered)
            params = {"result": "SUCCESS", "filters[voucher_code][conditions][$is]": code}
            listed = _ok(http.get("/v1/redemptions", params=params))
            assert listed["total"] == len(load.answered)
    # A retry of an answered request is answered the same, and redeems nothing more.
    key, first = next(iter(load.answered.items()))
    with topology.client(B) as http:
        again = http.post(
            "/v1/redemptions",
            json={
                "redeemables": [{"object": "voucher", "id": code}],
                "order": {"source_id": key, "amount": 1000},
            },
            headers={"Idempotency-Key": key},
        )
        assert (again.status_code, again.headers.get("idempotent-replayed")) == (200, "true")
        assert again.json() == first
        voucher = _ok(http.get(f"/v1/vouchers/{code}"))
        assert voucher["redemption"]["redeemed_quantity"] == len(load.answered)
    assert _errors(topology.server_lines(since=marks)) == []


def _waiting_for(topology: Topology, number: int) -> bool:
    """Whether a transaction waits for advisory lock ``number`` now."""
    rows = topology.rows(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND classid::bigint = :hi AND objid::bigint = :lo",
        hi=number >> 32,
        lo=number & 0xFFFFFFFF,
    )
    return int(rows[0][0]) > 0


def _orders_named(topology: Topology, prefix: str) -> Counter[str]:
    rows = topology.rows(
        "SELECT source_id FROM orders WHERE project_id = :p AND source_id LIKE :s",
        p=topology.project_id,
        s=f"{prefix}%",
    )
    return Counter(source_id for (source_id,) in rows)


@on_postgresql
def test_sigterm_to_a_worker_mid_import_hands_the_job_back_to_the_other(
    topology: Topology,
) -> None:
    prefix, count = f"big-{secrets.token_hex(4)}-", 2000
    orders = [
        {"source_id": f"{prefix}{n}", "amount": 100 + n % 50, "status": "PAID"}
        for n in range(count)
    ]
    # An order half-way through is held as a request would hold it: the step that writes
    # it waits, its earlier steps committed. The worker is stopped right there.
    held = f"s:{prefix}1000"
    with holding(topology.db_url, topology.project_id, held):
        with topology.client(A) as http:
            action_id = _ok(http.post("/v1/orders/import", json=orders))["async_action_id"]
        _until(
            lambda: _waiting_for(topology, lock_number(topology.project_id, held)),
            "an import step waiting for the held order",
        )
        job = topology.job(action_id)
        stopped = topology.worker_of(job.worker)
        assert stopped is not None, job
        other = next(member for member in topology.workers if member is not stopped)
        written = sum(_orders_named(topology, prefix).values())
        assert 0 < written <= 1000 and written == job.checkpoint["next"], (written, job)
        stopped.signal(signal.SIGTERM)
    # The held order is free: the step commits, then the worker puts the job back and ends.
    assert stopped.wait_exit() == 0, stopped.log()
    try:
        handed = topology.job(action_id)
        assert handed.status in ("queued", "running", "done"), handed
        assert handed.worker is None or topology.worker_of(handed.worker) is other, handed
        with topology.client(B) as http:
            action = wait_until_finished(
                http, f"/v1/async-actions/{action_id}", ("DONE", "FAILED"), timeout=120
            )
        assert (action["status"], action["operation_status"]) == ("DONE", "SUCCESS"), action
        assert (action["result"]["done_count"], action["result"]["failed_count"]) == (count, 0)
        assert _orders_named(topology, prefix) == Counter(o["source_id"] for o in orders)
        finished = topology.job(action_id)
        assert finished.status == "done"
        assert topology.worker_of(finished.worker) is other, finished
        # The stopped try was given back, not counted; a take-over after the lease ran out
        # (the worker dying instead) would have made it the second.
        assert finished.attempts == 1, finished
        assert other.terminate() == 0, other.log()  # an idle worker ends cleanly too
    finally:
        for member in topology.workers:
            if not member.running():
                member.start()
