"""JSON out through orjson: responses are built from already-validated data, so they are
serialised directly rather than validated a second time."""

from typing import Any

import orjson
from starlette.responses import JSONResponse


class JSON(JSONResponse):
    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content)
