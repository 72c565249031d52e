"""Who is asking through the app proxy: Shopify's signature, the shop, the signed-in customer, and per-render form tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from dataclasses import dataclass

from flask import Request, abort, current_app

from app.models import Shop
from app.services import catalogue
from app.shopify import current_shopify, normalize_shop_domain

# A widget page stays open while the shopper reads it; its forms work this long after rendering.
FORM_TOKEN_TTL_SECONDS = 2 * 3600


@dataclass(frozen=True)
class ProxyCaller:
    shop: Shop
    # Shopify's `logged_in_customer_id`; None for a visitor who is not signed in.
    customer_id: int | None
    locale: str | None
    # The shop catalogue's version key, read with the shop (app.services.catalogue); None: do not cache.
    catalogue_version: str | None = None


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
        if not raw_customer.isdigit():
            abort(401)
        customer_id = int(raw_customer)
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
    if not issued_raw.isdigit():
        return False
    issued = int(issued_raw)
    current = now if now is not None else time.time()
    if not -60 <= current - issued <= FORM_TOKEN_TTL_SECONDS:
        return False
    return hmac.compare_digest(mac, _form_mac(shop_domain, subject, issued))


def new_request_key() -> str:
    """One per rendered form: a double-submit or a retry of that form carries the same key."""
    return secrets.token_urlsafe(18)
