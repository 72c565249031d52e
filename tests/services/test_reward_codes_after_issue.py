"""Rewards and redemption 4 (loyalty-rules.md): an order that uses a reward code marks it used, and with
`refund_expired_codes` each unused expired code gives its own points back, once; a used code never does."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.loyalty import ledger as rules
from app.models import LedgerEntry, Member, Order, Redemption, utcnow
from app.services.ledger import balance_mismatches
from app.services.redemption import expire_codes, redeem
from app.services.reward_codes import mark_codes_used
from tests.rewards_fixtures import env, make_member, make_reward, shop_of  # noqa: F401


def test_each_unused_expired_code_refunds_its_own_points_once_and_a_used_one_never(env: dict[str, Any]) -> None:
    """2000 points, four 500-point codes: one used by a paid order (its code typed in lower case with
    spaces), three left to expire with refunds on. 500 stay spent, 1500 come back, one entry per code."""
    shop = shop_of(env)
    shop.settings = {**shop.settings, "refund_expired_codes": True}
    db.session.commit()
    member = make_member(env, "hal@example.com", 2000)
    reward = make_reward(env)
    used, *unused = [redeem(shop_of(env), db.session.get(Member, member.id), reward.id, idempotency_key=k)
                     for k in ("a", "b", "c", "d")]
    order = Order(shop_id=shop.id, order_id=12_000_000_000_000_002, customer_id=member.customer_id,
                  financial_status="paid", discount_codes=[{"code": f" {used.code.lower()} "}], paid_at=utcnow())
    db.session.add(order)
    db.session.flush()
    assert mark_codes_used(shop_of(env), order) == 1
    db.session.commit()
    later = utcnow() + timedelta(days=91)
    assert expire_codes(later) == 3
    assert expire_codes(later + timedelta(days=1)) == 0
    db.session.expire_all()
    statuses = {r.id: r.status for r in db.session.execute(select(Redemption)).scalars()}
    assert statuses == {used.id: "used", **{r.id: "refunded" for r in unused}}
    refunds = db.session.execute(select(LedgerEntry.points, LedgerEntry.idempotency_key)
                                 .where(LedgerEntry.kind == rules.CODE_REFUNDED)).all()
    assert sorted(refunds) == sorted((500, rules.code_refunded_key(r.code)) for r in unused)
    assert db.session.get(Member, member.id).points_available == 1500
    assert balance_mismatches() == []
