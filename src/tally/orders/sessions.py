"""The order session (BEHAVIOR 13): which locks a request must hold for the orders it uses.

An order is locked by its canonical id (``o:ord_…``); a request naming an order by its
source_id locks that name too (``s:…``), first, then the id it finds. Whatever may create an
order with a source_id, or give an order one, holds that source_id: two requests cannot both
create one order, and the id a held source_id names cannot change under its holder. A
rollback locks its redemption (``r:…``), then the redemption's order.

Nothing here writes.
"""

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy.engine import Connection

from tally.orders import repository
from tally.orders.schemas import OrderCreate
from tally.orders.tables import ORDER_ID_PREFIX
from tally.redemptions import repository as redemptions


@dataclass(frozen=True)
class Lock:
    """One lock to hold, and what the client called the thing it protects (for the error)."""

    name: str
    resource_id: str
    resource_type: str = "order"


@dataclass(frozen=True)
class OrderSession:
    """The orders (and redemptions) one request uses, as the client named them."""

    project_id: str
    refs: tuple[str, ...] = ()  # an order's id or source_id, as a path names it
    source_ids: tuple[str, ...] = ()  # a source_id only
    order_ids: tuple[str, ...] = ()  # an id only
    redemption_ids: tuple[str, ...] = ()

    @classmethod
    def of_payload(cls, project_id: str, order: OrderCreate | None) -> "OrderSession | None":
        """The session of a request that carries an order object, if it names one."""
        if order is None or (order.id is None and order.source_id is None):
            return None  # a new order nobody else can name
        return cls(
            project_id,
            order_ids=(order.id,) if order.id is not None else (),
            source_ids=(order.source_id,) if order.source_id is not None else (),
        )

    def named(self) -> list[Lock]:
        """The locks as the client named them, read from nothing: what requests of one
        process queue on, in one order (ids, then redemptions, then source_ids) so that two
        requests never wait for each other's second name."""
        return list(self._named)

    @cached_property
    def _named(self) -> tuple[Lock, ...]:
        # Asked for three times a request (queue, file locks, found): made once. The session
        # is frozen, so what it names cannot change.
        found: dict[str, Lock] = {}
        for ref in (*self.order_ids, *self.refs, *self.source_ids):
            is_id = ref.startswith(f"{ORDER_ID_PREFIX}_") and ref not in self.source_ids
            lock = Lock(f"o:{ref}" if is_id else f"s:{ref}", ref)
            found.setdefault(lock.name, lock)
        for redemption_id in self.redemption_ids:
            lock = Lock(f"r:{redemption_id}", redemption_id, "redemption")
            found.setdefault(lock.name, lock)
        return tuple(sorted(found.values(), key=lambda lock: lock.name))

    def found(self, conn: Connection) -> list[Lock]:
        """The locks the database adds to :meth:`named`: the id of each order named by its
        source_id, and the order of each redemption. Read once the named locks are held:
        an order with a held source_id cannot appear or change its id meanwhile."""
        named = {lock.name for lock in self._named}
        found: dict[str, Lock] = {}
        if len(self.source_ids) > 1:  # an import's step: one statement for them all
            ids = repository.ids_by_source_id(conn, self.project_id, set(self.source_ids))
            for source_id, known_id in ids.items():
                if f"o:{known_id}" not in named:
                    found.setdefault(f"o:{known_id}", Lock(f"o:{known_id}", source_id))
        refs = self.refs if len(self.source_ids) > 1 else (*self.refs, *self.source_ids)
        for ref in refs:
            as_id = ref in self.refs and ref.startswith(f"{ORDER_ID_PREFIX}_")
            order_id = repository.id_of(conn, self.project_id, ref, as_id=as_id)
            if order_id is not None and f"o:{order_id}" not in named:
                found.setdefault(f"o:{order_id}", Lock(f"o:{order_id}", ref))
        for redemption_id in self.redemption_ids:
            order_id = redemptions.order_id_of(conn, self.project_id, redemption_id)
            if order_id is not None and f"o:{order_id}" not in named:
                lock = Lock(f"o:{order_id}", redemption_id, "redemption")
                found.setdefault(lock.name, lock)
        return list(found.values())
