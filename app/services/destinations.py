"""How one claimed delivery is sent to its destination: a signed POST to a merchant's endpoint, Klaviyo's
profile import and event, or Shopify Flow's flowTriggerReceive; and what its answer means for the relay
(delivered, retry later, skipped, dead). The relay (app/services/relay.py) claims, orders and records."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from app.extensions import db
from app.klaviyo import METRICS, Sent, current_klaviyo, event_body, profile_body
from app.loyalty.expiry import expiry_date
from app.models import Member, OutboxEvent, Shop, ShopIntegration, Tier, WebhookEndpoint
from app.services.events import event_document
from app.services.program import settings_for
from app.services.referrals import referral_url
from app.services.shops import ShopNotInstalled, admin_graphql
from app.shopify import GraphQLError, ShopifyUnavailable
from app.shopify.flow import FLOW_TRIGGER_RECEIVE, parse_trigger_answer, trigger_handle, trigger_payload
from app.signed_webhooks import WebhookPoster, body_of, headers_for

# Klaviyo gets the events its merchants build flows on (the names Smile and LoyaltyLion sync) as events;
# every other change of a member only refreshes the profile's loyalty properties.
KLAVIYO_EVENTS = frozenset(METRICS)


@dataclass(frozen=True)
class Claimed:
    id: int
    shop_id: int
    event_id: int
    member_id: int | None
    destination: str
    attempts: int


@dataclass
class Job:
    delivery_id: int
    destination: str
    member_id: int | None
    attempts: int
    event: dict[str, Any]
    shop: Shop
    send: Callable[[], Outcome] | None = None


@dataclass(frozen=True)
class Outcome:
    status: str  # delivered | retry | skipped | dead
    http_status: int | None = None
    error: str | None = None
    retry_after: float | None = None
    counts: bool = True  # a client-side rate-limit wait is not an attempt


def _klaviyo_properties(shop: Shop, member: Member, tiers: dict[int, str], settings: Any) -> dict[str, Any]:

    props: dict[str, Any] = {
        "Loyalty Points": int(member.points_available or 0), "Loyalty Points Pending": int(member.points_pending or 0),
        "Loyalty Tier": tiers.get(member.tier_id or 0) or "",
        "Loyalty Referral URL": referral_url(shop, member) if member.referral_code else "",
    }
    last = member.last_activity_at or member.enrolled_at or member.created_at
    if settings.expiry_mode == "inactivity" and last is not None and (member.points_available or 0) > 0:
        props["Loyalty Points Expiring"] = int(member.points_available or 0)
        props["Loyalty Points Expire On"] = expiry_date(last, settings.expiry_days).date().isoformat()
    return props


def prepare(rows: list[Claimed], poster: WebhookPoster) -> list[Job]:

    # Core rows (attribute access like the models) for the bulk of the batch: ORM objects cost ≈ 10× more.
    events = {e.id: e for e in db.session.execute(
        select(OutboxEvent.id, OutboxEvent.kind, OutboxEvent.payload, OutboxEvent.created_at)
        .where(OutboxEvent.id.in_({r.event_id for r in rows})))}
    member_ids = {r.member_id for r in rows if r.member_id is not None}
    customers = dict(db.session.execute(select(Member.id, Member.customer_id).where(Member.id.in_(member_ids))).all()) \
        if member_ids else {}
    klaviyo_members = {r.member_id for r in rows if r.destination == "klaviyo" and r.member_id is not None}
    members = {m.id: m for m in db.session.execute(select(Member).where(Member.id.in_(klaviyo_members))).scalars()} \
        if klaviyo_members else {}
    shops = {s.id: s for s in db.session.execute(select(Shop).where(Shop.id.in_({r.shop_id for r in rows}))).scalars()}
    endpoint_ids = [int(r.destination.split(":", 1)[1]) for r in rows if r.destination.startswith("webhook:")]
    endpoints = {e.id: e for e in db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.id.in_(endpoint_ids))).scalars()} if endpoint_ids else {}
    integrations = {i.shop_id: i for i in db.session.execute(
        select(ShopIntegration).where(ShopIntegration.shop_id.in_(list(shops)))).scalars()}
    tiers: dict[int, str] = {}
    settings: dict[int, Any] = {}
    jobs: list[Job] = []
    for r in rows:
        event, shop = events.get(r.event_id), shops.get(r.shop_id)
        if event is None or shop is None:
            continue
        member = members.get(r.member_id) if r.member_id is not None else None
        doc = event_document(event, shop.domain, customers.get(r.member_id) if r.member_id is not None else None)
        job = Job(r.id, r.destination, r.member_id, r.attempts, doc, shop)
        if r.destination.startswith("webhook:"):
            ep = endpoints.get(int(r.destination.split(":", 1)[1]))
            if ep is None or ep.deleted_at is not None:
                job.send = lambda: Outcome("skipped", error="endpoint removed")
            else:
                body = body_of(doc)
                url, headers = ep.url, headers_for(doc, ep.secret, body)
                job.send = lambda url=url, body=body, headers=headers: _webhook_outcome(poster.post(url, body, headers))
        elif r.destination == "klaviyo":
            integration = integrations.get(shop.id)
            key = integration.klaviyo_private_key if integration and integration.klaviyo_enabled else None
            if not key:
                job.send = lambda: Outcome("skipped", error="Klaviyo is not connected")
            elif member is None or (not member.email and not member.customer_id):
                job.send = lambda: Outcome("skipped", error="no profile to attach the event to")
            else:
                if shop.id not in settings:
                    settings[shop.id] = settings_for(shop)
                    tiers.update({t.id: t.name for t in db.session.execute(
                        select(Tier).where(Tier.shop_id == shop.id)).scalars()})
                person = {"customer_id": member.customer_id, "email": member.email,
                          "first_name": member.first_name, "last_name": member.last_name}
                props = _klaviyo_properties(shop, member, tiers, settings[shop.id])
                job.send = lambda key=key, doc=doc, person=person, props=props: _klaviyo_send(key, doc, person, props)
        elif r.destination != "flow":
            job.send = lambda: Outcome("dead", error="unknown destination")
        jobs.append(job)
    return jobs


def _webhook_outcome(result: Any) -> Outcome:
    if result.ok:
        return Outcome("delivered", result.status)
    if result.permanent:
        return Outcome("dead", None, result.error)
    return Outcome("retry", result.status or None, result.error)


def _klaviyo_outcome(sent: Sent) -> Outcome:
    if sent.ok:
        return Outcome("delivered", sent.status)
    if sent.permanent:
        return Outcome("dead", sent.status, sent.error)
    return Outcome("retry", sent.status or None, sent.error, sent.retry_after, counts=sent.error != "rate limit (client side)")


def _klaviyo_send(key: str, doc: dict[str, Any], person: dict[str, Any], props: dict[str, Any]) -> Outcome:
    client = current_klaviyo()
    # Profile properties first (Profiles API), then the event (Events API; its profile is matched by id).
    profile = client.import_profile(key, profile_body(person, props))
    if not profile.ok or doc["type"] not in KLAVIYO_EVENTS:
        return _klaviyo_outcome(profile)
    return _klaviyo_outcome(client.create_event(key, event_body(doc, person, props)))


def flow_send(job: Job) -> Outcome:

    handle = trigger_handle(job.event["type"], job.event.get("data") or {})
    if handle is None:
        return Outcome("skipped", error="no Flow trigger for this event type")
    try:
        data = admin_graphql(job.shop, FLOW_TRIGGER_RECEIVE, {"handle": handle, "payload": trigger_payload(job.event)})
    except ShopNotInstalled as exc:
        return Outcome("skipped", error=str(exc))
    except ShopifyUnavailable as exc:
        return Outcome("retry", error=str(exc))
    except GraphQLError as exc:
        return Outcome("retry", exc.status, f"{exc}: {exc.errors}"[:500])
    answer = parse_trigger_answer(data)
    if answer.ok:
        return Outcome("delivered", 200)
    # Flow refused the payload (unknown handle, a field it does not declare): the same call would fail again.
    return Outcome("dead", 200, "; ".join(answer.errors)[:500])


POSTERS: dict[bool, WebhookPoster] = {}


def default_poster() -> WebhookPoster:
    allow_private = current_app.config["REGULARS"].env == "development"
    found = POSTERS.get(allow_private)
    if found is None:
        found = POSTERS[allow_private] = WebhookPoster(allow_private=allow_private)
    return found


