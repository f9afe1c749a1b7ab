"""Voucherify-style identifiers: a type prefix plus characters from a CSPRNG."""

import secrets
import string

_ALNUM = string.ascii_letters + string.digits


def alnum(length: int) -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(length))


def new_id(prefix: str, length: int = 24) -> str:
    return f"{prefix}_{alnum(length)}"


def new_hex_id(prefix: str, length: int = 18) -> str:
    return f"{prefix}_{secrets.token_hex((length + 1) // 2)[:length]}"


def request_id() -> str:
    # Voucherify's shape: "v-" + 18 hex characters.
    return "v-" + secrets.token_hex(9)
