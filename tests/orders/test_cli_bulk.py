"""`tally orders import FILE` and `tally orders export` on both engines: JSON and CSV in,
CSV out with the API's fields and filters, a failing order listed while the rest land, a
file that cannot be read refused before anything is written, and an export read back into
another project giving the same orders."""

import csv
import io
import json
import subprocess
from pathlib import Path

from support.server import parse_credentials, run_tally, tally_command, tally_env, tally_executable


def tally(args: list[str], db_url: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """A `tally` command, whatever its exit status."""
    return tally_command(args, db_url=db_url, cwd=cwd)


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text, newline="")))


ORDERS = [
    {
        "source_id": "web-1",
        "status": "PAID",
        "amount": 1200,
        "created_at": "2024-05-01T10:00:00.000Z",
        "customer": {"source_id": "ann"},
        "metadata": {"channel": "web", "n": -5, "tags": ["a", "b"]},
    },
    {
        "source_id": "=shop-2",
        "created_at": "2024-05-02T10:00:00.000Z",
        "items": [{"source_id": "mug", "related_object": "product", "price": 450, "quantity": 2}],
        "metadata": {"channel": '\'quoted, "text"\nnext line'},
    },
    {"source_id": "bad-3", "amount": -1},
]


def test_import_export_and_round_trip(migrated_db_url: str, tmp_path: Path) -> None:
    run_tally(["projects", "create", "shop"], db_url=migrated_db_url, cwd=tmp_path)
    source = tmp_path / "orders.json"
    source.write_text(json.dumps(ORDERS))

    done = tally(["orders", "import", str(source)], migrated_db_url, tmp_path)
    assert done.returncode == 1, done.stderr  # one order failed
    assert "2 order(s) imported successfully, 1 failed." in done.stdout
    assert '"source_id": "bad-3"' in done.stderr
    assert "greater than or equal to 0" in done.stderr

    fields = "source_id,status,amount,created_at,metadata,metadata.channel,metadata.n"
    out = run_tally(
        ["orders", "export", "--fields", fields, "--order", "created_at"],
        db_url=migrated_db_url,
        cwd=tmp_path,
    ).stdout
    exported = rows(out)
    assert [row["source_id"] for row in exported] == ["web-1", "'=shop-2"]
    assert exported[0]["amount"] == "1200" and exported[1]["amount"] == "900"
    assert exported[0]["created_at"] == "2024-05-01T10:00:00.000Z"
    assert exported[0]["metadata.n"] == "-5"
    assert exported[1]["metadata.channel"] == "''quoted, \"text\"\nnext line"

    filtered = run_tally(
        ["orders", "export", "--fields", "source_id", "--filter", "status:is:PAID"],
        db_url=migrated_db_url,
        cwd=tmp_path,
    ).stdout
    assert filtered == "source_id\nweb-1\n"
    either = run_tally(
        [
            "orders",
            "export",
            "--fields",
            "source_id",
            "--junction",
            "or",
            "--filter",
            "amount:more_than:1000",
            "--filter",
            "source_id:starts_with:=",
            "--order",
            "created_at",
        ],
        db_url=migrated_db_url,
        cwd=tmp_path,
    ).stdout
    assert either == "source_id\nweb-1\n'=shop-2\n"

    # The CSV goes into another project as it came out (the file's own columns) and comes
    # out of it the same.
    csv_file = tmp_path / "orders.csv"
    csv_file.write_text(out)
    run_tally(["projects", "create", "copy"], db_url=migrated_db_url, cwd=tmp_path)
    moved = tally(
        ["orders", "import", str(csv_file), "--project", "copy"], migrated_db_url, tmp_path
    )
    assert moved.returncode == 0, moved.stderr
    assert "2 order(s) imported successfully." in moved.stdout
    again = run_tally(
        ["orders", "export", "--project", "copy", "--fields", fields, "--order", "created_at"],
        db_url=migrated_db_url,
        cwd=tmp_path,
    ).stdout
    # The amount of the second order came from its items, which the CSV does not carry.
    assert [{k: v for k, v in r.items() if k != "amount"} for r in rows(again)] == [
        {k: v for k, v in r.items() if k != "amount"} for r in exported
    ]

    # Several projects: which one must be said.
    ambiguous = tally(["orders", "export"], migrated_db_url, tmp_path)
    assert ambiguous.returncode == 2 and "--project" in ambiguous.stderr


def test_files_refused_before_anything_is_written(migrated_db_url: str, tmp_path: Path) -> None:
    made = parse_credentials(
        run_tally(
            ["projects", "create", "shop", "--json"], db_url=migrated_db_url, cwd=tmp_path
        ).stdout
    )
    assert made["project_id"]
    bad_column = tmp_path / "bad.csv"
    bad_column.write_text("source_id,amount,colour\na,1,red\n")
    not_json = tmp_path / "bad.json"
    not_json.write_text('[{"source_id": "a"},')
    for path, message in [(bad_column, "unknown CSV columns: colour"), (not_json, "not JSON")]:
        result = tally(["orders", "import", str(path)], migrated_db_url, tmp_path)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr
    wrong_field = tally(["orders", "export", "--fields", "id,secret"], migrated_db_url, tmp_path)
    assert wrong_field.returncode == 2 and "Allowed fields" in wrong_field.stderr
    out = run_tally(["orders", "export"], db_url=migrated_db_url, cwd=tmp_path).stdout
    assert out == "id,source_id,status\n"  # nothing was imported

    lines = tmp_path / "orders.jsonl"
    lines.write_text('{"source_id": "l-1", "amount": 5}\n\n{"source_id": "l-2", "amount": 6}\n')
    result = tally(["orders", "import", str(lines)], migrated_db_url, tmp_path)
    assert result.returncode == 0, result.stderr
    out = run_tally(
        ["orders", "export", "--fields", "source_id,amount", "--order", "created_at"],
        db_url=migrated_db_url,
        cwd=tmp_path,
    ).stdout
    assert sorted(out.splitlines()[1:]) == ["l-1,5", "l-2,6"]


def test_orders_refused_by_the_service_are_listed(migrated_db_url: str, tmp_path: Path) -> None:
    """An order the create path refuses (an unknown id, a missing customer) is listed and the
    rest of its step lands; text only JSON allows raw (U+2028) survives JSON lines; the
    metadata column wins over a metadata.<key> cell; a strange amount is the order's error."""
    run_tally(["projects", "create", "shop"], db_url=migrated_db_url, cwd=tmp_path)
    lines = tmp_path / "orders.jsonl"
    lines.write_text(
        json.dumps({"source_id": "a1", "amount": 100, "metadata": {"note": "x\u2028y"}})
        + "\n"
        + json.dumps({"id": "ord_nope", "amount": 5})
        + "\n"
        + json.dumps({"source_id": "a3", "customer": {"id": "cust_missing"}})
        + "\n"
        + json.dumps({"source_id": "a4", "amount": 400})
        + "\n",
        encoding="utf-8",
    )
    done = tally(["orders", "import", str(lines)], migrated_db_url, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "2 order(s) imported successfully, 2 failed." in done.stdout
    assert "Cannot find order with id ord_nope" in done.stderr
    assert '"source_id": "a3"' in done.stderr
    assert "Traceback" not in done.stderr

    table = tmp_path / "more.csv"
    table.write_text(
        "source_id,amount,metadata,metadata.code,metadata.extra\n"
        'c1,100,"{""code"":""123""}",123,true\n'
        "c2,\u00b2,,,\n",
        encoding="utf-8",
    )
    done = tally(["orders", "import", str(table)], migrated_db_url, tmp_path)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    out = run_tally(
        ["orders", "export", "--fields", "source_id,amount,metadata", "--order", "created_at"],
        db_url=migrated_db_url,
        cwd=tmp_path,
    ).stdout
    exported = {row["source_id"]: row for row in rows(out)}
    assert set(exported) == {"a1", "a4", "c1"}
    assert json.loads(exported["a1"]["metadata"]) == {"note": "x\u2028y"}
    assert json.loads(exported["c1"]["metadata"]) == {"code": "123", "extra": True}


def test_export_into_a_closed_pipe_stops_quietly(migrated_db_url: str, tmp_path: Path) -> None:
    """`tally orders export | head -1`: the reader goes away; no traceback."""
    run_tally(["projects", "create", "shop"], db_url=migrated_db_url, cwd=tmp_path)
    source = tmp_path / "wide.json"
    source.write_text(
        json.dumps([{"source_id": f"w-{n}", "metadata": {"note": "x" * 600}} for n in range(300)])
    )
    run_tally(["orders", "import", str(source)], db_url=migrated_db_url, cwd=tmp_path)
    piped = subprocess.run(
        f"'{tally_executable()}' orders export --fields source_id,metadata | head -1",
        shell=True,
        cwd=tmp_path,
        env=tally_env(migrated_db_url),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert piped.stdout == "source_id,metadata\n"
    assert "Traceback" not in piped.stderr and "BrokenPipe" not in piped.stderr, piped.stderr


def test_a_project_name_two_projects_share_is_refused(migrated_db_url: str, tmp_path: Path) -> None:
    """Names need not be unique: a command given one of two projects' name refuses to guess
    (it wrote into the older one); by id it runs."""
    made = run_tally(["projects", "create", "shop", "--json"], db_url=migrated_db_url, cwd=tmp_path)
    first = parse_credentials(made.stdout)
    run_tally(["projects", "create", "shop"], db_url=migrated_db_url, cwd=tmp_path)
    source = tmp_path / "orders.json"
    source.write_text(json.dumps([{"source_id": "x1", "amount": 100}]))
    for args in (["orders", "import", str(source)], ["orders", "export"]):
        refused = tally([*args, "--project", "shop"], migrated_db_url, tmp_path)
        assert refused.returncode == 2, refused.stderr
        assert "several projects are named shop: name it by id" in refused.stderr
    by_id = tally(
        ["orders", "import", str(source), "--project", first["project_id"]],
        migrated_db_url,
        tmp_path,
    )
    assert by_id.returncode == 0, by_id.stderr


def test_refusals_and_a_new_database_are_one_line_not_a_traceback(
    sqlite_url: str, tmp_path: Path
) -> None:
    blank = tally(["projects", "create", "  "], sqlite_url, tmp_path)
    assert (blank.returncode, blank.stderr.strip()) == (2, "error: project name must not be empty")
    fresh = f"sqlite:///{tmp_path / 'new.db'}"
    for args in (["projects", "list"], ["orders", "export"]):
        result = tally(args, fresh, tmp_path)
        assert "Traceback" not in result.stderr, result.stderr
    assert tally(["projects", "list"], fresh, tmp_path).returncode == 0
