"""Events out (contract.md): outbox rows as the public event document, the pull feed, merchants' webhook
endpoints, per-shop destination settings, and the delivery log with its replay. Commits."""

from __future__ import annotations

import ipaddress
import secrets
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import func, select, update

from app.extensions import db
from app.models import EventDelivery, Member, OutboxEvent, Shop, ShopIntegration, WebhookEndpoint, utcnow

# Outbox kinds → public event types. Kinds not listed become "<first word>.<rest>" (points_adjusted → points.adjusted).
EVENT_TYPES: dict[str, str] = {
    "points_earned": "points.earned",
    "points_reversed": "points.reversed",
    "pending_released": "points.available",
    "points_adjusted": "points.adjusted",
    "reward_redeemed": "points.redeemed",
    "reward_code_issued": "reward.code_issued",
    "redemption_failed": "reward.failed",
    "code_used": "reward.code_used",
    "code_refunded": "reward.code_refunded",
    "tier_changed": "tier.changed",
    "referral_completed": "referral.completed",
    "referral_withdrawn": "referral.withdrawn",
    "referral_blocked": "referral.blocked",
    "referral_flagged": "referral.flagged",
    "points_expiring": "points.expiring",
    "points_expired": "points.expired",
    "automation_step": "automation.step",
}
PUBLIC_TYPES = tuple(sorted(set(EVENT_TYPES.values())))
FEED_DEFAULT, FEED_MAX = 100, 1000
MAX_ENDPOINTS = 20


# Set on the session when outbox rows were written without the ORM (INSERT … SELECT): the commit then
# asks for a relay run like any other (app/jobs/events.py listens for it).
OUTBOX_WRITTEN = "regulars_outbox_written"


def note_outbox_written() -> None:
    db.session.info[OUTBOX_WRITTEN] = True


class EventsInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class EventsNotFound(LookupError):
    pass


def event_type(kind: str) -> str:
    if kind in EVENT_TYPES:
        return EVENT_TYPES[kind]
    head, _, rest = kind.partition("_")
    return f"{head}.{rest}" if rest else kind


def _time(value: datetime) -> str:
    return value.isoformat().replace("+00:00", "Z")


def event_document(event: Any, shop_domain: str, customer_id: int | None) -> dict[str, Any]:
    """`{"id", "type", "shop", "occurred_at", "customer_id"?, "data"}`; the id is stable (the outbox row's).
    `event` is an OutboxEvent or a row with its id, kind, payload and created_at."""
    doc: dict[str, Any] = {"id": str(event.id), "type": event_type(event.kind), "shop": shop_domain,
                           "occurred_at": _time(event.created_at)}
    if customer_id is not None:
        doc["customer_id"] = str(customer_id)
    doc["data"] = dict(event.payload or {})
    return doc


def documents(rows: Iterable[tuple[OutboxEvent, int | None]], shop_domain: str) -> list[dict[str, Any]]:
    return [event_document(e, shop_domain, cid) for e, cid in rows]


def feed(shop: Shop, after: int | None, limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """The shop's events after the given id, oldest first; `next` is the last id when more may follow."""
    limit = max(1, min(FEED_MAX, limit))
    q = (select(OutboxEvent, Member.customer_id).outerjoin(Member, Member.id == OutboxEvent.member_id)
         .where(OutboxEvent.shop_id == shop.id).order_by(OutboxEvent.id).limit(limit))
    if after is not None:
        q = q.where(OutboxEvent.id > after)
    rows = [(e, cid) for e, cid in db.session.execute(q).all()]
    docs = documents(rows, shop.domain)
    return docs, (docs[-1]["id"] if len(docs) == limit else None)


# ------------------------------------------------------------------------------------ endpoints


def check_endpoint_url(url: Any, development: bool) -> str | None:
    """Why the URL cannot receive events, or None. Production: https:// to a public host only;
    development also accepts http://127.0.0.1 and http://localhost (the demo's and tests' receivers)."""
    if not isinstance(url, str) or not url.strip() or len(url) > 2048:
        return "must be a URL of at most 2048 characters"
    try:
        parts = urlsplit(url.strip())
        host = (parts.hostname or "").lower()
        _ = parts.port
    except ValueError:
        return "is not a valid URL"
    if parts.username or parts.password:
        return "must not carry a user name or password"
    if development and parts.scheme in ("http", "https") and host in ("127.0.0.1", "localhost"):
        return None
    if parts.scheme != "https":
        return "must be an https:// URL" + ("" if not development else " (or http://127.0.0.1 / http://localhost)")
    if not host:
        return "must name a host"
    try:
        ip = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        ip = None
    if ip is not None:
        return None if ip.is_global else "must be a public host"
    if "." not in host or host.endswith((".local", ".localhost", ".internal", ".lan", ".home", ".localdomain")):
        return "must be a public host"
    return None


def _parse_types(raw: Any, errors: dict[str, str]) -> list[str]:
    if raw is None:
        return []
    if not isinstance(raw, list) or any(not isinstance(t, str) for t in raw) or len(raw) > 50:
        errors["events"] = "must be a list of event types"
        return []
    unknown = [t for t in raw if t not in PUBLIC_TYPES]
    if unknown:
        errors["events"] = f"unknown event type {unknown[0]!r}; known: {', '.join(PUBLIC_TYPES)}"
        return []
    return sorted(set(raw))


def endpoint_document(ep: WebhookEndpoint, *, with_secret: bool = False) -> dict[str, Any]:
    doc: dict[str, Any] = {"id": str(ep.id), "url": ep.url, "events": list(ep.events or []),
                           "created_at": _time(ep.created_at)}
    if with_secret:
        doc["secret"] = ep.secret
    return doc


def create_endpoint(shop: Shop, data: Mapping[str, Any], *, development: bool, now: datetime | None = None) -> WebhookEndpoint:
    errors: dict[str, str] = {}
    unknown = set(data) - {"url", "events"}
    if unknown:
        errors[sorted(unknown)[0]] = "unknown field"
    why = check_endpoint_url(data.get("url"), development)
    if why:
        errors["url"] = why
    types = _parse_types(data.get("events"), errors)
    if errors:
        raise EventsInvalid(errors)
    if len(list_endpoints(shop)) >= MAX_ENDPOINTS:
        raise EventsInvalid({"url": f"a shop may have at most {MAX_ENDPOINTS} endpoints"})
    ep = WebhookEndpoint(shop_id=shop.id, url=str(data["url"]).strip(), events=types,
                         secret="whsec_" + secrets.token_urlsafe(32), created_at=now or utcnow())
    db.session.add(ep)
    db.session.commit()
    return ep


def list_endpoints(shop: Shop) -> list[WebhookEndpoint]:
    return list(db.session.execute(
        select(WebhookEndpoint).where(WebhookEndpoint.shop_id == shop.id, WebhookEndpoint.deleted_at.is_(None))
        .order_by(WebhookEndpoint.id)).scalars())


def delete_endpoint(shop: Shop, endpoint_id: int, now: datetime | None = None) -> None:
    ep = db.session.get(WebhookEndpoint, endpoint_id)
    if ep is None or ep.shop_id != shop.id or ep.deleted_at is not None:
        raise EventsNotFound("no such webhook endpoint")
    ep.deleted_at = now or utcnow()
    # Deliveries still waiting for it have nowhere to go.
    db.session.execute(update(EventDelivery).where(
        EventDelivery.destination == f"webhook:{ep.id}", EventDelivery.status == "pending")
        .values(status="skipped", last_error="endpoint removed").execution_options(synchronize_session=False))
    db.session.commit()


# ------------------------------------------------------------------------------------ integrations


def integration_of(shop_id: int) -> ShopIntegration | None:
    return db.session.get(ShopIntegration, shop_id)


def _integration_row(shop: Shop) -> ShopIntegration:
    row = db.session.get(ShopIntegration, shop.id)
    if row is None:
        row = ShopIntegration(shop_id=shop.id, flow_enabled=False, klaviyo_enabled=False, flow_triggers={},
                              updated_at=utcnow())
        db.session.add(row)
    return row


def integration_document(shop: Shop) -> dict[str, Any]:
    row = integration_of(shop.id)
    key = row.klaviyo_private_key if row else None
    in_use = sorted(h for h, on in ((row.flow_triggers or {}) if row else {}).items() if on)
    return {
        "flow": {"enabled": bool(row and row.flow_enabled), "triggers_in_use": in_use},
        "klaviyo": {"enabled": bool(row and row.klaviyo_enabled and key),
                    "key_set": bool(key), "key_hint": (key[:6] + "…") if key else None},
    }


def update_integrations(shop: Shop, data: Mapping[str, Any]) -> dict[str, Any]:
    """{"flow": {"enabled"}, "klaviyo": {"enabled", "private_key"}} (any subset). Commits."""
    errors: dict[str, str] = {}
    unknown = set(data) - {"flow", "klaviyo"}
    if unknown:
        errors[sorted(unknown)[0]] = "unknown field"
    flow = data.get("flow", {})
    klaviyo = data.get("klaviyo", {})
    if not isinstance(flow, Mapping) or set(flow) - {"enabled"}:
        errors["flow"] = "must be an object with enabled"
    elif "enabled" in flow and not isinstance(flow["enabled"], bool):
        errors["flow.enabled"] = "must be true or false"
    if not isinstance(klaviyo, Mapping) or set(klaviyo) - {"enabled", "private_key"}:
        errors["klaviyo"] = "must be an object with enabled and/or private_key"
    else:
        if "enabled" in klaviyo and not isinstance(klaviyo["enabled"], bool):
            errors["klaviyo.enabled"] = "must be true or false"
        key = klaviyo.get("private_key")
        if "private_key" in klaviyo and key is not None and (
                not isinstance(key, str) or not key.strip().startswith("pk_") or not 10 <= len(key.strip()) <= 128):
            errors["klaviyo.private_key"] = "must be a Klaviyo private API key (pk_…), or null to remove it"
    if errors:
        raise EventsInvalid(errors)
    row = _integration_row(shop)
    if isinstance(flow, Mapping) and "enabled" in flow:
        row.flow_enabled = flow["enabled"]
    if isinstance(klaviyo, Mapping):
        if "private_key" in klaviyo:
            row.klaviyo_private_key = klaviyo["private_key"].strip() if klaviyo["private_key"] else None
            if row.klaviyo_private_key and "enabled" not in klaviyo:
                row.klaviyo_enabled = True
        if "enabled" in klaviyo:
            row.klaviyo_enabled = klaviyo["enabled"]
    row.updated_at = utcnow()
    db.session.commit()
    return integration_document(shop)


def record_flow_lifecycle(shop: Shop, handle: str, has_enabled_flow: bool) -> None:
    """Flow's trigger lifecycle callback: whether a workflow of this shop starts with that trigger. Triggers
    go only where one does (or everywhere, when the merchant turned Flow on for every trigger). Commits."""
    row = _integration_row(shop)
    triggers = dict(row.flow_triggers or {})
    triggers[handle[:64]] = bool(has_enabled_flow)
    row.flow_triggers = triggers
    row.updated_at = utcnow()
    db.session.commit()


# ------------------------------------------------------------------------------------ delivery log


@dataclass(frozen=True)
class DeliveryRow:
    delivery: EventDelivery
    event_type: str
    customer_id: int | None


def delivery_document(row: DeliveryRow) -> dict[str, Any]:
    d = row.delivery
    return {"id": str(d.id), "event_id": str(d.event_id), "event_type": row.event_type, "destination": d.destination,
            "customer_id": str(row.customer_id) if row.customer_id is not None else None, "status": d.status,
            "attempts": d.attempts, "last_error": d.last_error, "last_status": d.last_status,
            "next_attempt_at": _time(d.next_attempt_at) if d.status == "pending" else None,
            "delivered_at": _time(d.delivered_at) if d.delivered_at else None, "created_at": _time(d.created_at)}


def list_deliveries(shop: Shop, *, destination: str | None = None, status: str | None = None,
                    before: int | None = None, limit: int = 50) -> list[DeliveryRow]:
    q = (select(EventDelivery, OutboxEvent.kind, Member.customer_id)
         .join(OutboxEvent, OutboxEvent.id == EventDelivery.event_id)
         .outerjoin(Member, Member.id == EventDelivery.member_id)
         .where(EventDelivery.shop_id == shop.id).order_by(EventDelivery.id.desc()).limit(max(1, min(limit, 500))))
    if destination:
        q = q.where(EventDelivery.destination == destination)
    if status:
        q = q.where(EventDelivery.status == status)
    if before is not None:
        q = q.where(EventDelivery.id < before)
    return [DeliveryRow(d, event_type(kind), cid) for d, kind, cid in db.session.execute(q).all()]


def delivery_counts(shop: Shop) -> dict[str, dict[str, int]]:
    out: dict[str, dict[str, int]] = {}
    for dest, status, n in db.session.execute(
            select(EventDelivery.destination, EventDelivery.status, func.count())
            .where(EventDelivery.shop_id == shop.id).group_by(EventDelivery.destination, EventDelivery.status)):
        out.setdefault(dest, {})[status] = int(n)
    return out


def replay_deliveries(shop: Shop, ids: Iterable[int] = (), *, dead: bool = False, destination: str | None = None,
                      now: datetime | None = None) -> int:
    """Dead (or skipped) deliveries back to pending, due now, attempts from zero. Commits; returns how many."""
    now = now or utcnow()
    q = update(EventDelivery).where(EventDelivery.shop_id == shop.id, EventDelivery.status.in_(("dead", "skipped")))
    id_list = [int(i) for i in ids]
    if id_list:
        q = q.where(EventDelivery.id.in_(id_list))
    elif dead:
        q = q.where(EventDelivery.status == "dead")
    else:
        return 0
    if destination:
        q = q.where(EventDelivery.destination == destination)
    result: Any = db.session.execute(q.values(status="pending", attempts=0, next_attempt_at=now, updated_at=now)
                                      .execution_options(synchronize_session=False))
    n = result.rowcount
    if n:
        note_outbox_written()  # the commit asks for a relay run, as new events do
    db.session.commit()
    return int(n or 0)
