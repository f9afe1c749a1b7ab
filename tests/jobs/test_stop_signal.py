"""SIGTERM to ``tally worker`` lands on the thread of its job runner's loop, between two
bytecodes, possibly while the loop holds the lock of its wake-up event (inside
``Event.wait``): the handler must not wait for that lock, or the worker never ends. It
happened about once in 300 SIGTERMs with a fast poll while the handler set that event
itself; now it sets the stop flag and another thread wakes the loop."""

import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tally.db.engine import Database
from tally.jobs.runner import Runner
from tally.tasks import HANDLERS


@pytest.fixture
def runner(tmp_path: Path) -> Iterator[Runner]:
    db = Database(f"sqlite:///{tmp_path / 'tally.db'}", pool_size=1)
    try:
        yield Runner(db, HANDLERS, poll_seconds=60)
    finally:
        db.dispose()


def test_sigterm_while_the_loop_holds_its_wake_up_lock_stops_the_runner(runner: Runner) -> None:
    # The lock the loop holds inside Event.wait and Event.clear (a plain, not reentrant one).
    lock = runner._wake._cond  # type: ignore[attr-defined]
    stuck = threading.Event()

    def rescue() -> None:
        """Only if the handler blocks on the lock: free it, so the test fails, not hangs."""
        stuck.set()
        lock.release()

    previous = signal.signal(signal.SIGTERM, runner.stop_from_signal)  # as `tally worker`
    try:
        lock.acquire()
        guard = threading.Timer(10, rescue)
        guard.start()
        signal.raise_signal(signal.SIGTERM)  # the handler runs here, on this thread
        guard.cancel()
        assert not stuck.is_set(), "the SIGTERM handler waited for a lock its own thread held"
        lock.release()
    finally:
        signal.signal(signal.SIGTERM, previous)
    assert runner._stop.is_set()  # at once: the step under way is the last
    deadline = time.monotonic() + 10
    while not runner._wake.is_set():
        assert time.monotonic() < deadline, "the loop was never woken"
        time.sleep(0.01)
    runner.run_forever()  # returns at once: stopped
