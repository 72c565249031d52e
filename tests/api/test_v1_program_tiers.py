"""PATCH /api/v1/program edits the tier ladder through the admin's one tier-writing path: a removed tier's
members move at once to the tier their value reaches, each move recorded as `tier_removed`."""
# ruff: noqa: F811  (pytest fixtures imported from tests.rewards_fixtures are parameters here)

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from app.extensions import db
from app.models import Member, OutboxEvent, Tier, TierChange, utcnow
from app.services import tiers
from tests.api.test_v1_public import api, assert_error  # noqa: F401 (the fixture)
from tests.rewards_fixtures import env, make_member, shop_of  # noqa: F401

pytestmark = pytest.mark.postgres


def _ladder(env: dict[str, Any]) -> dict[str, Tier]:
    rows = {}
    for name, threshold in (("Silver", "100"), ("Gold", "1000")):
        row = Tier(shop_id=env["shop_id"], name=name, handle=name.lower(), threshold=Decimal(threshold),
                   multiplier=Decimal(1), entry_bonus=0, position=0, created_at=utcnow(), updated_at=utcnow())
        db.session.add(row)
        rows[name] = row
    db.session.commit()
    return rows


def test_patch_removing_a_tier_records_tier_removed_for_each_member(env: dict[str, Any], api: Any) -> None:
    """Silver (100) and Gold (1000); two Silver members with 600 and 40 points. The PATCH keeps Gold and adds
    Bronze (50) in Silver's place: the 600-point member moves to Bronze, the 40-point one to no tier, both
    recorded as tier_removed with a tier_changed event, exactly as the admin's save records it."""
    ladder = _ladder(env)
    rich, poor = make_member(env, "rich@example.com", 600), make_member(env, "poor@example.com", 40)
    for m in (rich, poor):
        m.tier_id = ladder["Silver"].id
    db.session.commit()
    resp = api.patch("/api/v1/program", headers=api.bearer, json={"tiers": [
        {"name": "Bronze", "threshold": "50"}, {"id": ladder["Gold"].id, "name": "Gold", "threshold": "1000"}]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    names = [t["name"] for t in resp.get_json()["tiers"]]
    assert names == ["Bronze", "Gold"]
    db.session.expire_all()
    bronze = db.session.execute(select(Tier).where(Tier.name == "Bronze")).scalar_one()
    assert db.session.get(Member, rich.id).tier_id == bronze.id
    assert db.session.get(Member, poor.id).tier_id is None
    changes = {c.member_id: c for c in db.session.execute(select(TierChange)).scalars()}
    assert set(changes) == {rich.id, poor.id}
    assert all(c.reason.startswith("tier_removed") and c.from_name == "Silver" for c in changes.values())
    assert (changes[rich.id].to_name, changes[poor.id].to_name) == ("Bronze", None)
    events = db.session.execute(select(OutboxEvent).where(OutboxEvent.kind == "tier_changed")).scalars().all()
    assert sorted(e.member_id for e in events) == sorted([rich.id, poor.id])


def test_patch_and_admin_save_read_tiers_alike(env: dict[str, Any], api: Any) -> None:
    """One parser: the same bad ladder gets the same fields from both (the API prefixes `tiers.`); nothing saved."""
    ladder = _ladder(env)
    bad = [{"name": "A", "threshold": "10"}, {"name": "B", "threshold": "10"}, {"name": "", "threshold": "x"},
           {"id": 999_999, "name": "C", "threshold": "5"}, {"name": "D", "threshold": "1e13"}]
    err = assert_error(api.patch("/api/v1/program", headers=api.bearer, json={"tiers": bad}), 422)
    _, admin_errors = tiers.candidate_ladder(shop_of(env), bad)
    assert set(err["fields"]) == {f"tiers.{k}" for k in admin_errors}
    assert {"tiers.1.threshold", "tiers.2.name", "tiers.2.threshold", "tiers.3.id", "tiers.4.threshold"} <= set(
        err["fields"])
    db.session.expire_all()
    assert sorted(t.name for t in db.session.execute(select(Tier)).scalars()) == sorted(ladder)


def test_patch_can_swap_two_tier_names(env: dict[str, Any], api: Any) -> None:
    """Handles are unique per shop; a swap of names in one PATCH must not collide (it answered 500 before)."""
    ladder = _ladder(env)
    resp = api.patch("/api/v1/program", headers=api.bearer, json={"tiers": [
        {"id": ladder["Silver"].id, "name": "Gold"}, {"id": ladder["Gold"].id, "name": "Silver"}]})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert [(t["id"], t["name"], t["threshold"]) for t in resp.get_json()["tiers"]] == [
        (ladder["Silver"].id, "Gold", "100"), (ladder["Gold"].id, "Silver", "1000")]
