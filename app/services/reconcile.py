"""Nightly reconciliation: every order Shopify changed since the last run, read back through Admin
GraphQL and fed through the same order path as a webhook, so a lost webhook heals by morning.

Each GraphQL order node is mapped to the REST shape the webhooks carry (app.shopify.order_reads, field
for field; app.services.orders takes only that), so a node that says what a webhook already said is recognised as the
same state and books nothing. `Shop.last_reconciled_at` moves only after every page was applied, to
the moment the run started (less a few minutes for clock skew): a failed run is retried in full.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Order, Shop, utcnow
from app.services import orders as orders_service
from app.services.program import active_shops
from app.services.shops import admin_graphql
from app.shopify import order_reads as wire

log = logging.getLogger(__name__)

# Run start less this: the moment `last_reconciled_at` moves to (clock skew between Shopify and us).
SKEW = timedelta(minutes=5)


def reconcile_shop(shop: Shop, now: datetime | None = None, *,
                   graphql: Callable[[Shop, str, dict[str, Any]], dict[str, Any]] | None = None) -> dict[str, int]:
    """Reads every order updated since the last run and applies it. Commits per page. Returns counts
    (`seen`, `changed`: orders whose state moved, i.e. a webhook had been missed or was still queued)."""
    call = graphql or admin_graphql
    started = now or utcnow()
    since = shop.last_reconciled_at or shop.installed_at or (started - timedelta(days=1))
    search = f"updated_at:>='{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'"
    seen = changed = failed = 0
    after: str | None = None
    while True:
        data = call(shop, wire.ORDERS_QUERY, {"first": wire.PAGE_SIZE, "after": after, "query": search,
                                              "lines": wire.PAGE_LINES, "refundLines": wire.PAGE_LINES})
        page = data.get("orders") or {}
        nodes = wire.nodes(page)
        ids = [i for i in (wire.order_id_of(n) for n in nodes) if i is not None]
        versions = dict(db.session.execute(
            select(Order.order_id, Order.version).where(Order.shop_id == shop.id, Order.order_id.in_(ids))
        ).all()) if ids else {}
        for node in nodes:
            seen += 1
            if wire.truncated(node):
                one = call(shop, wire.ORDER_QUERY, wire.single_order_variables(node))
                node = one.get("order") or node
                if wire.truncated(node):
                    log.warning("order %s of %s has more lines than reconciliation reads",
                                node.get("legacyResourceId"), shop.domain)
            try:
                with db.session.begin_nested():
                    row = orders_service.apply_order_event(shop, "reconcile", wire.rest_payload_from_node(node), None)
                if row.version != versions.get(row.order_id, 0):
                    changed += 1
                    log.info("reconciliation healed order %s of %s", row.order_id, shop.domain)
            except Exception:
                failed += 1
                log.exception("reconciliation could not apply an order of %s", shop.domain)
        db.session.commit()
        info = page.get("pageInfo") or {}
        if not info.get("hasNextPage") or not info.get("endCursor"):
            break
        after = info["endCursor"]
    if not failed:
        shop.last_reconciled_at = started - SKEW
        db.session.commit()
    return {"seen": seen, "changed": changed, "failed": failed}


def reconcile_all(now: datetime | None = None) -> dict[str, int]:
    """The nightly job over every installed shop; a shop Shopify cannot be reached for is retried next run."""
    totals = {"shops": 0, "seen": 0, "changed": 0, "failed": 0}
    for shop in active_shops():
        try:
            result = reconcile_shop(shop, now)
        except Exception:
            db.session.rollback()
            log.exception("reconciliation failed for %s", shop.domain)
            totals["failed"] += 1
            continue
        totals["shops"] += 1
        for k in ("seen", "changed", "failed"):
            totals[k] += result[k]
    return totals
