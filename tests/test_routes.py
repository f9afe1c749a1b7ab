"""The app's routes are its routers' routes, added as its own (tally.app.add_routes)."""

from __future__ import annotations

import pytest
from fastapi import APIRouter, Depends, FastAPI
from fastapi.routing import APIRoute
from starlette._utils import get_route_path

from tally.app import ROUTERS, add_routes, create_app
from tally.web import openapi
from tally.web.routing import PrefixMatchedRoute


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


def _paths(app: FastAPI) -> list[str]:
    """Every route's path with its parameters filled in, and near misses of each."""
    out = {"/", "/v1", "/v1/", "/health", "/nope"}
    for route in app.router.routes:
        path = getattr(route, "path", "")
        filled = path.replace("{", "x").replace("}", "")
        out |= {filled, filled + "/", filled[:-1], filled + "/extra", "/v2" + filled[3:]}
    return sorted(out)


def test_routes_refuse_by_prefix_only_what_their_pattern_refuses() -> None:
    app = create_app()
    routes = [route for route in app.router.routes if isinstance(route, PrefixMatchedRoute)]
    assert len(routes) > 50
    refused_early = 0
    for path in _paths(app):
        for root_path in ("", "/base"):
            for method in ("GET", "POST", "PUT", "DELETE"):
                scope = {
                    "type": "http",
                    "method": method,
                    "path": root_path + path,
                    "root_path": root_path,
                }
                for route in routes:
                    ours, our_scope = route.matches(dict(scope))
                    theirs, their_scope = APIRoute.matches(route, dict(scope))
                    assert ours == theirs, (route.path, method, root_path + path)
                    assert our_scope.get("path_params") == their_scope.get("path_params")
                    refused_early += not get_route_path(scope).startswith(route._fixed)
    assert refused_early > 0
