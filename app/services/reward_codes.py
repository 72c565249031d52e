"""Reward codes in Shopify: a one-use discount code created (retried, a lost answer found again by its code), and
codes marked used when a paid order carries them. Points are the redemption's business (app/services/redemption.py)."""

from __future__ import annotations

import time
from datetime import timedelta

from sqlalchemy import select

from app.extensions import db
from app.loyalty.order_knowledge import PAID_STATUSES
from app.models import Order, Redemption, Shop, utcnow
from app.services.ledger import emit_event
from app.services.shops import ShopNotInstalled, admin_graphql
from app.shopify import GraphQLError
from app.shopify.adapter import ShopifyUnavailable
from app.shopify.discounts import CREATE_MUTATIONS, FIND_BY_CODE, DiscountRequest, parse_created, parse_found

# Attempts at Shopify for one code (the adapter already retries 5xx/429 and THROTTLED inside each).
SHOPIFY_ATTEMPTS = 3
# Codes start this much before our clock: Shopify's clock may be behind ours, and a code that is still
# "scheduled" there would be refused at the checkout the shopper goes to at once.
CLOCK_SKEW = timedelta(minutes=1)


def create_code(shop: Shop, request: DiscountRequest, code: str) -> tuple[str | None, str | None]:
    """(discount gid, None) when the code exists in Shopify, else (None, why). Retries what may pass later."""

    why = "Shopify could not be reached"
    for attempt in range(SHOPIFY_ATTEMPTS):
        if attempt:
            time.sleep(0.2 * attempt)
        try:
            data = admin_graphql(shop, CREATE_MUTATIONS[request.mutation], request.variables)
        except ShopNotInstalled as exc:
            return None, f"shop not installed: {exc}"
        except ShopifyUnavailable as exc:
            why = str(exc)
            continue
        except GraphQLError as exc:
            return None, f"Shopify refused: {exc.errors or exc}"
        created = parse_created(data, request)
        if created.discount_id is not None:
            return created.discount_id, None
        if attempt and created.taken:
            # An earlier attempt did create it (its answer was lost): find it rather than fail.
            try:
                found = parse_found(admin_graphql(shop, FIND_BY_CODE, {"code": code}))
            except Exception:  # still unknown: report the refusal below
                found = None
            if found is not None:
                return found, None
        return None, "Shopify refused: " + created.refusal()
    return None, why


def find_or_create_code(shop: Shop, request: DiscountRequest, code: str) -> tuple[str | None, str | None]:
    """A code an interrupted request may already have created: looked up by its code first, else created."""
    try:
        found = parse_found(admin_graphql(shop, FIND_BY_CODE, {"code": code}))
    except Exception:
        found = None
    if found is not None:
        return found, None
    return create_code(shop, request, code)


def mark_codes_used(shop: Shop, order: Order) -> int:
    """A paid order carrying reward codes marks them used. Runs in the order drain's transaction: no commit."""
    if order.cancelled or order.financial_status not in PAID_STATUSES or not order.discount_codes:
        return 0
    codes = {str(c.get("code") if isinstance(c, dict) else c).strip().upper() for c in order.discount_codes}
    codes.discard("")
    if not codes:
        return 0
    rows = db.session.execute(
        select(Redemption).where(Redemption.shop_id == shop.id, Redemption.code.in_(codes),
                                 Redemption.status.in_(("issued", "pending", "expired")))
        .with_for_update()
    ).scalars()
    marked = 0
    for redemption in rows:
        redemption.status = "used"
        redemption.used_order_id = order.order_id
        redemption.used_at = order.paid_at or order.processed_at or utcnow()

        emit_event(shop.id, redemption.member_id, "code_used",
                   {"redemption_id": redemption.id, "code": redemption.code, "order_id": str(order.order_id)})
        marked += 1
    return marked
