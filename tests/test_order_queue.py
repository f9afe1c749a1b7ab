"""The per-process line requests wait in for an order (tally.web.queue): first come first
served, bounded waits, and a place never lost or held twice, even when a waiter gives up or
is cancelled at the moment it is handed the place."""

import asyncio

import pytest

from tally.web.queue import Queue


def test_waiters_get_the_name_in_arrival_order() -> None:
    async def scenario() -> list[int]:
        queue = Queue()
        served: list[int] = []
        assert await queue.take("o:1", 0)

        async def waiter(n: int) -> None:
            assert await queue.take("o:1", 5)
            served.append(n)
            await asyncio.sleep(0)
            queue.give("o:1")

        tasks = [asyncio.create_task(waiter(n)) for n in range(5)]
        await asyncio.sleep(0.01)
        assert served == []  # all wait behind the holder
        queue.give("o:1")
        await asyncio.gather(*tasks)
        assert len(queue) == 0  # nothing left behind
        return served

    assert asyncio.run(scenario()) == [0, 1, 2, 3, 4]


def test_a_held_name_refuses_at_once_with_no_wait_and_others_are_free() -> None:
    async def scenario() -> None:
        queue = Queue()
        assert await queue.take("o:1", 0)
        assert not await queue.take("o:1", 0)
        assert await queue.take("o:2", 0)
        assert not await queue.take("o:1", 0.02)  # waited, then gave up
        queue.give("o:1")
        assert await queue.take("o:1", 0)

    asyncio.run(scenario())


def test_a_waiter_that_gives_up_or_is_cancelled_leaves_the_line_whole() -> None:
    async def scenario() -> None:
        queue = Queue()
        assert await queue.take("o:1", 0)
        impatient = asyncio.create_task(queue.take("o:1", 0.01))
        cancelled = asyncio.create_task(queue.take("o:1", 60))
        patient = asyncio.create_task(queue.take("o:1", 60))
        # However late a loaded loop runs it, the impatient one's timeout (due first)
        # ends its wait while the others still wait behind the holder.
        assert await asyncio.wait_for(impatient, 10) is False
        assert not cancelled.done() and not patient.done()
        cancelled.cancel()
        with pytest.raises(asyncio.CancelledError):
            await cancelled
        assert not patient.done()
        queue.give("o:1")  # skips both: the patient one is next
        assert await asyncio.wait_for(patient, 10) is True
        queue.give("o:1")
        assert len(queue) == 0

    asyncio.run(scenario())


def test_a_waiter_cancelled_as_it_is_handed_the_name_never_strands_it() -> None:
    async def scenario() -> None:
        queue = Queue()
        assert await queue.take("o:1", 0)
        first = asyncio.create_task(queue.take("o:1", 5))
        second = asyncio.create_task(queue.take("o:1", 5))
        await asyncio.sleep(0)
        queue.give("o:1")  # hands it to `first`...
        first.cancel()  # ...which is cancelled before it runs again
        try:
            # Either the cancel wins and the place went on to `second`, or the handover
            # won (asyncio.wait_for on 3.11 keeps a result that beat the cancel) and
            # `first` holds it until it gives it back, as a request does in `finally`.
            if await first:
                assert not second.done()
                queue.give("o:1")
        except asyncio.CancelledError:
            pass
        assert await second is True
        queue.give("o:1")
        assert len(queue) == 0

    asyncio.run(scenario())
