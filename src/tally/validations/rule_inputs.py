"""What validation rules read about a request (tally.core.rules.Facts), gathered once per
request and only when a redeemable has rules: the order's lines and metadata, the
customer's metadata and purchase history."""

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from tally.core.discounts import Cart
from tally.core.order_history import OrderState
from tally.core.rules import Facts, History, LineFacts, Window
from tally.customers import repository as customers_repository
from tally.customers import service as customers
from tally.customers.schemas import CustomerRef
from tally.orders import repository as orders_repository
from tally.orders.schemas import OrderCreate


def customer_of_request(
    customer: CustomerRef | None, order: OrderCreate | None
) -> CustomerRef | None:
    """The customer a request's rules read: the redeeming customer (top-level), else the
    one its order object names, who becomes the order's (BEHAVIOR 8.5). A stored order's
    own customer is the last resort (RuleInputs). When both name one customer, the fields
    the order's sends win, as the order's upsert, done last, stores them."""
    named = order.customer if order is not None else None
    if customer is None or named is None:
        return customer or named
    same = (customer.id is not None and customer.id == named.id) or (
        customer.id is None
        and customer.source_id is not None
        and customer.source_id == named.source_id
    )
    if not same:
        return customer
    return customer.model_copy(
        update={name: getattr(named, name) for name in named.model_fields_set}
    )


@dataclass
class RuleInputs:
    """The request's side of every rule: built lazily, read by each redeemable with rules."""

    conn: Connection
    project_id: str
    order: Mapping[str, Any]  # the order row as the request leaves it
    # The customer as the request names it (see customer_of_request), with the fields it
    # sends: rules read the customer as the request leaves it.
    customer: CustomerRef | None
    now: datetime
    _customer_row: Mapping[str, Any] | None = None
    _looked_up: bool = False
    _history: dict[Window, History] = field(default_factory=dict)
    # The order as stored before this request, which its own history leaves out.
    _stored: OrderState | None = None
    _stored_looked_up: bool = False

    def _customer_of(self) -> Mapping[str, Any] | None:
        if not self._looked_up:
            self._looked_up = True
            ref = None
            if self.customer is not None:
                ref = self.customer.id or self.customer.source_id
            if ref is None and self.order.get("customer_id"):
                ref = self.order["customer_id"]
            if ref is not None:
                self._customer_row = customers_repository.get(self.conn, self.project_id, ref)
        return self._customer_row

    def _named(self) -> bool:
        return self.customer is not None and bool(self.customer.id or self.customer.source_id)

    def _seen(self, window: Window) -> History:
        customer = self._customer_of()
        if customer is None:
            return History(0, 0)  # named, not known yet: a new customer, no orders
        if window not in self._history:
            if not self._stored_looked_up:
                self._stored_looked_up = True
                if self.order.get("id"):
                    self._stored = orders_repository.state(
                        self.conn, self.project_id, self.order["id"]
                    )
            count, amount = customers.purchase_history(
                self.conn,
                project_id=self.project_id,
                customer=customer,
                after=window.after,
                before=window.before,
                leave_out=self._stored,
            )
            self._history[window] = History(count, amount)
        return self._history[window]

    def lines(self, cart: Cart) -> tuple[LineFacts, ...]:
        """What rules read of each line of ``cart`` that the order was sent with (lines a
        discount added in this request come after them, and have none)."""
        stored = self.order.get("items") or []
        lines = []
        for line, item in zip(cart.lines, stored, strict=False):
            product = item.get("product") or {}
            sku = item.get("sku") or {}
            own_source = item.get("source_id")
            is_sku = item.get("related_object") == "sku"
            lines.append(
                LineFacts(
                    quantity=line.quantity or 0,
                    price=line.price,
                    amount=line.amount or 0,
                    product_id=item.get("product_id"),
                    product_source_id=product.get("source_id") or (None if is_sku else own_source),
                    sku_id=item.get("sku_id"),
                    sku_source_id=sku.get("source_id") or (own_source if is_sku else None),
                    metadata=item.get("metadata") or {},
                )
            )
        return tuple(lines)

    def facts(self, *, before: Cart, after: Cart, start: Cart) -> Facts:
        """Facts for a redeemable that meets the order as ``before`` and leaves it as
        ``after``; ``start`` is the cart before any of the request's discounts."""
        lines = self.lines(before)
        customer = self._customer_of()
        known = customer is not None or self._named()
        return Facts(
            amount=before.total_amount,
            total_amount=after.total_amount,
            # The order's own: the lines' value as sent, before any discount or effect,
            # also when an earlier request added units (BEHAVIOR 5.3, 16.4).
            initial_amount=_first_known(self.order.get("initial_amount"), start.amount),
            lines=lines,
            metadata=self.order.get("metadata") or {},
            now=self.now,
            customer_metadata=self._customer_metadata(customer, known),
            history=self._seen if known else None,
        )

    def _customer_metadata(
        self, stored: Mapping[str, Any] | None, known: bool
    ) -> dict[str, Any] | None:
        """The metadata the customer has once the request is done: what it sends replaces
        the stored (BEHAVIOR 14.1), so a redemption is judged on the customer it leaves,
        and a validation as that redemption would be."""
        sent = self.customer
        if sent is not None and "metadata" in sent.model_fields_set and (known or stored):
            return dict(sent.metadata or {})
        if stored is not None:
            return dict(stored["metadata"] or {})
        return {} if known else None


def _first_known(value: int | None, otherwise: int) -> int:
    return otherwise if value is None else value
