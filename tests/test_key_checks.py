"""The key cache of a serving process (tally.web.runtime.Runtime.caller), on a real database:
one check of a key pair at a time however many requests present it, checked again ahead of
the end of its trust, and dropped when a check finds it no longer valid."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from pathlib import Path

import pytest

import tally.web.runtime
from support.clock import Clock, fake_clock
from tally.db.engine import Database
from tally.errors import TallyError
from tally.projects.service import Credentials, create_project
from tally.projects.tables import projects
from tally.web.runtime import Runtime


def _project(db: Database) -> Credentials:
    with db.transaction(write=True) as conn:
        return create_project(conn, name="keys")


def _runtime(db: Database, tmp_path: Path, ttl: float = 30.0) -> Runtime:
    return Runtime(db, exports_dir=tmp_path, key_ttl_seconds=ttl)


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """The clock the key cache reads."""
    return fake_clock(monkeypatch, tally.web.runtime)


async def _until(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    """Wait (in real time, on the event loop) until ``condition`` holds: a background
    check runs on a database thread, however long a loaded machine takes."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not condition() and loop.time() < deadline:
        await asyncio.sleep(0.01)
    assert condition(), f"not within {seconds} s"


def _revoke(db: Database, project_id: str) -> None:
    with db.transaction(write=True) as conn:
        conn.execute(
            projects.update().where(projects.c.id == project_id).values(app_token_hash="x" * 64)
        )


def test_concurrent_requests_share_one_check(db: Database, tmp_path: Path) -> None:
    keys = _project(db)
    runtime = _runtime(db, tmp_path)

    async def main() -> list[tuple[str, object]]:
        return await asyncio.gather(
            *(runtime.caller(keys.app_id, keys.app_token) for _ in range(40))
        )

    answers = asyncio.run(main())
    assert [project_id for project_id, _ in answers] == [keys.project_id] * 40
    assert runtime.key_checks == 1
    # Trusted now: no more checks.
    asyncio.run(main())
    assert runtime.key_checks == 1


def test_a_wrong_token_is_refused_to_every_waiter_and_not_cached(
    db: Database, tmp_path: Path
) -> None:
    keys = _project(db)
    runtime = _runtime(db, tmp_path)

    async def main() -> list[BaseException | tuple[str, object]]:
        return await asyncio.gather(
            *(runtime.caller(keys.app_id, "wrong") for _ in range(10)), return_exceptions=True
        )

    for answer in asyncio.run(main()):
        assert isinstance(answer, TallyError) and answer.status == 401
    assert runtime.key_checks == 1
    asyncio.run(main())
    assert runtime.key_checks == 2  # refusals are not remembered: checked again


def test_a_pair_near_the_end_of_its_trust_is_checked_again_in_the_background(
    db: Database, tmp_path: Path, clock: Clock
) -> None:
    keys = _project(db)
    runtime = _runtime(db, tmp_path, ttl=0.6)

    async def main() -> None:
        await runtime.caller(keys.app_id, keys.app_token)
        assert runtime.key_checks == 1
        clock.advance(0.55)  # under a sixth of its lifetime left: still trusted
        answer = await runtime.caller(keys.app_id, keys.app_token)
        assert answer[0] == keys.project_id
        # The background check lands.
        await _until(lambda: runtime.key_checks == 2 and not runtime._checking)
        assert runtime.key_checks == 2
        clock.advance(0.3)  # past the first trust, within the renewed one
        answer = await runtime.caller(keys.app_id, keys.app_token)
        assert answer[0] == keys.project_id
        assert runtime.key_checks == 2

    asyncio.run(main())


@pytest.mark.parametrize("near_the_end", [False, True])
def test_a_revoked_token_stops_working_once_checked(
    db: Database, tmp_path: Path, clock: Clock, near_the_end: bool
) -> None:
    keys = _project(db)
    runtime = _runtime(db, tmp_path, ttl=0.6)

    async def main() -> None:
        await runtime.caller(keys.app_id, keys.app_token)
        _revoke(db, keys.project_id)
        clock.advance(0.55 if near_the_end else 0.65)
        if near_the_end:
            # Still trusted, its check in the background finds it revoked.
            answer = await runtime.caller(keys.app_id, keys.app_token)
            assert answer[0] == keys.project_id
            await _until(lambda: runtime.key_checks == 2 and not runtime._checking)
        with pytest.raises(TallyError) as refused:
            await runtime.caller(keys.app_id, keys.app_token)
        assert refused.value.status == 401

    asyncio.run(main())
