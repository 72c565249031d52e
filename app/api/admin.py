"""The admin page's JSON API under /api/admin: session-token auth only (never an API key), thin over services."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from flask import Response, current_app, g, request, stream_with_context
from sqlalchemy import select

from app.api import ApiError, api_auth, bp, json_body
from app.extensions import db
from app.loyalty.settings import ProgramSettings, validate_settings_patch
from app.loyalty.tiers import Tier as TierRule
from app.loyalty.tiers import tier_handle, validate_tiers, what_if
from app.models import (
    AuditLog,
    Campaign,
    CustomAction,
    LedgerEntry,
    Member,
    Referral,
    Reward,
    Shop,
    Tier,
    utcnow,
)
from app.services import admin_queries, audit, exports, setup

T = TypeVar("T")
session_only = api_auth(allow_api_key=False)
_BIGINT_MAX = 2**63 - 1


@bp.url_value_preprocessor
def _ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An id beyond PostgreSQL's bigint names nothing: 404 for every /api route, not a database error."""
    for value in (values or {}).values():
        if isinstance(value, int) and value > _BIGINT_MAX:
            raise ApiError(404, "not_found", "no such record")


def _iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def _num(value: Any) -> str | None:
    return None if value is None else str(value)


def call_service(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """Runs a service of another subsystem and turns its refusals into the API's error shape."""
    try:
        return fn(*args, **kwargs)
    except ApiError:
        raise
    except LookupError as exc:
        raise ApiError(404, "not_found", str(exc) or "not found") from None
    except Exception as exc:
        status = getattr(exc, "status", None)
        fields = getattr(exc, "fields", None) or getattr(exc, "errors", None)
        if isinstance(status, int) and 400 <= status < 500:
            raise ApiError(status, getattr(exc, "code", "invalid"), getattr(exc, "message", str(exc)),
                           fields if isinstance(fields, dict) else None) from None
        if isinstance(fields, dict) and fields:
            raise ApiError(422, "invalid", "some fields are not valid", {str(k): str(v) for k, v in fields.items()}) \
                from None
        raise


# --- program reads and writes (engine and rewards services, with the pure domain as a fallback) ------


def settings_of(shop: Shop) -> ProgramSettings:
    try:
        from app.services.program import settings_for
    except ImportError:  # the engine's service not merged yet
        return ProgramSettings.from_dict(shop.settings or {})
    return settings_for(shop)


def _save_settings(shop: Shop, patch: dict[str, Any], actor: str) -> ProgramSettings:
    from app.services import program

    save = getattr(program, "save_settings", None) or getattr(program, "update_settings", None)
    if save is not None:
        return call_service(save, shop, patch, actor)
    new, errors = validate_settings_patch(settings_of(shop), patch)
    if errors:
        raise ApiError(422, "invalid", "some settings are not valid", errors)
    shop.settings = new.to_dict()
    audit.record(shop, actor, "settings_updated", target_type="shop", target_id=shop.id, details={"changes": patch})
    db.session.commit()
    return new


def _tiers(shop: Shop) -> list[Tier]:
    return list(db.session.execute(select(Tier).where(Tier.shop_id == shop.id)
                                   .order_by(Tier.threshold, Tier.position, Tier.id)).scalars())


def tier_json(t: Tier) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "handle": t.handle, "threshold": _num(t.threshold),
            "multiplier": _num(t.multiplier), "entry_bonus": t.entry_bonus, "perks": t.perks or ""}


def reward_json(r: Reward) -> dict[str, Any]:
    return {"id": r.id, "type": r.type, "name": r.name, "points_cost": r.points_cost, "value": _num(r.value),
            "minimum_subtotal": _num(r.minimum_subtotal), "tier_id": r.tier_id, "active": r.active,
            "variable_min_points": r.variable_min_points, "variable_max_points": r.variable_max_points,
            "product_variant_id": _num(r.product_variant_id)}


def action_json(a: CustomAction) -> dict[str, Any]:
    return {"id": a.id, "key": a.key, "name": a.name, "points": a.points, "limit": a.limit,
            "honour_system": a.honour_system, "url": a.url, "active": a.active}


def campaign_json(c: Campaign) -> dict[str, Any]:
    return {"id": c.id, "name": c.name, "kind": c.kind, "value": _num(c.value), "starts_at": _iso(c.starts_at),
            "ends_at": _iso(c.ends_at), "tier_id": c.tier_id, "segment": c.segment,
            "holdout_percent": c.holdout_percent, "active": c.active}


def program_json(shop: Shop) -> dict[str, Any]:
    settings = settings_of(shop)
    rewards = db.session.execute(select(Reward).where(Reward.shop_id == shop.id)
                                 .order_by(Reward.position, Reward.id)).scalars()
    actions = db.session.execute(select(CustomAction).where(CustomAction.shop_id == shop.id)
                                 .order_by(CustomAction.id)).scalars()
    campaigns = db.session.execute(select(Campaign).where(Campaign.shop_id == shop.id)
                                   .order_by(Campaign.starts_at.desc())).scalars()
    return {
        "settings": settings.to_dict(),
        "tiers": [tier_json(t) for t in _tiers(shop)],
        "rewards": [reward_json(r) for r in rewards],
        "custom_actions": [action_json(a) for a in actions],
        "campaigns": [campaign_json(c) for c in campaigns],
        "action_secret": shop.action_secret,
        "action_endpoint": "/api/v1/actions",
    }


@bp.get("/admin/shop")
@session_only
def admin_shop() -> Any:
    shop: Shop = g.shop
    members = db.session.execute(select(db.func.count()).where(Member.shop_id == shop.id,
                                                               Member.enrolled_at.is_not(None))).scalar_one()
    return {"domain": shop.domain, "name": shop.name or shop.handle, "currency": shop.currency,
            "money_format": shop.money_format, "setup_completed": shop.setup_completed_at is not None,
            "members": members, "setup_defaults": setup.defaults()}


@bp.post("/admin/setup")
@session_only
def admin_setup() -> Any:
    try:
        setup.complete_setup(g.shop, json_body(), g.actor)
    except setup.SetupInvalid as exc:
        raise ApiError(422, "invalid", "some setup choices are not valid", exc.errors) from None
    return program_json(g.shop)


@bp.get("/admin/program")
@session_only
def admin_program() -> Any:
    return program_json(g.shop)


@bp.patch("/admin/settings")
@session_only
def admin_settings() -> Any:
    patch = json_body()
    if not patch:
        raise ApiError(422, "invalid_body", "send at least one setting")
    _save_settings(g.shop, patch, g.actor)
    return program_json(g.shop)


def _candidate_tiers(shop: Shop, body: dict[str, Any]) -> tuple[list[TierRule], list[dict[str, Any]]]:
    raw = body.get("tiers")
    if not isinstance(raw, list) or not raw or len(raw) > 20:
        raise ApiError(422, "invalid", "tiers must be a list of 1 to 20 tiers", {"tiers": "1 to 20 tiers"})
    existing = {t.id: t for t in _tiers(shop)}
    errors: dict[str, str] = {}
    rules: list[TierRule] = []
    clean: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict):
            errors[f"{i}"] = "each tier must be an object"
            continue
        tid = item.get("id")
        if tid is not None and (not isinstance(tid, int) or isinstance(tid, bool) or tid not in existing):
            errors[f"{i}.id"] = "unknown tier"
            tid = None
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 64:
            errors[f"{i}.name"] = "a tier needs a name of at most 64 characters"
            name = "?"
        values: dict[str, Any] = {}
        for key, default in (("threshold", None), ("multiplier", "1"), ("entry_bonus", 0)):
            value = item.get(key, default)
            try:
                if key == "entry_bonus":
                    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= 10**9:
                        raise ValueError
                    values[key] = value
                else:
                    if isinstance(value, bool) or not isinstance(value, str | int | float):
                        raise ValueError
                    number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
                    if not number.is_finite() or abs(number) >= Decimal("1e12"):
                        raise ValueError
                    values[key] = number
            except (ValueError, ArithmeticError):
                errors[f"{i}.{key}"] = "must be a whole number of points" if key == "entry_bonus" else "must be a number"
        if f"{i}.threshold" in errors or f"{i}.multiplier" in errors or f"{i}.entry_bonus" in errors:
            continue
        perks = item.get("perks") or ""
        if not isinstance(perks, str) or len(perks) > 2000:
            errors[f"{i}.perks"] = "must be text of at most 2000 characters"
            perks = ""
        # New tiers get negative temporary ids so the what-if can tell them apart.
        rule_id = tid if tid is not None else -(i + 1)
        rules.append(TierRule(id=rule_id, name=name.strip(), handle=tier_handle(name), threshold=values["threshold"],
                              multiplier=values["multiplier"], entry_bonus=values["entry_bonus"], perks=perks,
                              position=i))
        clean.append({"id": tid, "name": name.strip(), "threshold": values["threshold"],
                      "multiplier": values["multiplier"], "entry_bonus": values["entry_bonus"], "perks": perks})
    errors.update(validate_tiers(rules))
    if errors:
        raise ApiError(422, "invalid", "some tiers are not valid", errors)
    return rules, clean


def _qualifying_values(shop: Shop, metric: str) -> list[tuple[int | None, Decimal]]:
    column = {"points_earned": Member.lifetime_points, "amount_spent": Member.lifetime_spent,
              "orders": Member.orders_count}.get(metric, Member.lifetime_points)
    rows = db.session.execute(select(Member.tier_id, column).where(
        Member.shop_id == shop.id, Member.enrolled_at.is_not(None), Member.deleted_at.is_(None)))
    return [(tier_id, Decimal(value or 0)) for tier_id, value in rows]


@bp.post("/admin/tiers/preview")
@session_only
def admin_tiers_preview() -> Any:
    """What the edit would do to members, before anything is saved."""
    shop: Shop = g.shop
    rules, _ = _candidate_tiers(shop, json_body())
    try:
        from app.services import tiers as tier_service

        preview = getattr(tier_service, "preview", None)
    except ImportError:
        preview = None
    if preview is not None:
        result = call_service(preview, shop, [
            {"id": r.id if r.id > 0 else None, "name": r.name, "threshold": str(r.threshold),
             "multiplier": str(r.multiplier), "entry_bonus": r.entry_bonus, "perks": r.perks} for r in rules])
        # The engine answers a mapping or app.loyalty.tiers.WhatIf; both carry the same four fields.
        get = result.get if isinstance(result, dict) else lambda k, d=None: getattr(result, k, d)
        by_tier = {("none" if k is None else str(k)): v for k, v in dict(get("by_tier", {}) or {}).items()}
        return {"moves_up": get("moves_up"), "moves_down": get("moves_down"), "unchanged": get("unchanged"),
                "by_tier": by_tier}
    current = [TierRule(id=t.id, name=t.name, handle=t.handle, threshold=Decimal(t.threshold),
                        multiplier=Decimal(t.multiplier), position=t.position) for t in _tiers(shop)]
    # The lifetime figure on the member row; the engine's preview (when present) applies the tier window.
    result = what_if(_qualifying_values(shop, settings_of(shop).tier_metric), rules, current)
    return {"moves_up": result.moves_up, "moves_down": result.moves_down, "unchanged": result.unchanged,
            "by_tier": {("none" if k is None else str(k)): v for k, v in result.by_tier.items()}}


@bp.put("/admin/tiers")
@session_only
def admin_tiers_save() -> Any:
    shop: Shop = g.shop
    body = json_body()
    rules, clean = _candidate_tiers(shop, body)
    try:
        from app.services import tiers as tier_service

        save = getattr(tier_service, "save_tiers", None)
    except ImportError:
        save = None
    if save is not None:
        call_service(save, shop, [{**c, "threshold": str(c["threshold"]), "multiplier": str(c["multiplier"])}
                                  for c in clean], g.actor)
        return program_json(shop)
    # Until the engine's save_tiers lands: write the rows; members move at the next daily evaluation.
    existing = {t.id: t for t in _tiers(shop)}
    kept: set[int] = set()
    now = utcnow()
    # Handles must stay unique while rows are rewritten: park the old ones first.
    for t in existing.values():
        t.handle = f"old-{t.id}"
    db.session.flush()
    for position, (rule, data) in enumerate(zip(rules, clean, strict=True)):
        row = existing.get(data["id"]) if data["id"] is not None else None
        if row is None:
            row = Tier(shop_id=shop.id, created_at=now)
            db.session.add(row)
        else:
            kept.add(row.id)
        row.name, row.handle, row.threshold = rule.name, rule.handle, rule.threshold
        row.multiplier, row.entry_bonus, row.perks, row.position = rule.multiplier, rule.entry_bonus, rule.perks, position
        row.updated_at = now
    for tid, row in existing.items():
        if tid not in kept:
            db.session.delete(row)
    audit.record(shop, g.actor, "tiers_saved", target_type="tiers",
                 details={"tiers": [{"name": c["name"], "threshold": str(c["threshold"]),
                                     "multiplier": str(c["multiplier"])} for c in clean]})
    db.session.commit()
    return program_json(shop)


@bp.post("/admin/rewards")
@session_only
def admin_reward_create() -> Any:
    from app.services import rewards

    reward = call_service(rewards.save_reward, g.shop, json_body(), g.actor)
    return reward_json(reward), 201


@bp.put("/admin/rewards/<int:reward_id>")
@session_only
def admin_reward_update(reward_id: int) -> Any:
    from app.services import rewards

    return reward_json(call_service(rewards.save_reward, g.shop, json_body(), g.actor, reward_id=reward_id))


@bp.delete("/admin/rewards/<int:reward_id>")
@session_only
def admin_reward_delete(reward_id: int) -> Any:
    from app.services import rewards

    call_service(rewards.delete_reward, g.shop, reward_id, g.actor)
    return {"deleted": reward_id}


@bp.post("/admin/custom-actions")
@session_only
def admin_action_save() -> Any:
    from app.services import program

    cfg = current_app.config["REGULARS"]
    return action_json(call_service(program.save_custom_action, g.shop, json_body(), g.actor,
                                    http_links=cfg.development)), 201


@bp.post("/admin/campaigns")
@session_only
def admin_campaign_create() -> Any:
    from app.services import program

    return campaign_json(call_service(program.save_campaign, g.shop, json_body(), g.actor)), 201


@bp.put("/admin/campaigns/<int:campaign_id>")
@session_only
def admin_campaign_update(campaign_id: int) -> Any:
    from app.services import program

    return campaign_json(call_service(program.save_campaign, g.shop, json_body(), g.actor, campaign_id=campaign_id))


# --- members ---------------------------------------------------------------------------------------


def member_json(m: Member, tiers: dict[int, str]) -> dict[str, Any]:
    return {"customer_id": str(m.customer_id), "name": m.display_name, "email": m.email,
            "points_available": m.points_available, "points_pending": m.points_pending,
            "lifetime_points": m.lifetime_points, "lifetime_spent": _num(m.lifetime_spent),
            "orders_count": m.orders_count, "last_order_at": _iso(m.last_order_at),
            "tier": tiers.get(m.tier_id) if m.tier_id else None, "tier_id": m.tier_id,
            "enrolled_at": _iso(m.enrolled_at), "referral_code": m.referral_code}


def _int_arg(name: str, default: int | None = None, low: int = 1, high: int = 10**6) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ApiError(422, "invalid", f"{name} must be a whole number", {name: "must be a whole number"}) from None
    if not low <= value <= high:
        raise ApiError(422, "invalid", f"{name} is out of range", {name: f"must be between {low} and {high}"})
    return value


@bp.get("/admin/members")
@session_only
def admin_members() -> Any:
    shop: Shop = g.shop
    sort = request.args.get("sort") or "balance"
    if sort not in admin_queries.SORTS:
        raise ApiError(422, "invalid", "unknown sort", {"sort": "one of " + ", ".join(admin_queries.SORTS)})
    segment = request.args.get("segment") or None
    if segment is not None and segment not in admin_queries.SEGMENTS:
        raise ApiError(422, "invalid", "unknown segment", {"segment": "one of " + ", ".join(admin_queries.SEGMENTS)})
    q = (request.args.get("q") or "")[:200]
    result = admin_queries.search_members(shop, q=q or None, tier_id=_int_arg("tier", None, 1, 2**62),
                                          segment=segment, sort=sort, page=_int_arg("page", 1) or 1)
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
            "reason": e.reason, "note": e.note, "actor": e.actor, "occurred_at": _iso(e.occurred_at),
            "created_at": _iso(e.created_at)}


def referral_json(r: Referral) -> dict[str, Any]:
    return {"id": r.id, "advocate_member_id": r.advocate_member_id, "friend_email": r.friend_email,
            "friend_code": r.friend_code, "status": r.status, "order_id": _num(r.order_id),
            "signals": r.signals or [], "decided_by": r.decided_by, "created_at": _iso(r.created_at),
            "completed_at": _iso(r.completed_at)}


@bp.get("/admin/members/<int:customer_id>")
@session_only
def admin_member(customer_id: int) -> Any:
    shop: Shop = g.shop
    member = _member_or_404(shop, customer_id)
    tiers = admin_queries.tier_names(shop)
    detail = admin_queries.member_detail(shop, member)
    return {
        **member_json(member, tiers),
        "tier_since": _iso(member.tier_since),
        "first_order_at": _iso(member.first_order_at),
        "birthday": f"{member.birthday_month:02d}-{member.birthday_day:02d}" if member.birthday_month else None,
        "ledger": [entry_json(e) for e in detail["ledger"]],
        "tier_changes": [{"from": c.from_name, "to": c.to_name, "direction": c.direction, "reason": c.reason,
                          "occurred_at": _iso(c.occurred_at), "created_at": _iso(c.created_at)}
                         for c in detail["tier_changes"]],
        "codes": [{"code": r.code, "reward": r.reward_name, "points": r.points, "status": r.status,
                   "expires_at": _iso(r.expires_at), "created_at": _iso(r.created_at)} for r in detail["codes"]],
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
        errors["points"] = "must be a whole number other than 0 (negative to remove points)"
    reason = body.get("reason")
    if not isinstance(reason, str) or not reason.strip():
        errors["reason"] = "a reason is required"
    elif len(reason) > 255:
        errors["reason"] = "at most 255 characters"
    note = body.get("note")
    if note is not None and (not isinstance(note, str) or len(note) > 1000):
        errors["note"] = "must be text of at most 1000 characters"
    key = body.get("idempotency_key")
    if key is not None and (not isinstance(key, str) or not 1 <= len(key) <= 200):
        errors["idempotency_key"] = "must be text of 1 to 200 characters"
    allow_negative = body.get("allow_negative", False)
    if not isinstance(allow_negative, bool):
        errors["allow_negative"] = "must be true or false"
    if errors:
        raise ApiError(422, "invalid", "the adjustment is not valid", errors)
    from app.services import adjustments

    entry = call_service(adjustments.adjust_points, shop, member, points=points, reason=reason.strip(),
                         note=(note or "").strip() or None, actor=g.actor, idempotency_key=key,
                         allow_negative=allow_negative)
    db.session.refresh(member)
    return {"entry": entry_json(entry), "points_available": member.points_available,
            "points_pending": member.points_pending}, 201


# --- referrals and the audit log -------------------------------------------------------------------

REFERRAL_STATUSES = ("invited", "pending", "completed", "withdrawn", "blocked", "review", "rejected")


@bp.get("/admin/referrals")
@session_only
def admin_referrals() -> Any:
    shop: Shop = g.shop
    status = request.args.get("status") or None
    if status is not None and status not in REFERRAL_STATUSES:
        raise ApiError(422, "invalid", "unknown status", {"status": "one of " + ", ".join(REFERRAL_STATUSES)})
    stmt = select(Referral, Member).join(Member, Member.id == Referral.advocate_member_id).where(
        Referral.shop_id == shop.id)
    if status:
        stmt = stmt.where(Referral.status == status)
    rows = db.session.execute(stmt.order_by(Referral.id.desc()).limit(200)).all()
    return {"referrals": [{**referral_json(r), "advocate": m.display_name, "advocate_customer_id": str(m.customer_id)}
                          for r, m in rows]}


@bp.post("/admin/referrals/<int:referral_id>/<any(approve, reject):decision>")
@session_only
def admin_referral_decide(referral_id: int, decision: str) -> Any:
    shop: Shop = g.shop
    referral = db.session.get(Referral, referral_id)
    if referral is None or referral.shop_id != shop.id:
        raise ApiError(404, "not_found", "no such referral")
    if referral.status != "review":
        raise ApiError(409, "conflict", f"only referrals in review can be decided (this one is {referral.status})")
    from app.services import referrals

    result = call_service(getattr(referrals, decision), shop, referral_id, g.actor)
    return referral_json(result)


@bp.get("/admin/audit")
@session_only
def admin_audit() -> Any:
    shop: Shop = g.shop
    before = _int_arg("before", None, 1, 2**62)
    stmt = select(AuditLog).where(AuditLog.shop_id == shop.id)
    if before:
        stmt = stmt.where(AuditLog.id < before)
    rows = db.session.execute(stmt.order_by(AuditLog.id.desc()).limit(50)).scalars().all()
    return {"entries": [{"id": a.id, "actor": a.actor, "action": a.action, "target_type": a.target_type,
                         "target_id": a.target_id, "details": a.details, "created_at": _iso(a.created_at)}
                        for a in rows],
            "next_before": rows[-1].id if len(rows) == 50 else None}


@bp.get("/admin/exports/<any(members, ledger):what>.csv")
@session_only
def admin_export(what: str) -> Response:
    shop: Shop = g.shop
    shop_id, names = shop.id, admin_queries.tier_names(shop)
    audit.record(shop, g.actor, f"export_{what}", target_type="shop", target_id=shop_id)
    db.session.commit()
    rows = exports.members_csv(shop_id, names) if what == "members" else exports.ledger_csv(shop_id)
    filename = f"regulars-{what}-{utcnow().date().isoformat()}.csv"
    return Response(stream_with_context(rows), mimetype="text/csv",
                    headers={"Content-Disposition": f'attachment; filename="{filename}"'})
