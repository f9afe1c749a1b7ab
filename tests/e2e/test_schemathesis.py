"""Property-based run of schemathesis against the server's own ``/openapi.json``.

Every operation under /v1/orders, /v1/customers, /v1/products and /v1/skus is fuzzed on both
engines (one real ``tally serve`` per engine). A case fails when the server answers 5xx, when
a documented response does not match the schema the server itself publishes, or (extra check)
when a success body does not match the official Voucherify schema of that operation or an
error body is not the spec's error object. Invalid input answered with a 4xx error is fine.

Status-code conformance is not part of the fuzz run: the server's document lists FastAPI's
422 and none of the 400/404 errors it really answers (see test_openapi_documents_errors).

``TALLY_FUZZ_SEED`` picks another seed (the default is fixed so CI runs are repeatable);
``TALLY_FUZZ_EXAMPLES`` changes the example budget per operation.
"""

from __future__ import annotations

import itertools
import os
import re
import uuid
from typing import Any

import httpx
import pytest
import schemathesis
from schemathesis import Case, CheckContext, Response
from schemathesis.checks import not_a_server_error
from schemathesis.config import SchemathesisConfig
from schemathesis.schemas import BaseSchema
from schemathesis.specs.openapi.checks import response_schema_conformance

from support.server import LiveServer
from support.spec import assert_matches

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
            "generation": {
                "max-examples": MAX_EXAMPLES,
                "database": "none",
                # Known PostgreSQL bug: a NUL character anywhere answers 500 (see
                # test_sdk_orders.py::test_nul_character_is_not_a_server_error).
                "allow-x00": not live_server.db_url.startswith("postgresql"),
            },
        }
    )
    return schemathesis.openapi.from_url(f"{live_server.base_url}/openapi.json", config=config)


# Official response schema of each operation (ENDPOINTS.md), by operationId.
OFFICIAL_SCHEMAS: dict[str, tuple[str, str]] = {
    "create-order": ("orders", "OrdersCreateResponseBody"),
    "get-order": ("orders", "OrdersGetResponseBody"),
    "update-order": ("orders", "OrdersUpdateResponseBody"),
    "list-orders": ("orders", "OrdersListResponseBody"),
    "create-customer": ("customers", "CustomersCreateResponseBody"),
    "get-customer": ("customers", "CustomersGetResponseBody"),
    "update-customer": ("customers", "CustomersUpdateResponseBody"),
    "list-customers": ("customers", "CustomersListResponseBody"),
    "create-product": ("products", "ProductsCreateResponseBody"),
    "get-product": ("products", "ProductsGetResponseBody"),
    "update-product": ("products", "ProductsUpdateResponseBody"),
    "list-products": ("products", "ProductsListResponseBody"),
    "create-sku": ("products", "ProductsSkusCreateResponseBody"),
    "get-sku": ("products", "SkusGetResponseBody"),
    "update-sku": ("products", "ProductsSkusUpdateResponseBody"),
    "list-skus-in-product": ("products", "ProductsSkusListResponseBody"),
}


def matches_official_schema(ctx: CheckContext, response: Response, case: Case[Any]) -> bool | None:
    """2xx JSON bodies match the official schema; 4xx bodies are the error object (§2.1)."""
    status = response.status_code
    if status == 204:
        assert not response.content, "204 with a body"
        return None
    body = response.json()
    if status >= 400:
        assert_matches(body, file="orders", schema="Error")
        assert body["code"] == status, f"error code {body['code']} on HTTP {status}"
        return None
    operation_id = case.operation.definition.raw.get("operationId")
    if operation_id not in OFFICIAL_SCHEMAS:
        return True  # nothing to compare with: the check is skipped
    file, name = OFFICIAL_SCHEMAS[operation_id]
    assert_matches(body, file=file, schema=name)
    return None


schema = schemathesis.pytest.from_fixture("api_schema").include(path_regex=PATHS)

# Random path ids only ever reach the 404 branch: every other case names a seeded object.
_turn = itertools.count()


@pytest.fixture
def seeded(live_server: LiveServer) -> dict[str, str]:
    """One customer, order, product and SKU; their ids by path parameter name."""
    tag = uuid.uuid4().hex[:12]
    with live_server.client() as http:
        customer = http.post(
            "/v1/customers", json={"source_id": f"fuzz-{tag}-cust", "name": "Fuzz"}
        )
        product = http.post(
            "/v1/products", json={"source_id": f"fuzz-{tag}-prod", "name": "Fuzz", "price": 900}
        )
        assert product.status_code == 200, product.text
        sku = http.post(
            f"/v1/products/{product.json()['id']}/skus",
            json={"source_id": f"fuzz-{tag}-sku", "sku": "Fuzz", "price": 1000},
        )
        order = http.post(
            "/v1/orders",
            json={
                "source_id": f"fuzz-{tag}-order",
                "customer": {"id": customer.json()["id"]},
                "items": [
                    {"source_id": f"fuzz-{tag}-prod", "related_object": "product", "quantity": 2},
                    {"source_id": f"fuzz-{tag}-sku", "related_object": "sku", "quantity": 1},
                ],
            },
        )
        for response in (customer, sku, order):
            assert response.status_code == 200, response.text
    return {
        "orderId": order.json()["id"],
        "customerId": customer.json()["id"],
        "productId": product.json()["id"],
        "skuId": sku.json()["id"],
    }


def _use_seeded_ids(case: Case[Any], seeded: dict[str, str]) -> None:
    # Deletes keep their random ids, or they would remove what the next operations use.
    if not case.path_parameters or case.method.upper() == "DELETE" or next(_turn) % 2:
        return
    for name in case.path_parameters:
        if name in seeded:
            case.path_parameters[name] = seeded[name]


INT64 = (-(2**63), 2**63 - 1)
FREE_FORM = frozenset({"metadata", "attributes"})


def _encodable(value: Any) -> Any:
    """A free-form JSON value without what the server stores but then cannot print (known bug,
    see test_sdk_orders.py::test_unencodable_json_values_never_break_reads and
    ::test_large_float_in_metadata_round_trips): integers beyond 64 bits, floats that
    PostgreSQL's jsonb turns into such integers, lone UTF-16 surrogates."""
    if isinstance(value, dict):
        return {_encodable(key): _encodable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_encodable(item) for item in value]
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return min(max(value, INT64[0]), INT64[1])
    if isinstance(value, float) and abs(value) >= 2**62:
        return 1e18 if value > 0 else -1e18
    if isinstance(value, str):
        return value.encode("utf-8", "replace").decode("utf-8")
    return value


def _without_nul(value: Any) -> Any:
    """Known PostgreSQL bug (test_sdk_orders.py::test_nul_character_is_not_a_server_error):
    a NUL character anywhere answers 500."""
    if isinstance(value, dict):
        return {_without_nul(key): _without_nul(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_without_nul(item) for item in value]
    if isinstance(value, str):
        return value.replace("\x00", "")
    return value


def _avoid_known_bugs(value: Any, *, postgresql: bool) -> Any:
    """The body with the inputs of known bugs made harmless, so the fuzzer keeps looking for
    new problems. Remove each piece once the test named in its docstring passes."""
    if postgresql:
        value = _without_nul(value)
    if isinstance(value, dict):
        return {
            key: _encodable(item) if key in FREE_FORM else _avoid_known_bugs(item, postgresql=False)
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [_avoid_known_bugs(item, postgresql=False) for item in value]
    return value


@schema.parametrize()
def test_api_conforms_to_own_schema(
    case: Case[Any], live_server: LiveServer, seeded: dict[str, str]
) -> None:
    if isinstance(case.body, dict | list):
        postgresql = live_server.db_url.startswith("postgresql")
        case.body = _avoid_known_bugs(case.body, postgresql=postgresql)
    _use_seeded_ids(case, seeded)
    response = case.call_and_validate(
        headers=live_server.headers,
        checks=[not_a_server_error, response_schema_conformance, matches_official_schema],
    )
    # A 401 is undocumented, so the schema check would let it pass: make sure the keys work.
    assert response.status_code != 401, f"{case.operation.label} was not authenticated"


@pytest.mark.xfail(
    strict=True,
    reason="server bug: /openapi.json documents FastAPI's 422 HTTPValidationError, which the "
    "server never sends, and none of the 400 invalid_payload / invalid_query_params or 404 "
    "not_found errors it does send (BEHAVIOR 2.4, ENDPOINTS.md conventions), so schemathesis' "
    "status_code_conformance fails on every operation",
)
def test_openapi_documents_errors(live_server: LiveServer) -> None:
    """Every fuzzed operation documents the errors it answers and no 422."""
    document = httpx.get(f"{live_server.base_url}/openapi.json", timeout=30).json()
    problems = []
    for path, methods in document["paths"].items():
        if not re.match(PATHS, path):
            continue
        for method, operation in methods.items():
            codes = set(operation.get("responses", {}))
            label = f"{method.upper()} {path}"
            if "422" in codes:
                problems.append(f"{label}: documents 422")
            if "400" not in codes:
                problems.append(f"{label}: 400 not documented")
            if "{" in path and "404" not in codes:
                problems.append(f"{label}: 404 not documented")
    assert not problems, "\n".join(problems)
