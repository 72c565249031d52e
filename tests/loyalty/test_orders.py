"""Order points: eligible amount, snapshots, target points and booking, from Shopify-shaped payloads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from app.loyalty.campaigns import CampaignEffect
from app.loyalty.order_knowledge import OrderEvent, OrderKnowledge, merge_all, merge_order_knowledge
from app.loyalty.orders import (
    RuleSnapshot,
    eligible_amount,
    order_points_change,
    take_rule_snapshot,
    target_points,
    why_no_points,
)
from app.loyalty.settings import ProgramSettings
from app.loyalty.tiers import Tier
from app.shopify.orders import order_state_from_payload, refund_from_payload

ORDER_ID = 5_000_000_000_000_123  # beyond 2^53, like real Shopify ids
CUSTOMER_ID = 7_000_000_000_000_001
LINE_ID = 13_000_000_000_000_001
GIFT_LINE_ID = 13_000_000_000_000_002
T0 = datetime(2025, 3, 1, 10, 0, tzinfo=UTC)
GOLD = Tier(id=3, name="Gold", handle="gold", threshold=Decimal(1000), multiplier=Decimal("1.5"))
DEFAULTS = ProgramSettings()


def money_set(amount: Decimal | str) -> dict[str, Any]:
    return {"shop_money": {"amount": str(amount), "currency_code": "EUR"},
            "presentment_money": {"amount": "999.99", "currency_code": "USD"}}


def refund_payload(refund_id: int, lines: list[tuple[int, int, Decimal, bool]], shipping: Decimal | None = None,
                   at: datetime = T0) -> dict[str, Any]:
    """A refunds/create payload; lines are (line_item_id, quantity, subtotal, gift_card)."""
    payload: dict[str, Any] = {
        "id": refund_id,
        "order_id": ORDER_ID,
        "created_at": at.isoformat(),
        "refund_line_items": [
            {"id": refund_id * 10 + i, "line_item_id": line_id, "quantity": qty,
             "subtotal": str(subtotal), "subtotal_set": money_set(subtotal),
             "total_tax": "0.00", "total_tax_set": money_set("0.00"),
             "line_item": {"id": line_id, "gift_card": gift}}
            for i, (line_id, qty, subtotal, gift) in enumerate(lines)
        ],
        "order_adjustments": [],
    }
    if shipping is not None:
        payload["order_adjustments"].append(
            {"id": refund_id + 1, "kind": "shipping_refund", "amount": str(-shipping),
             "amount_set": money_set(-shipping), "tax_amount": "0.00"})
    return payload


def order_payload(*, updated_at: datetime = T0, status: str = "paid", subtotal: Decimal | str = "59.90",
                  shipping: Decimal | str = "5.00", tax: Decimal | str = "0.00",
                  line_items: list[dict[str, Any]] | None = None, refunds: list[dict[str, Any]] | None = None,
                  cancelled: bool = False, test: bool = False) -> dict[str, Any]:
    return {
        "id": ORDER_ID,
        "email": "shopper@example.com",
        "customer": {"id": CUSTOMER_ID, "email": "shopper@example.com"},
        "financial_status": status,
        "cancelled_at": updated_at.isoformat() if cancelled else None,
        "test": test,
        "created_at": T0.isoformat(),
        "processed_at": T0.isoformat(),
        "updated_at": updated_at.isoformat(),
        "current_subtotal_price": str(subtotal),
        "current_subtotal_price_set": money_set(subtotal),
        "total_shipping_price_set": money_set(shipping),
        "current_total_tax": str(tax),
        "current_total_tax_set": money_set(tax),
        "line_items": line_items if line_items is not None else [
            {"id": LINE_ID, "gift_card": False, "price": str(subtotal), "price_set": money_set(subtotal),
             "quantity": 1}],
        "refunds": refunds or [],
        "discount_codes": [{"code": "FRIEND-ABC", "amount": "10.00", "type": "fixed_amount"}],
        "browser_ip": "203.0.113.9",
        "shipping_address": {"address1": "1 Main St", "city": "Cluj", "zip": "400000", "country_code": "RO"},
    }


def know(*payloads: dict[str, Any], refunds: tuple[dict[str, Any], ...] = ()) -> OrderKnowledge:
    events: list[OrderEvent] = [order_state_from_payload(p) for p in payloads]
    events += [refund_from_payload(r) for r in refunds]
    result = merge_all(events)
    assert result is not None
    return result


def gold_snapshot(settings: ProgramSettings = DEFAULTS) -> RuleSnapshot:
    return take_rule_snapshot(settings, GOLD, None, T0)


# --- the rule book's worked example ----------------------------------------------------------------


def test_rule_book_example_449_then_299_after_a_refund_of_20() -> None:
    paid = order_payload()
    assert target_points(know(paid), gold_snapshot()) == 449  # floor(59.90 × 5 × 1.5) = floor(449.25)

    refund = refund_payload(900_000_000_000_001, [(LINE_ID, 1, Decimal("20.00"), False)])
    updated = order_payload(updated_at=T0 + timedelta(minutes=5), status="partially_refunded",
                            subtotal="39.90", refunds=[refund])
    # floor(39.90 × 5 × 1.5) = floor(299.25): whether Shopify's orders/updated or refunds/create comes first
    assert target_points(know(paid, updated), gold_snapshot()) == 299
    assert target_points(know(paid, refunds=(refund,)), gold_snapshot()) == 299
    assert target_points(know(paid, updated, refunds=(refund,)), gold_snapshot()) == 299


def test_shipping_counts_only_when_the_shop_includes_it() -> None:
    with_shipping = ProgramSettings(include_shipping=True)
    assert eligible_amount(know(order_payload()), DEFAULTS) == Decimal("59.90")
    assert eligible_amount(know(order_payload()), with_shipping) == Decimal("64.90")
    assert target_points(know(order_payload()), gold_snapshot(with_shipping)) == 486  # floor(486.75)


def test_a_refund_of_shipping_only_changes_nothing_by_default() -> None:
    refund = refund_payload(900_000_000_000_002, [], shipping=Decimal("5.00"))
    updated = order_payload(updated_at=T0 + timedelta(minutes=5), status="partially_refunded", refunds=[refund])
    assert target_points(know(order_payload(), updated, refunds=(refund,)), gold_snapshot()) == 449
    # with shipping included, the refunded shipping no longer earns
    snap = gold_snapshot(ProgramSettings(include_shipping=True))
    assert target_points(know(order_payload()), snap) == 486
    assert target_points(know(order_payload(), updated, refunds=(refund,)), snap) == 449
    assert target_points(know(order_payload(), refunds=(refund,)), snap) == 449


def test_taxes_count_only_when_the_shop_includes_them() -> None:
    payload = order_payload(tax="11.38")
    assert eligible_amount(know(payload), DEFAULTS) == Decimal("59.90")
    assert eligible_amount(know(payload), ProgramSettings(include_taxes=True)) == Decimal("71.28")


def test_gift_card_lines_never_earn_even_after_partial_refunds() -> None:
    lines = [
        {"id": LINE_ID, "gift_card": False, "price": "40.00", "price_set": money_set("40.00"), "quantity": 1},
        {"id": GIFT_LINE_ID, "gift_card": True, "price": "25.00", "price_set": money_set("25.00"), "quantity": 2},
    ]
    paid = order_payload(subtotal="90.00", line_items=lines)
    assert eligible_amount(know(paid), DEFAULTS) == Decimal("40.00")
    # one gift card refunded: known only through refunds/create, then also through orders/updated
    refund = refund_payload(900_000_000_000_003, [(GIFT_LINE_ID, 1, Decimal("25.00"), True)])
    updated = order_payload(updated_at=T0 + timedelta(minutes=1), status="partially_refunded",
                            subtotal="65.00", line_items=lines, refunds=[refund])
    assert eligible_amount(know(paid, refunds=(refund,)), DEFAULTS) == Decimal("40.00")
    assert eligible_amount(know(paid, updated), DEFAULTS) == Decimal("40.00")
    assert eligible_amount(know(paid, updated, refunds=(refund,)), DEFAULTS) == Decimal("40.00")


def test_an_order_of_only_gift_cards_earns_nothing() -> None:
    lines = [{"id": GIFT_LINE_ID, "gift_card": True, "price": "50.00", "price_set": money_set("50.00"), "quantity": 1}]
    assert target_points(know(order_payload(subtotal="50.00", line_items=lines)), gold_snapshot()) == 0


@pytest.mark.parametrize("status", ["pending", "authorized", "partially_paid", "refunded", "voided"])
def test_only_paid_or_partially_refunded_orders_earn(status: str) -> None:
    assert target_points(know(order_payload(status=status)), gold_snapshot()) == 0


def test_partially_refunded_status_earns() -> None:
    assert target_points(know(order_payload(status="partially_refunded", subtotal="10.00")), gold_snapshot()) == 75


def test_a_cancelled_order_is_worth_zero_and_a_later_stale_payload_does_not_revive_it() -> None:
    paid = order_payload()
    cancelled = order_payload(updated_at=T0 + timedelta(hours=1), status="paid", cancelled=True)
    knowledge = know(paid, cancelled)
    assert target_points(knowledge, gold_snapshot()) == 0
    assert merge_order_knowledge(knowledge, order_state_from_payload(paid)) == knowledge


def test_test_orders_earn_only_when_the_shop_allows_them() -> None:
    test_order = know(order_payload(test=True))
    assert target_points(test_order, gold_snapshot()) == 0
    assert target_points(test_order, gold_snapshot(ProgramSettings(allow_test_orders=True))) == 449


def test_an_older_or_equal_payload_changes_nothing() -> None:
    newer = order_payload(updated_at=T0 + timedelta(hours=2), subtotal="30.00")
    older = order_payload(updated_at=T0 + timedelta(hours=1), subtotal="80.00")
    knowledge = know(newer)
    assert merge_order_knowledge(knowledge, order_state_from_payload(older)) is knowledge
    assert merge_order_knowledge(knowledge, order_state_from_payload(newer)) is knowledge
    assert eligible_amount(know(older, newer), DEFAULTS) == eligible_amount(know(newer, older), DEFAULTS) == Decimal("30.00")


def test_two_different_payloads_with_the_same_updated_at_resolve_the_same_way_in_any_order() -> None:
    a = order_payload(updated_at=T0 + timedelta(hours=1))
    b = order_payload(updated_at=T0 + timedelta(hours=1), cancelled=True)
    assert know(a, b) == know(b, a)
    assert target_points(know(a, b), gold_snapshot()) == 0  # the one further along (cancelled) wins


def test_the_same_refund_delivered_twice_is_counted_once() -> None:
    refund = refund_payload(900_000_000_000_004, [(LINE_ID, 1, Decimal("20.00"), False)])
    assert eligible_amount(know(order_payload(), refunds=(refund, refund)), DEFAULTS) == Decimal("39.90")


def test_refunds_before_the_order_is_known_are_kept_until_it_arrives() -> None:
    refund = refund_from_payload(refund_payload(900_000_000_000_005, [(LINE_ID, 1, Decimal("20.00"), False)]))
    knowledge = merge_order_knowledge(None, refund)
    assert eligible_amount(knowledge, DEFAULTS) == 0
    knowledge = merge_order_knowledge(knowledge, order_state_from_payload(order_payload()))
    assert eligible_amount(knowledge, DEFAULTS) == Decimal("39.90")


def test_events_of_another_order_are_refused() -> None:
    other = order_payload()
    other["id"] = ORDER_ID + 1
    with pytest.raises(ValueError):
        merge_order_knowledge(know(order_payload()), order_state_from_payload(other))


def test_eligible_amount_never_goes_below_zero() -> None:
    refund = refund_payload(900_000_000_000_006, [(LINE_ID, 1, Decimal("80.00"), False)])
    assert eligible_amount(know(order_payload(), refunds=(refund,)), DEFAULTS) == 0


def test_payload_parsing_keeps_big_ids_and_shop_currency() -> None:
    state = order_state_from_payload(order_payload())
    assert state.order_id == ORDER_ID and state.customer_id == CUSTOMER_ID
    assert state.subtotal == Decimal("59.90")  # shop_money, not the presentment 999.99
    assert state.discount_codes == ("FRIEND-ABC",)
    assert state.browser_ip == "203.0.113.9"
    assert state.paid_at == T0


def test_garbage_money_in_a_payload_is_refused() -> None:
    payload = order_payload()
    payload["current_subtotal_price_set"] = money_set("NaN")
    with pytest.raises(ValueError):
        order_state_from_payload(payload)


def test_knowledge_survives_a_json_round_trip() -> None:
    refund = refund_payload(900_000_000_000_007, [(LINE_ID, 1, Decimal("20.00"), False)], shipping=Decimal("5"))
    knowledge = know(order_payload(refunds=[refund]), refunds=(refund,))
    assert OrderKnowledge.from_dict(knowledge.to_dict()) == knowledge
    assert OrderKnowledge.from_dict(knowledge.to_dict()).version == knowledge.version


# --- snapshot --------------------------------------------------------------------------------------


def test_later_changes_use_the_snapshot_not_todays_rules() -> None:
    snapshot = take_rule_snapshot(DEFAULTS, GOLD, CampaignEffect(Decimal(2), 0, 42, ()), T0)
    stored = RuleSnapshot.from_dict(snapshot.to_dict())
    assert stored == snapshot
    # the shop has since dropped its rate to 1 and the member fell to no tier: the order keeps ×5 ×1.5 ×2
    refund = refund_payload(900_000_000_000_008, [(LINE_ID, 1, Decimal("20.00"), False)])
    assert target_points(know(order_payload(), refunds=(refund,)), stored) == 598  # floor(39.90 × 15)


def test_points_use_exact_decimal_arithmetic() -> None:
    snapshot = RuleSnapshot(rate=Decimal("3.3"), tier_multiplier=Decimal("1.1"))
    # 10.00 × 3.3 × 1.1 = 36.30 exactly; in float it is 36.29999… and would floor to 36
    assert target_points(know(order_payload(subtotal="10.00")), snapshot) == 36
    snapshot = RuleSnapshot(rate=Decimal(3), tier_multiplier=Decimal("1.1"))
    assert target_points(know(order_payload(subtotal="1.00")), snapshot) == 3  # 3.3 → 3


# --- booking a change ------------------------------------------------------------------------------


def test_new_points_are_pending_until_paid_at_plus_pending_days() -> None:
    change = order_points_change(449, 0, 0, T0 + timedelta(hours=1), T0, 14)
    assert (change.pending, change.available, change.kind) == (449, 0, "earn_order")
    assert change.release_at == T0 + timedelta(days=14)


def test_zero_pending_days_makes_points_available_at_once() -> None:
    change = order_points_change(449, 0, 0, T0, T0, 0)
    assert (change.pending, change.available, change.release_at) == (0, 449, None)


def test_an_increase_after_the_pending_period_is_available_at_once() -> None:
    change = order_points_change(500, 449, 0, T0 + timedelta(days=20), T0, 14)
    assert (change.pending, change.available) == (0, 51)


def test_a_reduction_takes_pending_points_first() -> None:
    change = order_points_change(299, 449, 449, T0 + timedelta(days=1), T0, 14)
    assert (change.pending, change.available, change.forgiven, change.kind) == (-150, 0, 0, "reverse_order")


def test_a_reduction_beyond_pending_takes_available_and_may_go_negative() -> None:
    change = order_points_change(0, 449, 100, T0, T0, 14, available_balance=50)
    assert (change.pending, change.available, change.forgiven) == (-100, -349, 0)
    assert change.balance_change == -449


def test_cap_at_zero_forgives_what_the_balance_cannot_cover() -> None:
    change = order_points_change(0, 449, 100, T0, T0, 14, reversal_policy="cap_at_zero", available_balance=50)
    assert (change.pending, change.available, change.forgiven) == (-100, -349, 299)
    assert change.balance_change == -150  # the pending 100 and the 50 available, no further
    assert change.delta == -449  # the order's own entries still reach its target of 0


def test_no_change_books_nothing() -> None:
    change = order_points_change(449, 449, 0, T0, T0, 14)
    assert change.delta == 0 and change.kind is None


# --- any delivery order gives the same result ------------------------------------------------------


@st.composite
def order_histories(draw: st.DrawFn) -> tuple[list[OrderEvent], Decimal]:
    """An order's webhooks in the order they happened, and its true eligible amount at the end."""
    price = draw(st.decimals(min_value=Decimal("0.50"), max_value=Decimal(200), places=2))
    quantity = draw(st.integers(1, 5))
    has_gift = draw(st.booleans())
    gift_price = Decimal("25.00")
    remaining, gift_remaining, edits = quantity, int(has_gift), Decimal(0)
    listed: list[dict[str, Any]] = []
    at = T0
    next_refund = 900_000_000_000_100

    def payload(cancelled: bool = False) -> dict[str, Any]:
        subtotal = remaining * price + edits + gift_remaining * gift_price
        status = "paid" if not listed else ("refunded" if subtotal == 0 else "partially_refunded")
        lines = [{"id": LINE_ID, "gift_card": False, "price": str(price), "price_set": money_set(price),
                  "quantity": quantity}]
        if has_gift:
            lines.append({"id": GIFT_LINE_ID, "gift_card": True, "price": "25.00",
                          "price_set": money_set(gift_price), "quantity": 1})
        return order_payload(updated_at=at, status=status, subtotal=subtotal, line_items=lines,
                             refunds=list(listed), cancelled=cancelled)

    events: list[OrderEvent] = [order_state_from_payload(payload())]
    for step in draw(st.lists(st.sampled_from(["refund", "refund_gift", "edit", "touch"]), max_size=6)):
        at += timedelta(minutes=draw(st.integers(1, 600)))
        if step == "refund" and remaining:
            k = draw(st.integers(1, remaining))
            refund = refund_payload(next_refund, [(LINE_ID, k, k * price, False)], at=at)
            remaining -= k
        elif step == "refund_gift" and gift_remaining:
            refund = refund_payload(next_refund, [(GIFT_LINE_ID, 1, gift_price, True)], at=at)
            gift_remaining = 0
        elif step == "edit":
            edits += draw(st.decimals(min_value=Decimal("0.01"), max_value=Decimal(50), places=2))
            events.append(order_state_from_payload(payload()))
            continue
        else:
            events.append(order_state_from_payload(payload()))
            continue
        next_refund += 1
        listed.append(refund)
        events.append(refund_from_payload(refund))
        events.append(order_state_from_payload(payload()))
    cancelled = draw(st.booleans())
    if cancelled:
        at += timedelta(minutes=1)
        events.append(order_state_from_payload(payload(cancelled=True)))
    fully_refunded = remaining * price + edits + gift_remaining * gift_price == 0 and bool(listed)
    truth = Decimal(0) if cancelled or fully_refunded else remaining * price + edits
    return events, truth


@settings(max_examples=300, deadline=None)
@given(history=order_histories(), data=st.data())
def test_any_permutation_with_duplicates_gives_the_in_order_result(
    history: tuple[list[OrderEvent], Decimal], data: st.DataObject
) -> None:
    events, truth = history
    snapshot = gold_snapshot()
    in_order = merge_all(events)
    assert eligible_amount(in_order, snapshot) == truth

    duplicates = data.draw(st.lists(st.sampled_from(events), max_size=len(events) + 2))
    delivered = data.draw(st.permutations(events + duplicates))
    shuffled = merge_all(delivered)
    assert shuffled == in_order
    assert shuffled is not None and in_order is not None and shuffled.version == in_order.version
    assert target_points(shuffled, snapshot) == target_points(in_order, snapshot)

    # booking each step's difference, as the service does, ends at the same points
    given_points, pending = 0, 0
    knowledge: OrderKnowledge | None = None
    for event in delivered:
        knowledge = merge_order_knowledge(knowledge, event)
        change = order_points_change(target_points(knowledge, snapshot), given_points, pending, T0, T0, 14)
        given_points += change.delta
        pending += change.pending
    assert given_points == target_points(in_order, snapshot)


def test_current_quantity_of_gift_cards_and_current_shipping_are_used_when_shopify_sends_them() -> None:
    lines = [
        {"id": LINE_ID, "gift_card": False, "price": "40.00", "price_set": money_set("40.00"), "quantity": 1,
         "current_quantity": 1},
        {"id": GIFT_LINE_ID, "gift_card": True, "price": "25.00", "price_set": money_set("25.00"), "quantity": 2,
         "current_quantity": 1},
    ]
    payload = order_payload(subtotal="65.00", line_items=lines, status="partially_refunded")
    payload["current_shipping_price_set"] = money_set("3.00")
    settings_ = ProgramSettings(include_shipping=True)
    assert eligible_amount(know(payload), settings_) == Decimal("43.00")  # 65 − one 25 gift card + 3 shipping
    # a shipping refund not yet in the payload comes off the current shipping
    refund = refund_payload(900_000_000_000_009, [], shipping=Decimal("3.00"))
    assert eligible_amount(know(payload, refunds=(refund,)), settings_) == Decimal("40.00")


def test_a_refund_known_early_is_not_subtracted_twice_once_the_payload_lists_it() -> None:
    first = refund_payload(900_000_000_000_010, [(LINE_ID, 1, Decimal("10.00"), False)])
    second = refund_payload(900_000_000_000_011, [(LINE_ID, 1, Decimal("5.00"), False)])
    # the payload lists the first refund (subtotal 49.90); refunds/create told us about both
    updated = order_payload(updated_at=T0 + timedelta(minutes=3), status="partially_refunded", subtotal="49.90",
                            refunds=[first])
    assert eligible_amount(know(order_payload(), updated, refunds=(first, second)), DEFAULTS) == Decimal("44.90")


# --- why an order earned nothing (what the order-status block tells the shopper) -------------------


def test_why_an_order_earned_nothing_names_the_first_reason_that_applies() -> None:
    gift = [{"id": GIFT_LINE_ID, "gift_card": True, "price": "50.00", "price_set": money_set("50.00"), "quantity": 1}]
    assert why_no_points(None, DEFAULTS) == "processing"
    assert why_no_points(know(order_payload(test=True)), DEFAULTS) == "test_order"
    assert why_no_points(know(order_payload(cancelled=True)), DEFAULTS) == "cancelled"
    assert why_no_points(know(order_payload(status="voided")), DEFAULTS) == "cancelled"
    assert why_no_points(know(order_payload(status="refunded")), DEFAULTS) == "refunded"
    assert why_no_points(know(order_payload(status="pending")), DEFAULTS) == "not_paid"
    assert why_no_points(know(order_payload(subtotal="50.00", line_items=gift)), DEFAULTS) == "gift_card"
    assert why_no_points(know(order_payload(subtotal="0.00")), DEFAULTS) == "nothing_eligible"
    # A test order the shop lets earn is not "a test order" to the shopper: it is judged like any other.
    assert why_no_points(know(order_payload(test=True, status="refunded")),
                         ProgramSettings(allow_test_orders=True)) == "refunded"
