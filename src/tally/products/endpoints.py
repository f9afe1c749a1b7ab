"""HTTP routes of /v1/products and /v1/skus: parse, call one service function, shape the
response. Routes carry full paths, as the catalogue lives under two prefixes."""

from typing import Annotated

from fastapi import APIRouter, Body, Query, Request
from fastapi.responses import Response

from tally.clock import utcnow
from tally.products import presenter, service
from tally.products.schemas import (
    ProductCreate,
    ProductOut,
    ProductsListOut,
    ProductSort,
    ProductUpdate,
    SkuCreate,
    SkuOut,
    SkusListOut,
    SkuUpdate,
)
from tally.web.bodies import OrjsonRoute
from tally.web.context import ProjectId, respond, respond_empty
from tally.web.params import Limit, Page

router = APIRouter(tags=["Products"], route_class=OrjsonRoute)

# An SDK call with no arguments sends an empty body: it means "nothing to set".
ProductCreateBody = Annotated[ProductCreate | None, Body()]
ProductUpdateBody = Annotated[ProductUpdate | None, Body()]
SkuCreateBody = Annotated[SkuCreate | None, Body()]
SkuUpdateBody = Annotated[SkuUpdate | None, Body()]

StartDate = Annotated[
    str | None,
    Query(max_length=64, description="Only objects created at or after this ISO 8601 time."),
]
EndDate = Annotated[
    str | None,
    Query(
        max_length=64,
        description="Only objects created at or before this ISO 8601 time (a bare date: "
        "up to the end of that day).",
    ),
]
Force = Annotated[
    bool,
    Query(description="Accepted for compatibility: a delete is always permanent in Tally."),
]


@router.post("/v1/products", responses={200: {"model": ProductOut}}, operation_id="create-product")
async def create_product(
    request: Request, project_id: ProjectId, body: ProductCreateBody = None
) -> Response:
    """Create a product, or update the one its `id` or `source_id` names (upsert)."""
    payload = body or ProductCreate()
    return await respond(
        request,
        lambda conn: presenter.product_json(
            *service.upsert_product(conn, project_id=project_id, body=payload, now=utcnow())
        ),
        write=True,
        quick=True,
    )


@router.get(
    "/v1/products", responses={200: {"model": ProductsListOut}}, operation_id="list-products"
)
async def list_products(
    request: Request,
    project_id: ProjectId,
    limit: Limit = 10,
    page: Page = 1,
    order: ProductSort = "created_at",
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> Response:
    """Products of the project with their SKUs, oldest first unless `order` says otherwise."""
    return await respond(
        request,
        lambda conn: presenter.products_page(
            *service.list_products(
                conn,
                project_id=project_id,
                limit=limit,
                page=page,
                order=order,
                start_date=start_date,
                end_date=end_date,
            )
        ),
        write=False,
    )


@router.get(
    "/v1/products/{productId}", responses={200: {"model": ProductOut}}, operation_id="get-product"
)
async def get_product(request: Request, project_id: ProjectId, productId: str) -> Response:
    """A product, with its SKUs, by its Tally id or its source_id."""
    return await respond(
        request,
        lambda conn: presenter.product_json(
            *service.product_view(conn, project_id=project_id, ref=productId)
        ),
        write=False,
    )


@router.put(
    "/v1/products/{productId}",
    responses={200: {"model": ProductOut}},
    operation_id="update-product",
)
async def update_product(
    request: Request, project_id: ProjectId, productId: str, body: ProductUpdateBody = None
) -> Response:
    """Change the fields sent; absent fields stay as they are."""
    payload = body or ProductUpdate()
    return await respond(
        request,
        lambda conn: presenter.product_json(
            *service.update_product(
                conn, project_id=project_id, ref=productId, body=payload, now=utcnow()
            )
        ),
        write=True,
        quick=True,
    )


@router.delete("/v1/products/{productId}", status_code=204, operation_id="delete-product")
async def delete_product(
    request: Request, project_id: ProjectId, productId: str, force: Force = False
) -> Response:
    """Delete a product and all its SKUs; orders keep their copy of the lines."""
    return await respond_empty(
        request,
        lambda conn: service.delete_product(conn, project_id=project_id, ref=productId),
    )


@router.post(
    "/v1/products/{productId}/skus",
    responses={200: {"model": SkuOut}},
    operation_id="create-sku",
)
async def create_sku(
    request: Request, project_id: ProjectId, productId: str, body: SkuCreateBody = None
) -> Response:
    """Add a SKU to a product, or update the one its `id` or `source_id` names (upsert)."""
    payload = body or SkuCreate()
    return await respond(
        request,
        lambda conn: presenter.sku_json(
            service.upsert_sku(
                conn, project_id=project_id, product_ref=productId, body=payload, now=utcnow()
            )
        ),
        write=True,
        quick=True,
    )


@router.get(
    "/v1/products/{productId}/skus",
    responses={200: {"model": SkusListOut}},
    operation_id="list-skus-in-product",
)
async def list_skus(
    request: Request,
    project_id: ProjectId,
    productId: str,
    limit: Limit = 10,
    page: Page = 1,
    order: ProductSort = "created_at",
    start_date: StartDate = None,
    end_date: EndDate = None,
) -> Response:
    """A product's SKUs, oldest first unless `order` says otherwise."""
    return await respond(
        request,
        lambda conn: presenter.skus_page(
            *service.list_skus(
                conn,
                project_id=project_id,
                product_ref=productId,
                limit=limit,
                page=page,
                order=order,
                start_date=start_date,
                end_date=end_date,
            )
        ),
        write=False,
    )


@router.put(
    "/v1/products/{productId}/skus/{skuId}",
    responses={200: {"model": SkuOut}},
    operation_id="update-sku",
)
async def update_sku(
    request: Request, project_id: ProjectId, productId: str, skuId: str, body: SkuUpdateBody = None
) -> Response:
    """Change the fields sent; absent fields stay as they are."""
    payload = body or SkuUpdate()
    return await respond(
        request,
        lambda conn: presenter.sku_json(
            service.update_sku(
                conn,
                project_id=project_id,
                product_ref=productId,
                sku_ref=skuId,
                body=payload,
                now=utcnow(),
            )
        ),
        write=True,
        quick=True,
    )


@router.delete("/v1/products/{productId}/skus/{skuId}", status_code=204, operation_id="delete-sku")
async def delete_sku(
    request: Request, project_id: ProjectId, productId: str, skuId: str, force: Force = False
) -> Response:
    """Delete one SKU of a product."""
    return await respond_empty(
        request,
        lambda conn: service.delete_sku(
            conn, project_id=project_id, product_ref=productId, sku_ref=skuId
        ),
    )


@router.get("/v1/skus/{skuId}", responses={200: {"model": SkuOut}}, operation_id="get-sku")
async def get_sku(request: Request, project_id: ProjectId, skuId: str) -> Response:
    """A SKU by its Tally id or its source_id."""
    return await respond(
        request,
        lambda conn: presenter.sku_json(service.get_sku(conn, project_id=project_id, ref=skuId)),
        write=False,
        quick=True,
    )
