"""The official Python SDK (``voucherify`` 6.1.1) against a real ``tally serve``.

Every call goes through the SDK, so the SDK must be able to parse each response into its
Pydantic models (SDK-NOTES.md). The raw bytes the SDK received are also checked against the
official OpenAPI schemas (``support.spec.assert_matches``). Behaviour references are to
``shared/spec/BEHAVIOR.md`` (§7 Orders API, §14 customers, §15 products).

``live_server`` is shared by the whole module (per engine): every test uses fresh uuid-based
source ids, and the list tests use a project of their own.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import httpx
import pytest
from voucherify.api.customers_api import CustomersApi
from voucherify.api.orders_api import OrdersApi
from voucherify.api.products_api import ProductsApi
from voucherify.api_client import ApiClient
from voucherify.api_response import ApiResponse
from voucherify.configuration import Configuration
from voucherify.exceptions import NotFoundException, UnauthorizedException
from voucherify.models.customer import Customer
from voucherify.models.customers_create_request_body import CustomersCreateRequestBody
from voucherify.models.order_item import OrderItem
from voucherify.models.order_item_product import OrderItemProduct
from voucherify.models.orders_create_request_body import OrdersCreateRequestBody
from voucherify.models.orders_update_request_body import OrdersUpdateRequestBody
from voucherify.models.parameter_order_list_orders import ParameterOrderListOrders
from voucherify.models.products_create_request_body import ProductsCreateRequestBody
from voucherify.models.products_skus_create_request_body import ProductsSkusCreateRequestBody
from voucherify.models.products_update_request_body import ProductsUpdateRequestBody

from support.server import LiveServer
from support.spec import assert_matches

# Pause between writes whose order a test checks: timestamps are printed with milliseconds.
TICK = 0.01


# --------------------------------------------------------------------------- helpers


def uid(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def ts(value: str) -> datetime:
    return datetime.fromisoformat(value)


def checked(response: ApiResponse[Any], file: str, schema: str) -> dict[str, Any]:
    """The JSON body the SDK received, after checking it against the official schema."""
    assert response.status_code == 200, response.raw_data
    body: dict[str, Any] = json.loads(response.raw_data)
    assert_matches(body, file=file, schema=schema)
    return body


def sdk_client(base_url: str, app_id: str, app_token: str) -> ApiClient:
    config = Configuration(host=base_url, api_key={"X-App-Id": app_id, "X-App-Token": app_token})
    return ApiClient(config)


@dataclass
class Sdk:
    orders: OrdersApi
    customers: CustomersApi
    products: ProductsApi


def sdk_for(base_url: str, app_id: str, app_token: str) -> Sdk:
    client = sdk_client(base_url, app_id, app_token)
    return Sdk(OrdersApi(client), CustomersApi(client), ProductsApi(client))


@pytest.fixture
def sdk(live_server: LiveServer) -> Sdk:
    return sdk_for(live_server.base_url, live_server.app_id, live_server.app_token)


@pytest.fixture
def http(live_server: LiveServer) -> Iterator[httpx.Client]:
    with live_server.client() as client:
        yield client


def three_items(tag: str) -> list[OrderItem]:
    """Three product lines named by source_id: 2 x 1000 + 1 x 2550 + 3 x 125 = 4925."""
    return [
        OrderItem(source_id=f"{tag}-p1", related_object="product", quantity=2, price=1000),
        OrderItem(
            source_id=f"{tag}-p2",
            related_object="product",
            quantity=1,
            product=OrderItemProduct(source_id=f"{tag}-p2", name="Mug", price=2550),
        ),
        OrderItem(source_id=f"{tag}-p3", related_object="product", quantity=3, price=125),
    ]


THREE_ITEMS_AMOUNT = 2 * 1000 + 2550 + 3 * 125


def create_order(sdk: Sdk, **fields: Any) -> dict[str, Any]:
    response = sdk.orders.create_order_with_http_info(OrdersCreateRequestBody(**fields))
    return checked(response, "orders", "OrdersCreateResponseBody")


def update_order(sdk: Sdk, ref: str, **fields: Any) -> dict[str, Any]:
    response = sdk.orders.update_order_with_http_info(ref, OrdersUpdateRequestBody(**fields))
    return checked(response, "orders", "OrdersUpdateResponseBody")


def get_order(sdk: Sdk, ref: str) -> dict[str, Any]:
    return checked(sdk.orders.get_order_with_http_info(ref), "orders", "OrdersGetResponseBody")


def list_orders(sdk: Sdk, **params: Any) -> dict[str, Any]:
    if "order" in params:
        params["order"] = ParameterOrderListOrders(params["order"])
    response = sdk.orders.list_orders_with_http_info(**params)
    body = checked(response, "orders", "OrdersListResponseBody")
    assert body["object"] == "list"
    assert body["data_ref"] == "orders"
    return body


def get_customer(sdk: Sdk, ref: str) -> dict[str, Any]:
    response = sdk.customers.get_customer_with_http_info(ref)
    return checked(response, "customers", "CustomersGetResponseBody")


def without_volatile(order: dict[str, Any]) -> dict[str, Any]:
    return {k: val for k, val in order.items() if k not in ("updated_at",)}


# --------------------------------------------------------------------------- orders


def test_create_order_with_customer_items_and_metadata(sdk: Sdk) -> None:
    tag = uid("create")
    metadata = {"channel": "web", "gift": True, "tags": ["a", "b"], "n": 3}
    before = datetime.now().astimezone()
    body = create_order(
        sdk,
        source_id=f"{tag}-order",
        customer=Customer(source_id=f"{tag}-cust", name="Ann Example", email="ann@example.com"),
        items=three_items(tag),
        metadata=metadata,
    )

    assert body["id"].startswith("ord_")
    assert body["object"] == "order"
    assert body["source_id"] == f"{tag}-order"
    assert body["status"] == "CREATED"  # BEHAVIOR 6.2
    assert body["updated_at"] is None  # BEHAVIOR 4.4
    assert abs((ts(body["created_at"]) - before).total_seconds()) < 60
    assert body["metadata"] == metadata
    # No amount sent: the sum of the lines (BEHAVIOR 5.1, 5.2).
    assert body["amount"] == THREE_ITEMS_AMOUNT
    assert body["initial_amount"] == THREE_ITEMS_AMOUNT
    assert body["total_amount"] == THREE_ITEMS_AMOUNT
    assert body["discount_amount"] == 0
    assert body["items_discount_amount"] == 0
    assert body["total_discount_amount"] == 0
    assert body["redemptions"] == {}
    assert body["customer_id"].startswith("cust_")
    assert body["customer"] == {"id": body["customer_id"], "object": "customer"}
    assert body["referrer_id"] is None

    lines = [(i["source_id"], i["quantity"], i["price"], i["amount"]) for i in body["items"]]
    assert lines == [
        (f"{tag}-p1", 2, 1000, 2000),
        (f"{tag}-p2", 1, 2550, 2550),
        (f"{tag}-p3", 3, 125, 375),
    ]
    for item in body["items"]:
        assert item["object"] == "order_item"
        assert item["related_object"] == "product"
        assert item["subtotal_amount"] == item["amount"]
        assert item["discount_amount"] == 0

    # The customer was created from the order (BEHAVIOR 14.1) and is reachable by source_id.
    customer = get_customer(sdk, f"{tag}-cust")
    assert customer["id"] == body["customer_id"]
    assert customer["name"] == "Ann Example"
    assert customer["email"] == "ann@example.com"

    # The SDK's own parse agrees with the raw JSON.
    model = sdk.orders.get_order(body["id"])
    assert model.id == body["id"]
    assert model.amount == THREE_ITEMS_AMOUNT
    assert model.status == "CREATED"
    assert model.metadata == metadata
    assert model.items is not None and len(model.items) == 3


def test_upsert_by_source_id_keeps_id_and_created_at(sdk: Sdk) -> None:
    tag = uid("upsert-src")
    first = create_order(
        sdk,
        source_id=f"{tag}-order",
        customer=Customer(source_id=f"{tag}-cust"),
        items=three_items(tag),
        metadata={"v": 1},
    )
    time.sleep(TICK)
    second = create_order(
        sdk, source_id=f"{tag}-order", status="PAID", metadata={"v": 2, "note": "re-sent"}
    )

    assert second["id"] == first["id"]  # BEHAVIOR 7.1 upsert
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] is not None
    assert ts(second["updated_at"]) > ts(first["created_at"])
    assert second["status"] == "PAID"
    assert second["metadata"] == {"v": 2, "note": "re-sent"}
    # Fields not sent stay as they were.
    assert second["items"] == first["items"]
    assert second["amount"] == first["amount"] == THREE_ITEMS_AMOUNT
    assert second["customer_id"] == first["customer_id"]
    assert get_order(sdk, first["id"]) == second


def test_upsert_by_id_changes_fields_and_source_id(sdk: Sdk) -> None:
    tag = uid("upsert-id")
    first = create_order(sdk, source_id=f"{tag}-old", items=three_items(tag))
    time.sleep(TICK)
    second = create_order(
        sdk,
        id=first["id"],
        source_id=f"{tag}-new",  # a free source_id: the order takes it (BEHAVIOR 7.1)
        status="CANCELED",
        metadata={"reason": "customer request"},
        items=[OrderItem(source_id=f"{tag}-p9", related_object="product", quantity=4, price=50)],
    )

    assert second["id"] == first["id"]
    assert second["created_at"] == first["created_at"]
    assert second["updated_at"] is not None
    assert second["source_id"] == f"{tag}-new"
    assert second["status"] == "CANCELED"
    assert second["metadata"] == {"reason": "customer request"}
    assert [(i["source_id"], i["amount"]) for i in second["items"]] == [(f"{tag}-p9", 200)]
    assert second["amount"] == 200  # items changed, amount not sent: recomputed (§7.4)
    assert get_order(sdk, f"{tag}-new")["id"] == first["id"]
    with pytest.raises(NotFoundException):
        sdk.orders.get_order(f"{tag}-old")


def test_get_by_id_and_by_source_id(sdk: Sdk, http: httpx.Client) -> None:
    tag = uid("get")
    created = create_order(
        sdk,
        source_id=f"{tag}-order",
        items=three_items(tag),
        customer=Customer(source_id=f"{tag}-cust"),
        metadata={"k": "v"},
    )
    by_id = get_order(sdk, created["id"])
    by_source = get_order(sdk, f"{tag}-order")
    assert by_id == created
    assert by_source == created

    # Unknown ids: the SDK raises NotFoundException; the body is the spec's 404 (BEHAVIOR 7.3).
    with pytest.raises(NotFoundException) as caught:
        sdk.orders.get_order(f"{tag}-missing")
    assert caught.value.status == 404
    raw = http.get(f"/v1/orders/{tag}-missing")
    assert raw.status_code == 404
    error = raw.json()
    assert_matches(error, file="orders", schema="Error")
    assert error["key"] == "not_found"
    assert error["resource_type"] == "order"
    assert error["resource_id"] == f"{tag}-missing"


def test_update_is_partial(sdk: Sdk) -> None:
    tag = uid("update")
    created = create_order(
        sdk,
        source_id=f"{tag}-order",
        items=three_items(tag),
        customer=Customer(source_id=f"{tag}-cust"),
        metadata={"a": 1},
    )
    time.sleep(TICK)
    fulfilled = update_order(sdk, created["id"], status="FULFILLED")
    assert fulfilled["status"] == "FULFILLED"
    assert fulfilled["updated_at"] is not None
    assert ts(fulfilled["updated_at"]) > ts(created["created_at"])
    unchanged = ("id", "source_id", "created_at", "amount", "items", "metadata", "customer_id")
    for name in unchanged:
        assert fulfilled[name] == created[name], name

    # By source_id, another field only: the status set before stays (BEHAVIOR 7.4).
    time.sleep(TICK)
    relabelled = update_order(sdk, f"{tag}-order", metadata={"b": 2})
    assert relabelled["metadata"] == {"b": 2}
    assert relabelled["status"] == "FULFILLED"
    assert relabelled["items"] == created["items"]
    assert relabelled["amount"] == created["amount"]
    assert ts(relabelled["updated_at"]) > ts(fulfilled["updated_at"])
    assert get_order(sdk, created["id"]) == relabelled

    with pytest.raises(NotFoundException):
        sdk.orders.update_order(f"{tag}-missing", OrdersUpdateRequestBody(status="PAID"))


# --------------------------------------------------------------------------- list


@dataclass
class Listing:
    sdk: Sdk
    created: list[str]  # order ids in creation order
    updated: list[str]  # the same ids in the order of their last update


@pytest.fixture(scope="module")
def listing(live_server: LiveServer) -> Listing:
    """A project of its own with 7 orders, created and then updated in different orders."""
    creds = live_server.new_project(uid("listing"))
    sdk = sdk_for(live_server.base_url, creds["app_id"], creds["app_token"])
    created = []
    for n in range(7):
        body = create_order(
            sdk,
            source_id=uid(f"list{n}"),
            items=[OrderItem(source_id=f"sku-{n}", quantity=1, price=100 * (n + 1))],
        )
        created.append(body["id"])
        time.sleep(TICK)
    updated = [created[i] for i in (3, 0, 6, 1, 5, 2, 4)]
    for order_id in updated:
        update_order(sdk, order_id, metadata={"touched": True})
        time.sleep(TICK)
    return Listing(sdk=sdk, created=created, updated=updated)


@pytest.mark.parametrize(
    ("order", "field", "descending"),
    [
        ("created_at", "created_at", False),
        ("-created_at", "created_at", True),
        ("updated_at", "updated_at", False),
        ("-updated_at", "updated_at", True),
    ],
)
def test_list_sort_orders(listing: Listing, order: str, field: str, descending: bool) -> None:
    body = list_orders(listing.sdk, order=order, limit=100)
    ids = [o["id"] for o in body["orders"]]
    sequence = listing.created if field == "created_at" else listing.updated
    assert ids == (sequence[::-1] if descending else sequence)
    stamps = [ts(o[field]) for o in body["orders"]]
    assert stamps == sorted(stamps, reverse=descending)
    assert body["total"] == 7


def test_list_default_order_is_newest_first(listing: Listing) -> None:
    body = list_orders(listing.sdk)  # BEHAVIOR 7.7: default -created_at, default limit 10
    assert [o["id"] for o in body["orders"]] == listing.created[::-1]
    assert body["total"] == 7


def test_list_paging(listing: Listing) -> None:
    pages = [list_orders(listing.sdk, order="created_at", limit=3, page=n) for n in (1, 2, 3, 4)]
    assert [len(p["orders"]) for p in pages] == [3, 3, 1, 0]  # BEHAVIOR 7.8: empty past the end
    assert [p["total"] for p in pages] == [7, 7, 7, 7]  # total = all matches (BEHAVIOR 7.6)
    ids = [o["id"] for p in pages for o in p["orders"]]
    assert ids == listing.created

    one = list_orders(listing.sdk, order="-updated_at", limit=1, page=2)
    assert [o["id"] for o in one["orders"]] == [listing.updated[-2]]
    assert one["total"] == 7


# --------------------------------------------------------------------------- customers


def test_customer_summary_counts_paid_orders(sdk: Sdk) -> None:
    tag = uid("summary")
    response = sdk.customers.create_customer_with_http_info(
        CustomersCreateRequestBody(
            source_id=f"{tag}-cust",
            name="Bob Example",
            email="bob@example.com",
            metadata={"tier": "gold"},
        )
    )
    customer = checked(response, "customers", "CustomersCreateResponseBody")
    assert customer["id"].startswith("cust_")
    assert customer["object"] == "customer"
    assert customer["source_id"] == f"{tag}-cust"
    assert customer["metadata"] == {"tier": "gold"}
    empty = customer["summary"]["orders"]
    assert (empty["total_amount"], empty["total_count"], empty["average_amount"]) == (0, 0, 0)
    assert empty["last_order_amount"] == 0
    assert "last_order_date" not in empty  # BEHAVIOR 14.4
    assert get_customer(sdk, customer["id"]) == get_customer(sdk, f"{tag}-cust")

    # A CREATED order does not count (BEHAVIOR 14.4).
    first = create_order(
        sdk, source_id=f"{tag}-o1", customer=Customer(id=customer["id"]), items=three_items(tag)
    )
    assert first["customer_id"] == customer["id"]
    assert get_customer(sdk, customer["id"])["summary"]["orders"]["total_count"] == 0

    # Paid: counts with its total_amount.
    update_order(sdk, first["id"], status="PAID")
    summary = get_customer(sdk, f"{tag}-cust")["summary"]["orders"]
    assert summary == {
        "total_amount": THREE_ITEMS_AMOUNT,
        "total_count": 1,
        "average_amount": THREE_ITEMS_AMOUNT,
        "last_order_amount": THREE_ITEMS_AMOUNT,
        "last_order_date": first["created_at"],
    }
    model = sdk.customers.get_customer(customer["id"])
    assert model.summary is not None and model.summary.orders is not None
    assert model.summary.orders.total_count == 1

    # A second order, created PAID and linked by source_id; average rounds half up.
    time.sleep(TICK)
    second = create_order(
        sdk,
        source_id=f"{tag}-o2",
        status="PAID",
        customer=Customer(source_id=f"{tag}-cust"),
        amount=2000,
    )
    assert second["customer_id"] == customer["id"]
    summary = get_customer(sdk, customer["id"])["summary"]["orders"]
    total = THREE_ITEMS_AMOUNT + 2000
    assert summary["total_amount"] == total
    assert summary["total_count"] == 2
    assert summary["average_amount"] == (total + 1) // 2
    assert summary["last_order_amount"] == 2000
    assert summary["last_order_date"] == second["created_at"]

    # Canceling the first takes it out again (BEHAVIOR 6.8).
    update_order(sdk, f"{tag}-o1", status="CANCELED")
    summary = get_customer(sdk, customer["id"])["summary"]["orders"]
    assert (summary["total_amount"], summary["total_count"]) == (2000, 1)


# --------------------------------------------------------------------------- products


@pytest.fixture
def products_routes(http: httpx.Client) -> None:
    """Skip when the server has no catalogue routes yet (they were being written)."""
    response = http.get("/v1/products")
    if response.status_code == 404 and "Cannot find route" in response.text:
        pytest.skip("GET /v1/products is not routed by this server build yet")


@pytest.mark.usefixtures("products_routes")
def test_product_and_sku(sdk: Sdk) -> None:
    tag = uid("catalogue")
    response = sdk.products.create_product_with_http_info(
        ProductsCreateRequestBody(
            source_id=f"{tag}-prod",
            name="Tea Pot",
            price=1234,
            attributes=["color", "size"],
            metadata={"origin": "JP"},
        )
    )
    product = checked(response, "products", "ProductsCreateResponseBody")
    assert product["id"].startswith("prod_")
    assert product["object"] == "product"
    assert (product["name"], product["price"]) == ("Tea Pot", 1234)
    assert product["attributes"] == ["color", "size"]
    assert product["metadata"] == {"origin": "JP"}

    by_id = checked(
        sdk.products.get_product_with_http_info(product["id"]),
        "products",
        "ProductsGetResponseBody",
    )
    by_source = checked(
        sdk.products.get_product_with_http_info(f"{tag}-prod"),
        "products",
        "ProductsGetResponseBody",
    )
    assert by_id == by_source
    assert by_id["id"] == product["id"]

    # Partial update: the price changes, the name stays (BEHAVIOR 15.5).
    updated = checked(
        sdk.products.update_product_with_http_info(
            f"{tag}-prod", ProductsUpdateRequestBody(price=1500)
        ),
        "products",
        "ProductsUpdateResponseBody",
    )
    assert (updated["name"], updated["price"]) == ("Tea Pot", 1500)

    sku = checked(
        sdk.products.create_sku_with_http_info(
            f"{tag}-prod",
            ProductsSkusCreateRequestBody(
                source_id=f"{tag}-sku",
                sku="Tea Pot red",
                price=1700,
                attributes={"color": "red", "size": "L"},
            ),
        ),
        "products",
        "ProductsSkusCreateResponseBody",
    )
    assert sku["id"].startswith("sku_")
    assert (sku["sku"], sku["price"], sku["source_id"]) == ("Tea Pot red", 1700, f"{tag}-sku")
    assert sku["attributes"] == {"color": "red", "size": "L"}

    got = checked(
        sdk.products.get_sku_with_http_info(f"{tag}-sku"), "products", "SkusGetResponseBody"
    )
    assert got["id"] == sku["id"]
    assert got["product_id"] == product["id"]

    # SDK-NOTES: the SDK may send a SKU with nothing but a price.
    bare = checked(
        sdk.products.create_sku_with_http_info(
            product["id"], ProductsSkusCreateRequestBody(price=5000)
        ),
        "products",
        "ProductsSkusCreateResponseBody",
    )
    assert bare["price"] == 5000

    listed = checked(
        sdk.products.list_skus_in_product_with_http_info(product["id"]),
        "products",
        "ProductsSkusListResponseBody",
    )
    assert {s["id"] for s in listed["skus"]} == {sku["id"], bare["id"]}
    with_skus = checked(
        sdk.products.get_product_with_http_info(product["id"]),
        "products",
        "ProductsGetResponseBody",
    )
    assert with_skus["skus"]["total"] == 2

    # Orders link catalogue entries named by source_id and take their prices (§5.2, §15.3).
    order = create_order(
        sdk,
        items=[
            OrderItem(source_id=f"{tag}-prod", related_object="product", quantity=2),
            OrderItem(source_id=f"{tag}-sku", related_object="sku", quantity=1),
        ],
    )
    first, second = order["items"]
    assert (first["product_id"], first["price"], first["amount"]) == (product["id"], 1500, 3000)
    assert (second["sku_id"], second["price"], second["amount"]) == (sku["id"], 1700, 1700)
    assert order["amount"] == 4700


# --------------------------------------------------------------------------- auth and bugs


def test_wrong_token_is_unauthorized(live_server: LiveServer, http: httpx.Client) -> None:
    bad = sdk_for(live_server.base_url, live_server.app_id, "not-the-token")
    with pytest.raises(UnauthorizedException) as caught:
        bad.orders.list_orders()
    assert caught.value.status == 401
    raw = httpx.get(f"{live_server.base_url}/v1/orders", headers={"X-App-Id": live_server.app_id})
    assert raw.status_code == 401
    assert raw.json()["key"] == "unauthorized"
    assert_matches(raw.json(), file="orders", schema="Error")


@pytest.mark.parametrize(
    ("path", "payload"),
    [
        ("/v1/orders", {"source_id": None}),
        ("/v1/orders", {"source_id": ""}),
        ("/v1/orders", {"customer": {"source_id": None, "name": "Anon"}}),
        ("/v1/orders", {"items": [{"source_id": "", "quantity": 1, "price": 100}]}),
        ("/v1/customers", {"source_id": None, "name": "Anon"}),
    ],
    ids=["order-null", "order-empty", "order-customer-null", "order-item-empty", "customer-null"],
)
def test_empty_or_null_source_id_is_accepted(
    http: httpx.Client, path: str, payload: dict[str, Any]
) -> None:
    """BEHAVIOR 3.3: '' means null. Regression: both used to answer 500 (found by the fuzzer)."""
    response = http.post(path, json=payload)
    assert response.status_code == 200, response.text
    if path == "/v1/orders" and "source_id" in payload:
        assert response.json()["source_id"] is None


def test_sdk_update_without_body_changes_nothing(sdk: Sdk) -> None:
    created = create_order(sdk, source_id=uid("nobody"), amount=700)
    response = sdk.orders.update_order_with_http_info(created["id"])
    body = checked(response, "orders", "OrdersUpdateResponseBody")
    assert without_volatile(body) == without_volatile(created)


def project_client(live_server: LiveServer) -> httpx.Client:
    creds = live_server.new_project(uid("scratch"))
    headers = {"X-App-Id": creds["app_id"], "X-App-Token": creds["app_token"]}
    return httpx.Client(base_url=live_server.base_url, headers=headers, timeout=30)


@pytest.fixture(scope="module")
def scratch_http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client on a project of its own, for requests that may leave unreadable data."""
    with project_client(live_server) as client:
        yield client


@pytest.fixture
def empty_project_http(live_server: LiveServer) -> Iterator[httpx.Client]:
    """A client on a new, empty project: a test that lists sees only its own objects."""
    with project_client(live_server) as client:
        yield client


@pytest.mark.parametrize(
    ("path", "list_path", "raw"),
    [
        ("/v1/orders", "/v1/orders", '{"metadata": {"n": 18446744073709551616}}'),
        ("/v1/orders", "/v1/orders", '{"metadata": {"n": -9223372036854775809}}'),
        ("/v1/orders", "/v1/orders", '{"metadata": {"s": "\\ud800"}}'),
        ("/v1/customers", "/v1/customers", '{"metadata": {"n": 18446744073709551616}}'),
        ("/v1/products", "/v1/products", '{"name": "x", "metadata": {"s": "\\udc00"}}'),
    ],
    ids=["order-u64-overflow", "order-i64-underflow", "order-surrogate", "customer", "product"],
)
def test_unencodable_json_values_never_break_reads(
    empty_project_http: httpx.Client, path: str, list_path: str, raw: str
) -> None:
    source_id = uid("poison")
    body = raw.replace("{", f'{{"source_id": "{source_id}", ', 1)
    response = empty_project_http.post(
        path, content=body, headers={"Content-Type": "application/json"}
    )
    # Refused before anything is written (it could be neither stored nor printed back).
    assert response.status_code == 400, response.text
    assert response.json()["key"] == "invalid_payload"
    assert empty_project_http.get(f"{path}/{source_id}").status_code == 404
    listed = empty_project_http.get(list_path, params={"limit": 100})
    assert listed.status_code == 200
    assert listed.json()["total"] == 0


def test_source_id_with_lone_surrogate_is_invalid_payload(scratch_http: httpx.Client) -> None:
    """Regression: used to answer 500 (UnicodeEncodeError on the way to the database)."""
    response = scratch_http.post(
        "/v1/orders",
        content='{"source_id": "a\\ud800b"}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400, response.text
    assert response.json()["key"] == "invalid_payload"


def test_large_float_in_metadata_round_trips(
    request: pytest.FixtureRequest, live_server: LiveServer, empty_project_http: httpx.Client
) -> None:
    """Regression (PostgreSQL): jsonb prints 1e20 as 100000000000000000000, which used to
    read back as an integer the JSON encoder could not print (500 on every read)."""
    source_id = uid("float")
    metadata = {"big": 1e20, "huge": -2.9e119, "small": 1.5}
    created = empty_project_http.post(
        "/v1/orders", json={"source_id": source_id, "metadata": metadata}
    )
    assert created.status_code == 200, created.text
    got = empty_project_http.get(f"/v1/orders/{source_id}")
    assert got.status_code == 200, got.text
    assert got.json()["metadata"] == metadata
    assert empty_project_http.get("/v1/orders", params={"limit": 100}).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "payload", "allowed"),
    [
        ("POST", "/v1/orders", {"source_id": "nul\u0000char"}, (400,)),
        ("POST", "/v1/orders", {"metadata": {"text": "nul\u0000char"}}, (400,)),
        ("POST", "/v1/orders", {"metadata": {"k\u0000": 1}}, (400,)),
        ("POST", "/v1/customers", {"name": "nul\u0000char"}, (400,)),
        ("POST", "/v1/products", {"name": "nul\u0000char"}, (400,)),
        ("GET", "/v1/orders/missing%00order", None, (404,)),
        ("GET", "/v1/skus/missing%00sku", None, (404,)),
        ("GET", "/v1/customers?email=nul%00char", None, (400,)),
    ],
    ids=[
        "order-source_id",
        "order-metadata-value",
        "order-metadata-key",
        "customer-name",
        "product-name",
        "get-order",
        "get-sku",
        "customers-email-filter",
    ],
)
def test_nul_character_is_not_a_server_error(
    request: pytest.FixtureRequest,
    live_server: LiveServer,
    scratch_http: httpx.Client,
    method: str,
    path: str,
    payload: dict[str, Any] | None,
    allowed: tuple[int, ...],
) -> None:
    """A NUL is refused the same way on both engines (PostgreSQL cannot store it): never
    500. Regression: PostgreSQL used to answer 500."""
    response = scratch_http.request(method, path, json=payload)
    assert response.status_code in allowed, response.text
    if response.status_code == 400:
        assert response.json()["key"] in ("invalid_payload", "invalid_query_params")
