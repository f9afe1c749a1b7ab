"""HTTP routes of /v1/products and /v1/skus: parse, call one service function, shape the
response. Routes carry full paths, as the catalogue lives under two prefixes."""

from typing import Annotated

from fastapi import APIRouter, Query, Request
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
from tally.web.context import ProjectId, run
from tally.web.params import Limit, Page
from tally.web.responses import JSON

router = APIRouter(tags=["Products"])

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
async def create_product(request: Request, project_id: ProjectId, body: ProductCreate) -> JSON:
    """Create a product, or update the one its `id` or `source_id` names (upsert)."""
    row, skus = await run(
        request,
        lambda conn: service.upsert_product(conn, project_id=project_id, body=body, now=utcnow()),
        write=True,
    )
    return JSON(presenter.product_json(row, skus))


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
) -> JSON:
    """Products of the project with their SKUs, oldest first unless `order` says otherwise."""
    views, total = await run(
        request,
        lambda conn: service.list_products(
            conn,
            project_id=project_id,
            limit=limit,
            page=page,
            order=order,
            start_date=start_date,
            end_date=end_date,
        ),
        write=False,
    )
    return JSON(
        {
            "object": "list",
            "data_ref": "products",
            "products": [presenter.product_json(row, skus) for row, skus in views],
            "total": total,
        }
    )


@router.get(
    "/v1/products/{productId}", responses={200: {"model": ProductOut}}, operation_id="get-product"
)
async def get_product(request: Request, project_id: ProjectId, productId: str) -> JSON:
    """A product, with its SKUs, by its Tally id or its source_id."""
    row, skus = await run(
        request,
        lambda conn: service.product_view(conn, project_id=project_id, ref=productId),
        write=False,
    )
    return JSON(presenter.product_json(row, skus))


@router.put(
    "/v1/products/{productId}",
    responses={200: {"model": ProductOut}},
    operation_id="update-product",
)
async def update_product(
    request: Request, project_id: ProjectId, productId: str, body: ProductUpdate
) -> JSON:
    """Change the fields sent; absent fields stay as they are."""
    row, skus = await run(
        request,
        lambda conn: service.update_product(
            conn, project_id=project_id, ref=productId, body=body, now=utcnow()
        ),
        write=True,
    )
    return JSON(presenter.product_json(row, skus))


@router.delete("/v1/products/{productId}", status_code=204, operation_id="delete-product")
async def delete_product(
    request: Request, project_id: ProjectId, productId: str, force: Force = False
) -> Response:
    """Delete a product and all its SKUs; orders keep their copy of the lines."""
    await run(
        request,
        lambda conn: service.delete_product(conn, project_id=project_id, ref=productId),
        write=True,
    )
    return Response(status_code=204)


@router.post(
    "/v1/products/{productId}/skus",
    responses={200: {"model": SkuOut}},
    operation_id="create-sku",
)
async def create_sku(
    request: Request, project_id: ProjectId, productId: str, body: SkuCreate
) -> JSON:
    """Add a SKU to a product, or update the one its `id` or `source_id` names (upsert)."""
    row = await run(
        request,
        lambda conn: service.upsert_sku(
            conn, project_id=project_id, product_ref=productId, body=body, now=utcnow()
        ),
        write=True,
    )
    return JSON(presenter.sku_json(row))


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
) -> JSON:
    """A product's SKUs, oldest first unless `order` says otherwise."""
    rows, total = await run(
        request,
        lambda conn: service.list_skus(
            conn,
            project_id=project_id,
            product_ref=productId,
            limit=limit,
            page=page,
            order=order,
            start_date=start_date,
            end_date=end_date,
        ),
        write=False,
    )
    return JSON(
        {
            "object": "list",
            "data_ref": "skus",
            "skus": [presenter.sku_json(row) for row in rows],
            "total": total,
        }
    )


@router.put(
    "/v1/products/{productId}/skus/{skuId}",
    responses={200: {"model": SkuOut}},
    operation_id="update-sku",
)
async def update_sku(
    request: Request, project_id: ProjectId, productId: str, skuId: str, body: SkuUpdate
) -> JSON:
    """Change the fields sent; absent fields stay as they are."""
    row = await run(
        request,
        lambda conn: service.update_sku(
            conn,
            project_id=project_id,
            product_ref=productId,
            sku_ref=skuId,
            body=body,
            now=utcnow(),
        ),
        write=True,
    )
    return JSON(presenter.sku_json(row))


@router.delete("/v1/products/{productId}/skus/{skuId}", status_code=204, operation_id="delete-sku")
async def delete_sku(
    request: Request, project_id: ProjectId, productId: str, skuId: str, force: Force = False
) -> Response:
    """Delete one SKU of a product."""
    await run(
        request,
        lambda conn: service.delete_sku(
            conn, project_id=project_id, product_ref=productId, sku_ref=skuId
        ),
        write=True,
    )
    return Response(status_code=204)


@router.get("/v1/skus/{skuId}", responses={200: {"model": SkuOut}}, operation_id="get-sku")
async def get_sku(request: Request, project_id: ProjectId, skuId: str) -> JSON:
    """A SKU by its Tally id or its source_id."""
    row = await run(
        request, lambda conn: service.get_sku(conn, project_id=project_id, ref=skuId), write=False
    )
    return JSON(presenter.sku_json(row))
