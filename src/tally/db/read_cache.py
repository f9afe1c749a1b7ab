"""Answers of the catalogue's lookups, kept by SQLite's kept reader for as long as the
database has not changed.

Every validation reads the same few vouchers, products and validation rules: in process,
those three statements (and turning their rows into values) took 88 us of a validation's
335 us. Between two validations the database is mostly unchanged, so the reader keeps their
answers and gives them again while SQLite says nothing was committed since.

When an answer may be given again: while the kept reader's connection reports the same
``PRAGMA data_version`` and the same ``total_changes`` as when it was read.

- ``data_version`` changes when any other connection, of this process or another, has
  committed, and stays as it is for the whole of a read transaction: read inside the
  transaction, it is that of its snapshot. ``tests/db/test_read_cache.py`` checks this on
  the SQLite the suite runs with (Debian 12's 3.40 here).
- ``total_changes`` counts the connection's own writes, which ``data_version`` leaves out.
  The kept reader can make none (``PRAGMA query_only``, set by
  :meth:`tally.db.engine.Database._keep`); the count is kept in the version all the same.
- Both are read once per transaction, at the first lookup that could be answered from here.
  A read transaction that makes no such lookup (a get by id) pays nothing.

Only reads in a transaction of the kept reader use it (:meth:`tally.db.engine.Database.quick_read`):
a write transaction sees its own writes, which no cache of a reader can know. Rows given
out are the very objects kept, so what reads them must not change them: each lookup that
uses this cache says so, and returns new containers around the rows
(``tests/validations/test_cached_lookups.py`` compares what is kept, after validations with
a rule, an item, a proportional and a unit discount, with what the database holds).
"""

import threading
from typing import Any

# Past either bound, every answer is dropped and the cache fills afresh. An answer is a
# lookup's rows (a validation makes three); its size is estimated from above from the rows
# as stored (tally.db.prepared), so a catalogue with large metadata cannot make the cache
# take more memory than this.
MAX_ANSWERS = 2048
MAX_BYTES = 16 * 1024 * 1024


class _Current(threading.local):
    # A class default, so that a thread that never began a read finds None at once (a
    # missing attribute of a thread-local is an exception made and dropped each time).
    cache: "ReadCache | None" = None


_current = _Current()


class ReadCache:
    """The answers kept by one SQLite connection (the reader a thread keeps)."""

    def __init__(self, conn: Any, driver: Any) -> None:
        # ``conn`` is the SQLAlchemy connection lookups are given; ``driver`` its sqlite3 one.
        self.conn = conn
        self._driver = driver
        self._answers: dict[Any, list[Any]] = {}
        self._bytes = 0
        self._version: tuple[int, int] | None = None
        self._checked = False
        self.hits = 0
        self.misses = 0

    def begin(self) -> None:
        """A read transaction of this connection begins: lookups in it may use the cache."""
        self._checked = False
        _current.cache = self

    def end(self) -> None:
        _current.cache = None

    def get(self, conn: Any, key: Any) -> list[Any] | None:
        # Only inside the transaction begin() began: should work end it early (a commit, or
        # SQLite rolling back after an I/O error), later lookups are not of its snapshot.
        if conn is not self.conn or not self._driver.in_transaction:
            return None
        if not self._checked:
            self._check()
        answer = self._answers.get(key)
        if answer is None:
            self.misses += 1
        else:
            self.hits += 1
        return answer

    def keep(self, conn: Any, key: Any, answer: list[Any], size: int) -> None:
        """Keep ``answer`` (``size``: the memory it takes, estimated from above) for ``key``."""
        if conn is not self.conn or size > MAX_BYTES or not self._driver.in_transaction:
            return
        if len(self._answers) >= MAX_ANSWERS or self._bytes + size > MAX_BYTES:
            self._forget()
        self._answers[key] = answer
        self._bytes += size

    def _forget(self) -> None:
        self._answers.clear()
        self._bytes = 0

    def answers(self) -> list[tuple[Any, list[Any]]]:
        """(key, rows) of every answer kept now; a key is (statement, its parameters as
        (name, value) pairs)."""
        return list(self._answers.items())

    def _check(self) -> None:
        cursor = self._driver.execute("PRAGMA data_version")
        try:
            data_version = int(cursor.fetchone()[0])
        finally:
            cursor.close()
        version = (data_version, int(self._driver.total_changes))
        if version != self._version:
            self._forget()
            self._version = version
        self._checked = True


def current() -> ReadCache | None:
    """The cache of the read transaction running on this thread, if any."""
    return _current.cache
