"""The scaled-out topology (``support.topology``) on the session's PostgreSQL server: made
once per test process and shared by the tests of tests/scale/ (a module split over two
xdist workers would otherwise start one in each); the logs of its processes are attached
to the report of a failed test."""

from __future__ import annotations

from collections.abc import Generator, Iterator

import pytest

from support.postgres import PostgresServer
from support.topology import Topology, topology_on


@pytest.fixture(scope="session")
def shared_topology(
    postgres_server: PostgresServer, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Topology]:
    with topology_on(postgres_server, tmp_path_factory.mktemp("topology")) as started:
        yield started


@pytest.fixture
def topology(shared_topology: Topology) -> Topology:
    """2 ``tally serve`` (no job runner in them) and 2 ``tally worker`` on one database,
    every one of them running (a test that stopped one and failed left it stopped)."""
    shared_topology.heal()
    return shared_topology


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    started = getattr(item, "funcargs", {}).get("topology")
    if report.failed and isinstance(started, Topology):
        report.sections.append(("tally processes", started.log()))
    return report
