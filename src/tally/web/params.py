"""Query parameters shared by list endpoints."""

from typing import Annotated

from fastapi import Query

Limit = Annotated[int, Query(ge=1, le=100, description="How many objects to return (1-100).")]
Page = Annotated[int, Query(ge=1, le=100, description="Which page of results to return.")]
Page99 = Annotated[int, Query(ge=1, le=99, description="Which page of results to return.")]
