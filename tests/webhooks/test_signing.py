"""Signatures and address checks, the pure parts of webhooks."""

import hashlib
import hmac

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tally.webhooks.addresses import Refused, is_public, parse
from tally.webhooks.signing import tally_signature, verify, voucherify_signature


@given(secret=st.text(min_size=1), body=st.binary(), at=st.integers(0, 2**40), flip=st.integers())
def test_a_signature_verifies_only_its_own_body_secret_and_time(
    secret: str, body: bytes, at: int, flip: int
) -> None:
    header = tally_signature(secret, body, at)
    assert verify(secret, body, header, now=at)
    assert verify(secret, body, header, now=at + 300)
    assert not verify(secret, body, header, now=at + 301)
    assert not verify(secret + "!", body, header, now=at)
    if body:
        index = flip % len(body)
        changed = body[:index] + bytes([body[index] ^ 1]) + body[index + 1 :]
        assert not verify(secret, changed, header, now=at)
    assert not verify(secret, body, header.replace(f"t={at}", f"t={at + 1}"), now=at)


def test_voucherify_signature_is_the_documented_example() -> None:
    # docs/introduction-to-webhooks.mdx: secretKey and {"a":1} with whitespace removed.
    assert (
        voucherify_signature("secretKey", b'{"a":1}')
        == "a17d2ac229d1ebbb5f10e839c7985c4818e5986eab297f7e5979196d4d7d3ed2"
    )
    expected = hmac.new(b"k", b"x", hashlib.sha256).hexdigest()
    assert voucherify_signature("k", b"x") == expected


@pytest.mark.parametrize(
    ("address", "public"),
    [
        ("8.8.8.8", True),
        ("2001:4860:4860::8888", True),
        ("127.0.0.1", False),
        ("10.0.0.1", False),
        ("172.16.5.4", False),
        ("192.168.1.1", False),
        ("169.254.169.254", False),
        ("100.64.0.1", False),
        ("0.0.0.0", False),
        ("::1", False),
        ("fe80::1%eth0", False),
        ("fc00::1", False),
        ("::ffff:127.0.0.1", False),
        ("224.0.0.1", False),
    ],
)
def test_only_public_addresses_are_public(address: str, public: bool) -> None:
    assert is_public(address) is public


@pytest.mark.parametrize(
    "url",
    ["ftp://x.com/", "http://u:p@x.com/", "http://x.com/#frag", "http://x .com/", "http:///a"],
)
def test_odd_urls_are_refused(url: str) -> None:
    with pytest.raises(Refused):
        parse(url)


def test_a_url_keeps_its_path_query_and_port() -> None:
    target = parse("https://hooks.example.com:8443/in?x=1")
    assert (target.scheme, target.host, target.port, target.path) == (
        "https",
        "hooks.example.com",
        8443,
        "/in?x=1",
    )
    assert target.host_header == "hooks.example.com:8443"
    assert parse("http://example.com").path == "/"


def test_what_goes_on_the_wire_is_ascii() -> None:
    target = parse("https://bücher.example/hooks/café?q=ü&x=%41")
    assert target.host == "xn--bcher-kva.example"
    assert target.path == "/hooks/caf%C3%A9?q=%C3%BC&x=%41"
    assert target.host_header.isascii() and target.path.isascii()
