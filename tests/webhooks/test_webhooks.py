"""Webhooks on both engines, delivered to a real HTTP receiver on 127.0.0.1: each event once
per endpoint that wants it, signed both ways; retried on the schedule until it lands; an
endpoint that always fails is disabled; a `tally worker` killed mid-delivery has the
delivery redone with the same ids; URLs into private networks are refused; the API."""

import hashlib
import hmac
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from support.inprocess import AppClient, open_app_client
from support.receiver import Received, receiver
from support.server import tally_env, tally_executable

# The retry schedule (1 min ... 24 h after the first try) shrunk 50,000 times: the 13 tries
# of a failing delivery take under two seconds.
RETRY_SCALE = 0.00002


@pytest.fixture
def hooks(migrated_db_url: str) -> Iterator[AppClient]:
    """The app with webhooks allowed to 127.0.0.1 and a fast schedule."""
    with open_app_client(
        migrated_db_url,
        webhooks_allow_private=True,
        webhooks_retry_scale=RETRY_SCALE,
        webhooks_timeout_seconds=2,
        job_poll_ms=20,
    ) as app_client:
        yield app_client


def add_webhook(client: AppClient, url: str, events: list[str]) -> dict[str, Any]:
    response = client.post("/v1/webhooks", json={"url": url, "events": events})
    assert response.status_code == 200, response.text
    created: dict[str, Any] = response.json()
    return created


def all_events(client: AppClient) -> list[dict[str, Any]]:
    response = client.get("/v1/events", params={"limit": 100})
    assert response.status_code == 200
    found: list[dict[str, Any]] = response.json()["events"]
    return found


def deliveries(client: AppClient, webhook_id: str) -> list[dict[str, Any]]:
    response = client.get(f"/v1/webhooks/{webhook_id}/deliveries", params={"limit": 100})
    assert response.status_code == 200, response.text
    found: list[dict[str, Any]] = response.json()["deliveries"]
    return found


def statuses(client: AppClient, webhook_id: str) -> list[str]:
    """The statuses in an endpoint's delivery log (a delivery is logged once its first try
    has ended)."""
    return [d["status"] for d in deliveries(client, webhook_id)]


def wait_for(predicate: Any, what: str, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, what
        time.sleep(0.02)


def check_signatures(secret: str, request: Received) -> None:
    from tally.webhooks.signing import verify

    header = request.headers["X-Tally-Signature"]
    assert verify(secret, request.body, header, now=int(time.time()))
    assert not verify(secret + "x", request.body, header, now=int(time.time()))
    assert not verify(secret, request.body + b" ", header, now=int(time.time()))
    # Replayed an hour later: refused for its age.
    assert not verify(secret, request.body, header, now=int(time.time()) + 3600)
    expected = hmac.new(secret.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Voucherify-Signature"] == expected


def test_each_event_reaches_each_endpoint_that_wants_it_once(hooks: AppClient) -> None:
    with receiver() as everything, receiver() as paid_only:
        all_hook = add_webhook(hooks, everything.url(), ["*"])
        paid_hook = add_webhook(hooks, paid_only.url("/paid?x=1"), ["customer.order.paid"])
        response = hooks.post(
            "/v1/orders",
            json={
                "source_id": "wh-1",
                "amount": 1500,
                "status": "PAID",
                "customer": {"source_id": "wh-c"},
            },
        )
        assert response.status_code == 200
        order = response.json()
        got = everything.wait_for(3)
        paid = paid_only.wait_for(1)
        time.sleep(0.5)  # nothing more arrives
        assert len(everything.received) == 3 and len(paid_only.received) == 1

    events = all_events(hooks)
    assert sorted(r.json["event"]["id"] for r in got) == sorted(e["id"] for e in events)
    by_type = {r.json["type"]: r for r in got}
    assert set(by_type) == {"customer.created", "customer.order.created", "customer.order.paid"}
    body = by_type["customer.order.paid"].json
    assert body["project_id"] == hooks.project.project_id
    assert body["source"] == {
        "id": all_hook["id"],
        "object": "webhook",
        "target_url": everything.url(),
    }
    assert body["event"]["entity_id"] == order["id"]
    assert body["event"]["sequence"] == 2
    assert body["event"]["group_id"] == response.headers["x-request-id"]
    assert body["data"]["order"]["status"] == "PAID"
    assert body["id"].startswith("whs_")
    for request in got:
        check_signatures(all_hook["secret"], request)
        assert request.headers["X-Tally-Event-Id"] == request.json["event"]["id"]
        assert request.headers["X-Tally-Event-Type"] == request.json["type"]
        assert request.headers["X-Tally-Delivery-Id"] == request.json["id"]
    assert paid[0].path == "/paid?x=1"
    assert paid[0].json["type"] == "customer.order.paid"
    # Sent without the created event whose stored data it shows: read back all the same.
    assert paid[0].json["data"] == by_type["customer.order.created"].json["data"]
    check_signatures(paid_hook["secret"], paid[0])

    wait_for(
        lambda: all(d["status"] == "SUCCEEDED" for d in deliveries(hooks, all_hook["id"])),
        "the deliveries were not recorded",
    )
    logged = deliveries(hooks, all_hook["id"])
    assert len(logged) == 3
    assert {d["attempts"] for d in logged} == {1}
    assert {d["log"][0]["status_code"] for d in logged} == {200}


def test_a_delivery_is_retried_until_it_lands(hooks: AppClient) -> None:
    with receiver(statuses=[500, 502, 503, 200]) as flaky:
        # The paid event: its data is stored once, in the created event (not sent here),
        # and each retry's claim reads it back.
        hook = add_webhook(hooks, flaky.url(), ["customer.order.paid"])
        sent = hooks.post("/v1/orders", json={"amount": 10, "status": "PAID"})
        assert sent.status_code == 200
        tries = flaky.wait_for(4)
        time.sleep(0.3)
        assert len(flaky.received) == 4
    assert len({t.json["event"]["id"] for t in tries}) == 1
    assert len({t.json["id"] for t in tries}) == 1
    assert [t.headers["X-Tally-Delivery-Attempt"] for t in tries] == ["1", "2", "3", "4"]
    # The same body every time; only the signature's time may differ.
    assert len({t.body for t in tries}) == 1
    assert tries[0].json["data"]["order"] == sent.json()
    wait_for(
        lambda: statuses(hooks, hook["id"]) == ["SUCCEEDED"],
        "the delivery was not recorded as succeeded",
    )
    (delivery,) = deliveries(hooks, hook["id"])
    assert delivery["attempts"] == 4
    assert [entry["status_code"] for entry in delivery["log"]] == [500, 502, 503, 200]


def test_an_endpoint_that_always_fails_is_disabled(hooks: AppClient) -> None:
    with receiver(statuses=[500]) as broken:
        hook = add_webhook(hooks, broken.url(), ["*"])
        assert hooks.post("/v1/orders", json={"amount": 10}).status_code == 200
        broken.wait_for(13)
        wait_for(
            lambda: hooks.get(f"/v1/webhooks/{hook['id']}").json()["active"] is False,
            "the endpoint was not disabled",
        )
        time.sleep(0.3)
        assert len(broken.received) == 13  # the first try and twelve retries
        disabled = hooks.get(f"/v1/webhooks/{hook['id']}").json()
        assert "failed 13 times" in disabled["disabled_reason"]
        assert "HTTP 500" in disabled["disabled_reason"]
        (delivery,) = deliveries(hooks, hook["id"])
        assert (delivery["status"], delivery["attempts"]) == ("FAILED", 13)
        # Disabled: later events are not sent to it at all.
        assert hooks.post("/v1/orders", json={"amount": 20}).status_code == 200
        time.sleep(0.3)
        assert len(broken.received) == 13 and len(deliveries(hooks, hook["id"])) == 1
        # Turned back on, it takes the events that come after.
        broken.statuses[:] = [200]
        response = hooks.put(f"/v1/webhooks/{hook['id']}", json={"active": True})
        assert response.status_code == 200 and response.json()["active"] is True
        assert hooks.post("/v1/orders", json={"amount": 30}).status_code == 200
        later = broken.wait_for(14)
    assert later[13].json["data"]["order"]["amount"] == 30


def test_a_worker_killed_mid_delivery_has_it_delivered_again(
    migrated_db_url: str, tmp_path: Path
) -> None:
    """The receiver holds the first try open; the `tally worker` making it is SIGKILLed; the
    next worker takes the delivery up when its lease runs out and sends the same event."""
    env = {
        "TALLY_WEBHOOKS_ALLOW_PRIVATE": "1",
        "TALLY_JOB_LEASE_SECONDS": "1",
        "TALLY_JOB_POLL_MS": "50",
    }

    def start(name: str, timeout_seconds: int) -> subprocess.Popen[bytes]:
        return subprocess.Popen(
            [str(tally_executable()), "worker"],
            cwd=tmp_path,
            env=tally_env(
                migrated_db_url, {**env, "TALLY_WEBHOOKS_TIMEOUT_SECONDS": str(timeout_seconds)}
            ),
            stdin=subprocess.DEVNULL,
            stdout=(tmp_path / f"{name}.log").open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def kill(process: subprocess.Popen[bytes]) -> None:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(10)

    from datetime import timedelta

    from tally.clock import utcnow
    from tally.webhooks.tables import webhooks

    with (
        open_app_client(migrated_db_url, jobs_in_server=False, webhooks_allow_private=True) as api,
        receiver() as slow,
    ):
        slow.hang_on = {1}
        hook = add_webhook(api, slow.url(), ["customer.order.created"])
        assert api.post("/v1/orders", json={"amount": 10}).status_code == 200
        # A long timeout: however late the kill lands, the first try has not ended by then
        # (an ended try would be recorded and retried a minute later).
        first = start("first", 60)
        try:
            slow.wait_for(1)
        finally:
            kill(first)
        # Its lease (minutes, for that timeout) run out: the next worker may take over.
        with api.db.transaction(write=True) as conn:
            conn.execute(
                webhooks.update()
                .where(webhooks.c.id == hook["id"])
                .values(lease_until=utcnow() - timedelta(seconds=1))
            )
        second = start("second", 1)
        try:
            tries = slow.wait_for(2)
            wait_for(
                lambda: statuses(api, hook["id"]) == ["SUCCEEDED"],
                "the second worker's try was not recorded",
            )
        finally:
            kill(second)
        assert tries[0].json["event"]["id"] == tries[1].json["event"]["id"]
        assert tries[0].json["id"] == tries[1].json["id"]
        (delivery,) = deliveries(api, hook["id"])
        # The killed worker's try was never recorded: one try in the log, the one that landed.
        assert [entry["status_code"] for entry in delivery["log"]] == [200]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://100.64.0.1/hook",
        "http://0.0.0.0/hook",
        "ftp://example.com/hook",
        "http://user:pass@example.com/hook",
        "http:///nohost",
    ],
)
def test_urls_into_private_networks_and_odd_urls_are_refused(client: AppClient, url: str) -> None:
    response = client.post("/v1/webhooks", json={"url": url, "events": ["*"]})
    assert response.status_code == 400, response.text
    assert response.json()["key"] == "invalid_payload"
    assert response.json()["details"].startswith("Webhook url refused")
    assert client.get("/v1/webhooks").json()["total"] == 0


def test_a_delivery_rechecks_the_address_it_connects_to() -> None:
    """An endpoint saved while private addresses were allowed (or whose name resolves
    elsewhere now) is still refused at delivery when they are not."""
    from tally.webhooks.sender import post

    with receiver() as local:
        refused = post(local.url(), b"{}", {}, timeout=1, allow_private=False)
        assert refused.status is None and refused.error is not None
        assert refused.error.startswith("refused")
        assert local.received == []
        allowed = post(local.url(), b"{}", {}, timeout=1, allow_private=True)
        assert allowed.ok and len(local.received) == 1


def test_the_webhooks_api(hooks: AppClient) -> None:
    bad = hooks.post("/v1/webhooks", json={"url": "http://127.0.0.1/", "events": ["order.nope"]})
    assert bad.status_code == 400 and "Unknown event type" in bad.json()["details"]
    assert hooks.post("/v1/webhooks", json={"url": "http://127.0.0.1/"}).status_code == 400
    hook = add_webhook(hooks, "http://127.0.0.1:9/a", ["customer.order.paid", "customer.created"])
    assert hook["secret"].startswith("whsec_")
    shown = hooks.get(f"/v1/webhooks/{hook['id']}").json()
    assert "secret" not in shown or shown["secret"] is None
    assert shown["events"] == ["customer.order.paid", "customer.created"]
    listed = hooks.get("/v1/webhooks").json()
    assert (listed["total"], [w["id"] for w in listed["webhooks"]]) == (1, [hook["id"]])
    changed = hooks.put(f"/v1/webhooks/{hook['id']}", json={"events": ["*"]})
    assert changed.status_code == 200 and changed.json()["events"] == ["*"]

    other = hooks.as_project(hooks.new_project("other"))
    assert other.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert other.get(f"/v1/webhooks/{hook['id']}/deliveries").status_code == 404
    assert other.delete(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert other.get("/v1/webhooks").json()["total"] == 0

    assert hooks.delete(f"/v1/webhooks/{hook['id']}").status_code == 204
    assert hooks.get(f"/v1/webhooks/{hook['id']}").status_code == 404
    assert hooks.get(f"/v1/webhooks/{hook['id']}/deliveries").status_code == 404


def test_the_cli_adds_lists_and_removes_endpoints(migrated_db_url: str, tmp_path: Path) -> None:
    def tally(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(tally_executable()), "webhooks", *args],
            cwd=tmp_path,
            env=tally_env(migrated_db_url, {"TALLY_WEBHOOKS_ALLOW_PRIVATE": "1"}),
            capture_output=True,
            text=True,
            timeout=60,
        )

    with open_app_client(migrated_db_url):  # migrated, with its one project
        pass
    added = tally("add", "http://127.0.0.1:9/cli", "--event", "customer.order.paid")
    assert added.returncode == 0, added.stderr
    fields = dict(line.split(":", 1) for line in added.stdout.splitlines())
    webhook_id = fields["webhook_id"].strip()
    assert fields["secret"].strip().startswith("whsec_")
    listed = tally("list")
    assert webhook_id in listed.stdout and "customer.order.paid" in listed.stdout
    assert "whsec_" not in listed.stdout
    assert tally("add", "ftp://x", "--event", "customer.order.paid").returncode == 2
    removed = tally("remove", webhook_id)
    assert removed.returncode == 0, removed.stderr
    assert webhook_id not in tally("list").stdout
    assert tally("remove", webhook_id).returncode == 2


def _timed_post(url: str, timeout: float) -> tuple[Any, float]:
    """One webhook try (its own connection) and how long it took, in seconds."""
    from tally.webhooks.sender import post

    started = time.monotonic()
    outcome = post(url, b"{}", {}, timeout=timeout, allow_private=True)
    return outcome, time.monotonic() - started


def test_a_receiver_that_drips_its_answer_is_cut_off_at_the_timeout() -> None:
    """The timeout bounds the whole try, not each read: a receiver sending a byte every
    0.2 s cannot hold a sender (and so the deliverer) past it."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def drip() -> None:
        conn, _ = listener.accept()
        with conn:
            conn.recv(65536)
            try:
                for byte in b"HTTP/1.1 200 OK\r\nX-Slow: " + b"a" * 100:
                    conn.sendall(bytes([byte]))
                    time.sleep(0.2)
            except OSError:
                pass

    threading.Thread(target=drip, daemon=True).start()
    outcome, elapsed = _timed_post(f"http://127.0.0.1:{listener.getsockname()[1]}/", 1.0)
    listener.close()
    assert outcome.status is None and outcome.error is not None
    assert "timed out" in outcome.error
    # Cut off near 1 s; bounded by each read instead, the try would last the whole drip
    # (24 s). The margin is for a loaded machine.
    assert elapsed < 8


def test_a_host_name_slow_to_resolve_is_cut_off_at_the_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The timeout bounds the name's lookup too: the system resolver takes no timeout of
    its own (a DNS server that does not answer holds it for many seconds)."""
    import socket

    answered = socket.getaddrinfo

    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(20)
        return answered(*args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    outcome, elapsed = _timed_post("http://hooks.example.test/", 0.5)
    assert outcome.status is None
    assert outcome.error == "timed out after 0.5 s resolving hooks.example.test"
    # Cut off near 0.5 s, not after the 20 s lookup; the margin is for a loaded machine.
    assert elapsed < 8


def test_tries_of_one_slow_host_share_its_lookup_and_keep_its_late_answer(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tries of a host whose lookup outlasts their timeout wait on one lookup, not one
    each; its answer, come after they gave up, serves the next try at once."""
    import socket
    import threading

    from tally.webhooks.sender import Senders

    answered = socket.getaddrinfo
    lookups: list[str] = []

    def slow(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.example.test":  # the connection's own, to the address found
            return answered(host, *args, **kwargs)
        lookups.append(host)
        # Long enough that all four tries give up before it answers, however late the
        # loaded machine starts them.
        time.sleep(3.0)
        return answered("127.0.0.1", *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", slow)
    senders = Senders()
    with receiver() as hook:
        url = f"http://hooks.example.test:{hook.port}/hook"
        outcomes: list[Any] = []

        def send() -> None:
            outcomes.append(senders.post(url, b"{}", {}, timeout=0.2, allow_private=True))

        threads = [threading.Thread(target=send) for _ in range(4)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(10)
        assert [o.error for o in outcomes] == [
            "timed out after 0.2 s resolving hooks.example.test"
        ] * 4
        assert lookups == ["hooks.example.test"]
        wait_for(lambda: not senders._lookups, "the lookup did not end", timeout=10)
        outcome = senders.post(url, b"{}", {}, timeout=2, allow_private=True)
        assert outcome.status == 200, outcome
        assert lookups == ["hooks.example.test"]
        hook.wait_for(1)
        senders.close()


def test_a_try_whose_lookup_took_most_of_its_time_is_cut_off_at_its_timeout(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What the lookup took is taken from the rest: a TLS receiver that then never answers
    the handshake is cut off when the try's whole time is up."""
    import socket

    answered = socket.getaddrinfo

    def slow(host: str, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.example.test":  # the connection's own, to the address found
            return answered(host, *args, **kwargs)
        time.sleep(4.5)
        return answered("127.0.0.1", *args, **kwargs)

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)  # accepts the connection, never says a word
    monkeypatch.setattr(socket, "getaddrinfo", slow)
    outcome, elapsed = _timed_post(f"https://hooks.example.test:{listener.getsockname()[1]}/", 5.0)
    listener.close()
    # (Resolving, if the lookup's thread was late on a loaded machine: timed out all the
    # same.)
    assert outcome.status is None and (outcome.error or "").startswith("timed out after 5 s")
    # Near 5 s. Were the rest given a whole timeout of its own, the handshake's wait
    # alone would take 5 s more; the margin is for a loaded machine.
    assert elapsed < 7.5


def _lease_holders(api: AppClient) -> set[str]:
    from tally.webhooks import repository

    with api.db.transaction(write=False) as conn:
        return {r["lease_worker"] for r in repository.streams(conn) if r["lease_worker"]}


def test_two_deliverers_send_each_event_once_and_lose_none(migrated_db_url: str) -> None:
    """Two deliverers (as two `tally worker` processes would run them) on one database:
    every event reaches every endpoint once, and is logged once, in the events' order. Between them,
    orders keep coming and one deliverer stops (its leases released) half-way."""
    from tally.db.engine import Database
    from tally.webhooks.tasks import Deliverer

    with (
        open_app_client(migrated_db_url, jobs_in_server=False, webhooks_allow_private=True) as api,
        receiver() as first_receiver,
        receiver() as second_receiver,
    ):
        hooks = [
            add_webhook(api, first_receiver.url(), ["*"]),
            add_webhook(api, second_receiver.url(), ["customer.order.created"]),
        ]
        databases = [Database(migrated_db_url, pool_size=2) for _ in range(2)]
        deliverers = [
            Deliverer(db, allow_private=True, timeout_seconds=2, poll_seconds=0.02, batch=7)
            for db in databases
        ]
        try:
            for deliverer in deliverers:
                deliverer.start()
            for n in range(40):
                assert api.post("/v1/orders", json={"amount": 100 + n}).status_code == 200
                if n == 20:
                    # The one holding an endpoint, so that a stop hands work over.
                    holders = _lease_holders(api)
                    stopping = next((d for d in deliverers if d.worker in holders), deliverers[0])
                    stopping.stop()
            first_receiver.wait_for(40)
            second_receiver.wait_for(40)
            wait_for(
                lambda: all(statuses(api, hook["id"]) == ["SUCCEEDED"] * 40 for hook in hooks),
                "the deliveries were not all logged",
            )
            time.sleep(0.3)  # nothing more arrives
        finally:
            for deliverer in deliverers:
                deliverer.stop()
            for db in databases:
                db.dispose()
        events = {e["id"]: e for e in all_events(api)}
        assert len(events) == 40
        for got in (first_receiver.received, second_receiver.received):
            amounts = [r.json["data"]["order"]["amount"] for r in got]
            # Each once (sent a few at a time, so they may arrive a little out of order).
            assert sorted(amounts) == [100 + n for n in range(40)]
            assert {r.json["event"]["id"] for r in got} == set(events)
        for hook, got in zip(hooks, (first_receiver, second_receiver), strict=True):
            logged = deliveries(api, hook["id"])
            assert sorted(d["id"] for d in logged) == sorted(r.json["id"] for r in got.received)
            assert {d["attempts"] for d in logged} == {1}
            # The log, newest first, follows the events.
            by_id = {r.json["id"]: r.json["event"]["id"] for r in got.received}
            assert [by_id[d["id"]] for d in reversed(logged)] == list(events)


def test_an_endpoint_is_sent_by_its_lease_holder_and_recorded_only_by_it(
    migrated_db_url: str,
) -> None:
    """While one deliverer's lease on an endpoint runs, no other takes it; once it has run
    out another may, and then the first one's batch is not recorded (the second sends
    those events again and records them, once)."""
    from datetime import timedelta

    from tally.clock import utcnow
    from tally.events import repository as events_repository
    from tally.webhooks import repository, service
    from tally.webhooks.sender import Outcome

    with open_app_client(migrated_db_url, jobs_in_server=False, webhooks_allow_private=True) as api:
        hook = add_webhook(api, "http://127.0.0.1:9/hook", ["*"])
        assert api.post("/v1/orders", json={"amount": 10}).status_code == 200
        now = utcnow()

        def endpoint() -> Any:
            with api.db.transaction(write=False) as conn:
                (row,) = [r for r in repository.streams(conn) if r["id"] == hook["id"]]
                return row

        def take(worker: str, at: Any) -> bool:
            row = endpoint()
            with api.db.transaction(write=True) as conn:
                return repository.take_lease(
                    conn,
                    row["id"],
                    row["project_id"],
                    cursor=(row["cursor_txid"], row["cursor_seq"]),
                    worker=worker,
                    now=at,
                    until=at + timedelta(seconds=30),
                )

        def record(worker: str, row: Any) -> bool:
            cursor = (row["cursor_txid"], row["cursor_seq"])
            with api.db.transaction(write=False) as conn:
                page = events_repository.page(conn, row["project_id"], limit=10, after=cursor)
            tried = [
                service.Tried(service.first_try(row, event), Outcome(200, None, 1), now)
                for event in page
            ]
            with api.db.transaction(write=True) as conn:
                return service.record_batch(
                    conn,
                    row,
                    cursor=cursor,
                    to=(page[-1]["txid"], page[-1]["seq"]),
                    tried=tried,
                    worker=worker,
                    lease_until=now + timedelta(seconds=30),
                    retry_scale=1.0,
                )

        assert take("first", now)
        assert not take("second", now + timedelta(seconds=29))
        held_by_first = endpoint()
        assert take("second", now + timedelta(seconds=31))
        assert not record("first", held_by_first)
        assert deliveries(api, hook["id"]) == []
        assert endpoint()["cursor_seq"] == held_by_first["cursor_seq"]
        assert record("second", endpoint())
        assert statuses(api, hook["id"]) == ["SUCCEEDED"]
        moved = endpoint()
        assert moved["cursor_seq"] > held_by_first["cursor_seq"]
        assert moved["lease_worker"] == "second"


@pytest.mark.parametrize("recording_fails", [False, True])
def test_a_deliverer_stopping_hands_back_the_retries_it_claimed_and_never_sent(
    migrated_db_url: str, recording_fails: bool
) -> None:
    """Retries a deliverer claimed but had not handed to its senders when it stopped are
    free at once for another deliverer, not only when their lease would have run out;
    also when its last recording fails."""
    from datetime import timedelta

    from tally.clock import utcnow
    from tally.events import repository as events_repository
    from tally.webhooks import repository, service
    from tally.webhooks.sender import Outcome
    from tally.webhooks.tasks import Deliverer

    with open_app_client(migrated_db_url, jobs_in_server=False, webhooks_allow_private=True) as api:
        hook = add_webhook(api, "http://127.0.0.1:9/hook", ["customer.order.created"])
        assert api.post("/v1/orders", json={"amount": 10}).status_code == 200
        now = utcnow()
        with api.db.transaction(write=False) as conn:
            (endpoint,) = [r for r in repository.streams(conn) if r["id"] == hook["id"]]
            cursor = (endpoint["cursor_txid"], endpoint["cursor_seq"])
            page = events_repository.page(conn, endpoint["project_id"], limit=10, after=cursor)
        created = [e for e in page if e["type"] == "customer.order.created"]
        # The first try failed (HTTP 500): the delivery waits for its retry, due at once.
        with api.db.transaction(write=True) as conn:
            until = now + timedelta(seconds=30)
            assert repository.take_lease(
                conn,
                endpoint["id"],
                endpoint["project_id"],
                cursor=cursor,
                worker="sender",
                now=now,
                until=until,
            )
            assert service.record_batch(
                conn,
                endpoint,
                cursor=cursor,
                to=(page[-1]["txid"], page[-1]["seq"]),
                tried=[
                    service.Tried(service.first_try(endpoint, e), Outcome(500, None, 1), now)
                    for e in created
                ],
                worker="sender",
                lease_until=until,
                retry_scale=0.000001,
            )
        assert statuses(api, hook["id"]) == ["PENDING"]

        deliverer = Deliverer(api.db, allow_private=True, timeout_seconds=2)
        time.sleep(0.01)
        deliverer._claim()  # what its loop does; the loop then stops before sending it
        assert len(deliverer._retries) == 1
        if recording_fails:
            # A try that cannot be recorded (its delivery is unknown): the recording raises.
            deliverer._retried.append(service.Tried({}, Outcome(500, None, 1), now))
        deliverer._stop.set()
        deliverer.run_forever()

        with api.db.transaction(write=True) as conn:
            claimed = repository.claim(
                conn, now=utcnow(), until=utcnow() + timedelta(seconds=30), worker="other", limit=5
            )
        assert [row["event_id"] for row in claimed] == [created[0]["id"]]
        assert statuses(api, hook["id"]) == ["PENDING"]


@contextmanager
def garbling_receiver() -> Iterator[str]:
    """A receiver that reads each request whole and answers a status line holding a NUL
    byte (http.client raises BadStatusLine, quoting it); its URL."""
    import socket
    import threading

    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(16)
    listener.settimeout(0.2)
    stop = threading.Event()

    def answer(conn: socket.socket) -> None:
        with conn:
            data = b""
            while b"\r\n\r\n" not in data:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                data += chunk
            head, _, body = data.partition(b"\r\n\r\n")
            length = next(
                int(line.split(b":", 1)[1])
                for line in head.split(b"\r\n")
                if line.lower().startswith(b"content-length:")
            )
            while len(body) < length:
                chunk = conn.recv(65536)
                if not chunk:
                    return
                body += chunk
            conn.sendall(b"HTTP/1.1 2\x0000 OK\r\nContent-Length: 0\r\n\r\n")

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=answer, args=(conn,), daemon=True).start()

    server = threading.Thread(target=serve, daemon=True)
    server.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}/hook"
    finally:
        stop.set()
        server.join()
        listener.close()


def test_an_answer_holding_a_nul_byte_is_logged_and_stops_no_other_endpoint(
    hooks: AppClient,
) -> None:
    """The error of such a try quotes the answer; PostgreSQL's jsonb refuses NUL, and
    recording it failed the deliverer's whole transaction, every endpoint's deliveries
    with it, again and again."""
    with garbling_receiver() as garbling_url, receiver() as healthy:
        garbled = add_webhook(hooks, garbling_url, ["customer.order.created"])
        fine = add_webhook(hooks, healthy.url(), ["customer.order.created"])
        for n in range(3):
            assert hooks.post("/v1/orders", json={"amount": 100 + n}).status_code == 200
        healthy.wait_for(3)
        wait_for(
            lambda: statuses(hooks, fine["id"]) == ["SUCCEEDED"] * 3,
            "the healthy endpoint's deliveries were not logged",
        )
        wait_for(
            lambda: len(deliveries(hooks, garbled["id"])) == 3,
            "the garbled endpoint's tries were not logged",
        )
    for delivery in deliveries(hooks, garbled["id"]):
        assert delivery["status"] in ("PENDING", "FAILED"), delivery
        errors = [attempt["error"] for attempt in delivery["log"]]
        assert errors and all("BadStatusLine" in e and "\x00" not in e for e in errors), errors


def test_an_endpoint_moved_to_a_new_url_is_sent_its_waiting_events_there(
    migrated_db_url: str,
) -> None:
    """Events a deliverer read before the endpoint's URL changed are sent to the new URL,
    and the ones its new filter no longer wants are not sent: a delivery is made when it
    is sent, not when its event is read."""
    from tally.db.engine import Database
    from tally.webhooks.tasks import Deliverer

    with (
        open_app_client(migrated_db_url, jobs_in_server=False, webhooks_allow_private=True) as api,
        receiver() as old,
        receiver() as new,
    ):
        hook = add_webhook(api, old.url(), ["*"])
        for n in range(5):
            assert api.post("/v1/orders", json={"amount": 100 + n}).status_code == 200
        assert api.post("/v1/customers", json={"source_id": "c-1"}).status_code == 200
        db = Database(migrated_db_url, pool_size=2)
        deliverer = Deliverer(db, allow_private=True, timeout_seconds=2, poll_seconds=0.02)
        try:
            deliverer._look()  # takes the endpoint and reads its six events; sends nothing
            moved = api.put(
                f"/v1/webhooks/{hook['id']}",
                json={"url": new.url(), "events": ["customer.order.created"]},
            )
            assert moved.status_code == 200, moved.text
            deliverer.start()
            new.wait_for(5)
            wait_for(
                lambda: statuses(api, hook["id"]) == ["SUCCEEDED"] * 5,
                "the deliveries were not logged",
            )
            time.sleep(0.3)  # nothing more arrives
        finally:
            deliverer.stop()
            db.dispose()
        assert old.received == []
        assert sorted(r.json["data"]["order"]["amount"] for r in new.received) == [
            100 + n for n in range(5)
        ]
        assert {r.json["type"] for r in new.received} == {"customer.order.created"}
