"""JSON log lines carry the request id and a UTC millisecond timestamp."""

import logging

import orjson

from tally.web.middleware import JSONFormatter


def _record(created: float, **extra: object) -> logging.LogRecord:
    record = logging.LogRecord("tally.access", logging.INFO, __file__, 1, "request", None, None)
    record.created = created
    record.msecs = (created - int(created)) * 1000
    record.__dict__.update(extra)
    return record


def test_access_line_is_json_with_request_id() -> None:
    line = JSONFormatter().format(
        _record(1_700_000_000.25, request_id="v-0123456789abcdef01", status=200, path="/v1/orders")
    )
    data = orjson.loads(line)
    assert data["time"] == "2023-11-14T22:13:20.250Z"
    assert data["request_id"] == "v-0123456789abcdef01"
    assert (data["status"], data["path"], data["level"]) == (200, "/v1/orders", "INFO")


def test_each_second_is_formatted_for_its_own_line() -> None:
    formatter = JSONFormatter()
    first = orjson.loads(formatter.format(_record(1_700_000_000.5)))["time"]
    second = orjson.loads(formatter.format(_record(1_700_000_001.0)))["time"]
    assert (first, second) == ("2023-11-14T22:13:20.500Z", "2023-11-14T22:13:21.000Z")
