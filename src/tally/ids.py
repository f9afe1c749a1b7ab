"""Voucherify-style identifiers: a type prefix plus characters from a CSPRNG."""

import os
import string
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
