"""The quick check of request bodies (common.schemas._storable_json) agrees with the walk
that names the problem (_json_problem) on every value: NUL, lone surrogates, integers past
64 bits, NaN and infinities, nesting past 32 levels, anywhere in keys or values."""

from typing import Any

from hypothesis import example, given
from hypothesis import strategies as st

from tally.common.schemas import _json_problem, _storable_json

texts = st.text(alphabet=st.sampled_from(["a", "ż", "\x00", "\ud800", " "]), max_size=4)
scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**65), max_value=2**65),
    st.floats(),
    texts,
)
values = st.recursive(
    scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(texts, inner, max_size=3)),
    max_leaves=12,
)


def nested(depth: int, leaf: Any) -> Any:
    for n in range(depth):
        leaf = [leaf] if n % 2 else {"k": leaf}
    return leaf


@given(values)
@example(nested(32, 1))
@example(nested(33, 1))
@example(nested(32, []))
@example(nested(33, {}))
@example({"a": [1, 2**63]})
@example({"\x00": 1})
def test_the_quick_check_agrees_with_the_walk(value: Any) -> None:
    assert _storable_json(value) == (_json_problem(value, "") is None)
