"""The app's routes are its routers' routes, added as its own (tally.app.add_routes)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute

from tally.app import ROUTERS, add_routes, create_app
from tally.web import openapi


def test_the_app_serves_and_documents_what_included_routers_would() -> None:
    app = create_app()
    own = [route for route in app.router.routes if isinstance(route, APIRoute)]
    assert [route for router in ROUTERS for route in router.routes] == own
    included = FastAPI(
        title=app.title, version=app.version, description=app.description, openapi_url=None
    )
    openapi.install(included)
    for router in ROUTERS:
        included.include_router(router)
    assert type(included.router.routes[-1]).__name__ == "_IncludedRouter"
    assert app.openapi() == included.openapi()


def test_a_router_with_dependencies_is_refused() -> None:
    def nothing() -> None:
        return None

    router = APIRouter(dependencies=[Depends(nothing)])

    @router.get("/x")
    def x() -> dict[str, str]:
        return {}

    with pytest.raises(ValueError):
        add_routes(FastAPI(), router)
