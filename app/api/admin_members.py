"""Admin routes about people and history: members, adjustments, referrals, the audit log in words, CSV exports."""

from __future__ import annotations

from typing import Any

from flask import Response, g, request, stream_with_context

from app.api import ApiError, bp, json_body
from app.api.admin import call_service, choice_arg, int_arg, iso, num, session_only
from app.api.admin_forms import TOP_MESSAGE
from app.extensions import db
from app.models import LedgerEntry, Member, Referral, Shop, utcnow
from app.services import adjustments, admin_queries, audit, exports, referrals


def member_json(m: Member, tiers: dict[int, str]) -> dict[str, Any]:
    return {"customer_id": str(m.customer_id), "name": m.display_name, "email": m.email,
            "points_available": m.points_available, "points_pending": m.points_pending,
            "lifetime_points": m.lifetime_points, "lifetime_spent": num(m.lifetime_spent),
            "orders_count": m.orders_count, "last_order_at": iso(m.last_order_at),
            "tier": tiers.get(m.tier_id) if m.tier_id else None, "tier_id": m.tier_id,
            "enrolled_at": iso(m.enrolled_at), "referral_code": m.referral_code}


@bp.get("/admin/members")
@session_only
def admin_members() -> Any:
    shop: Shop = g.shop
    sort = choice_arg("sort", admin_queries.SORTS, "balance") or "balance"
    segment = choice_arg("segment", admin_queries.SEGMENTS)
    q = (request.args.get("q") or "")[:200]
    result = admin_queries.search_members(shop, q=q or None, tier_id=int_arg("tier", None, 1, 2**62),
                                          segment=segment, sort=sort, page=int_arg("page", 1) or 1)
    tiers = admin_queries.tier_names(shop)
    return {"members": [member_json(m, tiers) for m in result.members], "total": result.total,
            "page": result.page, "pages": result.pages, "segments": admin_queries.SEGMENTS,
            "tiers": [{"id": k, "name": v} for k, v in tiers.items()]}


def _member_or_404(shop: Shop, customer_id: int) -> Member:
    member = admin_queries.find_member(shop, customer_id)
    if member is None:
        raise ApiError(404, "not_found", "no member with that customer id")
    return member


def entry_json(e: LedgerEntry) -> dict[str, Any]:
    return {"id": e.id, "points": e.points, "kind": e.kind, "source": e.source, "status": e.status,
            "reason": e.reason, "note": e.note, "actor": e.actor, "occurred_at": iso(e.occurred_at),
            "created_at": iso(e.created_at)}


def referral_json(r: Referral) -> dict[str, Any]:
    return {"id": r.id, "advocate_member_id": r.advocate_member_id, "friend_email": r.friend_email,
            "friend_code": r.friend_code, "status": r.status, "order_id": num(r.order_id),
            "signals": r.signals or [], "decided_by": r.decided_by, "created_at": iso(r.created_at),
            "completed_at": iso(r.completed_at)}


@bp.get("/admin/members/<int:customer_id>")
@session_only
def admin_member(customer_id: int) -> Any:
    shop: Shop = g.shop
    member = _member_or_404(shop, customer_id)
    tiers = admin_queries.tier_names(shop)
    detail = admin_queries.member_detail(shop, member)
    return {
        **member_json(member, tiers),
        "tier_since": iso(member.tier_since),
        "first_order_at": iso(member.first_order_at),
        "birthday": f"{member.birthday_month:02d}-{member.birthday_day:02d}" if member.birthday_month else None,
        "ledger": [entry_json(e) for e in detail["ledger"]],
        "tier_changes": [{"from": c.from_name, "to": c.to_name, "direction": c.direction, "reason": c.reason,
                          "occurred_at": iso(c.occurred_at), "created_at": iso(c.created_at)}
                         for c in detail["tier_changes"]],
        "codes": [{"code": r.code, "reward": r.reward_name, "points": r.points, "status": r.status,
                   "expires_at": iso(r.expires_at), "created_at": iso(r.created_at)} for r in detail["codes"]],
        "referrals": [referral_json(r) for r in detail["referrals"]],
    }


@bp.post("/admin/members/<int:customer_id>/adjustments")
@session_only
def admin_adjust(customer_id: int) -> Any:
    shop: Shop = g.shop
    member = _member_or_404(shop, customer_id)
    body = json_body()
    errors: dict[str, str] = {}
    points = body.get("points")
    if isinstance(points, bool) or not isinstance(points, int) or points == 0 or abs(points) > 10**8:
        errors["points"] = "Enter a whole number of points other than 0 (negative to remove points)"
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = "Enter a reason; it is kept in the audit log"
    elif len(reason) > 255:
        errors["reason"] = "Keep the reason to 255 characters or fewer"
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 1000):
        errors["note"] = "Keep the note to 1,000 characters or fewer"
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200):
        errors["idempotency_key"] = "Send a key of 1 to 200 characters"
    allow_negative = body.get("allow_negative", False)
    if not isinstance(allow_negative, bool):
        errors["allow_negative"] = "Send true or false"
    if errors:
        raise ApiError(422, "invalid", TOP_MESSAGE, errors)
    assert isinstance(reason, str) and isinstance(points, int)
    entry = call_service(adjustments.adjust_points, shop, member, points=points, reason=reason.strip(),
                         note=(note or "").strip() or None, actor=g.actor, idempotency_key=key,
                         allow_negative=allow_negative)
    db.session.refresh(member)
    return {"entry": entry_json(entry), "points_available": member.points_available,
            "points_pending": member.points_pending}, 201


# --- referrals ---------------------------------------------------------------------------------------


@bp.get("/admin/referrals")
@session_only
def admin_referrals() -> Any:
    shop: Shop = g.shop
    status = choice_arg("status", admin_queries.REFERRAL_STATUSES)
    sort = choice_arg("sort", admin_queries.REFERRAL_SORTS, "newest") or "newest"
    q = (request.args.get("q") or "")[:200]
    result = admin_queries.search_referrals(shop, q=q or None, status=status, sort=sort,
                                            page=int_arg("page", 1) or 1)
    labels = admin_queries.REFERRAL_STATUSES
    return {"referrals": [{**referral_json(r), "status_label": labels.get(r.status, r.status),
                           "advocate": m.display_name, "advocate_email": m.email,
                           "advocate_customer_id": str(m.customer_id)} for r, m in result.rows],
            "total": result.total, "page": result.page, "pages": result.pages,
            "statuses": [{"status": k, "label": v} for k, v in labels.items()],
            "sorts": list(admin_queries.REFERRAL_SORTS)}


@bp.post("/admin/referrals/<int:referral_id>/<any(approve, reject):decision>")
@session_only
def admin_referral_decide(referral_id: int, decision: str) -> Any:
    shop: Shop = g.shop
    referral = call_service(referrals.get_referral, shop, referral_id)
    if referral.status != "review":
        raise ApiError(409, "conflict", f"only referrals in review can be decided (this one is {referral.status})")
    result = call_service(getattr(referrals, decision), shop, referral_id, g.actor)
    return referral_json(result)


# --- the audit log and exports -------------------------------------------------------------------------


def audit_json(e: audit.Entry) -> dict[str, Any]:
    a = e.row
    return {"id": a.id, "actor": a.actor, "actor_label": e.actor_label, "action": e.action, "label": e.label,
            "summary": e.summary, "target_type": a.target_type, "target_id": a.target_id, "details": a.details,
            "created_at": iso(a.created_at)}


@bp.get("/admin/audit")
@session_only
def admin_audit() -> Any:
    shop: Shop = g.shop
    action = choice_arg("action", audit.ACTIONS)
    page = audit.audit_page(shop, before=int_arg("before", None, 1, 2**62), action=action,
                            q=(request.args.get("q") or "")[:200] or None)
    return {"entries": [audit_json(e) for e in page.entries], "next_before": page.next_before,
            "actions": [{"action": k, "label": v} for k, v in audit.ACTIONS.items()]}


@bp.get("/admin/exports/<any(members, ledger):what>.csv")
@session_only
def admin_export(what: str) -> Response:
    shop: Shop = g.shop
    shop_id, names = shop.id, admin_queries.tier_names(shop)
    audit.record_now(shop, g.actor, f"export.{what}", target_type="shop", target_id=shop_id)
    rows = exports.members_csv(shop_id, names) if what == "members" else exports.ledger_csv(shop_id)
    filename = f"regulars-{what}-{utcnow().date().isoformat()}.csv"
    return Response(stream_with_context(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
