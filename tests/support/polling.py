"""Waiting for what a job finishes: an async action or an export, polled over the API."""

import time
from typing import Any, Protocol


class _Getter(Protocol):
    def get(self, url: str, **kwargs: Any) -> Any: ...


def wait_until_finished(
    client: _Getter, path: str, finished: tuple[str, ...], timeout: float = 60.0
) -> dict[str, Any]:
    """GET ``path`` every 50 ms until its ``status`` is one of ``finished``; that object."""
    deadline = time.monotonic() + timeout
    while True:
        response = client.get(path)
        assert response.status_code == 200, response.text
        found: dict[str, Any] = response.json()
        if found["status"] in finished:
            return found
        assert time.monotonic() < deadline, f"{path} still {found['status']}"
        time.sleep(0.05)
