"""The admin page's JSON API under /api/admin: session-token auth only (never an API key), thin over services.

This module holds what every admin route shares (auth, id guard, the services' refusals as the API's error
shape) and the shop, setup, settings and tier routes; admin_program.py has rewards, campaigns and custom
actions, admin_members.py members, referrals, the audit log and exports.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any, TypeVar

from flask import g, request

from app.api import ApiError, api_auth, bp, json_body
from app.api.admin_forms import TOP_MESSAGE, plain_fields
from app.loyalty.settings import ProgramSettings
from app.models import CustomAction, Reward, Shop, Tier
from app.services import admin_queries, program, setup
from app.services import rewards as reward_service
from app.services import tiers as tier_service

T = TypeVar("T")
session_only = api_auth(allow_api_key=False)
_BIGINT_MAX = 2**63 - 1


@bp.url_value_preprocessor
def _ids_in_range(endpoint: str | None, values: dict[str, Any] | None) -> None:
    """An id beyond PostgreSQL's bigint names nothing: 404 for every /api route, not a database error."""
    for value in (values or {}).values():
        if isinstance(value, int) and value > _BIGINT_MAX:
            raise ApiError(404, "not_found", "no such record")


def iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def num(value: Any) -> str | None:
    return None if value is None else str(value)


def call_service(fn: Callable[..., T], *args: Any, form: str | None = None, **kwargs: Any) -> T:
    """Runs a service and turns its refusals into the API's error shape. With `form` (the form's path
    prefix, "" for a flat form), field errors are keyed by the form's paths, in a merchant's words, under
    "Check the highlighted fields"."""
    try:
        return fn(*args, **kwargs)
    except ApiError:
        raise
    except LookupError as exc:
        raise ApiError(404, "not_found", str(exc) or "not found") from None
    except Exception as exc:
        status = getattr(exc, "status", None)
        fields = getattr(exc, "fields", None) or getattr(exc, "errors", None)
        fields = {str(k): str(v) for k, v in fields.items()} if isinstance(fields, dict) and fields else None
        if form is not None and fields and (status is None or status == 422):
            raise ApiError(422, "invalid", TOP_MESSAGE, plain_fields(fields, form)) from None
        if isinstance(status, int) and 400 <= status < 500:
            raise ApiError(status, getattr(exc, "code", "invalid"), getattr(exc, "message", str(exc)),
                           fields) from None
        if fields:
            raise ApiError(422, "invalid", "some fields are not valid", fields) from None
        raise


def int_arg(name: str, default: int | None = None, low: int = 1, high: int = 10**6) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    try:
        value = int(raw) if raw.isascii() else None
    except ValueError:
        value = None
    if value is None:
        raise ApiError(422, "invalid", TOP_MESSAGE, {name: "Enter a whole number"})
    if not low <= value <= high:
        raise ApiError(422, "invalid", TOP_MESSAGE, {name: f"Enter a whole number from {low:,} to {high:,}"})
    return value


def choice_arg(name: str, options: Any, default: str | None = None) -> str | None:
    value = request.args.get(name) or default
    if value is not None and value not in options:
        raise ApiError(422, "invalid", TOP_MESSAGE, {name: "Choose one of the options"})
    return value


# --- program reads and writes ----------------------------------------------------------------------


def settings_of(shop: Shop) -> ProgramSettings:
    return program.settings_for(shop)


def tier_json(t: Tier) -> dict[str, Any]:
    return {"id": t.id, "name": t.name, "handle": t.handle, "threshold": num(t.threshold),
            "multiplier": num(t.multiplier), "entry_bonus": t.entry_bonus, "perks": t.perks or ""}


def reward_json(r: Reward) -> dict[str, Any]:
    return {"id": r.id, "type": r.type, "name": r.name, "points_cost": r.points_cost, "value": num(r.value),
            "minimum_subtotal": num(r.minimum_subtotal), "tier_id": r.tier_id, "active": r.active,
            "variable_min_points": r.variable_min_points, "variable_max_points": r.variable_max_points,
            "product_variant_id": num(r.product_variant_id), "deleted_at": iso(r.deleted_at)}


def action_json(a: CustomAction) -> dict[str, Any]:
    return {"id": a.id, "key": a.key, "name": a.name, "points": a.points, "limit": a.limit,
            "honour_system": a.honour_system, "url": a.url, "active": a.active}


CAMPAIGN_STATUS_LABELS = {"scheduled": "Scheduled", "active": "Running", "paused": "Paused", "ended": "Ended",
                          "deleted": "Deleted"}


def campaign_json(c: Any) -> dict[str, Any]:
    status = program.status_of(c)
    return {"id": c.id, "name": c.name, "kind": c.kind, "value": num(c.value), "starts_at": iso(c.starts_at),
            "ends_at": iso(c.ends_at), "tier_id": c.tier_id, "segment": c.segment,
            "holdout_percent": c.holdout_percent, "active": c.active, "status": status,
            "status_label": CAMPAIGN_STATUS_LABELS[status], "deleted_at": iso(c.deleted_at)}


def program_json(shop: Shop) -> dict[str, Any]:
    """The program as the admin edits it: deleted rewards and campaigns are not in it."""
    return {
        "settings": settings_of(shop).to_dict(),
        "tiers": [tier_json(t) for t in tier_service.tier_rows(shop.id)],
        "rewards": [reward_json(r) for r in reward_service.list_rewards(shop)],
        "custom_actions": [action_json(a) for a in program.custom_actions(shop.id, active_only=False)],
        "campaigns": [campaign_json(c) for c in program.list_campaigns(shop)],
        "action_secret": shop.action_secret,
        "action_endpoint": "/api/v1/actions",
    }


@bp.get("/admin/shop")
@session_only
def admin_shop() -> Any:
    shop: Shop = g.shop
    return {"domain": shop.domain, "name": shop.name or shop.handle, "currency": shop.currency,
            "money_format": shop.money_format, "setup_completed": shop.setup_completed_at is not None,
            "members": admin_queries.enrolled_count(shop), "setup_defaults": setup.defaults(shop.currency)}


@bp.post("/admin/setup")
@session_only
def admin_setup() -> Any:
    try:
        setup.complete_setup(g.shop, json_body(), g.actor)
    except setup.SetupInvalid as exc:
        raise ApiError(422, "invalid", TOP_MESSAGE, plain_fields(exc.errors)) from None
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
    call_service(program.update_settings, g.shop, patch, g.actor, form="")
    return program_json(g.shop)


# --- tiers -----------------------------------------------------------------------------------------


def _number(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return None
    try:
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value).strip())
    except ArithmeticError:
        return None
    return number if number.is_finite() and abs(number) < Decimal("1e12") else None


def _tier_specs(shop: Shop, body: dict[str, Any]) -> list[dict[str, Any]]:
    """The tier list as the services take it, after the checks the form shows next to each field
    (`tiers.<index>.<field>`); the ladder's own rules (distinct thresholds…) are the service's."""
    raw = body.get("tiers")
    if not isinstance(raw, list) or not raw or len(raw) > 20:
        raise ApiError(422, "invalid", TOP_MESSAGE, {"tiers": "Add between 1 and 20 tiers"})
    known = {t.id for t in tier_service.tier_rows(shop.id)}
    errors: dict[str, str] = {}
    specs: list[dict[str, Any]] = []
    for i, item in enumerate(raw):
        at = f"tiers.{i}"
        if not isinstance(item, dict):
            errors[at] = "Each tier needs a name, a threshold and a multiplier"
            continue
        tid = item.get("id")
        if tid is not None and (not isinstance(tid, int) or isinstance(tid, bool) or tid not in known):
            errors[f"{at}.id"] = "This tier no longer exists; reload the page"
        name = item.get("name")
        if not isinstance(name, str) or not name.strip():
            errors[f"{at}.name"] = "Enter a name, such as Gold"
        elif len(name.strip()) > 64:
            errors[f"{at}.name"] = "Keep the name to 64 characters or fewer"
        threshold = _number(item.get("threshold"))
        if threshold is None:
            errors[f"{at}.threshold"] = "Enter a number such as 500"
        elif threshold < 0:
            errors[f"{at}.threshold"] = "Enter 0 or more"
        multiplier = _number(item.get("multiplier", "1"))
        if multiplier is None:
            errors[f"{at}.multiplier"] = "Enter a number such as 1.5"
        elif not Decimal(0) < multiplier < Decimal(1000):
            errors[f"{at}.multiplier"] = "Enter a multiplier above 0, such as 1.5"
        bonus = item.get("entry_bonus", 0)
        if isinstance(bonus, bool) or not isinstance(bonus, int) or not 0 <= bonus <= 10**9:
            errors[f"{at}.entry_bonus"] = "Enter a whole number of points, 0 or more"
        perks = item.get("perks") or ""
        if not isinstance(perks, str) or len(perks) > 2000:
            errors[f"{at}.perks"] = "Keep the perks to 2,000 characters or fewer"
        if not any(k.startswith(f"{at}.") or k == at for k in errors):
            specs.append({"id": tid, "name": name.strip(), "threshold": str(threshold),  # type: ignore[union-attr]
                          "multiplier": str(multiplier), "entry_bonus": bonus, "perks": perks})
    if errors:
        raise ApiError(422, "invalid", TOP_MESSAGE, errors)
    return specs


@bp.post("/admin/tiers/preview")
@session_only
def admin_tiers_preview() -> Any:
    """What the edit would do to members, before anything is saved."""
    shop: Shop = g.shop
    result = call_service(tier_service.preview, shop, _tier_specs(shop, json_body()), form="tiers")
    by_tier = {("none" if k is None else str(k)): v for k, v in dict(result.get("by_tier") or {}).items()}
    return {"moves_up": result["moves_up"], "moves_down": result["moves_down"], "unchanged": result["unchanged"],
            "by_tier": by_tier}


@bp.put("/admin/tiers")
@session_only
def admin_tiers_save() -> Any:
    shop: Shop = g.shop
    call_service(tier_service.save_tiers, shop, _tier_specs(shop, json_body()), g.actor, form="tiers")
    return program_json(shop)
