"""Fill a SQLite (or any) Tally database with N orders, fast, for the benchmarks.

Rows are shaped exactly as the service writes them: a handful of template orders and one
template customer are first created through the real service (``tally.orders.service.create``)
in a scratch database, then cloned with fresh ids, source_ids, customers, statuses and dates,
and written with SQLAlchemy Core bulk inserts (executemany) in batches. Customer order
summaries and the project's counters are set so that the database reads exactly as if every
order had been created through the API.

    python -m bench.seed --url sqlite:////tmp/bench.db --orders 1000000

prints the project's credentials as JSON (the token is shown only here).
"""

from __future__ import annotations

import argparse
import json
import random
import string
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

from tally.customers.tables import customers
from tally.db.base import metadata
from tally.db.engine import Database
from tally.db.migrate import upgrade
from tally.orders import service as orders_service
from tally.orders.schemas import OrderCreate
from tally.orders.tables import orders
from tally.projects.service import create_project
from tally.projects.tables import counters

# Statuses of seeded orders and their weights (PAID/FULFILLED count in customer summaries).
STATUSES = ("PAID", "FULFILLED", "CREATED", "CANCELED")
STATUS_WEIGHTS = (60, 15, 20, 5)
COUNTED = frozenset({"PAID", "FULFILLED"})
ORDERS_PER_CUSTOMER = 4
TEMPLATES = 16
# Seeded orders spread over this period, oldest first, ending an hour before the seed.
SPREAD = timedelta(days=730)

_ALNUM = string.ascii_letters + string.digits

PRODUCTS = (
    ("prod-tshirt", "Organic cotton T-shirt", 2_500, {"color": "navy", "size": "M"}),
    ("prod-hoodie", "Zip hoodie", 6_900, {"color": "grey", "size": "L"}),
    ("prod-mug", "Enamel mug 350 ml", 1_450, {"color": "white"}),
    ("prod-cap", "Baseball cap", 1_990, {"color": "black"}),
    ("prod-socks", "Wool socks, 3 pairs", 1_800, {"size": "42-46"}),
    ("prod-bag", "Canvas tote bag", 1_200, {"color": "natural"}),
    ("prod-bottle", "Steel bottle 750 ml", 2_900, {"color": "green"}),
    ("prod-notebook", "Dotted notebook A5", 1_100, {"pages": 192}),
)


def order_body(key: str, *, variant: int = 0, status: str | None = "PAID") -> dict[str, Any]:
    """The create-order body the benchmark sends (bench/lua/create.lua builds the same shape):
    a new customer, three lines naming products by source_id, metadata; about 1 KB."""
    items = []
    for line in range(3):
        source_id, name, price, meta = PRODUCTS[(variant + line * 3) % len(PRODUCTS)]
        items.append(
            {
                "source_id": source_id,
                "related_object": "product",
                "quantity": 1 + (variant + line) % 3,
                "price": price,
                "product": {"name": name, "metadata": meta},
                "metadata": {"gift_wrap": line == 0, "warehouse": "WAW-1"},
            }
        )
    body: dict[str, Any] = {
        "source_id": f"ord-{key}",
        "customer": {
            "source_id": f"cust-{key}",
            "name": f"Customer {key}",
            "email": f"customer-{key}@example.com",
            "metadata": {"segment": "retail", "newsletter": True},
        },
        "items": items,
        "metadata": {
            "channel": "web",
            "store": "eu-central",
            "payment_method": "card",
            "shipping": {"method": "courier", "country": "PL", "cost": 1_500},
        },
    }
    if status is not None:
        body["status"] = status
    return body


# The validation benchmark: three vouchers (by code) and a five-line order of catalogue
# products. run.py creates the vouchers before it measures.
BENCH_VOUCHERS = {
    "BENCH-ITEMS-5": {"type": "PERCENT", "percent_off": 5, "effect": "APPLY_TO_ITEMS"},
    "BENCH-ORDER-10": {"type": "PERCENT", "percent_off": 10, "amount_limit": 5000},
    "BENCH-SPLIT-300": {
        "type": "AMOUNT",
        "amount_off": 300,
        "effect": "APPLY_TO_ITEMS_PROPORTIONALLY",
    },
}


def validation_body() -> dict[str, Any]:
    items = []
    for line in range(5):
        source_id, _name, price, _meta = PRODUCTS[line % len(PRODUCTS)]
        items.append(
            {
                "source_id": source_id,
                "related_object": "product",
                "quantity": 1 + line % 3,
                "price": price,
            }
        )
    return {
        "redeemables": [{"object": "voucher", "id": code} for code in BENCH_VOUCHERS],
        "order": {"items": items},
    }


@dataclass(frozen=True)
class Seeded:
    url: str
    orders: int
    customers: int
    project_id: str
    app_id: str
    app_token: str
    seconds: float


@dataclass(frozen=True)
class _Templates:
    orders: list[dict[str, Any]]
    customer: dict[str, Any]


def _templates(count: int) -> _Templates:
    """Rows written by the real service for ``count`` varied bodies, in a scratch database."""
    with tempfile.TemporaryDirectory(prefix="tally-seed-") as tmp:
        db = Database(f"sqlite:///{tmp}/templates.db", pool_size=1)
        try:
            metadata.create_all(db.engine)
            now = datetime(2024, 1, 1, tzinfo=UTC)
            rows: list[dict[str, Any]] = []
            customer: dict[str, Any] = {}
            with db.transaction(write=True) as conn:
                project_id = create_project(conn, name="templates").project_id
                for variant in range(count):
                    body = OrderCreate.model_validate(
                        order_body(f"t{variant}", variant=variant, status="PAID")
                    )
                    made = orders_service.create(conn, project_id=project_id, body=body, now=now)
                    # Read back: the template is what is stored, whatever create returns.
                    stored = (
                        conn.execute(sa.select(orders).where(orders.c.id == made["id"]))
                        .mappings()
                        .one()
                    )
                    rows.append(dict(stored))
                found = conn.execute(sa.select(customers)).mappings().first()
                assert found is not None
                customer = dict(found)
        finally:
            db.dispose()
    return _Templates(orders=rows, customer=customer)


class _Ids:
    """Ids of the service's shape (``ord_`` + 24 alphanumerics), from a seeded PRNG: the
    service's CSPRNG draws (``secrets.choice`` per character) would dominate the seed time."""

    # Every byte value mapped onto the 62 alphanumerics (a slight bias is fine here).
    _TABLE = bytes(ord(_ALNUM[b % len(_ALNUM)]) for b in range(256))

    def __init__(self, rng: random.Random) -> None:
        self._randbytes = rng.randbytes

    def new(self, prefix: str, length: int = 24) -> str:
        return prefix + "_" + self._randbytes(length).translate(self._TABLE).decode()


def _big_cache(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA cache_size=-2000000")  # 2 GB
    # A seed that crashes is simply run again: no fsync on the way.
    cur.execute("PRAGMA synchronous=OFF")
    cur.close()


def _batches(total: int, size: int) -> Iterator[range]:
    for start in range(0, total, size):
        yield range(start, min(total, start + size))


def seed(
    url: str,
    n_orders: int,
    *,
    n_customers: int | None = None,
    batch: int = 10_000,
    rng_seed: int = 20240101,
    project_name: str = "bench",
    progress: bool = False,
) -> Seeded:
    """Migrate ``url``, create a project and give it ``n_orders`` orders."""
    started = time.perf_counter()
    n_customers = n_customers or max(1, n_orders // ORDERS_PER_CUSTOMER)
    upgrade(url)
    templates = _templates(TEMPLATES)
    rng = random.Random(rng_seed)
    ids = _Ids(rng)
    end = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)
    start = end - SPREAD
    step_ms = max(1, int(SPREAD.total_seconds() * 1000) // max(1, n_orders))

    def created_at(index: int, jitter: int) -> datetime:
        # Strictly increasing with the index, millisecond precision like the service.
        return start + timedelta(milliseconds=index * step_ms + jitter)

    # First pass: who ordered what, when; so that customers are written with their final
    # summaries before the orders that reference them.
    customer_of = array("l", (rng.randrange(n_customers) for _ in range(n_orders)))
    template_of = array("b", (rng.randrange(len(templates.orders)) for _ in range(n_orders)))
    status_of = array("b", rng.choices(range(len(STATUSES)), weights=STATUS_WEIGHTS, k=n_orders))
    jitter_of = array("l", (rng.randrange(max(1, step_ms // 2)) for _ in range(n_orders)))
    totals = [0] * n_customers
    count = [0] * n_customers
    last = [-1] * n_customers  # last counted order
    first = [-1] * n_customers
    latest = [-1] * n_customers  # last order of any status
    for i in range(n_orders):
        c = customer_of[i]
        latest[c] = i
        if first[c] < 0:
            first[c] = i
        if STATUSES[status_of[i]] in COUNTED:
            totals[c] += templates.orders[template_of[i]]["total_amount"]
            count[c] += 1
            last[c] = i

    db = Database(url, pool_size=1)
    if db.engine.dialect.name == "sqlite":
        # A large page cache keeps the randomly keyed indexes (id, customer) in memory,
        # and no fsyncs. The bulk writes go through this engine (one writer: the seed).
        event.listen(db.engine, "connect", _big_cache)
    try:
        with db.transaction(write=True) as conn:
            creds = create_project(conn, name=project_name)
        project_id = creds.project_id

        customer_ids = [ids.new("cust") for _ in range(n_customers)]
        template_customer = templates.customer
        for chunk in _batches(n_customers, batch):
            rows: list[dict[str, Any]] = []
            for c in chunk:
                joined = created_at(first[c], 0) if first[c] >= 0 else start
                lc = last[c]
                rows.append(
                    {
                        **template_customer,
                        "id": customer_ids[c],
                        "project_id": project_id,
                        "source_id": f"cust-seed-{c:08d}",
                        "name": f"Customer {c}",
                        "email": f"customer-{c}@example.com",
                        "orders_total_amount": totals[c],
                        "orders_total_count": count[c],
                        "orders_last_amount": (
                            templates.orders[template_of[lc]]["total_amount"] if lc >= 0 else 0
                        ),
                        "orders_last_date": created_at(lc, jitter_of[lc]) if lc >= 0 else None,
                        "created_at": joined,
                        # A returning customer is upserted (so touched) by each order.
                        "updated_at": (
                            created_at(latest[c], jitter_of[latest[c]])
                            if latest[c] != first[c]
                            else None
                        ),
                    }
                )
            with db.engine.begin() as conn:
                conn.execute(customers.insert(), rows)
        del totals, count, first, latest

        # The JSON columns are serialised here, once per template, with the serialiser
        # SQLAlchemy's JSON type uses on this engine (json.dumps), so the stored text is
        # byte-for-byte what the service writes; per row only the line ids are swapped in.
        # Per-row json.dumps through the type's bind processor would double the seed time.
        dumps = getattr(db.engine.dialect, "_json_serializer", None) or json.dumps
        text = sa.UnicodeText()
        insert_orders = orders.insert().values(
            items=sa.bindparam("items", type_=text),
            metadata=sa.bindparam("metadata", type_=text),
            redemptions=sa.bindparam("redemptions", type_=text),
        )
        shapes = [
            (
                {**t, "metadata": dumps(t["metadata"]), "redemptions": dumps(t["redemptions"])},
                dumps(t["items"]),
                [line["id"] for line in t["items"]],
            )
            for t in templates.orders
        ]
        written = 0
        for chunk in _batches(n_orders, batch):
            rows = []
            for i in chunk:
                template, items_json, line_ids = shapes[template_of[i]]
                for line_id in line_ids:
                    items_json = items_json.replace(line_id, ids.new("ordli"), 1)
                rows.append(
                    {
                        **template,
                        "id": ids.new("ord"),
                        "project_id": project_id,
                        "source_id": f"ord-seed-{i:08d}",
                        "status": STATUSES[status_of[i]],
                        "items": items_json,
                        "customer_id": customer_ids[customer_of[i]],
                        "created_at": created_at(i, jitter_of[i]),
                        "updated_at": None,
                    }
                )
            with db.engine.begin() as conn:
                conn.execute(insert_orders, rows)
            written += len(rows)
            if progress:
                rate = written / (time.perf_counter() - started)
                print(
                    f"\r  seeded {written:,}/{n_orders:,} orders ({rate:,.0f}/s)",
                    end="",
                    file=sys.stderr,
                    flush=True,
                )
        if progress:
            print(file=sys.stderr)

        with db.engine.begin() as conn:
            for name, value in (("orders", n_orders), ("customers", n_customers)):
                where = (counters.c.project_id == project_id, counters.c.name == name)
                conn.execute(counters.update().where(*where).values(value=0))
                conn.execute(
                    counters.update().where(*where, counters.c.shard == 0).values(value=value)
                )
        if db.engine.dialect.name == "sqlite":
            with db.engine.connect() as conn:
                conn.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    finally:
        db.dispose()
    return Seeded(
        url=url,
        orders=n_orders,
        customers=n_customers,
        project_id=project_id,
        app_id=creds.app_id,
        app_token=creds.app_token,
        seconds=time.perf_counter() - started,
    )


def sample_refs(
    url: str, project_id: str, count: int, *, rng_seed: int = 7
) -> list[tuple[str, str]]:
    """``count`` (id, source_id) pairs of the project's orders, spread over the table."""
    db = Database(url, pool_size=1)
    try:
        with db.transaction(write=False) as conn:
            total = conn.execute(
                sa.select(sa.func.count())
                .select_from(orders)
                .where(orders.c.project_id == project_id)
            ).scalar_one()
            rng = random.Random(rng_seed)
            wanted = sorted(rng.sample(range(1, total + 1), min(count, total)))
            seeded = {f"ord-seed-{i - 1:08d}" for i in wanted}
            rows = conn.execute(
                sa.select(orders.c.id, orders.c.source_id).where(
                    orders.c.project_id == project_id, orders.c.source_id.in_(sorted(seeded))
                )
            ).all()
    finally:
        db.dispose()
    out = [(str(r[0]), str(r[1])) for r in rows]
    random.Random(rng_seed).shuffle(out)
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--url", required=True, help="SQLAlchemy URL, e.g. sqlite:////tmp/b.db")
    parser.add_argument("--orders", type=int, required=True)
    parser.add_argument("--customers", type=int, default=None)
    parser.add_argument("--batch", type=int, default=10_000)
    args = parser.parse_args(argv)
    result = seed(
        args.url, args.orders, n_customers=args.customers, batch=args.batch, progress=True
    )
    print(json.dumps(asdict(result)))


if __name__ == "__main__":
    main()
