"""Write-back to Shopify: points, pending points, tier, tier progress and referral link as the app's own
customer metafields (`$app:…`, declared in shopify.app.toml), and a tier tag, coalesced.

A change only sets `Member.sync_requested_at` (post_entry does it in the change's transaction). This job
reads each flagged member's state as it is now, so any number of changes become one write per customer,
batches the metafields (25 per metafieldsSet), and clears the flag only if nothing changed meanwhile.
When Shopify throttles or is down, the rest stays flagged and is retried on the next run: nothing is
dropped. The minute sweeper runs it too ("within a minute of a change").

Members written before the app-owned metafields (`Member.legacy_metafields`, set by migration 0013, which
also flags them) get their old merchant-owned `regulars.*` values deleted in the same run, once; that
namespace is never written again. The GraphQL documents and their answers are app/shopify/metafields.py's.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from app.extensions import db
from app.loyalty.tiers import tier_handle, tier_tag
from app.models import Member, Shop, Tier, utcnow
from app.services.catalogue import catalogue_for
from app.services.member_view import tier_standing
from app.services.referrals import referral_url
from app.services.shops import admin_graphql
from app.shopify import metafields as wire
from app.shopify.adapter import ShopifyUnavailable

log = logging.getLogger(__name__)

BATCH_MEMBERS = 200


class _Backoff(Exception):
    """Shopify throttled or is unreachable: stop this shop for this run, keep everything flagged."""


@dataclass
class _Plan:
    member: Member
    requested: datetime
    tag: str | None
    fields: wire.MemberFields


def _tier_tags(shop_id: int) -> tuple[dict[int, Tier], list[str]]:
    tiers = {t.id: t for t in db.session.execute(select(Tier).where(Tier.shop_id == shop_id)).scalars()}
    return tiers, [tier_tag(t.handle or tier_handle(t.name)) for t in tiers.values()]


def _call(shop: Shop, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    try:
        return admin_graphql(shop, query, variables)
    except ShopifyUnavailable as exc:  # ThrottledError included: back off, leave it pending
        raise _Backoff(str(exc)) from exc


def sync_due(limit: int = BATCH_MEMBERS) -> int:
    """Writes every flagged member (up to `limit`) to Shopify; returns how many were written. Commits."""
    rows = db.session.execute(
        select(Member.id, Member.shop_id, Member.sync_requested_at)
        .join(Shop, Shop.id == Member.shop_id)
        .where(Member.sync_requested_at.is_not(None), Shop.uninstalled_at.is_(None), Shop.access_token.is_not(None),
               Member.redacted_at.is_(None), Member.deleted_at.is_(None))
        .order_by(Member.sync_requested_at).limit(limit)
    ).all()
    by_shop: dict[int, list[tuple[int, datetime]]] = {}
    for mid, sid, requested in rows:
        assert requested is not None  # selected on it
        by_shop.setdefault(sid, []).append((mid, requested))
    written = 0
    now = utcnow()
    for shop_id, members in by_shop.items():
        shop = db.session.get(Shop, shop_id)
        if shop is None:
            continue
        tiers, all_tags = _tier_tags(shop_id)
        cat = catalogue_for(shop, None)
        plans: list[_Plan] = []
        for mid, requested in members:
            member = db.session.get(Member, mid)
            if member is None:
                continue
            tier = tiers.get(member.tier_id) if member.tier_id else None
            standing = tier_standing(member, cat.settings, cat.tiers, now)
            fields = wire.MemberFields(
                customer_id=member.customer_id, points=int(member.points_available or 0),
                pending_points=int(member.points_pending or 0), tier=tier.name if tier else None,
                tier_progress=standing.ladder_percent,
                referral_url=referral_url(shop, member),  # gives out a code to a member without one
            )
            plans.append(_Plan(member, requested, tier_tag(tier.handle or tier_handle(tier.name)) if tier else None,
                               fields))
        db.session.commit()  # referral codes just given out
        try:
            written += _write_shop(shop, plans, all_tags)
        except _Backoff as exc:
            log.info("write-back for %s paused: %s", shop.domain, exc)
            db.session.rollback()
    return written


def _write_shop(shop: Shop, plans: list[_Plan], all_tags: list[str]) -> int:
    written = 0
    for start in range(0, len(plans), wire.MEMBERS_PER_CALL):
        chunk = plans[start:start + wire.MEMBERS_PER_CALL]
        outcome = wire.parse_set(_call(shop, wire.METAFIELDS_SET,
                                       {"metafields": wire.set_inputs(p.fields for p in chunk)}))
        for err in outcome.errors:
            log.warning("metafieldsSet refused for %s: %s", shop.domain, err)
        if not outcome.ok:
            # metafieldsSet is all-or-nothing: write the good ones again without the refused customers.
            retry = [p for i, p in enumerate(chunk) if i not in outcome.refused_members]
            if retry and len(retry) < len(chunk):
                written += _write_shop(shop, retry, all_tags)
            for i in outcome.refused_members:
                # A customer Shopify refuses (deleted, …) would block forever: mark it done, logged above.
                _mark_synced(chunk[i].member, chunk[i].requested)
            db.session.commit()
            continue
        _delete_legacy(shop, [p.member for p in chunk if p.member.legacy_metafields])
        for plan in chunk:
            _write_tags(shop, plan.member, plan.tag, all_tags)
            _mark_synced(plan.member, plan.requested)
            db.session.commit()
            written += 1
    return written


def _delete_legacy(shop: Shop, members: list[Member]) -> None:
    """The old merchant-owned `regulars.*` values of these members, deleted once (the $app ones are written)."""
    if not members:
        return
    errors = wire.parse_delete(_call(shop, wire.METAFIELDS_DELETE,
                                     {"metafields": wire.legacy_identifiers(m.customer_id for m in members)}))
    if errors:
        # Left flagged: the next write-back of these members tries again.
        log.warning("metafieldsDelete refused for %s: %s", shop.domain, errors)
        return
    db.session.execute(
        update(Member).where(Member.id.in_([m.id for m in members]))
        .values(legacy_metafields=False).execution_options(synchronize_session=False)
    )


def _write_tags(shop: Shop, member: Member, tag: str | None, all_tags: list[str]) -> None:
    owner = wire.customer_gid(member.customer_id)
    stale = [t for t in all_tags if t != tag]
    if stale:
        _call(shop, wire.TAGS_REMOVE, {"id": owner, "tags": stale})
    if tag:
        _call(shop, wire.TAGS_ADD, {"id": owner, "tags": [tag]})


def _mark_synced(member: Member, requested: datetime) -> None:
    # Clears the flag only if no change arrived while writing; a newer change keeps it for the next run.
    db.session.execute(
        update(Member).where(Member.id == member.id, Member.sync_requested_at == requested)
        .values(sync_requested_at=None, synced_at=utcnow()).execution_options(synchronize_session=False)
    )


def sweep() -> int:
    """The minute sweeper's part (app.jobs.webhooks names it): every flagged member, in bounded runs."""
    total = 0
    for _ in range(20):  # bounded, so one sweep never runs for long
        done = sync_due()
        total += done
        if done < BATCH_MEMBERS:
            break
    return total
