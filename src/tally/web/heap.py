"""The serving process's garbage collector, set once the app has started.

By the time a server answers its first request it holds some 150,000 long-lived objects
(modules, schemas, compiled statements) that never become garbage. Python's full
collection walks all of them: measured 35-95 ms with every request of the process
waiting, a few times a minute under load, enough to set a benchmark's p99. Frozen, they
are left out of every collection. The youngest generation is collected every 10,000 net
allocations instead of 700: a request allocates a few thousand objects, nearly all freed
by reference counting before any collection could see them.
"""

import gc

YOUNG_THRESHOLD = 10_000


def settle() -> None:
    """Collect once, then keep what is alive now out of later collections."""
    gc.collect()
    gc.freeze()
    _young, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)
