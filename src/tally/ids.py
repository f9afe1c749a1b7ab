"""Voucherify-style identifiers: a type prefix plus characters from a CSPRNG."""

import os
import string
import threading
import time

_ALNUM = string.ascii_letters + string.digits
# Byte b < 248 maps to _ALNUM[b % 62]: four whole rounds of the alphabet. Bytes 248..255
# are dropped rather than folded in, so every character stays exactly uniform.
_KEEP = 4 * len(_ALNUM)
_TABLE = bytes((_ALNUM * 5)[:256], "ascii")
_DROP = bytes(range(_KEEP, 256))


def alnum(length: int) -> str:
    """``length`` characters from [A-Za-z0-9], uniformly at random from the OS CSPRNG.

    One read of random bytes mapped through a table (C speed), rather than a CSPRNG call or
    a big-integer division per character: ids are made several times per order."""
    while True:
        # 1 byte in 32 is dropped: 8 spare bytes make a second round rare (about 1 in 10^4).
        picked = os.urandom(length + 8).translate(_TABLE, _DROP)
        if len(picked) >= length:
            return picked[:length].decode("ascii")


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{alnum(length)}"


# Digits, then upper, then lower case: ASCII order, so these strings sort as their numbers.
_SORTED = string.digits + string.ascii_uppercase + string.ascii_lowercase
_TIME_CHARS = 8  # 62**8 milliseconds: some 6,900 years
_last_time: tuple[int, str] = (-1, "")


def _time_prefix(now_ms: int) -> str:
    global _last_time
    if _last_time[0] == now_ms:
        return _last_time[1]
    digits = []
    rest = now_ms
    for _ in range(_TIME_CHARS):
        rest, digit = divmod(rest, 62)
        digits.append(_SORTED[digit])
    prefix = "".join(reversed(digits))
    _last_time = (now_ms, prefix)
    return prefix


# Per prefix, the millisecond and random part of the last ordered id this process made.
_last_ordered: dict[str, tuple[int, str]] = {}
_ordered_lock = threading.Lock()


def new_ordered_id(prefix: str, length: int = 24) -> str:
    """:func:`new_id`'s shape, its first 8 characters the milliseconds since the epoch and
    the other ``length`` - 8 random (16 of them by default: 95 bits). The rows the busiest
    requests insert (orders, customers, redemptions) then land at the end of their id
    index, where the rows before them did, instead of each on a random page of it: every
    page a commit changes is written to the WAL and copied again by the checkpoint, and a
    random page of a large index is one the cache seldom holds.

    The ids of one prefix that this process makes sort in the order they were made, also
    within one millisecond: a random part not above the last one's is replaced by the one
    right after it. Ties of ``created_at`` are broken by id (the customer's last order, the
    lists), and the orders of an import step all get the step's moment: they keep the
    order they were sent in. These ids name rows; they are not secrets (every lookup is
    scoped to the caller's project), so a successor's guessable tail costs nothing."""
    now_ms = time.time_ns() // 1_000_000
    tail = alnum(length - _TIME_CHARS)
    with _ordered_lock:
        last_ms, last_tail = _last_ordered.get(prefix, (-1, ""))
        if now_ms <= last_ms:
            # The same millisecond, or the clock stepped back: stay after the last id.
            now_ms = last_ms
            if len(tail) == len(last_tail) and tail <= last_tail:
                after = _after(last_tail)
                if after is None:
                    now_ms += 1  # no successor of this length: the next millisecond's
                else:
                    tail = after
        _last_ordered[prefix] = (now_ms, tail)
    return f"{prefix}_{_time_prefix(now_ms)}{tail}"


def _after(tail: str) -> str | None:
    """The string of ``tail``'s length and alphabet that sorts right after it (ASCII order),
    or None when every character is already the last."""
    chars = list(tail)
    for i in range(len(chars) - 1, -1, -1):
        at = _SORTED.index(chars[i])
        if at + 1 < len(_SORTED):
            chars[i] = _SORTED[at + 1]
            return "".join(chars)
        chars[i] = _SORTED[0]
    return None


def new_hex_id(prefix: str, length: int = 18) -> str:
    return f"{prefix}_{os.urandom((length + 1) // 2).hex()[:length]}"


def new_ordered_hex_id(prefix: str) -> str:
    """18 hex characters like :func:`new_hex_id`, the first 11 the milliseconds since the
    epoch (good for five centuries), the other 7 random: rows written one after another
    get ids that sort together, so a unique index on them grows at its end instead of
    touching a random page per row (at millions of events, a disk read per insert)."""
    now_ms = time.time_ns() // 1_000_000
    return f"{prefix}_{now_ms:011x}{os.urandom(4).hex()[:7]}"


def request_id() -> str:
    # Voucherify's shape: "v-" + 18 hex characters.
    return "v-" + os.urandom(9).hex()
