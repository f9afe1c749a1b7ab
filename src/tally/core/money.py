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
    if not weights:
        if total:
            raise ValueError("cannot allocate a non-zero total over no weights")
        return []
    if min(weights) < 0:
        raise ValueError("weights must not be negative")
    whole = sum(weights)
    if whole == 0:
        return [total] + [0] * (len(weights) - 1)
    parts = []
    remainders = []
    for weight in weights:
        part, remainder = divmod(total * weight, whole)
        parts.append(part)
        remainders.append(remainder)
    short = total - sum(parts)
    if short:
        # Largest remainders first; a stable sort keeps equal ones in line order, reversed
        # or not, so ties go to the earlier line.
        for index in sorted(range(len(weights)), key=remainders.__getitem__, reverse=True)[:short]:
            parts[index] += 1
    return parts


def allocate_capped(total: int, weights: list[int], caps: list[int]) -> list[int]:
    """Split ``total`` over ``weights`` like :func:`allocate`, no part above its cap.

    A part that would pass its cap gets the cap, and what it could not take is split
    again over the others, until everything is placed. Parts with zero weight get
    nothing, so ``total`` must not exceed the caps of the weighted parts."""
    if len(weights) != len(caps):
        raise ValueError("one cap for every weight")
    if any(c < 0 for c in caps):
        raise ValueError("caps must not be negative")
    open_ = [i for i, w in enumerate(weights) if w > 0 and caps[i] > 0]
    if total > sum(caps[i] for i in open_):
        raise ValueError("total is more than the weighted parts can take")
    parts = [0] * len(weights)
    left = total
    while left:
        shares = allocate(left, [weights[i] for i in open_])
        full = [i for i, share in zip(open_, shares, strict=True) if share >= caps[i] - parts[i]]
        if not full:
            for i, share in zip(open_, shares, strict=True):
                parts[i] += share
            break
        # Fill the parts that reach their cap, then split the rest again over the others.
        for i in full:
            left -= caps[i] - parts[i]
            parts[i] = caps[i]
        open_ = [i for i in open_ if i not in full]
    return parts
