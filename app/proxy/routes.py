"""Routes under /proxy: thin handlers that verify the caller, call the services and render the widget."""

from __future__ import annotations

import hashlib
import logging
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from flask import Blueprint, Response, abort, render_template, request

from app.extensions import db
from app.i18n import Translator, translator, use_locale
from app.inputs import parse_id, parse_whole_number
from app.loyalty.actions import validate_birthday
from app.loyalty.referrals import is_referral_code, normalize_code
from app.models import Member, Shop
from app.proxy import auth
from app.services import member_view
from app.services.actions import ActionRefused, award_action, claimable_action
from app.services.members import BirthdayChangeRefused, enroll, set_birthday
from app.services.program import EngineError
from app.services.proxy_requests import run_once
from app.services.redemption import RedemptionFailed, RedemptionRefused, redeem
from app.services.referrals import (
    FriendCodeFailed,
    UnknownReferralCode,
    create_friend_code,
    ensure_code,
    find_advocate,
)
from app.services.rewards import RewardNotFound
from app.shopify import current_shopify

log = logging.getLogger(__name__)
bp = Blueprint("proxy", __name__, url_prefix="/proxy")
_STATIC = Path(__file__).resolve().parent.parent / "static" / "proxy"
_EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}$")
# Where the storefront reaches this blueprint: shopify.app.toml's [app_proxy] prefix "apps", subpath "regulars".
# Every URL the pages carry (assets, form actions, data-prefix) starts with it; Shopify's `path_prefix` is never
# used for that, because the shopper can add one of their own to the URL (`path_prefix=//evil.example`).
STOREFRONT_PREFIX = "/apps/regulars"
# The proxy's own pages (the referral landing, the widget opened as a page) style themselves with this file. Inside
# the theme the widget's script and styles are the theme app extension's assets, served by Shopify's CDN.
_ASSETS = ("widget.css",)
# The theme extension's loader asks for the fragment with `view=theme`: it then carries no script or stylesheet.
THEME_VIEW = "theme"
_MIMETYPES = {"css": "text/css", "js": "text/javascript"}


@dataclass(frozen=True)
class _Asset:
    body: bytes
    mimetype: str
    # Content hash in the URL: a changed file gets a new URL, so browsers may keep each one for a year.
    url_name: str


@cache
def _asset(name: str) -> _Asset:
    body = (_STATIC / name).read_bytes()
    stem, ext = name.rsplit(".", 1)
    digest = hashlib.sha256(body).hexdigest()[:12]
    return _Asset(body, _MIMETYPES[ext], f"{stem}.{digest}.{ext}")


def asset_url(name: str) -> str:
    """Where the storefront fetches a widget asset: through the app proxy, never the app's own host."""
    return f"{STOREFRONT_PREFIX}/static/{_asset(name).url_name}"


@bp.before_request
def _one_value_per_reserved_parameter() -> None:
    # Before any route reads or writes anything (auth.refuse_repeated_reserved says why).
    auth.refuse_repeated_reserved(request)


@bp.get("/static/<name>")
def static_asset(name: str) -> Response:
    # Still behind the app-proxy signature like every /proxy route; no shop or customer is read.
    if not current_shopify().verify_app_proxy(request.method, request.url, dict(request.headers)).ok:
        abort(401)
    parts = name.split(".")
    if len(parts) != 3 or f"{parts[0]}.{parts[2]}" not in _ASSETS:
        abort(404)
    asset = _asset(f"{parts[0]}.{parts[2]}")
    resp = Response(asset.body, mimetype=asset.mimetype)
    if name == asset.url_name:
        resp.headers["Cache-Control"] = "public, max-age=31536000, immutable"
    else:
        # An old hash (a page rendered before a deploy): today's file, not to be kept under that name.
        resp.headers["Cache-Control"] = "no-cache"
    return resp


def _fragment_headers(resp: Response) -> Response:
    # Per-customer content behind a shared storefront URL: never cached by Shopify or the browser.
    resp.headers["Cache-Control"] = "private, no-store"
    resp.headers["Vary"] = "*"
    return resp


def shop_translator(shop: Shop, locale: str | None) -> Translator:
    """The storefront's language with the merchant's own texts; Flask-Babel follows it for the request."""
    t = translator(locale, shop.text_overrides)
    use_locale(t.locale)
    return t


def _render_widget(caller: auth.ProxyCaller, member: Member | None, flash: dict[str, Any] | None = None,
                   status: int = 200) -> Response:
    shop = caller.shop
    t = shop_translator(shop, caller.locale)
    prefix = STOREFRONT_PREFIX
    view = member_view.build(shop, member, catalogue_version=caller.catalogue_version)
    subject = f"{shop.domain}|{caller.customer_id or ''}"
    tiers = {tier.id: tier for tier in view.tiers}
    html = render_template(
        "proxy/widget.html",
        t=t, view=view, shop=shop, caller=caller, member=member,
        is_member=member_view.is_member(member),
        flash=flash,
        # Every sum a shopper reads: Babel's format for their language, in the shop's currency.
        money=lambda amount: t.money(amount, shop.currency),
        # Rewards and tiers by the name the merchant gave them in this language, else as typed.
        name=lambda info: t.name(info.name, info.names) if info is not None else "",
        tier_name=lambda tier_id: t.name(tiers[tier_id].name, tiers[tier_id].names) if tier_id in tiers else "",
        refusal_text=lambda params: _refusal_text(t, view, member, params),
        form_token=auth.form_token(shop.domain, subject),
        new_key=auth.new_request_key,
        path_prefix=prefix, style_url=None if _for_theme() else asset_url("widget.css"),
    )
    return _fragment_headers(Response(html, status=status, mimetype="text/html"))


def _refusal_text(t: Translator, view: member_view.WidgetView, member: Member | None,
                  params: dict[str, Any]) -> str:
    """Why a redemption was refused, in the shopper's words: the points still missing, the tier it is for."""
    row = next((r for r in view.rewards if r.reward.id == params.get("reward_id")), None)
    if row is None or row.refusal is None or member is None:
        return t("reason_disabled")
    if row.refusal.reason == "insufficient_points":
        asked = params.get("points")
        wanted = asked if isinstance(asked, int) else row.reward.points_cost
        return t("reason_insufficient_points", n=max(wanted - member.points_available, 1))
    if row.refusal.reason == "tier_not_allowed":
        tier = next((x for x in view.tiers if x.id == row.reward.tier_id), None)
        return t("reason_tier_not_allowed", tier=t.name(tier.name, tier.names) if tier else "")
    return t("reason_" + row.refusal.reason)


def _for_theme() -> bool:
    return request.args.get("view") == THEME_VIEW


def _member_of(caller: auth.ProxyCaller) -> Member | None:
    if caller.customer_id is None:
        return None
    member = member_view.find_member(caller.shop, caller.customer_id)
    if member_view.is_member(member) and member is not None and not member.referral_code:
        # Members from before referral codes existed get theirs on first sight of the widget.
        try:
            ensure_code(member)
        except Exception:  # the widget still renders without a link
            db.session.rollback()
            log.exception("could not give member %s a referral code", member.id)
            member = member_view.find_member(caller.shop, caller.customer_id)
    return member


@bp.get("/widget")
@bp.get("/")
def show_widget() -> Response:
    caller = auth.verify(request)
    return _render_widget(caller, _member_of(caller))


# ------------------------------------------------------------------------------------ changes (POST)


def _outcome(level: str, key: str, status: int = 200, **params: Any) -> dict[str, Any]:
    return {"level": level, "key": key, "status": status, "params": params}


def _post(action: str, work: Any) -> Response:
    """Common to every change: signed query, a signed-in owner, the per-render token, one run per request key."""
    caller = auth.verify(request)
    if caller.customer_id is None:
        abort(401)
    claimed = request.form.get("customer_id")
    if claimed is not None and claimed.strip() != str(caller.customer_id):
        # The signed-in customer owns what is changed; a form naming someone else is refused outright.
        abort(403)
    subject = f"{caller.shop.domain}|{caller.customer_id}"
    if not auth.check_form_token(request.form.get("form_token"), caller.shop.domain, subject):
        member = member_view.find_member(caller.shop, caller.customer_id)
        return _render_widget(caller, member, _outcome("error", "error_stale_form", 403), status=403)
    key = (request.form.get("request_key") or "").strip()
    if not key or len(key) > 64:
        abort(400)
    shop_id, customer_id = caller.shop.id, caller.customer_id
    result = run_once(shop_id, customer_id, f"{action}:{key}", action, lambda: _refusals_shown(work, caller, key))
    if result.get("key") is None:  # claimed by a concurrent duplicate still running
        result = _outcome("info", "flash_in_progress", 202)
    db.session.expire_all()
    member = member_view.find_member(caller.shop, caller.customer_id)
    return _render_widget(caller, member, result, status=int(result.get("status", 200)))


def _refusals_shown(work: Any, caller: auth.ProxyCaller, key: str) -> dict[str, Any]:
    """A refusal of the services (a customer deleted in Shopify joining, …) is shown in the widget with its
    status, like the refusals each action names itself, never a 5xx."""
    try:
        result: dict[str, Any] = work(caller, key)
    except EngineError as exc:
        db.session.rollback()
        return _outcome("error", "error_generic", exc.status if 400 <= exc.status < 500 else 422)
    return result


def _require_member(caller: auth.ProxyCaller) -> Member | None:
    assert caller.customer_id is not None
    member = member_view.find_member(caller.shop, caller.customer_id)
    return member if member_view.is_member(member) else None


def _join(caller: auth.ProxyCaller, key: str) -> dict[str, Any]:
    assert caller.customer_id is not None
    # Enrolment is once per member by itself; the sign-up bonus key is the customer's.
    enroll(caller.shop, caller.customer_id, how="widget")
    return _outcome("ok", "flash_joined")


def _redeem(caller: auth.ProxyCaller, key: str) -> dict[str, Any]:
    member = _require_member(caller)
    if member is None:
        return _outcome("error", "error_not_member", 409)
    reward_id = parse_id(request.form.get("reward_id", ""))
    points_raw = request.form.get("points")
    points = parse_whole_number(points_raw, low=1, high=10**9) if points_raw else None
    if reward_id is None or (points_raw and points is None):
        return _outcome("error", "error_unknown_reward", 422)
    try:
        redemption = redeem(caller.shop, member, reward_id, idempotency_key=f"widget:{key}", points=points,
                            actor=f"shopper:{caller.customer_id}")
    except RewardNotFound:
        return _outcome("error", "error_unknown_reward", 404)
    except RedemptionRefused as exc:
        return _outcome("error", "reason_" + exc.code, 409, reward_id=reward_id, points=points)
    except RedemptionFailed:
        return _outcome("error", "error_redeem_failed", 502)
    return _outcome("ok", "flash_redeemed", code=redemption.code)


def _birthday(caller: auth.ProxyCaller, key: str) -> dict[str, Any]:
    member = _require_member(caller)
    if member is None:
        return _outcome("error", "error_not_member", 409)
    month = parse_whole_number(request.form.get("month", ""), low=1, high=12)
    day = parse_whole_number(request.form.get("day", ""), low=1, high=31)
    if month is None or day is None or validate_birthday(month, day) is not None:
        return _outcome("error", "error_birthday_invalid", 422)
    try:
        set_birthday(caller.shop, member, month, day)
    except BirthdayChangeRefused:
        return _outcome("error", "birthday_hint", 409)
    return _outcome("ok", "flash_birthday_saved")


def _action(caller: auth.ProxyCaller, key: str) -> dict[str, Any]:
    member = _require_member(caller)
    if member is None:
        return _outcome("error", "error_not_member", 409)
    action_key = request.form.get("action", "")
    action = claimable_action(caller.shop, action_key)
    if action is None:
        return _outcome("error", "error_generic", 403)
    try:
        award_action(caller.shop, member, action.key, idempotency_key=f"widget:{key}", via="widget")
    except ActionRefused:
        return _outcome("info", "done", 409)
    return _outcome("ok", "flash_action", n=action.points, name=action.name)


@bp.post("/widget/join")
def join() -> Response:
    return _post("join", _join)


@bp.post("/widget/redeem")
def redeem_reward() -> Response:
    return _post("redeem", _redeem)


@bp.post("/widget/birthday")
def save_birthday() -> Response:
    return _post("birthday", _birthday)


@bp.post("/widget/action")
def claim_action() -> Response:
    return _post("action", _action)


# ------------------------------------------------------------------------------------ referral landing


def _advocate(shop: Shop, code: str) -> Member | None:
    if not is_referral_code(code):
        return None
    member = find_advocate(shop, code)
    return member if member_view.is_member(member) else None


def _landing(caller: auth.ProxyCaller, code: str, *, known: bool, error: str | None = None,
             email: str = "", status: int = 200) -> Response:
    t = shop_translator(caller.shop, caller.locale)
    settings = member_view.program_settings(caller.shop)
    html = render_template(
        "proxy/landing.html", t=t, known=known, error=error, email=email, code=code,
        offer=t.money(settings.referral_friend_discount, caller.shop.currency),
        shop_name=caller.shop.name or caller.shop.domain,
        form_token=auth.form_token(caller.shop.domain, f"referral|{code}"),
        locale=t.locale, style_url=asset_url("widget.css"),
    )
    return _fragment_headers(Response(html, status=status, mimetype="text/html"))


@bp.get("/r/<code>")
def referral_landing(code: str) -> Response:
    caller = auth.verify(request)
    normalized = normalize_code(code)
    # The same page shape and status for an unknown code: it says nothing about who or whether.
    return _landing(caller, normalized, known=_advocate(caller.shop, normalized) is not None)


@bp.post("/r/<code>")
def referral_claim(code: str) -> Response:
    caller = auth.verify(request)
    normalized = normalize_code(code)
    email = (request.form.get("email") or "").strip()
    known = _advocate(caller.shop, normalized) is not None
    if not auth.check_form_token(request.form.get("form_token"), caller.shop.domain, f"referral|{normalized}"):
        return _landing(caller, normalized, known=known, error="error_stale_form", email=email, status=403)
    if not known:
        return _landing(caller, normalized, known=False)
    if not _EMAIL.match(email) or len(email) > 320:
        return _landing(caller, normalized, known=True, error="landing_invalid_email", email=email, status=422)
    try:
        referral = create_friend_code(caller.shop, normalized, email)
    except UnknownReferralCode:
        return _landing(caller, normalized, known=False)
    except ValueError:
        return _landing(caller, normalized, known=True, error="landing_invalid_email", email=email, status=422)
    except FriendCodeFailed:
        return _landing(caller, normalized, known=True, error="error_generic", email=email, status=502)
    # Relative to the storefront: Shopify applies the code to the cart, then shows the home page.
    resp = Response(status=303)
    resp.headers["Location"] = f"/discount/{referral.friend_code}"
    return _fragment_headers(resp)

