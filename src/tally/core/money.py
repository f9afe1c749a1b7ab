"""Money is an integer number of the smallest currency unit. Nothing here uses floats for
arithmetic; a float only ever arrives from JSON and is rounded once, on the way in."""

from decimal import ROUND_HALF_UP, Decimal

# The largest money value Tally accepts or computes: far above any real cart, and with the
# quantity limit below it keeps price x quantity and sums of 500 lines inside a signed
# 64-bit column.
MAX_MONEY = 10**13
MAX_QUANTITY = 1_000_000


def round_half_up(value: float | int | Decimal) -> int:
    """Round to a whole cent, halves away from zero (BEHAVIOR 1.5, 5.15)."""
    if isinstance(value, int):
        return value
    return int(Decimal(str(value)).quantize(Decimal(1), rounding=ROUND_HALF_UP))


def allocate(total: int, weights: list[int]) -> list[int]:
    """Split ``total`` over ``weights`` proportionally with the largest-remainder method.

    The parts always sum exactly to ``total``; ties in the remainders go to the earlier
    weight, so the result is deterministic. Zero weights get zero unless every weight is
    zero, in which case nothing can be allocated and every part is zero but the first.
    """
    if total < 0:
        raise ValueError("total must not be negative")
    if any(w < 0 for w in weights):
        raise ValueError("weights must not be negative")
    if not weights:
        if total:
            raise ValueError("cannot allocate a non-zero total over no weights")
        return []
    whole = sum(weights)
    if whole == 0:
        return [total] + [0] * (len(weights) - 1)
    parts = [total * w // whole for w in weights]
    remainders = [total * w % whole for w in weights]
    short = total - sum(parts)
    for index in sorted(range(len(weights)), key=lambda i: (-remainders[i], i))[:short]:
        parts[index] += 1
    return parts
