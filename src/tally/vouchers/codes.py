"""Voucher codes made from a code_config (vouchers.json: CodeConfig). Pure: the random
source is passed in, so the rules can be tested without it."""

import secrets
import string
from collections.abc import Callable

ALPHANUMERIC = string.digits + string.ascii_letters
DEFAULT_LENGTH = 8
MAX_CODE_LENGTH = 255


class CodeConfigError(ValueError):
    """The config cannot make a usable code; the message names the property."""


def make_code(
    *,
    length: int | None = None,
    charset: str | None = None,
    prefix: str | None = None,
    postfix: str | None = None,
    pattern: str | None = None,
    choose: Callable[[str], str] = secrets.choice,
) -> str:
    """prefix + (pattern with every ``#`` replaced, else ``length`` characters) + postfix,
    the characters drawn from ``charset`` (default alphanumeric)."""
    chars = "".join(dict.fromkeys(charset)) if charset is not None else ALPHANUMERIC
    if not chars:
        raise CodeConfigError("Property .code_config.charset must not be empty")
    if pattern is not None:
        if "#" not in pattern:
            raise CodeConfigError("Property .code_config.pattern must contain at least one #")
        body = "".join(choose(chars) if c == "#" else c for c in pattern)
    else:
        count = DEFAULT_LENGTH if length is None else length
        if count < 1:
            raise CodeConfigError("Property .code_config.length must be at least 1")
        body = "".join(choose(chars) for _ in range(count))
    code = f"{prefix or ''}{body}{postfix or ''}"
    if len(code) > MAX_CODE_LENGTH:
        raise CodeConfigError(f"A generated code would be longer than {MAX_CODE_LENGTH} characters")
    return code
