"""The scaled-out topology (``support.topology``): one per test module, on the session's
PostgreSQL server, whose processes' logs are attached to the report of a failed test."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from support.postgres import PostgresServer
from support.topology import Topology, topology_on


@pytest.fixture(scope="module")
def topology(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    """2 ``tally serve`` (no job runner in them) and 2 ``tally worker`` on one database."""
    with topology_on(postgres_server, tmp_path_factory.mktemp("topology")) as started:
        yield started


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    started = getattr(item, "funcargs", {}).get("topology")
    if report.failed and isinstance(started, Topology):
        report.sections.append(("tally processes", started.log()))
    return report
