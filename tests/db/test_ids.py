"""Identifiers: Voucherify's shapes, every random character drawn uniformly from [A-Za-z0-9];
ordered ids begin with the time."""

import re
import string
import threading
import time
from collections import Counter

from tally import ids


def test_shapes() -> None:
    assert re.fullmatch(r"ord_[A-Za-z0-9]{24}", ids.new_id("ord"))
    assert re.fullmatch(r"cust_[A-Za-z0-9]{10}", ids.new_id("cust", 10))
    assert re.fullmatch(r"v-[0-9a-f]{18}", ids.request_id())
    assert re.fullmatch(r"x_[0-9a-f]{7}", ids.new_hex_id("x", 7))


def test_every_character_appears_about_equally_often() -> None:
    counts = Counter("".join(ids.alnum(24) for _ in range(10_000)))
    assert set(counts) == set(string.ascii_letters + string.digits)
    expected = 240_000 / 62
    # Binomial spread is about 61 here; 6 of those is far beyond chance, and far below
    # the 25% surplus a folded (biased) byte mapping would give 8 of the 62 characters.
    assert all(abs(n - expected) < 6 * 61 for n in counts.values()), counts


def test_no_repeats() -> None:
    made = [ids.new_id("ord") for _ in range(50_000)]
    assert len(set(made)) == len(made)


def test_ordered_hex_ids_sort_by_time_and_keep_the_hex_shape() -> None:
    import re
    import time

    from tally.ids import new_ordered_hex_id

    made = []
    for _ in range(5):
        made.append(new_ordered_hex_id("evcus"))
        time.sleep(0.002)  # a later millisecond
    assert made == sorted(made)
    assert all(re.fullmatch(r"evcus_[0-9a-f]{18}", i) for i in made)
    # The random part tells apart ids of one millisecond (a rare clash is a unique-key
    # race the transaction runs again from).
    assert len({new_ordered_hex_id("evcus") for _ in range(100)}) == 100


def test_ordered_ids_keep_the_shape_and_sort_by_time() -> None:
    made = []
    for _ in range(5):
        made.append(ids.new_ordered_id("ord"))
        time.sleep(0.002)  # a later millisecond
    assert made == sorted(made)
    assert all(re.fullmatch(r"ord_[A-Za-z0-9]{24}", i) for i in made)
    # The first 8 characters are the milliseconds since the epoch, in base 62.
    before = time.time_ns() // 1_000_000
    head = ids.new_ordered_id("r")[2:10]
    after = time.time_ns() // 1_000_000
    alphabet = string.digits + string.ascii_uppercase + string.ascii_lowercase
    value = 0
    for char in head:
        value = value * 62 + alphabet.index(char)
    assert before <= value <= after


def test_ordered_ids_of_one_millisecond_differ_in_their_random_part() -> None:
    made = [ids.new_ordered_id("cust") for _ in range(50_000)]
    assert len(set(made)) == len(made)
    # Many share a millisecond: their 16 random characters tell them apart.
    assert len({m[5:13] for m in made}) < len(made)
    counts = Counter("".join(m[13:] for m in made))
    assert set(counts) == set(string.ascii_letters + string.digits)


def test_ordered_ids_of_one_millisecond_sort_in_the_order_they_were_made() -> None:
    # Thousands a millisecond apart at most: most share their millisecond with others.
    made = [ids.new_ordered_id("ord") for _ in range(5_000)]
    assert made == sorted(made)
    assert len(set(made)) == len(made)
    assert all(re.fullmatch(r"ord_[A-Za-z0-9]{24}", i) for i in made)


def test_ordered_ids_stay_in_order_in_each_thread_and_apart_across_them() -> None:
    made: list[list[str]] = [[], []]

    def make(into: list[str]) -> None:
        into.extend(ids.new_ordered_id("cust", 20) for _ in range(3_000))

    threads = [threading.Thread(target=make, args=(into,)) for into in made]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert all(sequence == sorted(sequence) for sequence in made)
    everything = made[0] + made[1]
    assert len(set(everything)) == len(everything)
