"""The Admin GraphQL endpoint: parses the app's operation, resolves the root fields the app uses against the
store, projects results onto the selection set (aliases, fragments), and meters cost like Shopify's bucket.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import Callable
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from graphql import GraphQLError, GraphQLSyntaxError, parse
from graphql.language import (
    DocumentNode,
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
)
from graphql.pyutils import Undefined
from graphql.utilities import value_from_ast_untyped

from . import payloads
from .models import (
    Customer,
    Discount,
    Metafield,
    Order,
    Shop,
    fmt,
    gid,
    gql_money_bag,
    gql_time,
    money,
    parse_gid,
    to_utc,
)

if TYPE_CHECKING:
    from .state import DevStore
    from .webhooks import WebhookEvent

__all__ = ["execute"]

MAX_AVAILABLE = 2000.0
RESTORE_RATE = 100.0
MAX_QUERY_COST = 1000
RATE_LIMITS_DOC = "https://shopify.dev/api/usage/rate-limits"


class FieldError(Exception):
    """An error on one field: its key becomes null and the error is listed, as GraphQL does."""

    def __init__(self, message: str, code: str | None = None) -> None:
        super().__init__(message)
        self.code = code


class Context:
    def __init__(self, store: DevStore, shop: Shop, variables: dict[str, Any], fragments: dict) -> None:
        self.store = store
        self.shop = shop
        self.variables = variables
        self.fragments = fragments
        self.now = store.now()
        self.events: list[WebhookEvent | None] = []
        self.unknown_fields: set[str] = set()


# --- projection of resolved values onto the selection set --------------------------------------------


def _args(node: FieldNode, ctx: Context) -> dict[str, Any]:
    out = {}
    for arg in node.arguments or ():
        value = value_from_ast_untyped(arg.value, ctx.variables)
        out[arg.name.value] = None if value is Undefined else value
    return out


def _type_matches(value: dict, type_name: str) -> bool:
    return value.get("__typename") == type_name or type_name in value.get("__interfaces", ())


def _merge(into: dict, other: dict) -> None:
    for key, value in other.items():
        if isinstance(value, dict) and isinstance(into.get(key), dict):
            _merge(into[key], value)
        else:
            into[key] = value


def project(value: Any, selection_set: SelectionSetNode | None, ctx: Context, path: str = "") -> Any:
    if value is None or selection_set is None:
        return value
    if isinstance(value, list):
        return [project(v, selection_set, ctx, path) for v in value]
    if not isinstance(value, dict):
        return value
    out: dict[str, Any] = {}
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            name = sel.name.value
            key = sel.alias.value if sel.alias else name
            if name == "__typename":
                out[key] = value.get("__typename")
                continue
            if name not in value:
                # Answer null rather than fail: the app's tests should not break on a field the
                # stand-in does not model; the name is reported in extensions.devstore.
                ctx.unknown_fields.add(f"{value.get('__typename', '?')}.{name}")
                raw = None
            else:
                raw = value[name]
            if callable(raw):
                raw = raw(_args(sel, ctx))
            projected = project(raw, sel.selection_set, ctx, f"{path}.{key}")
            if isinstance(projected, dict) and isinstance(out.get(key), dict):
                _merge(out[key], projected)
            else:
                out[key] = projected
        elif isinstance(sel, InlineFragmentNode):
            if sel.type_condition is None or _type_matches(value, sel.type_condition.name.value):
                _merge(out, project(value, sel.selection_set, ctx, path))
        elif isinstance(sel, FragmentSpreadNode):
            frag = ctx.fragments.get(sel.name.value)
            if frag is not None and _type_matches(value, frag.type_condition.name.value):
                _merge(out, project(value, frag.selection_set, ctx, path))
    return out


# --- connections and search ----------------------------------------------------------------------------


def _encode_cursor(key: list) -> str:
    return base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> list:
    try:
        return json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError) as exc:
        raise FieldError(f"Invalid cursor for current pagination sort: {cursor}", "BAD_REQUEST") from exc


def connection(items: list, args: dict, key_fn: Callable[[Any], list], node_fn: Callable[[Any], dict]) -> dict:
    """A Relay connection over `items` (already filtered), paged by first/after, last/before, reverse."""
    first, last = args.get("first"), args.get("last")
    if first is None and last is None:
        raise FieldError("you must provide one of first or last", "BAD_REQUEST")
    if (first is not None and first > 250) or (last is not None and last > 250):
        raise FieldError("The page size cannot exceed 250.", "BAD_REQUEST")
    reverse = bool(args.get("reverse"))
    keyed = sorted(((key_fn(i), i) for i in items), key=lambda kv: kv[0], reverse=reverse)

    def beyond(key: list, cursor_key: list) -> bool:
        try:
            return key < cursor_key if reverse else key > cursor_key
        except TypeError as exc:
            raise FieldError("Invalid cursor for current pagination sort.", "BAD_REQUEST") from exc

    if args.get("after"):
        after_key = _decode_cursor(args["after"])
        keyed = [kv for kv in keyed if beyond(kv[0], after_key)]
    if args.get("before"):
        before_key = _decode_cursor(args["before"])
        keyed = [kv for kv in keyed if beyond(before_key, kv[0])]
    has_next = has_previous = False
    if first is not None:
        has_next = len(keyed) > first
        keyed = keyed[:first]
        has_previous = bool(args.get("after"))
    if last is not None:
        has_previous = len(keyed) > last
        keyed = keyed[-last:] if last else []
        has_next = bool(args.get("before"))
    edges = [{"cursor": _encode_cursor(k), "node": node_fn(i)} for k, i in keyed]
    return {
        "edges": edges,
        "nodes": [e["node"] for e in edges],
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": edges[0]["cursor"] if edges else None,
            "endCursor": edges[-1]["cursor"] if edges else None,
        },
    }


_TERM = re.compile(r"""(-?)([\w.]+):(>=|<=|>|<|=)?('[^']*'|"[^"]*"|\S+)|'[^']*'|"[^"]*"|\S+""")


def parse_search(query: str | None) -> list[list[tuple[bool, str | None, str, str]]]:
    """Shopify search syntax → OR-groups of AND-terms (negated, field, op, value)."""
    groups: list[list[tuple[bool, str | None, str, str]]] = [[]]
    negate_next = False
    for match in _TERM.finditer(query or ""):
        text = match.group(0)
        if text == "OR":
            groups.append([])
            continue
        if text == "AND":
            continue
        if text == "NOT":
            negate_next = True
            continue
        if match.group(2):
            value = match.group(4).strip("'\"")
            term = (bool(match.group(1)) or negate_next, match.group(2), match.group(3) or "=", value)
        else:
            term = (negate_next, None, "=", text.strip("'\""))
        negate_next = False
        groups[-1].append(term)
    return [g for g in groups if g] or [[]]


def _compare(actual: Any, op: str, wanted: Any) -> bool:
    if actual is None:
        return False
    if op == ">=":
        return actual >= wanted
    if op == "<=":
        return actual <= wanted
    if op == ">":
        return actual > wanted
    if op == "<":
        return actual < wanted
    return actual == wanted


def _time_value(text: str) -> datetime:
    try:
        if re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            return to_utc(text + "T00:00:00Z")
        return to_utc(text)
    except ValueError as exc:
        raise FieldError(f"Invalid date in search query: {text}", "BAD_REQUEST") from exc


def matches(fields: dict[str, Any], text_fields: list[str], groups: list, ctx: Context) -> bool:
    """Does a record (its searchable `fields`) satisfy the parsed query?"""

    def term_ok(field: str | None, op: str, value: str) -> bool:
        if field is None:
            needle = value.lower().rstrip("*")
            return any(needle in str(fields.get(f) or "").lower() for f in text_fields)
        if field not in fields:
            ctx.unknown_fields.add(f"search.{field}")
            return True  # Shopify ignores unknown search fields (with a warning)
        actual = fields[field]
        if isinstance(actual, datetime):
            return _compare(actual, op, _time_value(value))
        if isinstance(actual, bool):
            return actual == (value.lower() == "true")
        if isinstance(actual, int):
            try:
                return _compare(actual, op, int(parse_gid(value)))
            except ValueError:
                return False
        if isinstance(actual, list):
            return value.lower() in [str(a).lower() for a in actual]
        return _compare(str(actual).lower(), op, value.lower())

    return any(
        all(term_ok(f, op, v) != neg for neg, f, op, v in group) for group in groups
    )


# --- nodes ----------------------------------------------------------------------------------------------


def _money(amount: Decimal, currency: str) -> dict:
    return {"amount": fmt(amount), "currencyCode": currency}


def metafield_node(owner_gid: str, owner_type: str, m: Metafield) -> dict:
    return {
        "__typename": "Metafield",
        "__interfaces": ("Node",),
        "id": gid("Metafield", m.id),
        "legacyResourceId": str(m.id),
        "namespace": m.namespace,
        "key": m.key,
        "value": m.value,
        "jsonValue": json.loads(m.value) if m.type == "json" else m.value,
        "type": m.type,
        "ownerType": owner_type,
        "owner": {"__typename": owner_type.title(), "id": owner_gid},
        "createdAt": gql_time(m.created_at),
        "updatedAt": gql_time(m.updated_at),
        "compareDigest": base64.b64encode(f"{m.id}:{m.value}".encode()).decode(),
    }


def _address_node(address: dict | None) -> dict | None:
    if address is None:
        return None
    first, last = address.get("first_name"), address.get("last_name")
    return {
        "__typename": "MailingAddress",
        "id": gid("MailingAddress", int(address.get("id") or 0)),
        "firstName": first,
        "lastName": last,
        "name": " ".join(p for p in (first, last) if p) or None,
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": address.get("province"),
        "provinceCode": address.get("province_code"),
        "country": address.get("country"),
        "countryCodeV2": address.get("country_code"),
        "zip": address.get("zip"),
        "phone": address.get("phone"),
        "company": address.get("company"),
    }


def customer_node(ctx: Context, c: Customer) -> dict:
    shop = ctx.shop
    orders = [o for o in shop.orders.values() if o.customer_id == c.id]
    spent = sum((o.current_total_price for o in orders if o.paid), Decimal("0.00"))
    owner = gid("Customer", c.id)

    expand = ctx.store.expand_namespace

    def metafield(args: dict) -> dict | None:
        # An omitted namespace is the app's own, like `$app`.
        m = c.metafields.get((expand(args.get("namespace")), args.get("key") or ""))
        return metafield_node(owner, "CUSTOMER", m) if m else None

    def metafields(args: dict) -> dict:
        keys = {f"{expand(k.rsplit('.', 1)[0])}.{k.rsplit('.', 1)[1]}" for k in args.get("keys") or [] if "." in k}
        items = [
            m
            for m in c.metafields.values()
            if (not args.get("namespace") or m.namespace == expand(args["namespace"]))
            and (not args.get("keys") or f"{m.namespace}.{m.key}" in keys)
        ]
        return connection(items, args, lambda m: [m.id], lambda m: metafield_node(owner, "CUSTOMER", m))

    return {
        "__typename": "Customer",
        "__interfaces": ("Node", "HasMetafields", "LegacyInteroperability"),
        "id": owner,
        "legacyResourceId": str(c.id),
        "email": c.email,
        "defaultEmailAddress": {"emailAddress": c.email} if c.email else None,
        "firstName": c.first_name,
        "lastName": c.last_name,
        "displayName": " ".join(p for p in (c.first_name, c.last_name) if p) or c.email or "",
        "phone": c.phone,
        "note": c.note,
        "tags": list(c.tags),
        "state": c.state.upper(),
        "verifiedEmail": c.verified_email,
        "createdAt": gql_time(c.created_at),
        "updatedAt": gql_time(c.updated_at),
        "numberOfOrders": str(len(orders)),
        "amountSpent": _money(spent, shop.currency),
        "defaultAddress": _address_node(c.addresses[0] if c.addresses else None),
        "addresses": [_address_node(a) for a in c.addresses],
        "emailMarketingConsent": {
            "marketingState": "SUBSCRIBED" if c.accepts_marketing else "NOT_SUBSCRIBED",
            "marketingOptInLevel": "SINGLE_OPT_IN",
            "consentUpdatedAt": None,
        },
        "metafield": metafield,
        "metafields": metafields,
        "orders": lambda args: connection(
            orders, args, lambda o: [o.id], lambda o: order_node(ctx, o, with_customer=False)
        ),
    }


def line_item_node(order: Order, li: Any, currency: str) -> dict:
    discounted_total = li.total - li.discount
    return {
        "__typename": "LineItem",
        "__interfaces": ("Node",),
        "id": gid("LineItem", li.id),
        "name": li.title,
        "title": li.title,
        "sku": li.sku,
        "quantity": li.quantity,
        "currentQuantity": li.current_quantity,
        "refundableQuantity": li.current_quantity,
        "unfulfilledQuantity": li.current_quantity,
        "isGiftCard": li.gift_card,
        "requiresShipping": not li.gift_card,
        "taxable": li.taxable,
        "originalUnitPriceSet": gql_money_bag(li.price, currency),
        "discountedUnitPriceSet": gql_money_bag(
            (discounted_total / li.quantity).quantize(Decimal("0.01")), currency
        ),
        "originalTotalSet": gql_money_bag(li.total, currency),
        "discountedTotalSet": gql_money_bag(discounted_total, currency),
        "totalDiscountSet": gql_money_bag(li.discount, currency),
        "discountAllocations": (
            [{"allocatedAmountSet": gql_money_bag(li.discount, currency)}] if li.discount else []
        ),
        "taxLines": (
            [{"title": "Tax", "priceSet": gql_money_bag(li.tax, currency), "rate": 0.0}] if li.tax else []
        ),
    }


def refund_node(order: Order, r: Any, currency: str) -> dict:
    by_id = {li.id: li for li in order.lines}

    def refund_line(rl: Any) -> dict:
        return {
            "__typename": "RefundLineItem",
            "id": gid("RefundLineItem", rl.id),
            "quantity": rl.quantity,
            "restockType": rl.restock_type.upper(),
            "restocked": rl.restock_type != "no_restock",
            "lineItem": line_item_node(order, by_id[rl.line_item_id], currency),
            "subtotalSet": gql_money_bag(rl.subtotal, currency),
            "totalTaxSet": gql_money_bag(rl.total_tax, currency),
            "priceSet": gql_money_bag(by_id[rl.line_item_id].price, currency),
        }

    shipping_lines = (
        [
            {
                "__typename": "RefundShippingLine",
                "id": gid("RefundShippingLine", r.adjustment_id or 0),
                "subtotalAmountSet": gql_money_bag(r.shipping, currency),
                "taxAmountSet": gql_money_bag(Decimal(0), currency),
            }
        ]
        if r.shipping
        else []
    )
    adjustments = (
        [
            {
                "__typename": "OrderAdjustment",
                "id": gid("OrderAdjustment", r.adjustment_id or 0),
                "reason": "SHIPPING_REFUND",
                "amountSet": gql_money_bag(-r.shipping, currency),
                "taxAmountSet": gql_money_bag(Decimal(0), currency),
            }
        ]
        if r.shipping
        else []
    )
    transactions = (
        [
            {
                "__typename": "OrderTransaction",
                "id": gid("OrderTransaction", r.transaction_id),
                "kind": "REFUND",
                "status": "SUCCESS",
                "gateway": "bogus",
                "amountSet": gql_money_bag(r.amount, currency),
                "processedAt": gql_time(r.created_at),
                "createdAt": gql_time(r.created_at),
            }
        ]
        if r.amount
        else []
    )
    return {
        "__typename": "Refund",
        "__interfaces": ("Node", "LegacyInteroperability"),
        "id": gid("Refund", r.id),
        "legacyResourceId": str(r.id),
        "createdAt": gql_time(r.created_at),
        "updatedAt": gql_time(r.created_at),
        "note": r.note,
        "totalRefundedSet": gql_money_bag(r.amount, currency),
        "refundLineItems": lambda args: connection(r.lines, args, lambda rl: [rl.id], refund_line),
        "refundShippingLines": lambda args: connection(shipping_lines, args, lambda s: [s["id"]], dict),
        "orderAdjustments": lambda args: connection(adjustments, args, lambda a: [a["id"]], dict),
        "transactions": lambda args: connection(transactions, args, lambda t: [t["id"]], dict),
    }


def order_node(ctx: Context, o: Order, *, with_customer: bool = True) -> dict:
    cur = o.currency
    customer = ctx.shop.customers.get(o.customer_id) if o.customer_id else None
    refunded_lines_subtotal = o.refunded_subtotal
    return {
        "__typename": "Order",
        "__interfaces": ("Node", "HasMetafields", "LegacyInteroperability"),
        "id": gid("Order", o.id),
        "legacyResourceId": str(o.id),
        "name": o.name,
        "email": o.email,
        "note": o.note,
        "tags": list(o.tags),
        "createdAt": gql_time(o.created_at),
        "updatedAt": gql_time(o.updated_at),
        "processedAt": gql_time(o.processed_at),
        "cancelledAt": gql_time(o.cancelled_at),
        "cancelReason": o.cancel_reason.upper() if o.cancel_reason else None,
        "closed": o.closed_at is not None,
        "closedAt": gql_time(o.closed_at),
        "test": o.test,
        "confirmed": True,
        "displayFinancialStatus": o.financial_status.upper(),
        "displayFulfillmentStatus": "UNFULFILLED",
        "fullyPaid": o.paid,
        "currencyCode": cur,
        "presentmentCurrencyCode": cur,
        "subtotalPriceSet": gql_money_bag(o.subtotal_price, cur),
        "currentSubtotalPriceSet": gql_money_bag(o.current_subtotal_price, cur),
        "totalPriceSet": gql_money_bag(o.total_price, cur),
        "currentTotalPriceSet": gql_money_bag(o.current_total_price, cur),
        "totalShippingPriceSet": gql_money_bag(o.total_shipping, cur),
        "currentShippingPriceSet": gql_money_bag(o.total_shipping - o.refunded_shipping, cur),
        "totalTaxSet": gql_money_bag(o.tax, cur),
        "currentTotalTaxSet": gql_money_bag(o.current_total_tax, cur),
        "totalDiscountsSet": gql_money_bag(o.total_discounts, cur),
        "currentTotalDiscountsSet": gql_money_bag(o.total_discounts, cur),
        "totalRefundedSet": gql_money_bag(o.total_refunded, cur),
        "totalRefundedShippingSet": gql_money_bag(o.refunded_shipping, cur),
        "refundedSubtotalSet": gql_money_bag(refunded_lines_subtotal, cur),
        "subtotalLineItemsQuantity": sum(li.quantity for li in o.lines),
        "currentSubtotalLineItemsQuantity": sum(li.current_quantity for li in o.lines),
        "customer": customer_node(ctx, customer) if (customer and with_customer) else (
            {"__typename": "Customer", "id": gid("Customer", customer.id), "legacyResourceId": str(customer.id),
             "email": customer.email} if customer else None
        ),
        "discountCode": o.discount_codes[0].code if o.discount_codes else None,
        "discountCodes": [dc.code for dc in o.discount_codes],
        "clientIp": o.browser_ip,
        "shippingAddress": _address_node(o.shipping_address),
        "billingAddress": _address_node(o.billing_address),
        "lineItems": lambda args: connection(
            o.lines, args, lambda li: [li.id], lambda li: line_item_node(o, li, cur)
        ),
        "refunds": lambda args: [
            refund_node(o, r, cur) for r in (o.refunds[: args["first"]] if args.get("first") else o.refunds)
        ],
        "metafield": lambda args: None,
        "metafields": lambda args: connection([], args, lambda m: [0], dict),
    }


def discount_node(ctx: Context, d: Discount) -> dict:
    cur = ctx.shop.currency
    customers = [ctx.shop.customers[c] for c in d.customer_ids if c in ctx.shop.customers]
    if customers:
        selection: dict = {
            "__typename": "DiscountCustomers",
            "customers": [customer_node(ctx, c) for c in customers],
        }
    else:
        selection = {"__typename": "DiscountCustomerAll", "allCustomers": True}
    value: dict | None = None
    if d.value_type == "percentage":
        value = {"__typename": "DiscountPercentage", "percentage": float(d.value or 0)}
    elif d.value_type == "amount":
        value = {
            "__typename": "DiscountAmount",
            "amount": _money(d.value or Decimal(0), cur),
            "appliesOnEachItem": False,
        }
    minimum = (
        {
            "__typename": "DiscountMinimumSubtotal",
            "greaterThanOrEqualToSubtotal": _money(d.minimum_subtotal, cur),
        }
        if d.minimum_subtotal is not None
        else None
    )
    if d.kind == "DiscountCodeFreeShipping":
        summary = "Free shipping on all products"
    elif d.value_type == "percentage":
        summary = f"{Decimal(str(d.value)) * 100:.0f}% off entire order"
    else:
        summary = f"{fmt(d.value or Decimal(0))} off entire order"
    redeem_code = {
        "__typename": "DiscountRedeemCode",
        "id": gid("DiscountRedeemCode", d.code_id),
        "code": d.code,
        "asyncUsageCount": d.usage_count,
    }
    code_discount = {
        "__typename": d.kind,
        "title": d.title,
        "summary": summary,
        "status": d.status(ctx.now),
        "discountClass": "SHIPPING" if d.kind == "DiscountCodeFreeShipping" else "ORDER",
        "discountClasses": ["SHIPPING"] if d.kind == "DiscountCodeFreeShipping" else ["ORDER"],
        "startsAt": gql_time(d.starts_at),
        "endsAt": gql_time(d.ends_at),
        "createdAt": gql_time(d.created_at),
        "updatedAt": gql_time(d.updated_at),
        "usageLimit": d.usage_limit,
        "asyncUsageCount": d.usage_count,
        "appliesOncePerCustomer": d.applies_once_per_customer,
        "codesCount": {"count": 1, "precision": "EXACT"},
        "codes": lambda args: connection([redeem_code], args, lambda c: [d.code_id], dict),
        "customerSelection": selection,
        "context": selection if customers else {"__typename": "DiscountBuyerSelectionAll", "all": "ALL"},
        "minimumRequirement": minimum,
        "customerGets": {
            "__typename": "DiscountCustomerGets",
            "value": value,
            "items": {"__typename": "AllDiscountItems", "allItems": True},
            "appliesOnOneTimePurchase": True,
            "appliesOnSubscription": False,
        }
        if value
        else None,
        "destinationSelection": {"__typename": "DiscountCountryAll", "allCountries": True},
        "maximumShippingPrice": None,
        "combinesWith": {"orderDiscounts": False, "productDiscounts": False, "shippingDiscounts": False},
    }
    return {
        "__typename": "DiscountCodeNode",
        "__interfaces": ("Node", "HasMetafields"),
        "id": gid("DiscountCodeNode", d.id),
        "codeDiscount": code_discount,
    }


def shop_node(ctx: Context) -> dict:
    s = ctx.shop
    return {
        "__typename": "Shop",
        "__interfaces": ("Node", "HasMetafields"),
        "id": gid("Shop", s.id),
        "name": s.name,
        "email": s.email,
        "contactEmail": s.email,
        "myshopifyDomain": s.domain,
        "url": f"https://{s.domain}",
        "primaryDomain": {"host": s.domain, "url": f"https://{s.domain}"},
        "currencyCode": s.currency,
        "currencyFormats": {"moneyFormat": s.money_format, "moneyWithCurrencyFormat": f"{s.money_format} {s.currency}"},
        "ianaTimezone": "America/New_York",
        "timezoneOffsetMinutes": s.tz_offset_minutes,
        "plan": {"displayName": "Developer Preview", "partnerDevelopment": True, "shopifyPlus": False},
    }


# --- root fields: queries ----------------------------------------------------------------------------


def _by_gid(ctx: Context, value: Any, kind: str) -> int:
    try:
        return parse_gid(value, kind)
    except (ValueError, TypeError) as exc:
        raise FieldError(f"Invalid id: {value}", "argumentLiteralsIncompatible") from exc


_SORTS: dict[str, Callable[[Any], Any]] = {
    "ID": lambda r: r.id,
    "UPDATED_AT": lambda r: gql_time(r.updated_at),
    "CREATED_AT": lambda r: gql_time(r.created_at),
    "PROCESSED_AT": lambda r: gql_time(getattr(r, "processed_at", r.created_at)),
}


def _sort_key(args: dict) -> Callable[[Any], list]:
    key = args.get("sortKey") or "ID"
    if key == "RELEVANCE":
        key = "ID"
    fn = _SORTS.get(key)
    if fn is None:
        raise FieldError(f"Unsupported sortKey {key}", "BAD_REQUEST")
    return (lambda r: [r.id]) if key == "ID" else (lambda r: [fn(r), r.id])


def q_customer(ctx: Context, args: dict) -> dict | None:
    c = ctx.shop.customers.get(_by_gid(ctx, args.get("id"), "Customer"))
    return customer_node(ctx, c) if c and not c.deleted else None


def q_customers(ctx: Context, args: dict) -> dict:
    groups = parse_search(args.get("query"))
    items = [
        c
        for c in ctx.shop.customers.values()
        if not c.deleted
        and matches(
            {
                "id": c.id,
                "email": c.email,
                "first_name": c.first_name,
                "last_name": c.last_name,
                "phone": c.phone,
                "tag": c.tags,
                "state": c.state,
                "created_at": c.created_at,
                "updated_at": c.updated_at,
            },
            ["email", "first_name", "last_name"],
            groups,
            ctx,
        )
    ]
    return connection(items, args, _sort_key(args), lambda c: customer_node(ctx, c))


def q_order(ctx: Context, args: dict) -> dict | None:
    o = ctx.shop.orders.get(_by_gid(ctx, args.get("id"), "Order"))
    return order_node(ctx, o) if o else None


def _order_status(o: Order) -> str:
    if o.cancelled_at is not None:
        return "cancelled"
    return "closed" if o.closed_at is not None else "open"


def q_orders(ctx: Context, args: dict) -> dict:
    groups = parse_search(args.get("query"))
    items = []
    for o in ctx.shop.orders.values():
        fields = {
            "id": o.id,
            "name": o.name,
            "email": o.email,
            "customer_id": o.customer_id,
            "financial_status": o.financial_status,
            "test": o.test,
            "tag": o.tags,
            "created_at": o.created_at,
            "updated_at": o.updated_at,
            "processed_at": o.processed_at,
            "status": _order_status(o),
            "discount_code": [dc.code for dc in o.discount_codes],
        }
        # `status:any` is Shopify's way to include cancelled/closed orders in a search
        if matches({**fields, "status": "any"} if "status:any" in (args.get("query") or "") else fields,
                   ["name", "email"], groups, ctx):
            items.append(o)
    return connection(items, args, _sort_key(args), lambda o: order_node(ctx, o))


def _find_code(ctx: Context, code: str) -> Discount | None:
    for d in ctx.shop.discounts.values():
        if not d.deleted and d.code.lower() == str(code).lower():
            return d
    return None


def q_code_discount_node_by_code(ctx: Context, args: dict) -> dict | None:
    d = _find_code(ctx, args.get("code") or "")
    return discount_node(ctx, d) if d else None


def q_code_discount_node(ctx: Context, args: dict) -> dict | None:
    d = ctx.shop.discounts.get(_by_gid(ctx, args.get("id"), "DiscountCodeNode"))
    return discount_node(ctx, d) if d and not d.deleted else None


def q_node(ctx: Context, args: dict) -> dict | None:
    value = str(args.get("id") or "")
    kind = value.removeprefix("gid://shopify/").split("/")[0]
    resolver = {"Customer": q_customer, "Order": q_order, "DiscountCodeNode": q_code_discount_node}.get(kind)
    return resolver(ctx, {"id": value}) if resolver else None


def q_nodes(ctx: Context, args: dict) -> list:
    return [q_node(ctx, {"id": i}) for i in args.get("ids") or []]


def q_shop(ctx: Context, args: dict) -> dict:
    return shop_node(ctx)


def q_current_app_installation(ctx: Context, args: dict) -> dict:
    return {
        "__typename": "AppInstallation",
        "id": gid("AppInstallation", ctx.shop.id),
        "accessScopes": [{"handle": s} for s in ctx.store.scopes.split(",")],
    }


# --- root fields: mutations --------------------------------------------------------------------------


def _user_error(field: list[str] | None, message: str, code: str | None) -> dict:
    return {"field": field, "message": message, "code": code}


def _decimal(value: Any) -> Decimal | None:
    if value is None:
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        return None


def _create_code_discount(ctx: Context, args: dict, arg_name: str, kind: str) -> dict:
    store, shop = ctx.store, ctx.shop
    inp = args.get(arg_name) or {}
    errors: list[dict] = []

    def err(path: list[str], message: str, code: str) -> None:
        errors.append(_user_error([arg_name, *path], message, code))

    if shop.discount_failures:
        failure = shop.discount_failures.pop(0)
        return {"codeDiscountNode": None, "userErrors": [failure]}
    code = (inp.get("code") or "").strip()
    title = (inp.get("title") or "").strip()
    if not code:
        err(["code"], "Code can't be blank", "BLANK")
    elif len(code) > 255:
        err(["code"], "Code is too long (maximum is 255 characters)", "TOO_LONG")
    elif "\n" in code or "\r" in code:
        err(["code"], "Code cannot contain newline characters.", "INVALID")
    elif _find_code(ctx, code) is not None:
        err(["code"], "Code must be unique. Please try a different code.", "TAKEN")
    if not title:
        err(["title"], "Title can't be blank", "BLANK")
    starts_at = ends_at = None
    try:
        starts_at = to_utc(inp["startsAt"]) if inp.get("startsAt") else ctx.now
        ends_at = to_utc(inp["endsAt"]) if inp.get("endsAt") else None
    except (ValueError, TypeError):
        err(["startsAt"], "Invalid date", "INVALID")
    if starts_at and ends_at and ends_at <= starts_at:
        err(["endsAt"], "Ends at needs to be after starts_at", "INVALID")

    value_type = value = None
    if kind == "DiscountCodeBasic":
        gets = inp.get("customerGets") or {}
        raw_value = gets.get("value") or {}
        if raw_value.get("percentage") is not None:
            value_type, value = "percentage", _decimal(raw_value["percentage"])
            if value is None or not (Decimal(0) < value <= Decimal(1)):
                err(
                    ["customerGets", "value", "percentage"],
                    "Value must be between 0.0 and 1.0",
                    "VALUE_OUTSIDE_RANGE",
                )
        elif raw_value.get("discountAmount"):
            value_type, value = "amount", _decimal(raw_value["discountAmount"].get("amount"))
            if value is None or value <= 0:
                err(["customerGets", "value", "discountAmount", "amount"], "Value must be greater than 0", "GREATER_THAN")
        else:
            err(["customerGets", "value"], "Value can't be blank", "BLANK")
        if not (gets.get("items") or {}).get("all") and "items" in gets and gets["items"] is not None:
            # The stand-in models order-wide discounts only, which is all the app creates.
            err(["customerGets", "items"], "Only all-items discounts are supported by the dev store", "INVALID")

    customer_ids: list[int] = []
    selection_key = "context" if inp.get("context") is not None else "customerSelection"
    selection = inp.get(selection_key) or {}
    add = ((selection.get("customers") or {}).get("add")) or []
    for i, customer_gid in enumerate(add):
        try:
            cid = parse_gid(customer_gid, "Customer")
        except ValueError:
            cid = None
        if cid is None or cid not in shop.customers or shop.customers[cid].deleted:
            err([selection_key, "customers", "add", str(i)], "Customer does not exist", "INVALID")
        else:
            customer_ids.append(cid)

    minimum = None
    subtotal_req = ((inp.get("minimumRequirement") or {}).get("subtotal") or {})
    if subtotal_req.get("greaterThanOrEqualToSubtotal") is not None:
        minimum = _decimal(subtotal_req["greaterThanOrEqualToSubtotal"])
        if minimum is None or minimum < 0:
            err(["minimumRequirement", "subtotal", "greaterThanOrEqualToSubtotal"], "Value is invalid", "INVALID")
    usage_limit = inp.get("usageLimit")
    if usage_limit is not None and (not isinstance(usage_limit, int) or usage_limit < 1):
        err(["usageLimit"], "Usage limit must be greater than 0", "GREATER_THAN")

    if errors:
        return {"codeDiscountNode": None, "userErrors": errors}
    assert starts_at is not None
    discount = Discount(
        id=store.ids.next("DiscountCodeNode"),
        code_id=store.ids.next("DiscountRedeemCode"),
        code=code,
        kind=kind,
        title=title,
        value_type=value_type,
        value=money(value) if value_type == "amount" and value is not None else value,
        customer_ids=customer_ids,
        usage_limit=usage_limit,
        applies_once_per_customer=bool(inp.get("appliesOncePerCustomer")),
        starts_at=starts_at,
        ends_at=ends_at,
        minimum_subtotal=money(minimum) if minimum is not None else None,
        created_at=ctx.now,
        updated_at=ctx.now,
    )
    shop.discounts[discount.id] = discount
    return {"codeDiscountNode": discount_node(ctx, discount), "userErrors": []}


def m_discount_code_basic_create(ctx: Context, args: dict) -> dict:
    return _create_code_discount(ctx, args, "basicCodeDiscount", "DiscountCodeBasic")


def m_discount_code_free_shipping_create(ctx: Context, args: dict) -> dict:
    return _create_code_discount(ctx, args, "freeShippingCodeDiscount", "DiscountCodeFreeShipping")


def m_discount_code_delete(ctx: Context, args: dict) -> dict:
    did = _by_gid(ctx, args.get("id"), "DiscountCodeNode")
    d = ctx.shop.discounts.get(did)
    if d is None or d.deleted:
        return {
            "deletedCodeDiscountId": None,
            "userErrors": [_user_error(["id"], "Discount does not exist", "INVALID")],
        }
    d.deleted = True
    return {"deletedCodeDiscountId": gid("DiscountCodeNode", did), "userErrors": []}


_KEY_RE = re.compile(r"^[A-Za-z0-9_-]{2,64}$")
_NAMESPACE_RE = re.compile(r"^[A-Za-z0-9_$-]{3,255}$")


def _metafield_value_error(type_: str, value: str) -> str | None:
    if type_ == "number_integer":
        return None if re.fullmatch(r"-?\d+", value) else "Value must be an integer."
    if type_ == "number_decimal":
        return None if re.fullmatch(r"-?\d+(\.\d+)?", value) else "Value must be a decimal."
    if type_ == "boolean":
        return None if value in ("true", "false") else "Value must be true or false."
    if type_ == "single_line_text_field":
        return "Value must be a single line text string." if "\n" in value else None
    if type_ == "url":
        return None if re.match(r"^(https?|mailto|sms|tel):", value) else "Value must be a valid URL."
    if type_ == "date":
        return None if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value) else "Value must be in YYYY-MM-DD format."
    if type_ == "json":
        try:
            json.loads(value)
        except ValueError:
            return "Value must be valid JSON."
    return None


def _namespace_problem(ctx: Context, raw: str | None, expanded: str) -> tuple[str, str] | None:
    """(message, code) when the app may not use this namespace: too short, a `$` that is not `$app`, or
    another app's reserved `app--…` namespace."""
    if raw and "$" in raw and not (raw == "$app" or raw.startswith("$app:")):
        return "Namespace is invalid.", "INVALID"
    if not _NAMESPACE_RE.match(expanded):
        return "Namespace is too short (minimum is 3 characters)", "TOO_SHORT"
    own = ctx.store.app_namespace_prefix
    if expanded.startswith("app--") and expanded != own and not expanded.startswith(own + "--"):
        return "Access to this namespace and key on Metafields for this resource type is denied.", "APP_NOT_AUTHORIZED"
    return None


def m_metafields_set(ctx: Context, args: dict) -> dict:
    inputs = args.get("metafields") or []
    errors: list[dict] = []

    def err(i: int | None, field: str, message: str, code: str) -> None:
        errors.append({"field": ["metafields", str(i), field] if i is not None else ["metafields"],
                       "message": message, "code": code, "elementIndex": i})

    if len(inputs) > 25:
        err(None, "", "Exceeded the maximum metafields input limit of 25.", "LESS_THAN_OR_EQUAL_TO")
        errors[-1]["field"] = ["metafields"]
    planned: list[tuple[Customer, dict]] = []
    for i, inp in enumerate(inputs[:25]):
        owner = inp.get("ownerId") or ""
        try:
            cid = parse_gid(owner, "Customer")
        except ValueError:
            err(i, "ownerId", "Owner type is not supported by the dev store (Customer only).", "INVALID")
            continue
        customer = ctx.shop.customers.get(cid)
        if customer is None or customer.deleted:
            err(i, "ownerId", "Owner does not exist.", "INVALID")
            continue
        # Omitted, `$app` or `$app:sub`: the app's reserved namespace, stored expanded as Shopify does.
        raw, key = inp.get("namespace"), inp.get("key") or ""
        namespace = ctx.store.expand_namespace(raw)
        problem = _namespace_problem(ctx, raw, namespace)
        if problem:
            err(i, "namespace", *problem)
            continue
        if not _KEY_RE.match(key):
            err(i, "key", "Key is invalid", "INVALID")
            continue
        definition = ctx.store.metafield_definition("CUSTOMER", namespace, key)
        existing = customer.metafields.get((namespace, key))
        type_ = inp.get("type") or (definition.type if definition else existing.type if existing else None)
        if not type_:
            err(i, "type", "Type can't be blank", "BLANK")
            continue
        if definition and definition.type != type_:
            err(i, "type", f"Type must match the definition's type: {definition.type}.", "INVALID_TYPE")
            continue
        if existing and existing.type != type_:
            err(i, "type", f"Type must be consistent with the existing metafield type {existing.type}.",
                "INVALID_TYPE")
            continue
        value = inp.get("value")
        if not isinstance(value, str):
            err(i, "value", "Value must be a string", "INVALID_VALUE")
            continue
        problem_value = _metafield_value_error(type_, value)
        if problem_value:
            err(i, "value", problem_value, "INVALID_VALUE")
            continue
        planned.append((customer, {"namespace": namespace, "key": key, "type": type_, "value": value}))
    if errors:
        # metafieldsSet is all-or-nothing
        return {"metafields": None, "userErrors": errors}
    out = []
    for customer, spec in planned:
        key = (spec["namespace"], spec["key"])
        m = customer.metafields.get(key)
        if m is None:
            m = Metafield(id=ctx.store.ids.next("Metafield"), created_at=ctx.now, updated_at=ctx.now, **spec)
            customer.metafields[key] = m
        elif m.value != spec["value"]:
            m.value, m.updated_at = spec["value"], ctx.now
        out.append(metafield_node(gid("Customer", customer.id), "CUSTOMER", m))
    return {"metafields": out, "userErrors": []}


def m_metafields_delete(ctx: Context, args: dict) -> dict:
    """Deletes by (owner, namespace, key); a metafield that does not exist is a null entry, not an error."""
    identifiers = args.get("metafields") or []
    if not identifiers:
        return {"deletedMetafields": None,
                "userErrors": [_user_error(["metafields"], "At least one identifier must be specified.", "BLANK")]}
    errors: list[dict] = []
    targets: list[tuple[Customer | None, str, str, str]] = []
    for i, ident in enumerate(identifiers):
        owner = ident.get("ownerId") or ""
        raw, key = ident.get("namespace"), ident.get("key") or ""
        namespace = ctx.store.expand_namespace(raw)
        try:
            cid = parse_gid(owner, "Customer")
        except ValueError:
            errors.append(_user_error(["metafields", str(i), "ownerId"], "Owner type is not supported.", "INVALID"))
            continue
        problem = _namespace_problem(ctx, raw, namespace)
        if problem:
            errors.append(_user_error(["metafields", str(i), "namespace"], *problem))
            continue
        customer = ctx.shop.customers.get(cid)
        targets.append((customer if customer and not customer.deleted else None, owner, namespace, key))
    if errors:
        return {"deletedMetafields": None, "userErrors": errors}
    out: list[dict | None] = []
    for customer, owner, namespace, key in targets:
        gone = customer.metafields.pop((namespace, key), None) if customer is not None else None
        out.append({"ownerId": owner, "namespace": namespace, "key": key} if gone else None)
    return {"deletedMetafields": out, "userErrors": []}


def _normalize_tags(tags: Any) -> list[str]:
    raw = [tags] if isinstance(tags, str) else list(tags or [])
    out: list[str] = []
    for entry in raw:
        for tag in str(entry).split(","):
            tag = tag.strip()
            if tag and tag.lower() not in (t.lower() for t in out):
                out.append(tag)
    return out


def _tags_change(ctx: Context, args: dict, add: bool) -> dict:
    target = str(args.get("id") or "")
    tags = _normalize_tags(args.get("tags"))
    if not tags:
        return {"node": None, "userErrors": [_user_error(["tags"], "Tags can't be blank", None)]}
    if any(len(t) > 255 for t in tags):
        return {"node": None, "userErrors": [_user_error(["tags"], "Tag is too long (maximum is 255 characters)", None)]}
    kind = target.removeprefix("gid://shopify/").split("/")[0]
    record: Customer | Order | None = None
    try:
        if kind == "Customer":
            record = ctx.shop.customers.get(parse_gid(target, "Customer"))
            if record is not None and record.deleted:
                record = None
        elif kind == "Order":
            record = ctx.shop.orders.get(parse_gid(target, "Order"))
    except ValueError:
        record = None
    if record is None:
        return {"node": None, "userErrors": [_user_error(["id"], "Resource not found", None)]}
    before = list(record.tags)
    if add:
        record.tags = _normalize_tags([*record.tags, *tags])
    else:
        drop = {t.lower() for t in tags}
        record.tags = [t for t in record.tags if t.lower() not in drop]
    if record.tags != before:
        # A tag change is a customer/order update, and Shopify says so with a webhook.
        if isinstance(record, Customer):
            ctx.store._touch_customer(record)
            ctx.events.append(
                ctx.store._event(ctx.shop, "customers/update", payloads.customer_rest_payload(record, ctx.shop))
            )
            return {"node": customer_node(ctx, record), "userErrors": []}
        ctx.store._tick(record)
        ctx.events.append(
            ctx.store._event(ctx.shop, "orders/updated", ctx.store._order_payload(ctx.shop, record))
        )
    node = customer_node(ctx, record) if isinstance(record, Customer) else order_node(ctx, record)
    return {"node": node, "userErrors": []}


def m_tags_add(ctx: Context, args: dict) -> dict:
    return _tags_change(ctx, args, add=True)


def m_tags_remove(ctx: Context, args: dict) -> dict:
    return _tags_change(ctx, args, add=False)


# Shopify refuses a payload over 50 KB; a handle must name one of the app's flow_trigger extensions.
FLOW_PAYLOAD_LIMIT = 50_000


def m_flow_trigger_receive(ctx: Context, args: dict) -> dict:
    """Flow's trigger endpoint: records the handle and payload (the stand-in runs no workflow)."""
    handle = args.get("handle")
    payload = args.get("payload")
    if args.get("body") is not None and payload is None:
        try:
            body = json.loads(str(args["body"]))
            handle, payload = body.get("trigger_id") or handle, body.get("properties")
        except ValueError:
            return {"userErrors": [_user_error(["body"], "Invalid JSON", None)]}
    if not isinstance(handle, str) or not handle.strip():
        return {"userErrors": [_user_error(["handle"], "Handle can't be blank", None)]}
    known = ctx.store.flow_trigger_handles
    if known is not None and handle not in known:
        return {"userErrors": [_user_error(["handle"], f"Trigger {handle!r} does not exist", None)]}
    if not isinstance(payload, dict):
        return {"userErrors": [_user_error(["payload"], "Payload must be a JSON object", None)]}
    if len(json.dumps(payload)) > FLOW_PAYLOAD_LIMIT:
        return {"userErrors": [_user_error(["payload"], "Payload is too large (maximum is 50 KB)", None)]}
    ctx.shop.flow_triggers.append({"handle": handle, "payload": payload, "at": gql_time(ctx.store.now())})
    return {"userErrors": []}


QUERY_ROOT: dict[str, Callable[[Context, dict], Any]] = {
    "customer": q_customer,
    "customers": q_customers,
    "order": q_order,
    "orders": q_orders,
    "codeDiscountNode": q_code_discount_node,
    "codeDiscountNodeByCode": q_code_discount_node_by_code,
    "node": q_node,
    "nodes": q_nodes,
    "shop": q_shop,
    "currentAppInstallation": q_current_app_installation,
}

MUTATION_ROOT: dict[str, Callable[[Context, dict], Any]] = {
    "discountCodeBasicCreate": m_discount_code_basic_create,
    "discountCodeFreeShippingCreate": m_discount_code_free_shipping_create,
    "discountCodeDelete": m_discount_code_delete,
    "metafieldsSet": m_metafields_set,
    "metafieldsDelete": m_metafields_delete,
    "tagsAdd": m_tags_add,
    "tagsRemove": m_tags_remove,
    "flowTriggerReceive": m_flow_trigger_receive,
}


# --- cost -------------------------------------------------------------------------------------------


_CONNECTION_PARTS = frozenset({"nodes", "edges", "node", "pageInfo", "cursor"})


def estimate_cost(
    selection_set: SelectionSetNode | None, ctx: Context, *, mutation: bool = False, in_connection: bool = False
) -> int:
    """Shopify's static estimate, simplified: objects 1, scalars 0, a connection 2 + first × (1 + what each
    node selects), mutations 10."""
    if selection_set is None:
        return 0
    total = 0
    for sel in selection_set.selections:
        if isinstance(sel, FieldNode):
            if sel.selection_set is None:
                continue
            if mutation:
                total += 10
                continue
            if in_connection and sel.name.value in _CONNECTION_PARTS:
                # nodes/edges/node are the connection's own structure: what they select is per node.
                total += estimate_cost(sel.selection_set, ctx, in_connection=sel.name.value == "edges")
                continue
            args = _args(sel, ctx)
            size = args.get("first") or args.get("last")
            if isinstance(size, int):
                total += 2 + size * (1 + estimate_cost(sel.selection_set, ctx, in_connection=True))
            else:
                total += 1 + estimate_cost(sel.selection_set, ctx)
        elif isinstance(sel, InlineFragmentNode):
            total += estimate_cost(sel.selection_set, ctx, in_connection=in_connection)
        elif isinstance(sel, FragmentSpreadNode):
            frag = ctx.fragments.get(sel.name.value)
            if frag is not None:
                total += estimate_cost(frag.selection_set, ctx, in_connection=in_connection)
    return total


def _cost_extension(requested: int, actual: int | None, available: float) -> dict:
    return {
        "cost": {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": MAX_AVAILABLE,
                "currentlyAvailable": int(available),
                "restoreRate": RESTORE_RATE,
            },
        }
    }


def _throttled(requested: int, available: float) -> dict:
    return {
        "errors": [
            {
                "message": "Throttled",
                "extensions": {"code": "THROTTLED", "documentation": RATE_LIMITS_DOC},
            }
        ],
        "extensions": _cost_extension(requested, None, available),
    }


# --- entry point ------------------------------------------------------------------------------------


def _error(message: str, code: str | None = None, **extra: Any) -> dict:
    entry: dict[str, Any] = {"message": message}
    if code:
        entry["extensions"] = {"code": code, **extra}
    return entry


def execute(store: DevStore, shop: Shop, body: Any) -> tuple[int, dict, list[str]]:
    """Run one Admin GraphQL request: (HTTP status, JSON body, root field names for the log)."""
    if not isinstance(body, dict) or not isinstance(body.get("query"), str):
        return 400, {"errors": {"query": "Required parameter missing or invalid"}}, []
    variables = body.get("variables") or {}
    if not isinstance(variables, dict):
        return 400, {"errors": {"variables": "must be an object"}}, []
    try:
        document: DocumentNode = parse(body["query"])
    except GraphQLSyntaxError as exc:
        return 200, {"errors": [exc.formatted]}, []
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    fragments = {d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)}
    name = body.get("operationName")
    if name:
        operations = [op for op in operations if op.name and op.name.value == name]
    if len(operations) != 1:
        message = f"No operation named \"{name}\"" if name else (
            "An operation name is required" if operations else "No operations in query document")
        return 200, {"errors": [_error(message)]}, []
    op = operations[0]
    kind = op.operation.value
    root = {"query": QUERY_ROOT, "mutation": MUTATION_ROOT}.get(kind)
    root_type = {"query": "QueryRoot", "mutation": "Mutation"}.get(kind, kind)
    fields = [s for s in op.selection_set.selections if isinstance(s, FieldNode)]
    root_names = [f.name.value for f in fields]
    if root is None:
        return 200, {"errors": [_error(f"Schema is not configured for {kind}s")]}, root_names
    unknown = [f for f in fields if f.name.value not in root and f.name.value != "__typename"]
    if unknown:
        f = unknown[0]
        return 200, {
            "errors": [
                {
                    "message": f"Field '{f.name.value}' doesn't exist on type '{root_type}'",
                    "locations": [{"line": f.loc.source.get_location(f.loc.start).line, "column": f.loc.source.get_location(f.loc.start).column}] if f.loc else [],
                    "path": [kind, f.name.value],
                    "extensions": {"code": "undefinedField", "typeName": root_type, "fieldName": f.name.value},
                }
            ]
        }, root_names

    with store.lock:
        ctx = Context(store, shop, variables, fragments)
        if shop.fail_statuses:
            status = shop.fail_statuses.pop(0)
            return status, {"errors": "Service Unavailable" if status == 503 else "Internal Server Error"}, root_names
        requested = max(1, estimate_cost(op.selection_set, ctx, mutation=kind == "mutation"))
        now = time.monotonic()
        if shop.bucket_at:
            shop.bucket_available = min(
                MAX_AVAILABLE, shop.bucket_available + (now - shop.bucket_at) * RESTORE_RATE
            )
        shop.bucket_at = now
        if shop.throttle_next > 0:
            shop.throttle_next -= 1
            return 200, _throttled(requested, 0), root_names
        if requested > MAX_QUERY_COST:
            return 200, {
                "errors": [
                    _error(
                        f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).",
                        "MAX_COST_EXCEEDED",
                        cost=requested,
                        maxCost=MAX_QUERY_COST,
                        documentation=RATE_LIMITS_DOC,
                    )
                ]
            }, root_names
        if store.rate_limit and requested > shop.bucket_available:
            return 200, _throttled(requested, shop.bucket_available), root_names
        data: dict[str, Any] = {}
        errors: list[dict] = []
        for f in fields:
            key = f.alias.value if f.alias else f.name.value
            if f.name.value == "__typename":
                data[key] = root_type
                continue
            try:
                raw = root[f.name.value](ctx, _args(f, ctx))
                data[key] = project(raw, f.selection_set, ctx, key)
            except FieldError as exc:
                data[key] = None
                entry = _error(str(exc), exc.code)
                entry["path"] = [key]
                errors.append(entry)
            except GraphQLError as exc:
                data[key] = None
                errors.append({"message": exc.message, "path": [key]})
        actual = requested
        if store.rate_limit:
            shop.bucket_available -= actual
        result: dict[str, Any] = {"data": data}
        if errors:
            result["errors"] = errors
        result["extensions"] = _cost_extension(requested, actual, shop.bucket_available if store.rate_limit else MAX_AVAILABLE - actual)
        if ctx.unknown_fields:
            result["extensions"]["devstore"] = {"unmodelledFields": sorted(ctx.unknown_fields)}
        events = list(ctx.events)
    # Webhooks caused by the app's own writes arrive after the response, never inside it.
    store._deliver(events, background=True)
    return 200, result, root_names
