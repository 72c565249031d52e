"""The store's life during the run: customers come, buy, refund, cancel, edit, change and are redacted."""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from typing import Any

from devstore import DevStore, DevStoreError


@dataclass
class WorkloadStats:
    customers: int = 0
    orders: int = 0
    test_orders: int = 0
    gift_card_orders: int = 0
    refunds: int = 0
    cancels: int = 0
    edits: int = 0
    updates: int = 0
    redactions: int = 0
    refused: int = 0  # actions the store refused (nothing left to refund, …): no event, nothing to check
    counts: dict[str, int] = field(default_factory=dict)


def _lines(rng: random.Random) -> tuple[list[dict[str, Any]], bool]:
    lines = []
    for n in range(rng.randint(1, 3)):
        cents = rng.randint(199, 12999)
        lines.append({"title": f"Item {n}", "price": f"{cents // 100}.{cents % 100:02d}", "quantity": rng.randint(1, 3)})
    gift = rng.random() < 0.05
    if gift:
        lines.append({"title": "Gift card", "price": "25.00", "quantity": 1, "gift_card": True})
    return lines, gift


def generate(store: DevStore, shop: str, *, events: int, customers: int, seed: int) -> WorkloadStats:
    """Queues about `events` webhook events (the sender must be in queue mode), `customers` of them sign-ups.

    Sign-ups are spread through the run, so orders, refunds and redactions of early customers interleave
    with later sign-ups, as in a live shop.
    """
    rng = random.Random(seed)
    stats = WorkloadStats()
    customer_ids: list[int] = []
    redacted: set[int] = set()
    open_orders: list[int] = []  # orders that can still be refunded, edited or cancelled

    def emitted() -> int:
        return len(store.sender.queued)

    guard = events * 4  # bounded: every loop turn either emits or is refused, and refusals are rare
    while emitted() < events and guard > 0:
        guard -= 1
        left_events = max(1, events - emitted())
        left_customers = customers - stats.customers
        if left_customers > 0 and (not customer_ids or rng.random() < left_customers / left_events * 1.2):
            i = stats.customers
            c = store.create_customer(shop, f"c{i}.{seed}@chaos.example", f"First{i}", f"Last{i}")
            customer_ids.append(int(c["id"]))
            stats.customers += 1
            continue
        roll = rng.random()
        live = [c for c in customer_ids[-400:] if c not in redacted] or [c for c in customer_ids if c not in redacted]
        try:
            if roll < 0.45 or not open_orders:
                if not live:
                    continue
                lines, gift = _lines(rng)
                test = rng.random() < 0.03
                codes = [{"code": "CHAOS5", "amount": "5.00", "type": "fixed_amount"}] if rng.random() < 0.1 else None
                order = store.create_order(shop, rng.choice(live), lines, shipping="5.00",
                                           tax=f"{rng.randint(0, 900) / 100:.2f}", discount_codes=codes, test=test)
                open_orders.append(int(order["id"]))
                stats.orders += 1
                stats.test_orders += int(test)
                stats.gift_card_orders += int(gift)
            elif roll < 0.60:
                order = store.get_order(shop, rng.choice(open_orders[-300:]))
                items = [li for li in order["line_items"] if li["current_quantity"] > 0]
                if order["cancelled_at"] or not items:
                    stats.refused += 1
                    continue
                li = rng.choice(items)
                shipping = "5.00" if rng.random() < 0.2 else "0.00"
                store.refund(shop, order["id"], [{"line_item_id": li["id"], "quantity": 1}], shipping=shipping)
                stats.refunds += 1
            elif roll < 0.67:
                oid = rng.choice(open_orders[-300:])
                store.cancel_order(shop, oid, reason=rng.choice(["customer", "fraud", "inventory"]))
                open_orders.remove(oid)
                stats.cancels += 1
            elif roll < 0.75:
                order = store.get_order(shop, rng.choice(open_orders[-300:]))
                items = [li for li in order["line_items"] if li["current_quantity"] > 0]
                if order["cancelled_at"] or not items:
                    stats.refused += 1
                    continue
                li = rng.choice(items)
                store.edit_order(shop, order["id"], remove_lines=[{"line_item_id": li["id"], "quantity": 1}])
                stats.edits += 1
            elif roll < 0.99 or len(live) < 10:
                if not live:
                    continue
                cid = rng.choice(live)
                store.update_customer(shop, cid, first_name=f"Renamed{rng.randint(0, 10**6)}")
                stats.updates += 1
            else:
                cid = rng.choice(live)
                store.redact_customer(shop, cid)
                redacted.add(cid)
                stats.redactions += 1
        except DevStoreError:
            stats.refused += 1
    for event in store.sender.queued:
        stats.counts[event.topic] = stats.counts.get(event.topic, 0) + 1
    return stats
