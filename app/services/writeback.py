"""Write-back to Shopify: points, tier and referral link as customer metafields and a tier tag, coalesced.

A change only sets `Member.sync_requested_at` (post_entry does it in the change's transaction). This job
reads each flagged member's state as it is now, so any number of changes become one write per customer,
batches the metafields (25 per metafieldsSet), and clears the flag only if nothing changed meanwhile.
When Shopify throttles or is down, the rest stays flagged and is retried on the next run: nothing is
dropped. The minute sweeper runs it too ("within a minute of a change").
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from app.extensions import db
from app.jobs.registry import sweep_hook
from app.loyalty.tiers import tier_handle, tier_tag
from app.models import Member, Shop, Tier, utcnow

log = logging.getLogger(__name__)

NAMESPACE = "regulars"
BATCH_MEMBERS = 200
METAFIELDS_PER_CALL = 25  # Shopify's metafieldsSet limit
TAG_PREFIX = "regulars-tier-"

_METAFIELDS_SET = (
    "mutation RegularsSync($metafields: [MetafieldsSetInput!]!) {"
    " metafieldsSet(metafields: $metafields) { metafields { id } userErrors { field message code elementIndex } } }"
)
_TAGS_ADD = "mutation RegularsTagAdd($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { userErrors { field message } } }"
_TAGS_REMOVE = (
    "mutation RegularsTagRemove($id: ID!, $tags: [String!]!) { tagsRemove(id: $id, tags: $tags) { userErrors { field message } } }"
)


class _Backoff(Exception):
    """Shopify throttled or is unreachable: stop this shop for this run, keep everything flagged."""


def request_sync() -> bool:
    """Queues a write-back run on the `sync` queue (in-process without Redis). Call after a commit."""
    from app.jobs import current_jobs

    return current_jobs().enqueue("sync", run_sync_job)


def run_sync_job() -> int:
    from app.jobs import job_context

    with job_context():
        return sync_due()


def _tier_tags(shop_id: int) -> tuple[dict[int, Tier], list[str]]:
    tiers = {t.id: t for t in db.session.execute(select(Tier).where(Tier.shop_id == shop_id)).scalars()}
    return tiers, [tier_tag(t.handle or tier_handle(t.name)) for t in tiers.values()]


def _call(shop: Shop, query: str, variables: dict[str, Any]) -> dict[str, Any]:
    from app.services.shops import admin_graphql
    from app.shopify.adapter import ShopifyUnavailable

    try:
        return admin_graphql(shop, query, variables)
    except ShopifyUnavailable as exc:  # ThrottledError included: back off, leave it pending
        raise _Backoff(str(exc)) from exc


def sync_due(limit: int = BATCH_MEMBERS) -> int:
    """Writes every flagged member (up to `limit`) to Shopify; returns how many were written. Commits."""
    from app.services.referrals import ensure_code, referral_url

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
    for shop_id, members in by_shop.items():
        shop = db.session.get(Shop, shop_id)
        if shop is None:
            continue
        tiers, all_tags = _tier_tags(shop_id)
        plans: list[tuple[Member, datetime, str | None]] = []
        for mid, requested in members:
            member = db.session.get(Member, mid)
            if member is None:
                continue
            ensure_code(member)
            tier = tiers.get(member.tier_id) if member.tier_id else None
            tag = tier_tag(tier.handle or tier_handle(tier.name)) if tier else None
            plans.append((member, requested, tag))
        db.session.commit()  # referral codes just given out
        try:
            written += _write_shop(shop, plans, tiers, all_tags, referral_url)
        except _Backoff as exc:
            log.info("write-back for %s paused: %s", shop.domain, exc)
            db.session.rollback()
    return written


def _write_shop(shop: Shop, plans: list[tuple[Member, datetime, str | None]], tiers: dict[int, Tier],
                all_tags: list[str], referral_url: Any) -> int:
    written = 0
    per_call = METAFIELDS_PER_CALL // 3
    for start in range(0, len(plans), per_call):
        chunk = plans[start:start + per_call]
        metafields: list[dict[str, Any]] = []
        for member, _requested, _tag in chunk:
            owner = f"gid://shopify/Customer/{member.customer_id}"
            tier = tiers.get(member.tier_id) if member.tier_id else None
            metafields += [
                {"ownerId": owner, "namespace": NAMESPACE, "key": "points", "type": "number_integer",
                 "value": str(int(member.points_available or 0))},
                {"ownerId": owner, "namespace": NAMESPACE, "key": "tier", "type": "single_line_text_field",
                 # Shopify refuses a blank value; "none" reads plainly in a theme.
                 "value": tier.name if tier else "none"},
                {"ownerId": owner, "namespace": NAMESPACE, "key": "referral_url", "type": "url",
                 "value": referral_url(shop, member)},
            ]
        result = _call(shop, _METAFIELDS_SET, {"metafields": metafields}).get("metafieldsSet") or {}
        failed_members: set[int] = set()
        for err in result.get("userErrors") or []:
            index = err.get("elementIndex")
            log.warning("metafieldsSet refused for %s: %s", shop.domain, err)
            if isinstance(index, int):
                failed_members.add(index // 3)
        if result.get("userErrors") and not result.get("metafields"):
            # metafieldsSet is all-or-nothing: write the good ones again without the refused customers.
            retry = [p for i, p in enumerate(chunk) if i not in failed_members]
            if retry and len(retry) < len(chunk):
                written += _write_shop(shop, retry, tiers, all_tags, referral_url)
            for i in failed_members:
                # A customer Shopify refuses (deleted, …) would block forever: mark it done, logged above.
                _mark_synced(chunk[i][0], chunk[i][1])
            db.session.commit()
            continue
        for member, requested, tag in chunk:
            _write_tags(shop, member, tag, all_tags)
            _mark_synced(member, requested)
            db.session.commit()
            written += 1
    return written


def _write_tags(shop: Shop, member: Member, tag: str | None, all_tags: list[str]) -> None:
    owner = f"gid://shopify/Customer/{member.customer_id}"
    stale = [t for t in all_tags if t != tag]
    if stale:
        _call(shop, _TAGS_REMOVE, {"id": owner, "tags": stale})
    if tag:
        _call(shop, _TAGS_ADD, {"id": owner, "tags": [tag]})


def _mark_synced(member: Member, requested: datetime) -> None:
    # Clears the flag only if no change arrived while writing; a newer change keeps it for the next run.
    db.session.execute(
        update(Member).where(Member.id == member.id, Member.sync_requested_at == requested)
        .values(sync_requested_at=None, synced_at=utcnow()).execution_options(synchronize_session=False)
    )


@sweep_hook("writeback")
def sweep() -> int:
    total = 0
    for _ in range(20):  # bounded, so one sweep never runs for long
        done = sync_due()
        total += done
        if done < BATCH_MEMBERS:
            break
    return total
