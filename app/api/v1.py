"""Public API v1 (contract.md): program, members, ledger, adjustments, redemptions and signed actions.

Representation: Shopify customer ids are answered as strings (they exceed 2^53, which JavaScript
numbers cannot hold) and accepted as strings or integers; money and rates are decimal strings; points
are integers; times are ISO 8601 UTC. Another shop's ids answer 404, exactly like unknown ones.
POST /api/v1/actions is not session- or key-authenticated: the calling app signs the raw body with
the shop's action secret (base64 HMAC-SHA256 in X-Regulars-Hmac-Sha256) and names the shop in the
X-Shopify-Shop-Domain header (or, failing that, a "shop" field of the body).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from flask import g, jsonify, request
from sqlalchemy import and_, or_, select

from app.api import ApiError, api_auth, bp, json_body
from app.extensions import db
from app.models import LedgerEntry, Member, Redemption, Shop, Tier

LEDGER_PAGE = 100


def _customer_id(raw: Any) -> int:
    text = str(raw).strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise ApiError(404, "not_found", "no such customer")
    return int(text)


def _member(customer_id: Any) -> Member:
    from app.services.members import find_member

    member = find_member(g.shop.id, _customer_id(customer_id))
    if member is None or member.deleted_at is not None:
        raise ApiError(404, "not_found", "no such customer")
    return member


def _time(value: datetime | None) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value else None


def _engine_error(exc: Exception) -> ApiError:
    status = getattr(exc, "status", 422)
    return ApiError(status, getattr(exc, "code", "invalid"), getattr(exc, "message", str(exc)),
                    getattr(exc, "fields", None) if status == 422 else None)


# ------------------------------------------------------------------------------------------ program


@bp.get("/v1/program")
@api_auth()
def v1_program() -> Any:
    from app.services.program_api import program_document

    return jsonify(program_document(g.shop))


@bp.patch("/v1/program")
@api_auth()
def v1_program_patch() -> Any:
    from app.services.program_api import ProgramInvalid, patch_program

    try:
        return jsonify(patch_program(g.shop, json_body(), g.actor))
    except ProgramInvalid as exc:
        raise ApiError(422, "invalid", "some fields are not valid; nothing was saved", exc.errors) from None


# ------------------------------------------------------------------------------------------ members


def member_json(member: Member) -> dict[str, Any]:
    from app.services.referrals import ensure_code, referral_url

    had_code = bool(member.referral_code)
    code = ensure_code(member)
    if not had_code:
        db.session.commit()  # the code is given out once, on first need
    tier = db.session.get(Tier, member.tier_id) if member.tier_id else None
    return {
        "customer_id": str(member.customer_id),
        "email": member.email,
        "first_name": member.first_name,
        "last_name": member.last_name,
        "points_available": member.points_available,
        "points_pending": member.points_pending,
        "tier": {"id": tier.id, "name": tier.name, "handle": tier.handle} if tier else None,
        "referral_code": code,
        "referral_url": referral_url(g.shop, member),
        "lifetime_points": member.lifetime_points,
        "lifetime_spent": str(member.lifetime_spent or 0),
        "enrolled_at": _time(member.enrolled_at),
    }


@bp.get("/v1/members/<customer_id>")
@api_auth()
def v1_member(customer_id: str) -> Any:
    return jsonify(member_json(_member(customer_id)))


def entry_json(e: LedgerEntry) -> dict[str, Any]:
    return {"id": e.id, "points": e.points, "kind": e.kind, "source": e.source, "status": e.status,
            "occurred_at": _time(e.occurred_at), "created_at": _time(e.created_at), "reason": e.reason,
            "note": e.note}


@bp.get("/v1/members/<customer_id>/ledger")
@api_auth()
def v1_ledger(customer_id: str) -> Any:
    member = _member(customer_id)
    q = select(LedgerEntry).where(LedgerEntry.member_id == member.id)
    before = request.args.get("before_id")
    if before:
        if not before.isdigit():
            raise ApiError(422, "invalid", "before_id must be an entry id", {"before_id": "must be an entry id"})
        # Pages follow the order of the list (newest first by when it happened): after the given entry.
        anchor = db.session.execute(select(LedgerEntry.occurred_at).where(
            LedgerEntry.member_id == member.id, LedgerEntry.id == int(before))).scalar_one_or_none()
        if anchor is None:
            raise ApiError(422, "invalid", "before_id must be an entry of this member",
                           {"before_id": "not an entry of this member"})
        q = q.where(or_(LedgerEntry.occurred_at < anchor,
                        and_(LedgerEntry.occurred_at == anchor, LedgerEntry.id < int(before))))
    entries = list(db.session.execute(
        q.order_by(LedgerEntry.occurred_at.desc(), LedgerEntry.id.desc()).limit(LEDGER_PAGE + 1)).scalars())
    body: dict[str, Any] = {"entries": [entry_json(e) for e in entries[:LEDGER_PAGE]]}
    if len(entries) > LEDGER_PAGE:
        body["next_before_id"] = entries[LEDGER_PAGE - 1].id
    return jsonify(body)


@bp.post("/v1/members/<customer_id>/adjustments")
@api_auth()
def v1_adjust(customer_id: str) -> Any:
    from app.services.adjustments import AdjustmentInvalid, adjust_points

    member = _member(customer_id)
    body = json_body()
    try:
        entry = adjust_points(g.shop, member, points=body.get("points"), reason=body.get("reason"),  # type: ignore[arg-type]
                              note=body.get("note"), actor=g.actor, idempotency_key=body.get("idempotency_key"))
    except AdjustmentInvalid as exc:
        raise ApiError(422, "invalid", "the adjustment is not valid", exc.errors) from None
    db.session.refresh(member)
    resp = jsonify({**entry_json(entry), "points_available": member.points_available})
    resp.status_code = 201
    return resp


def redemption_json(r: Redemption) -> dict[str, Any]:
    return {"id": r.id, "code": r.code, "points": r.points, "expires_at": _time(r.expires_at),
            "status": r.status, "reward_id": r.reward_id, "reward_name": r.reward_name, "value": str(r.value)}


@bp.post("/v1/members/<customer_id>/redemptions")
@api_auth()
def v1_redeem(customer_id: str) -> Any:
    from app.services import rewards

    member = _member(customer_id)
    body = json_body()
    fields: dict[str, str] = {}
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 0 < len(key) <= 200:
        fields["idempotency_key"] = "required, 1 to 200 characters"
    reward_id = body.get("reward_id")
    if isinstance(reward_id, bool) or not isinstance(reward_id, int | str) or not str(reward_id).isdigit():
        fields["reward_id"] = "required, a reward id"
    points = body.get("points")
    if points is not None and (isinstance(points, bool) or not isinstance(points, int)):
        fields["points"] = "must be a whole number"
    if fields:
        raise ApiError(422, "invalid", "the redemption request is not valid", fields)
    try:
        r = rewards.redeem(g.shop, member, int(str(reward_id)), idempotency_key=key, points=points,  # type: ignore[arg-type]
                           actor=g.actor)
    except rewards.RewardNotFound:
        raise ApiError(422, "invalid", "no such reward", {"reward_id": "unknown reward"}) from None
    except rewards.RedemptionRefused as exc:
        if exc.code in ("insufficient_points", "negative_balance"):
            raise ApiError(409, exc.code, exc.message) from None
        if exc.code == "idempotency_key_reused":
            raise ApiError(409, exc.code, exc.message) from None
        field = "points" if exc.code == "out_of_range" else "reward_id"
        raise ApiError(422, exc.code, exc.message, {field: exc.message}) from None
    except rewards.RedemptionFailed as exc:
        raise ApiError(502, "code_not_created", exc.message) from None
    return jsonify(redemption_json(r)), 201


# ------------------------------------------------------------------------------------------ actions


@bp.post("/v1/actions")
def v1_actions() -> Any:
    from app.services.actions import ACTION_SIGNATURE_HEADER, award_action, verify_action_signature
    from app.services.program import EngineError
    from app.services.shops import get_active_shop

    raw = request.get_data(cache=True)
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        body = None
    domain = request.headers.get("X-Shopify-Shop-Domain") or (body.get("shop") if isinstance(body, dict) else None)
    shop: Shop | None = get_active_shop(str(domain).strip().lower()) if domain else None
    signature = request.headers.get(ACTION_SIGNATURE_HEADER)
    # One answer for an unknown shop and a bad signature: never say which shops exist.
    if shop is None or not verify_action_signature(shop, raw, signature):
        raise ApiError(401, "unauthenticated", "missing or invalid X-Regulars-Hmac-Sha256 signature")
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_body", "the body must be a JSON object")
    fields: dict[str, str] = {}
    cid = body.get("customer_id")
    if isinstance(cid, bool) or not isinstance(cid, int | str) or not str(cid).strip().isdigit():
        fields["customer_id"] = "required, Shopify's numeric customer id"
    action = body.get("action")
    if not isinstance(action, str) or not action.strip():
        fields["action"] = "required, the custom action's key"
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 0 < len(key) <= 200:
        fields["idempotency_key"] = "required, 1 to 200 characters"
    if fields:
        raise ApiError(422, "invalid", "the action request is not valid", fields)
    g.shop = shop
    g.actor = "app:signed"
    try:
        result = award_action(shop, int(str(cid).strip()), action.strip(), idempotency_key=key,  # type: ignore[union-attr]
                              via="api", actor="app:signed")
    except EngineError as exc:
        raise _engine_error(exc) from None
    from app.services.rewards import request_writeback

    request_writeback()
    return jsonify({"customer_id": str(result.member.customer_id), "action": action, "points": result.points,
                    "entry_id": result.entry.id, "created": result.created,
                    "points_available": result.member.points_available}), (201 if result.created else 200)
