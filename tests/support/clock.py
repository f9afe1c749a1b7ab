"""A monotonic clock moved only by the test, for code that reads ``time.monotonic()``
through its module's ``time``: what expires or refills never depends on how fast a loaded
machine runs the test."""

from types import ModuleType, SimpleNamespace

import pytest


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


def fake_clock(monkeypatch: pytest.MonkeyPatch, module: ModuleType) -> Clock:
    """``module``'s ``time.monotonic`` replaced by a :class:`Clock` (for this test)."""
    clock = Clock()
    monkeypatch.setattr(module, "time", SimpleNamespace(monotonic=clock.monotonic))
    return clock
