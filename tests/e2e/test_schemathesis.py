"""Property-based run of schemathesis against the server's own ``/openapi.json``.

Every operation under /v1/orders, /v1/customers, /v1/products and /v1/skus is fuzzed on both
engines (one real ``tally serve`` per engine). A case fails when the server answers 5xx or
when a documented response does not match the schema the server itself publishes. Invalid
input answered with a 4xx error body is fine.

``TALLY_FUZZ_SEED`` picks another seed (the default is fixed so CI runs are repeatable);
``TALLY_FUZZ_EXAMPLES`` changes the example budget per operation.
"""

from __future__ import annotations

import os
from typing import Any

import pytest
import schemathesis
from schemathesis import Case
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import response_schema_conformance

from support.server import LiveServer

MAX_EXAMPLES = int(os.environ.get("TALLY_FUZZ_EXAMPLES", "30"))
SEED = int(os.environ.get("TALLY_FUZZ_SEED", "20260101"))
PATHS = r"^/v1/(orders|customers|products|skus)(/|$)"


@pytest.fixture
def api_schema(live_server: LiveServer) -> BaseSchema:
    """The running server's OpenAPI document, configured to call it with the test keys."""
    config = SchemathesisConfig.from_dict(
        {
            "seed": SEED,
            "base-url": live_server.base_url,
            "headers": live_server.headers,
            "request-timeout": 30,
            "generation": {"max-examples": MAX_EXAMPLES, "database": "none"},
        }
    )
    return schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json", config=config)


schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex=PATHS)


def _drop_empty_source_ids(value: Any) -> None:
    """Known bug (see test_sdk_orders.py, test_empty_or_null_source_id_is_accepted): a
    ``source_id`` sent as ``null`` or ``""`` answers 500. Leave such keys out so the fuzzer
    keeps looking for other problems; remove this once the bug is fixed."""
    if isinstance(value, dict):
        for key in [k for k, v in value.items() if k == "source_id" and v in ("", None)]:
            del value[key]
        for item in value.values():
            _drop_empty_source_ids(item)
    elif isinstance(value, list):
        for item in value:
            _drop_empty_source_ids(item)


@schema.parametrize()
def test_api_conforms_to_own_schema(case: Case, live_server: LiveServer) -> None:
    _drop_empty_source_ids(case.body)
    response = case.call_and_validate(
        headers=live_server.headers,
        checks=[not_a_server_error, response_schema_conformance],
    )
    # A 401 is undocumented, so the schema check would let it pass: make sure the keys work.
    assert response.status_code != 401, f"{case.operation.label} was not authenticated"
