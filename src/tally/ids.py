"""Voucherify-style identifiers: a type prefix plus characters from a CSPRNG."""

import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def alnum(length: int) -> str:
    """``length`` characters from [A-Za-z0-9], uniformly at random from the OS CSPRNG.

    One random integer written in base 62, rather than a CSPRNG call per character (which
    cost more than a database insert per order): 64 spare bits keep the modulo bias below
    2**-64."""
    number = int.from_bytes(secrets.token_bytes((length * 6 + 7) // 8 + 8))
    out = []
    for _ in range(length):
        number, digit = divmod(number, 62)
        out.append(_ALNUM[digit])
    return "".join(out)


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{alnum(length)}"


def new_hex_id(prefix: str, length: int = 18) -> str:
    return f"{prefix}_{secrets.token_hex((length + 1) // 2)[:length]}"


def request_id() -> str:
    # Voucherify's shape: "v-" + 18 hex characters.
    return "v-" + secrets.token_hex(9)
