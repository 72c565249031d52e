"""Public API v1 (contract.md): program, members, ledger, adjustments, redemptions and signed actions.

Representation: Shopify customer ids are answered as strings (they exceed 2^53, which JavaScript
numbers cannot hold) and accepted as strings or integers; money and rates are decimal strings; points
are integers; times are ISO 8601 UTC. Another shop's ids answer 404, exactly like unknown ones.
POST /api/v1/actions is not session- or key-authenticated: the calling app signs the raw body with
the shop's action secret (base64 HMAC-SHA256 in X-Regulars-Hmac-Sha256) and names the shop in the
X-Shopify-Shop-Domain header (or, failing that, a "shop" field of the body).
"""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from app.api import ApiError, api_auth, bp, json_body
from app.extensions import db
from app.inputs import parse_id, parse_json
from app.models import Member, Shop
from app.services.actions import ACTION_SIGNATURE_HEADER, award_action, verify_action_signature
from app.services.adjustments import AdjustmentInvalid, adjust_points
from app.services.member_documents import entry_document, member_document, redemption_document
from app.services.member_ledger import NotAnEntryOfMember, ledger_page
from app.services.members import find_member
from app.services.program import EngineError
from app.services.program_api import ProgramInvalid, patch_program, program_document
from app.services.redemption_requests import RedemptionRequestError, redeem_request
from app.services.shops import get_active_shop
from app.services.work import request_writeback
from app.shopify import normalize_shop_domain

LEDGER_PAGE = 100


def _customer_id(raw: Any) -> int:
    customer_id = parse_id(raw)
    if customer_id is None:
        raise ApiError(404, "not_found", "no such customer")
    return customer_id


def _member(customer_id: Any) -> Member:
    member = find_member(g.shop.id, _customer_id(customer_id))
    if member is None or member.deleted_at is not None:
        raise ApiError(404, "not_found", "no such customer")
    return member


def _engine_error(exc: Exception) -> ApiError:
    status = getattr(exc, "status", 422)
    return ApiError(status, getattr(exc, "code", "invalid"), getattr(exc, "message", str(exc)),
                    getattr(exc, "fields", None) if status == 422 else None)


# ------------------------------------------------------------------------------------------ program


@bp.get("/v1/program")
@api_auth()
def v1_program() -> Any:
    return jsonify(program_document(g.shop))


@bp.patch("/v1/program")
@api_auth()
def v1_program_patch() -> Any:
    try:
        return jsonify(patch_program(g.shop, json_body(), g.actor))
    except ProgramInvalid as exc:
        raise ApiError(422, "invalid", "some fields are not valid; nothing was saved", exc.errors) from None


# ------------------------------------------------------------------------------------------ members


@bp.get("/v1/members/<customer_id>")
@api_auth()
def v1_member(customer_id: str) -> Any:
    return jsonify(member_document(g.shop, _member(customer_id)))


@bp.get("/v1/members/<customer_id>/ledger")
@api_auth()
def v1_ledger(customer_id: str) -> Any:
    member = _member(customer_id)
    before = request.args.get("before_id")
    before_id = None
    if before:
        before_id = parse_id(before)
        if before_id is None:
            raise ApiError(422, "invalid", "before_id must be an entry id", {"before_id": "must be an entry id"})
    try:
        page = ledger_page(member, before_id, LEDGER_PAGE)
    except NotAnEntryOfMember:
        raise ApiError(422, "invalid", "before_id must be an entry of this member",
                       {"before_id": "not an entry of this member"}) from None
    body: dict[str, Any] = {"entries": [entry_document(e) for e in page.entries]}
    if page.next_before_id is not None:
        body["next_before_id"] = page.next_before_id
    return jsonify(body)


@bp.post("/v1/members/<customer_id>/adjustments")
@api_auth()
def v1_adjust(customer_id: str) -> Any:
    member = _member(customer_id)
    body = json_body()
    try:
        entry = adjust_points(g.shop, member, points=body.get("points"), reason=body.get("reason"),  # type: ignore[arg-type]
                              note=body.get("note"), actor=g.actor, idempotency_key=body.get("idempotency_key"),
                              allow_negative=body.get("allow_negative", False))  # type: ignore[arg-type]
    except AdjustmentInvalid as exc:
        raise ApiError(422, exc.code, exc.message, exc.errors) from None
    db.session.refresh(member)
    resp = jsonify({**entry_document(entry), "points_available": member.points_available})
    resp.status_code = 201
    return resp


@bp.post("/v1/members/<customer_id>/redemptions")
@api_auth()
def v1_redeem(customer_id: str) -> Any:
    member = _member(customer_id)
    try:
        r = redeem_request(g.shop, member, json_body(), actor=g.actor)
    except RedemptionRequestError as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.fields) from None
    return jsonify(redemption_document(r)), 201


# ------------------------------------------------------------------------------------------ actions


@bp.post("/v1/actions")
def v1_actions() -> Any:
    raw = request.get_data(cache=True)
    try:
        body = parse_json(raw or b"null")
    except ValueError:
        body = None
    domain = request.headers.get("X-Shopify-Shop-Domain") or (body.get("shop") if isinstance(body, dict) else None)
    named = normalize_shop_domain(domain) if isinstance(domain, str) else None
    shop: Shop | None = get_active_shop(named) if named else None
    signature = request.headers.get(ACTION_SIGNATURE_HEADER)
    # One answer for an unknown shop and a bad signature: never say which shops exist.
    if shop is None or not verify_action_signature(shop, raw, signature):
        raise ApiError(401, "unauthenticated", "missing or invalid X-Regulars-Hmac-Sha256 signature")
    if not isinstance(body, dict):
        raise ApiError(422, "invalid_body", "the body must be a JSON object")
    fields: dict[str, str] = {}
    cid = parse_id(body.get("customer_id"))
    if cid is None:
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
        result = award_action(shop, cid, action.strip(), idempotency_key=key,  # type: ignore[arg-type, union-attr]
                              via="api", actor="app:signed")
    except EngineError as exc:
        raise _engine_error(exc) from None
    request_writeback()
    return jsonify({"customer_id": str(result.member.customer_id), "action": action, "points": result.points,
                    "entry_id": result.entry.id, "created": result.created,
                    "points_available": result.member.points_available}), (201 if result.created else 200)
