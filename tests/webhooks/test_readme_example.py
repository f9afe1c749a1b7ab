"""The signature check the README shows receivers, run on a real delivery."""

import hashlib
import hmac
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from support.inprocess import open_app_client
from support.receiver import receiver

README = Path(__file__).resolve().parents[2] / "README.md"


def readme_verifier() -> Callable[..., bool]:
    text = README.read_text()
    found = re.search(r"<!-- signature-example -->\s*```python\n(.*?)```", text, re.DOTALL)
    assert found, "the README lost its signature example"
    namespace: dict[str, Any] = {}
    exec(compile(found.group(1), str(README), "exec"), namespace)
    verify: Callable[..., bool] = namespace["verify_tally_signature"]
    return verify


def test_the_readme_signature_check_accepts_a_delivery_and_nothing_else(
    migrated_db_url: str,
) -> None:
    verify = readme_verifier()
    with (
        open_app_client(migrated_db_url, webhooks_allow_private=True, job_poll_ms=20) as client,
        receiver() as hooks,
    ):
        response = client.post(
            "/v1/webhooks", json={"url": hooks.url(), "events": ["customer.order.created"]}
        )
        secret = response.json()["secret"]
        assert client.post("/v1/orders", json={"amount": 10}).status_code == 200
        (delivery,) = hooks.wait_for(1)
    body, header = delivery.body, delivery.headers["X-Tally-Signature"]
    assert verify(secret, body, header)
    assert not verify("whsec_other", body, header)
    assert not verify(secret, body.replace(b'"amount":10', b'"amount":99'), header)
    assert not verify(secret, body, header.replace("t=", "t=1"))
    assert not verify(secret, body, "v1=" + header.split("v1=")[1])
    # A captured delivery replayed ten minutes later carries its old, signed time.
    old = int(time.time()) - 600
    signed = f"{old}.".encode() + body
    replayed = f"t={old},v1=" + hmac.new(secret.encode(), signed, hashlib.sha256).hexdigest()
    assert not verify(secret, body, replayed)
    assert verify(secret, body, replayed, tolerance=700)
