"""Request bodies parsed with orjson: the standard json module takes about 60 ms for a
2 MB order import, orjson a fraction of it.

A body orjson refuses is parsed by the json module, whose verdict and messages the API has
always given: a malformed body gets the same "Invalid JSON: ..." details, and what json
accepts but orjson does not (NaN, 1e400, lone surrogates, a BOM) reaches validation as
before, to be refused there by the same rules. So is a body with a run of 19 digits or more:
orjson reads an integer past 64 bits as a float, where json keeps it whole (and validation
refuses it).
"""

import json
from collections.abc import Callable, Coroutine
from typing import Any

import orjson
from fastapi import Request, Response

from tally.web.routing import PrefixMatchedRoute

# A run of 19 digits anywhere, strings included (a false alarm only costs the slower
# parse), found by turning every digit into "0": ten times as fast as a regular expression
# (5 us for a validation's body, 17 ms for a 2 MB import).
_DIGITS_TO_ZERO = bytes.maketrans(b"123456789", b"000000000")
_LONG_NUMBER = b"0" * 19


class OrjsonRequest(Request):
    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            body = await self.body()
            try:
                if _LONG_NUMBER in body.translate(_DIGITS_TO_ZERO):
                    raise orjson.JSONDecodeError("", "", 0)
                self._json = orjson.loads(body)
            except orjson.JSONDecodeError:
                self._json = json.loads(body)
        return self._json


class OrjsonRoute(PrefixMatchedRoute):
    """A route whose JSON body is read by :class:`OrjsonRequest`."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def route(request: Request) -> Response:
            return await handler(OrjsonRequest(request.scope, request.receive))

        return route
