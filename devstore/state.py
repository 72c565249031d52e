"""The stand-in's whole state (`DevStore`): shops, customers, orders, discounts, tokens, request log, and the
Python API tests, the demo and benchmarks use to make things happen in a shop (each change sends its webhooks).
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Iterable
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

from . import payloads
from .app_config import APP_TOML, MetafieldDefinition, load_app_config
from .models import (
    AccessToken,
    AppliedCode,
    Customer,
    Discount,
    IdSource,
    LineItem,
    Order,
    Refund,
    RefundLine,
    Shop,
    allocate,
    fmt,
    gid,
    gql_time,
    money,
    to_utc,
    unit_share,
)
from .tokens import app_proxy_query, mint_session_token
from .webhooks import COMPLIANCE_TOPICS, WebhookEvent, WebhookSender

__all__ = ["DEFAULT_SCOPES", "DevStore", "DevStoreError", "NotFound"]

DEFAULT_SCOPES = "read_customers,write_customers,read_orders,write_discounts,write_app_proxy"
OFFLINE_EXPIRES_IN = 3600
REFRESH_EXPIRES_IN = 30 * 24 * 3600
ONLINE_EXPIRES_IN = 24 * 3600


class DevStoreError(Exception):
    """A request the stand-in refuses, as Shopify would (HTTP 422 on the control API)."""

    status = 422


class NotFound(DevStoreError):
    status = 404


def normalize_shop(shop: str) -> str:
    domain = shop.removeprefix("https://").removeprefix("http://").split("/")[0].split(":")[0].lower()
    if "." not in domain:
        domain = f"{domain}.myshopify.com"
    return domain


class DevStore:
    """In-memory Shopify: every public method takes the one lock, and returns plain dicts.

    Webhooks are built while holding the lock and sent after releasing it, so an app that calls the
    Admin API while handling a webhook never waits on a lock its own caller holds.
    """

    def __init__(
        self,
        *,
        api_key: str = "dev-api-key",
        api_secret: str = "dev-api-secret",
        app_url: str | None = None,
        api_version: str = "2026-10",
        scopes: str = DEFAULT_SCOPES,
        sender: WebhookSender | None = None,
        rate_limit: bool = True,
        app_config: Path | None = APP_TOML,
    ) -> None:
        self._lock = threading.RLock()
        self.api_key = api_key
        self.api_secret = api_secret
        self.app_url = app_url
        self.api_version = api_version
        self.scopes = scopes
        self.rate_limit = rate_limit
        # The handles flowTriggerReceive accepts (the app's deployed flow_trigger extensions); None = any.
        self.flow_trigger_handles: set[str] | None = None
        # What the app's deployed configuration gives Shopify: the app proxy's path (the storefront forwards it;
        # a merchant may change the subpath) and the app-owned metafield definitions.
        config = load_app_config(app_config)
        self.app_proxy_path = config.app_proxy_path
        self.metafield_definitions: dict[tuple[str, str], MetafieldDefinition] = dict(config.definitions)
        # The theme app extension's blocks on the storefront, with the merchant's settings: "rewards" on the
        # account page, "launcher" (the app embed) on every page. Remove one to leave it off.
        self.theme_blocks: dict[str, dict[str, Any]] = {"rewards": {}, "launcher": {}}
        self.sender = sender or WebhookSender(app_url, api_secret, api_version=api_version)
        self._clock_offset = timedelta(0)
        self._reset_state()

    def _reset_state(self) -> None:
        self.ids = IdSource()
        self.shops: dict[str, Shop] = {}
        self.tokens: dict[str, AccessToken] = {}
        self.refresh_tokens: dict[str, AccessToken] = {}
        self.auth_codes: dict[str, dict[str, Any]] = {}
        self.events: list[WebhookEvent] = []
        self.suppressed_events: list[WebhookEvent] = []
        self._requests: list[dict[str, Any]] = []
        self._request_id = 0

    def reset(self) -> None:
        """Forget everything (shops, tokens, logs); the webhook sender keeps its settings."""
        with self._lock:
            self._reset_state()
            self.sender.deliveries.clear()

    @property
    def lock(self) -> threading.RLock:
        return self._lock

    # --- clock ------------------------------------------------------------------------------------

    def now(self) -> datetime:
        """The stand-in's time: real UTC time plus whatever `advance` added (whole seconds)."""
        return (datetime.now(UTC) + self._clock_offset).replace(microsecond=0)

    def advance(self, seconds: float) -> None:
        """Move the stand-in's clock forward (discount expiry, token expiry, order timestamps)."""
        with self._lock:
            self._clock_offset += timedelta(seconds=seconds)

    def _tick(self, order: Order) -> datetime:
        # Every change moves updated_at forward by at least a second, as the app orders payloads by it.
        at = max(self.now(), order.updated_at + timedelta(seconds=1))
        order.updated_at = at
        return at

    # --- app-owned namespaces -----------------------------------------------------------------------

    @property
    def app_namespace_prefix(self) -> str:
        return f"app--{self.api_key}"

    def expand_namespace(self, namespace: str | None) -> str:
        """`$app` → `app--{client id}`, `$app:sub` → `app--{client id}--sub`, omitted → `$app`; others unchanged."""
        if not namespace or namespace == "$app":
            return self.app_namespace_prefix
        if namespace.startswith("$app:"):
            return f"{self.app_namespace_prefix}--{namespace.removeprefix('$app:')}"
        return namespace

    def metafield_definition(self, owner_type: str, namespace: str, key: str) -> MetafieldDefinition | None:
        """The app's declared definition for an expanded namespace and key, if any."""
        if namespace != self.app_namespace_prefix:
            return None
        return self.metafield_definitions.get((owner_type, key))

    def app_metafields(self, shop: str, customer_id: int | str) -> dict[str, dict]:
        """The customer's metafields under the app's own namespace (`$app`), by key."""
        prefix = f"{self.app_namespace_prefix}."
        return {k.removeprefix(prefix): v for k, v in self.metafields(shop, customer_id).items() if k.startswith(prefix)}

    # --- lookups ----------------------------------------------------------------------------------

    def _shop(self, shop: str) -> Shop:
        record = self.shops.get(normalize_shop(shop))
        if record is None:
            raise NotFound(f"unknown shop {shop!r}")
        return record

    def find_shop(self, shop: str) -> Shop | None:
        return self.shops.get(normalize_shop(shop))

    def _customer(self, shop: Shop, customer_id: int | str) -> Customer:
        customer = shop.customers.get(int(str(customer_id).rsplit("/", 1)[-1]))
        if customer is None or customer.deleted:
            raise NotFound(f"unknown customer {customer_id} in {shop.domain}")
        return customer

    def _order(self, shop: Shop, order_id: int | str) -> Order:
        order = shop.orders.get(int(str(order_id).rsplit("/", 1)[-1]))
        if order is None:
            raise NotFound(f"unknown order {order_id} in {shop.domain}")
        return order

    # --- webhooks ---------------------------------------------------------------------------------

    def _event(self, shop: Shop, topic: str, payload: dict, notify: bool = True) -> WebhookEvent | None:
        event = WebhookEvent(shop=shop.domain, topic=topic, payload=payload)
        # An uninstalled app has no webhook subscriptions left; compliance webhooks still come.
        if not notify or (not shop.installed and topic not in COMPLIANCE_TOPICS):
            self.suppressed_events.append(event)
            return None
        self.events.append(event)
        return event

    def _deliver(self, events: Iterable[WebhookEvent | None], *, background: bool = False) -> list[dict]:
        """Send (or queue) events; call without holding the lock."""
        results = []
        for event in events:
            if event is None:
                continue
            if background:
                self.sender.emit_in_background(event)
                continue
            delivery = self.sender.emit(event)
            if delivery is not None:
                results.append(delivery.to_dict())
        return results

    def _order_payload(self, shop: Shop, order: Order) -> dict:
        customer = shop.customers.get(order.customer_id) if order.customer_id else None
        return payloads.order_rest_payload(order, shop, customer)

    # --- shops ------------------------------------------------------------------------------------

    def add_shop(
        self,
        domain: str,
        currency: str = "USD",
        *,
        name: str | None = None,
        email: str | None = None,
        money_format: str | None = None,
        tz_offset_minutes: int = -300,
    ) -> dict:
        domain = normalize_shop(domain)
        with self._lock:
            if domain in self.shops:
                raise DevStoreError(f"shop {domain} already exists")
            handle = domain.split(".")[0]
            shop = Shop(
                id=self.ids.next("Shop"),
                domain=domain,
                name=name or handle.replace("-", " ").title(),
                currency=currency,
                money_format=money_format or ("${{amount}}" if currency == "USD" else "{{amount}}"),
                email=email or f"owner@{handle}.example",
                tz_offset_minutes=tz_offset_minutes,
                created_at=self.now(),
            )
            self.shops[domain] = shop
            return payloads.shop_rest_payload(shop)

    def shop(self, shop: str) -> dict:
        with self._lock:
            return payloads.shop_rest_payload(self._shop(shop)) | {"installed": self._shop(shop).installed}

    def uninstall(self, shop: str, *, notify: bool = True) -> dict:
        """The merchant removes the app: tokens are revoked and app/uninstalled is sent (the last webhook)."""
        with self._lock:
            record = self._shop(shop)
            event = self._event(record, "app/uninstalled", payloads.app_uninstalled_payload(record), notify)
            record.installed = False
            for token in self.tokens.values():
                if token.shop == record.domain:
                    token.revoked = True
        deliveries = self._deliver([event])
        return {"shop": record.domain, "installed": False, "deliveries": deliveries}

    # --- customers --------------------------------------------------------------------------------

    def create_customer(
        self,
        shop: str,
        email: str | None,
        first_name: str | None = None,
        last_name: str | None = None,
        *,
        phone: str | None = None,
        tags: list[str] | None = None,
        note: str | None = None,
        addresses: list[dict] | None = None,
        accepts_marketing: bool = False,
        created_at: datetime | str | None = None,
        notify: bool = True,
    ) -> dict:
        """Create a customer account; sends customers/create."""
        with self._lock:
            record = self._shop(shop)
            if email and any(
                c.email and c.email.lower() == email.lower() and not c.deleted for c in record.customers.values()
            ):
                raise DevStoreError(f"Email has already been taken: {email}")
            at = to_utc(created_at).replace(microsecond=0) if created_at else self.now()
            customer = Customer(
                id=self.ids.next("Customer"),
                email=email,
                first_name=first_name,
                last_name=last_name,
                created_at=at,
                updated_at=at,
                phone=phone,
                note=note,
                tags=list(tags or []),
                accepts_marketing=accepts_marketing,
                addresses=[{"id": self.ids.next("MailingAddress"), **a} for a in (addresses or [])],
            )
            record.customers[customer.id] = customer
            payload = payloads.customer_rest_payload(customer, record)
            event = self._event(record, "customers/create", payload, notify)
        self._deliver([event])
        return payload

    def _touch_customer(self, customer: Customer) -> None:
        customer.updated_at = max(self.now(), customer.updated_at + timedelta(seconds=1))

    def update_customer(self, shop: str, customer_id: int | str, *, notify: bool = True, **changes: Any) -> dict:
        """Change email, first_name, last_name, phone, note, tags, accepts_marketing; sends customers/update."""
        allowed = {"email", "first_name", "last_name", "phone", "note", "tags", "accepts_marketing", "state"}
        unknown = set(changes) - allowed
        if unknown:
            raise DevStoreError(f"cannot change {sorted(unknown)}")
        with self._lock:
            record = self._shop(shop)
            customer = self._customer(record, customer_id)
            for key, value in changes.items():
                setattr(customer, key, list(value) if key == "tags" else value)
            self._touch_customer(customer)
            payload = payloads.customer_rest_payload(customer, record)
            event = self._event(record, "customers/update", payload, notify)
        self._deliver([event])
        return payload

    def delete_customer(self, shop: str, customer_id: int | str, *, notify: bool = True) -> dict:
        """Delete a customer without orders (Shopify refuses otherwise); sends customers/delete."""
        with self._lock:
            record = self._shop(shop)
            customer = self._customer(record, customer_id)
            if any(o.customer_id == customer.id for o in record.orders.values()):
                raise DevStoreError("Error deleting customer: customer has orders")
            customer.deleted = True
            payload = payloads.customer_delete_payload(customer)
            event = self._event(record, "customers/delete", payload, notify)
        self._deliver([event])
        return payload

    def get_customer(self, shop: str, customer_id: int | str) -> dict:
        with self._lock:
            record = self._shop(shop)
            return payloads.customer_rest_payload(self._customer(record, customer_id), record)

    def customers(self, shop: str) -> list[dict]:
        with self._lock:
            record = self._shop(shop)
            return [
                payloads.customer_rest_payload(c, record) for c in record.customers.values() if not c.deleted
            ]

    def metafields(self, shop: str, customer_id: int | str) -> dict[str, dict]:
        """`{"namespace.key": {"id", "type", "value", "updated_at"}}` as the app last set them."""
        with self._lock:
            customer = self._customer(self._shop(shop), customer_id)
            return {
                f"{m.namespace}.{m.key}": {
                    "id": m.id,
                    "type": m.type,
                    "value": m.value,
                    "updated_at": gql_time(m.updated_at),
                }
                for m in customer.metafields.values()
            }

    def flow_triggers(self, shop: str) -> list[dict]:
        """What the app sent to Flow's flowTriggerReceive, in order: `{"handle", "payload", "at"}`."""
        with self._lock:
            return [dict(t) for t in self._shop(shop).flow_triggers]

    def tags(self, shop: str, customer_id: int | str) -> list[str]:
        with self._lock:
            return list(self._customer(self._shop(shop), customer_id).tags)

    def redact_customer(self, shop: str, customer_id: int | str) -> dict:
        """Shopify asks the app to erase a customer (customers/redact, to /webhooks/compliance)."""
        with self._lock:
            record = self._shop(shop)
            customer = record.customers.get(int(customer_id))
            if customer is None:
                raise NotFound(f"unknown customer {customer_id}")
            order_ids = [o.id for o in record.orders.values() if o.customer_id == customer.id]
            payload = payloads.customers_redact_payload(record, customer, order_ids)
            event = self._event(record, "customers/redact", payload)
        return {"payload": payload, "deliveries": self._deliver([event])}

    def data_request(self, shop: str, customer_id: int | str) -> dict:
        """A customer asks for their data (customers/data_request)."""
        with self._lock:
            record = self._shop(shop)
            customer = self._customer(record, customer_id)
            order_ids = [o.id for o in record.orders.values() if o.customer_id == customer.id]
            payload = payloads.customers_data_request_payload(
                record, customer, order_ids, self.ids.next("MailingAddress") % 10**9
            )
            event = self._event(record, "customers/data_request", payload)
        return {"payload": payload, "deliveries": self._deliver([event])}

    def redact_shop(self, shop: str) -> dict:
        """48 hours after uninstall Shopify asks for all shop data to go (shop/redact)."""
        with self._lock:
            record = self._shop(shop)
            payload = payloads.shop_redact_payload(record)
            event = self._event(record, "shop/redact", payload)
        return {"payload": payload, "deliveries": self._deliver([event])}

    # --- orders -----------------------------------------------------------------------------------

    def _find_discount(self, shop: Shop, code: str) -> Discount | None:
        for d in shop.discounts.values():
            if not d.deleted and d.code.lower() == code.lower():
                return d
        return None

    def _apply_codes(
        self, shop: Shop, customer_id: int | None, specs: list[dict], base: Decimal, shipping: Decimal
    ) -> tuple[list[AppliedCode], list[Discount]]:
        applied: list[AppliedCode] = []
        used: list[Discount] = []
        now = self.now()
        for spec in specs:
            code = spec["code"]
            discount = self._find_discount(shop, code)
            amount = money(spec["amount"]) if spec.get("amount") is not None else None
            if discount is not None:
                problem = None
                if discount.status(now) != "ACTIVE":
                    problem = f"is {discount.status(now).lower()}"
                elif discount.customer_ids and customer_id not in discount.customer_ids:
                    problem = "is not valid for this customer"
                elif discount.minimum_subtotal is not None and base < discount.minimum_subtotal:
                    problem = f"needs a subtotal of at least {fmt(discount.minimum_subtotal)}"
                elif discount.applies_once_per_customer and customer_id is not None and any(
                    shop.orders[o].customer_id == customer_id for o in discount.used_by_orders
                ):
                    problem = "was already used by this customer"
                if problem:
                    raise DevStoreError(f"Discount code {code} {problem}")
                if discount.kind == "DiscountCodeFreeShipping":
                    kind, computed = "shipping", shipping
                elif discount.value_type == "percentage":
                    kind, computed = "percentage", money(base * (discount.value or 0))
                else:
                    kind, computed = "fixed_amount", min(discount.value or Decimal(0), base)
                applied.append(AppliedCode(discount.code, amount if amount is not None else computed, kind))
                used.append(discount)
                continue
            kind = spec.get("type", "fixed_amount")
            if amount is None:
                if kind == "percentage" and spec.get("value") is not None:
                    amount = money(base * money(spec["value"]) / 100)
                elif kind == "shipping":
                    amount = shipping
                else:
                    raise DevStoreError(f"discount code {code} needs an amount")
            applied.append(AppliedCode(code, amount, kind))
        return applied, used

    def create_order(
        self,
        shop: str,
        customer_id: int | str | None,
        lines: list[dict],
        shipping: str = "5.00",
        tax: str = "0.00",
        discount_codes: list[dict] | None = None,
        test: bool = False,
        browser_ip: str | None = None,
        shipping_address: dict | None = None,
        paid: bool = True,
        *,
        email: str | None = None,
        created_at: datetime | str | None = None,
        note: str | None = None,
        tags: list[str] | None = None,
        notify: bool = True,
    ) -> dict:
        """Place an order (checkout). Sends orders/paid when paid; an unpaid order sends nothing yet.

        lines: [{"title", "price": "19.95", "quantity": 1, "gift_card": False, "sku"?, "taxable"?}].
        discount_codes: [{"code", "amount"?, "type": fixed_amount|percentage|shipping, "value"?}]; a code
        the app created is checked (dates, customer, usage, minimum) and marked used, its amount computed
        when not given. created_at backdates the order (processed_at and updated_at follow it).
        Returns the REST order payload.
        """
        if not lines:
            raise DevStoreError("an order needs at least one line")
        with self._lock:
            record = self._shop(shop)
            customer = self._customer(record, customer_id) if customer_id is not None else None
            items = [
                LineItem(
                    id=self.ids.next("LineItem"),
                    title=str(line.get("title", "Item")),
                    price=money(line.get("price", "0.00")),
                    quantity=int(line.get("quantity", 1)),
                    gift_card=bool(line.get("gift_card", False)),
                    sku=line.get("sku"),
                    taxable=bool(line.get("taxable", not line.get("gift_card", False))),
                    product_id=line.get("product_id"),
                    variant_id=line.get("variant_id"),
                )
                for line in lines
            ]
            if any(li.quantity <= 0 for li in items):
                raise DevStoreError("line quantity must be positive")
            shipping_amount = money(shipping)
            # Gift cards are never discounted by Shopify's code discounts.
            discountable = [li for li in items if not li.gift_card]
            base = sum((li.total for li in discountable), Decimal("0.00"))
            applied, used = self._apply_codes(
                record, customer.id if customer else None, list(discount_codes or []), base, shipping_amount
            )
            line_discount = sum((a.amount for a in applied if a.type != "shipping"), Decimal("0.00"))
            if line_discount > base:
                raise DevStoreError("discounts exceed the discountable subtotal")
            for li, share in zip(discountable, allocate(line_discount, [li.total for li in discountable]), strict=True):
                li.discount = share
            taxable = [li for li in items if li.taxable] or items
            for li, share in zip(
                taxable, allocate(money(tax), [li.total - li.discount for li in taxable]), strict=True
            ):
                li.tax = share
            at = to_utc(created_at).replace(microsecond=0) if created_at else self.now()
            order = Order(
                id=self.ids.next("Order"),
                number=record.next_order_number,
                customer_id=customer.id if customer else None,
                email=email or (customer.email if customer else None),
                created_at=at,
                updated_at=at,
                processed_at=at,
                currency=record.currency,
                lines=items,
                shipping=shipping_amount,
                shipping_discount=min(
                    sum((a.amount for a in applied if a.type == "shipping"), Decimal("0.00")), shipping_amount
                ),
                tax=money(tax),
                discount_codes=applied,
                financial_status="paid" if paid else "pending",
                test=test,
                browser_ip=browser_ip,
                shipping_address=shipping_address,
                note=note,
                tags=list(tags or []),
                shipping_line_id=self.ids.next("ShippingLine"),
                transaction_id=self.ids.next("OrderTransaction"),
            )
            record.next_order_number += 1
            record.orders[order.id] = order
            for discount in used:
                discount.usage_count += 1
                discount.used_by_orders.append(order.id)
            payload = self._order_payload(record, order)
            event = self._event(record, "orders/paid", payload, notify) if paid else None
        self._deliver([event])
        return payload

    def get_order(self, shop: str, order_id: int | str) -> dict:
        """The order's REST payload as it stands now."""
        with self._lock:
            record = self._shop(shop)
            return self._order_payload(record, self._order(record, order_id))

    def orders(self, shop: str) -> list[dict]:
        with self._lock:
            record = self._shop(shop)
            return [self._order_payload(record, o) for o in record.orders.values()]

    def mark_paid(self, shop: str, order_id: int | str, *, notify: bool = True) -> dict:
        """Capture payment of a pending order; sends orders/paid."""
        with self._lock:
            record = self._shop(shop)
            order = self._order(record, order_id)
            if order.financial_status != "pending":
                raise DevStoreError(f"order {order.name} is {order.financial_status}, not pending")
            order.financial_status = "paid"
            self._tick(order)
            payload = self._order_payload(record, order)
            event = self._event(record, "orders/paid", payload, notify)
        self._deliver([event])
        return payload

    def _make_refund(
        self, order: Order, lines: list[dict], shipping: Decimal, note: str | None, restock: bool
    ) -> Refund:
        by_id = {li.id: li for li in order.lines}
        refund_lines = []
        for line in lines:
            li = by_id.get(int(line["line_item_id"]))
            if li is None:
                raise DevStoreError(f"line item {line['line_item_id']} is not on order {order.name}")
            qty = int(line.get("quantity", li.current_quantity))
            if qty <= 0 or qty > li.current_quantity:
                raise DevStoreError(f"cannot refund {qty} of line {li.id}: {li.current_quantity} left")
            done = li.refunded_quantity + li.removed_quantity
            subtotal = li.price * qty - unit_share(li.discount, done, qty, li.quantity)
            tax = unit_share(li.tax, done, qty, li.quantity)
            li.refunded_quantity += qty
            refund_lines.append(
                RefundLine(
                    id=self.ids.next("RefundLineItem"),
                    line_item_id=li.id,
                    quantity=qty,
                    subtotal=subtotal,
                    total_tax=tax,
                    restock_type="return" if restock else "no_restock",
                )
            )
        shipping_left = order.total_shipping - order.refunded_shipping
        if shipping > shipping_left:
            raise DevStoreError(f"cannot refund {fmt(shipping)} shipping: {fmt(shipping_left)} left")
        if not refund_lines and not shipping:
            raise DevStoreError("nothing to refund")
        at = self._tick(order)
        refund = Refund(
            id=self.ids.next("Refund"),
            order_id=order.id,
            created_at=at,
            note=note,
            restock=restock,
            lines=refund_lines,
            shipping=shipping,
            transaction_id=self.ids.next("OrderTransaction"),
            adjustment_id=self.ids.next("OrderAdjustment") if shipping else None,
            shipping_line_id=order.shipping_line_id if shipping else None,
        )
        order.refunds.append(refund)
        order.financial_status = "refunded" if order.current_total_price <= 0 else "partially_refunded"
        return refund

    def refund(
        self,
        shop: str,
        order_id: int | str,
        lines: list[dict] | None = None,
        shipping: str = "0.00",
        *,
        note: str | None = None,
        restock: bool = False,
        notify: bool = True,
    ) -> dict:
        """Refund line items (`[{"line_item_id", "quantity"}]`) and/or shipping of a paid order.

        Sends refunds/create, then orders/updated. Returns the refunds/create payload.
        """
        with self._lock:
            record = self._shop(shop)
            order = self._order(record, order_id)
            if not order.paid:
                raise DevStoreError(f"order {order.name} is {order.financial_status}: nothing was paid")
            refund = self._make_refund(order, list(lines or []), money(shipping), note, restock)
            refund_payload = payloads.refund_rest_payload(refund, order, record)
            events = [
                self._event(record, "refunds/create", refund_payload, notify),
                self._event(record, "orders/updated", self._order_payload(record, order), notify),
            ]
        self._deliver(events)
        return refund_payload

    def cancel_order(
        self,
        shop: str,
        order_id: int | str,
        reason: str = "customer",
        *,
        refund: bool = True,
        notify: bool = True,
    ) -> dict:
        """Cancel an order. An unpaid order is voided; a paid one is fully refunded first when `refund`
        (Shopify admin's default), which sends refunds/create. Then sends orders/cancelled.
        """
        if reason not in ("customer", "fraud", "inventory", "declined", "other", "staff"):
            raise DevStoreError(f"unknown cancel reason {reason!r}")
        with self._lock:
            record = self._shop(shop)
            order = self._order(record, order_id)
            if order.cancelled_at is not None:
                raise DevStoreError(f"order {order.name} is already cancelled")
            events = []
            if order.paid and refund and order.current_total_price > 0:
                remaining = [
                    {"line_item_id": li.id, "quantity": li.current_quantity}
                    for li in order.lines
                    if li.current_quantity > 0
                ]
                refund_record = self._make_refund(
                    order, remaining, order.total_shipping - order.refunded_shipping, "Order canceled", True
                )
                events.append(
                    self._event(
                        record, "refunds/create", payloads.refund_rest_payload(refund_record, order, record), notify
                    )
                )
            elif order.financial_status == "pending":
                order.financial_status = "voided"
            at = self._tick(order)
            order.cancelled_at = at
            order.closed_at = at
            order.cancel_reason = reason
            payload = self._order_payload(record, order)
            events.append(self._event(record, "orders/cancelled", payload, notify))
        self._deliver(events)
        return payload

    def edit_order(
        self,
        shop: str,
        order_id: int | str,
        *,
        remove_lines: list[dict] | None = None,
        add_lines: list[dict] | None = None,
        email: str | None = None,
        shipping_address: dict | None = None,
        note: str | None = None,
        tags: list[str] | None = None,
        notify: bool = True,
    ) -> dict:
        """Edit an order: remove quantities (`[{"line_item_id", "quantity"}]`), add lines, change contact
        details. Sends orders/updated; returns the order payload."""
        with self._lock:
            record = self._shop(shop)
            order = self._order(record, order_id)
            by_id = {li.id: li for li in order.lines}
            for line in remove_lines or []:
                li = by_id.get(int(line["line_item_id"]))
                if li is None:
                    raise DevStoreError(f"line item {line['line_item_id']} is not on order {order.name}")
                qty = int(line.get("quantity", li.current_quantity))
                if qty <= 0 or qty > li.current_quantity:
                    raise DevStoreError(f"cannot remove {qty} of line {li.id}: {li.current_quantity} left")
                done = li.refunded_quantity + li.removed_quantity
                li.removed_value += li.price * qty - unit_share(li.discount, done, qty, li.quantity)
                li.removed_quantity += qty
            for line in add_lines or []:
                order.lines.append(
                    LineItem(
                        id=self.ids.next("LineItem"),
                        title=str(line.get("title", "Item")),
                        price=money(line.get("price", "0.00")),
                        quantity=int(line.get("quantity", 1)),
                        gift_card=bool(line.get("gift_card", False)),
                        sku=line.get("sku"),
                    )
                )
            if email is not None:
                order.email = email
            if shipping_address is not None:
                order.shipping_address = shipping_address
            if note is not None:
                order.note = note
            if tags is not None:
                order.tags = list(tags)
            self._tick(order)
            payload = self._order_payload(record, order)
            event = self._event(record, "orders/updated", payload, notify)
        self._deliver([event])
        return payload

    # --- discounts --------------------------------------------------------------------------------

    def discount_codes(self, shop: str) -> list[dict]:
        """Every code discount the app created (deleted ones included, flagged)."""
        with self._lock:
            record = self._shop(shop)
            now = self.now()
            return [self.discount_dict(d, now) for d in record.discounts.values()]

    @staticmethod
    def discount_dict(d: Discount, now: datetime) -> dict:
        return {
            "id": d.id,
            "gid": gid("DiscountCodeNode", d.id),
            "code": d.code,
            "type": {"DiscountCodeFreeShipping": "free_shipping"}.get(
                d.kind, "percentage" if d.value_type == "percentage" else "fixed_amount"
            ),
            "title": d.title,
            "value": None if d.value is None else str(d.value),
            "customer_ids": list(d.customer_ids),
            "customer_gids": [gid("Customer", c) for c in d.customer_ids],
            "usage_limit": d.usage_limit,
            "applies_once_per_customer": d.applies_once_per_customer,
            "starts_at": gql_time(d.starts_at),
            "ends_at": gql_time(d.ends_at),
            "minimum_subtotal": None if d.minimum_subtotal is None else fmt(d.minimum_subtotal),
            "usage_count": d.usage_count,
            "used": d.usage_count > 0,
            "used_by_orders": list(d.used_by_orders),
            "status": d.status(now),
            "deleted": d.deleted,
        }

    # --- fault injection --------------------------------------------------------------------------

    def throttle(self, shop: str, n: int = 1) -> None:
        """The next n GraphQL requests of this shop answer THROTTLED (HTTP 200, errors[].extensions.code)."""
        with self._lock:
            self._shop(shop).throttle_next += n

    def fail_next(self, shop: str, n: int = 1, status: int = 503) -> None:
        """The next n GraphQL requests of this shop answer this HTTP status (5xx by default)."""
        with self._lock:
            self._shop(shop).fail_statuses.extend([status] * n)

    def fail_discounts(
        self,
        shop: str,
        n: int = 1,
        message: str = "Discount could not be created.",
        code: str = "INVALID",
        field: list[str] | None = None,
    ) -> None:
        """The next n discount creations answer this userError instead of creating anything."""
        with self._lock:
            self._shop(shop).discount_failures.extend(
                [{"field": field, "message": message, "code": code}] * n
            )

    def clear_faults(self, shop: str) -> None:
        with self._lock:
            record = self._shop(shop)
            record.throttle_next = 0
            record.fail_statuses.clear()
            record.discount_failures.clear()

    # --- tokens -----------------------------------------------------------------------------------

    def issue_access_token(
        self, shop: str, *, mode: str = "offline", expiring: bool = False, scope: str | None = None
    ) -> dict:
        """Issue a token directly (as a completed install would); answers the token endpoint's JSON."""
        with self._lock:
            record = self._shop(shop)
            record.installed = True
            token = self._new_token(record.domain, mode=mode, expiring=expiring, scope=scope or self.scopes)
            return self.token_response(token)

    def _new_token(self, shop: str, *, mode: str, expiring: bool, scope: str) -> AccessToken:
        now = self.now()
        online = mode == "online"
        token = AccessToken(
            token=("shpua_" if online else "shpat_") + secrets.token_hex(16),
            shop=shop,
            scope=scope,
            mode=mode,
            issued_at=now,
            expires_at=now + timedelta(seconds=ONLINE_EXPIRES_IN if online else OFFLINE_EXPIRES_IN)
            if online or expiring
            else None,
        )
        if expiring and not online:
            token.refresh_token = "shprt_" + secrets.token_hex(16)
            token.refresh_expires_at = now + timedelta(seconds=REFRESH_EXPIRES_IN)
            self.refresh_tokens[token.refresh_token] = token
        self.tokens[token.token] = token
        return token

    def token_response(self, token: AccessToken) -> dict:
        body: dict[str, Any] = {"access_token": token.token, "scope": token.scope}
        now = self.now()
        if token.expires_at is not None:
            body["expires_in"] = int((token.expires_at - now).total_seconds())
        if token.refresh_token is not None and token.refresh_expires_at is not None:
            body["refresh_token"] = token.refresh_token
            body["refresh_token_expires_in"] = int((token.refresh_expires_at - now).total_seconds())
        if token.mode == "online":
            body["associated_user_scope"] = token.scope
            body["session"] = secrets.token_hex(16)
            body["associated_user"] = {
                "id": 1,
                "first_name": "Dev",
                "last_name": "Owner",
                "email": "owner@example.com",
                "account_owner": True,
                "locale": "en",
                "collaborator": False,
                "email_verified": True,
            }
        return body

    def check_access_token(self, shop: str, token: str | None) -> AccessToken | None:
        """The token record when `token` is a live token of `shop`, else None."""
        with self._lock:
            record = self.tokens.get(token or "")
            if record is None or record.revoked or record.shop != normalize_shop(shop):
                return None
            if record.expires_at is not None and record.expires_at <= self.now():
                return None
            return record

    def expire_access_tokens(self, shop: str) -> None:
        """Make the shop's access tokens expired now (to exercise the app's refresh path)."""
        with self._lock:
            domain = self._shop(shop).domain
            past = self.now() - timedelta(seconds=1)
            for token in self.tokens.values():
                if token.shop == domain and token.expires_at is not None:
                    token.expires_at = past

    def access_tokens(self, shop: str) -> list[dict]:
        with self._lock:
            domain = self._shop(shop).domain
            return [
                {k: (gql_time(v) if isinstance(v, datetime) else v) for k, v in asdict(t).items()}
                for t in self.tokens.values()
                if t.shop == domain
            ]

    # --- conveniences for callers that act as Shopify's front end ---------------------------------

    def mint_session_token(self, shop: str, *, user_id: int | str = 1, ttl: int = 60) -> str:
        return mint_session_token(normalize_shop(shop), self.api_key, self.api_secret, user_id=user_id, ttl=ttl)

    def app_proxy_query(
        self,
        shop: str,
        path_prefix: str = "/apps/regulars",
        logged_in_customer_id: int | str | None = None,
        extra: dict[str, str | list[str]] | None = None,
    ) -> dict[str, str | list[str]]:
        return app_proxy_query(
            normalize_shop(shop), path_prefix, logged_in_customer_id, extra, api_secret=self.api_secret
        )

    # --- request log ------------------------------------------------------------------------------

    def log_request(self, entry: dict[str, Any]) -> None:
        with self._lock:
            self._request_id += 1
            entry["seq"] = self._request_id
            self._requests.append(entry)

    def requests_log(self, shop: str | None = None, path_contains: str | None = None) -> list[dict]:
        """Every request the app made to the stand-in, oldest first (control routes excluded)."""
        domain = normalize_shop(shop) if shop else None
        with self._lock:
            return [
                dict(r)
                for r in self._requests
                if (domain is None or r.get("shop") == domain)
                and (path_contains is None or path_contains in r.get("path", ""))
            ]

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def graphql_calls(self, shop: str | None = None, root_field: str | None = None) -> list[dict]:
        """Logged GraphQL requests, optionally only those using `root_field` (e.g. "metafieldsSet")."""
        return [
            r
            for r in self.requests_log(shop, "/graphql.json")
            if root_field is None or root_field in r.get("root_fields", [])
        ]
