"""A first-come-first-served line per name, for the requests of one process."""

import asyncio
from collections import deque


class Queue:
    """Who holds each name, and who waits for it in arrival order. Lives on the event loop:
    only coroutines of that loop take and give places, so no lock guards it.

    A name is in ``_lines`` while someone holds it; its deque holds the waiters' turns."""

    def __init__(self) -> None:
        self._lines: dict[str, deque[asyncio.Future[None]]] = {}

    async def take(self, name: str, timeout: float) -> bool:
        """Whether ``name`` became the caller's within ``timeout`` seconds."""
        line = self._lines.get(name)
        if line is None:
            self._lines[name] = deque()
            return True
        if timeout <= 0:
            return False
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        line.append(turn)
        try:
            # shield: a timeout must not cancel the turn itself, which give() may be
            # completing at that very moment.
            await asyncio.wait_for(asyncio.shield(turn), timeout)
        except TimeoutError:
            if turn.done():
                return True  # handed over just as the wait ran out
            line.remove(turn)
            return False
        except asyncio.CancelledError:
            if turn.done():
                self.give(name)  # ours already: pass it on
            else:
                line.remove(turn)
            raise
        return True

    def held(self, name: str) -> bool:
        """Whether someone holds ``name`` now (a take would wait)."""
        return name in self._lines

    def give(self, name: str) -> None:
        """Hand ``name`` to the next in line, or free it."""
        line = self._lines[name]
        if line:
            line.popleft().set_result(None)
        else:
            del self._lines[name]

    def __len__(self) -> int:
        return len(self._lines)
