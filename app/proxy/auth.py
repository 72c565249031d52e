"""Who is asking through the app proxy: Shopify's signature, the shop, the signed-in customer, and per-render form tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from flask import Request, abort, current_app

from app.inputs import InputError, parse_id
from app.models import Shop
from app.services import catalogue
from app.shopify import current_shopify, normalize_shop_domain

# A widget page stays open while the shopper reads it; its forms work this long after rendering.
FORM_TOKEN_TTL_SECONDS = 2 * 3600
# The parameters Shopify itself adds to a proxied request (and signs together with the shopper's own).
RESERVED_PARAMETERS = ("shop", "logged_in_customer_id", "path_prefix", "timestamp", "signature")


@dataclass(frozen=True)
class ProxyCaller:
    shop: Shop
    # Shopify's `logged_in_customer_id`; None for a visitor who is not signed in.
    customer_id: int | None
    locale: str | None
    # The shop catalogue's version key, read with the shop (app.services.catalogue); None: do not cache.
    catalogue_version: str | None = None


def refuse_repeated_reserved(request: Request) -> None:
    """400 when the query holds a Shopify-reserved parameter more than once.

    A shopper can add `?logged_in_customer_id=<someone>` to a storefront URL; Shopify then forwards that
    parameter twice, its own value and the shopper's, and signs them together (joined by a comma), so the
    signature is valid and taking either value would be taking the shopper's word. shopify_app refuses a
    repeated `shop` only; every reserved parameter is refused here."""
    for name in RESERVED_PARAMETERS:
        if len(request.args.getlist(name)) > 1:
            raise InputError(400, "repeated_parameter", f"the app proxy parameter {name} appears more than once")


def verify(request: Request) -> ProxyCaller:
    """Aborts 401 unless Shopify signed this query within 90 s, 404 for a shop that is not installed."""
    # shopify_app parses the query itself (repeated keys joined by commas, the 90 s window).
    result = current_shopify().verify_app_proxy(request.method, request.url, dict(request.headers))
    if not result.ok:
        abort(401)
    domain = normalize_shop_domain(request.args.get("shop"))
    if domain is None:
        abort(401)
    shop, version = catalogue.find_shop(domain)
    if shop is None or not shop.active:
        abort(404)
    raw_customer = result.logged_in_customer_id or ""
    customer_id: int | None = None
    if raw_customer:
        customer_id = parse_id(raw_customer)
        if customer_id is None:
            abort(401)
    return ProxyCaller(shop=shop, customer_id=customer_id, locale=request.args.get("locale"),
                      catalogue_version=version)


def _form_mac(shop_domain: str, subject: str, issued: int) -> str:
    secret = current_app.config["REGULARS"].api_secret.encode()
    message = f"proxy-form|{shop_domain}|{subject}|{issued}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()[:40]


def form_token(shop_domain: str, subject: str, now: float | None = None) -> str:
    """A token bound to shop + customer (or referral code) + render time, so a form cannot be forged or replayed
    for someone else long after; the proxy strips cookies, so this stands in for a CSRF token."""
    issued = int(now if now is not None else time.time())
    return f"{issued}.{_form_mac(shop_domain, subject, issued)}"


def check_form_token(token: str | None, shop_domain: str, subject: str, now: float | None = None) -> bool:
    if not token or "." not in token:
        return False
    issued_raw, mac = token.split(".", 1)
    if not issued_raw.isascii() or not issued_raw.isdigit() or len(issued_raw) > 12:
        return False
    issued = int(issued_raw)
    current = now if now is not None else time.time()
    if not -60 <= current - issued <= FORM_TOKEN_TTL_SECONDS:
        return False
    return hmac.compare_digest(mac, _form_mac(shop_domain, subject, issued))


def new_request_key() -> str:
    """One per rendered form: a double-submit or a retry of that form carries the same key."""
    return secrets.token_urlsafe(18)
