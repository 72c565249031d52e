"""The demo's shop: cleared before a run, and the figures the demo prints once it is seeded."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select

from app.extensions import db
from app.models import Member, Order, Tier, WebhookDelivery
from app.services import privacy


@dataclass(frozen=True)
class DemoFigures:
    processed: int  # webhook deliveries processed
    members: int
    orders: int
    ranked: list[Member]  # enrolled members, most points first
    tier_names: dict[int, str]


def reset_shop(domain: str) -> None:
    """Whatever an earlier run left of the shop goes (as shop/redact would). Commits."""
    privacy.redact_shop(domain)
    db.session.commit()


def figures() -> DemoFigures:
    processed = db.session.execute(select(func.count()).select_from(WebhookDelivery)
                                   .where(WebhookDelivery.status == "processed")).scalar_one()
    members = db.session.execute(select(func.count()).select_from(Member)).scalar_one()
    orders = db.session.execute(select(func.count()).select_from(Order)).scalar_one()
    ranked = list(db.session.execute(
        select(Member).where(Member.enrolled_at.is_not(None))
        .order_by(Member.points_available.desc(), Member.customer_id)).scalars())
    tier_names = {t.id: t.name for t in db.session.execute(select(Tier)).scalars()}
    return DemoFigures(int(processed), int(members), int(orders), ranked, tier_names)
