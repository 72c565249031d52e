"""Signers for what Shopify itself signs: App Bridge session tokens, app-proxy queries, OAuth and webhook HMACs."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
import uuid
from collections.abc import Mapping

import jwt

__all__ = [
    "app_proxy_query",
    "decode_session_token",
    "mint_extension_token",
    "mint_session_token",
    "oauth_query_hmac",
    "sign_app_proxy",
    "webhook_hmac",
]


def _shop_domain(shop: str) -> str:
    """Accept `demo`, `demo.myshopify.com` or `https://demo.myshopify.com` and return the domain."""
    domain = shop.removeprefix("https://").removeprefix("http://").strip("/")
    if "." not in domain:
        domain = f"{domain}.myshopify.com"
    return domain


def mint_extension_token(
    shop: str,
    api_key: str,
    api_secret: str,
    *,
    customer_id: int | str | None = None,
    ttl: int = 300,
    now: float | None = None,
) -> str:
    """The session token a customer account or checkout UI extension gets from `shopify.sessionToken.get()`.

    HS256 over the app secret with `aud` = the client id and `dest` = the shop; `sub` is the customer's gid
    only when a customer is signed in (and the app may read customers). These tokens live five minutes.
    """
    domain = _shop_domain(shop)
    issued = int(now if now is not None else time.time())
    claims: dict[str, object] = {
        "iss": f"https://{domain}/admin",
        "dest": domain,
        "aud": api_key,
        "exp": issued + ttl,
        "nbf": issued,
        "iat": issued,
        "jti": str(uuid.uuid4()),
    }
    if customer_id is not None:
        claims["sub"] = f"gid://shopify/Customer/{customer_id}"
    return jwt.encode(claims, api_secret, algorithm="HS256")


def mint_session_token(
    shop: str,
    api_key: str,
    api_secret: str,
    *,
    user_id: int | str = 1,
    ttl: int = 60,
    now: float | None = None,
    session_id: str | None = None,
) -> str:
    """An App Bridge session token (`id_token`) as Shopify admin issues it: HS256 over the app secret.

    Shopify's tokens live one minute, carry `iss` = the shop's admin URL, `dest` = the shop URL and
    `aud` = the app's client id; `sub` is the staff user's id as a string.
    """
    domain = _shop_domain(shop)
    issued = int(now if now is not None else time.time())
    claims = {
        "iss": f"https://{domain}/admin",
        "dest": f"https://{domain}",
        "aud": api_key,
        "sub": str(user_id),
        "exp": issued + ttl,
        "nbf": issued,
        "iat": issued,
        "jti": str(uuid.uuid4()),
        "sid": session_id or hashlib.sha256(f"{domain}:{user_id}".encode()).hexdigest()[:32],
    }
    return jwt.encode(claims, api_secret, algorithm="HS256")


def decode_session_token(token: str, api_key: str, api_secret: str, *, leeway: int = 10) -> dict:
    """Verify a session token the way Shopify's token endpoint does (signature, exp/nbf, aud)."""
    return jwt.decode(
        token,
        api_secret,
        algorithms=["HS256"],
        audience=api_key,
        leeway=leeway,
        options={"require": ["exp", "nbf", "iat", "aud", "dest"]},
    )


def _app_proxy_message(params: Mapping[str, str | list[str]]) -> str:
    # Shopify: sort by key, `key=value`, repeated keys' values joined by commas, no separator at all.
    parts = []
    for key in sorted(params):
        if key == "signature":
            continue
        value = params[key]
        parts.append(f"{key}={','.join(value) if isinstance(value, list) else value}")
    return "".join(parts)


def sign_app_proxy(params: Mapping[str, str | list[str]], api_secret: str) -> str:
    """The app-proxy `signature` Shopify appends: hex HMAC-SHA256 of the sorted, separator-less params."""
    message = _app_proxy_message(params)
    return hmac.new(api_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def app_proxy_query(
    shop: str,
    path_prefix: str = "/apps/regulars",
    logged_in_customer_id: int | str | None = None,
    extra: Mapping[str, str | list[str]] | None = None,
    *,
    api_secret: str,
    timestamp: int | None = None,
) -> dict[str, str | list[str]]:
    """The full query string Shopify adds when forwarding a storefront request through the app proxy.

    Shopify always sends `logged_in_customer_id` (empty when nobody is logged in), `path_prefix`,
    `shop` and `timestamp`; the shopper's own query parameters are signed along with them.
    Pass the result to `urllib.parse.urlencode(..., doseq=True)`.
    """
    params: dict[str, str | list[str]] = dict(extra or {})
    params.update(
        {
            "logged_in_customer_id": "" if logged_in_customer_id is None else str(logged_in_customer_id),
            "path_prefix": path_prefix,
            "shop": _shop_domain(shop),
            "timestamp": str(int(timestamp if timestamp is not None else time.time())),
        }
    )
    params["signature"] = sign_app_proxy(params, api_secret)
    return params


def oauth_query_hmac(params: Mapping[str, str], api_secret: str) -> str:
    """The `hmac` of an OAuth redirect / admin launch query: hex HMAC-SHA256 of sorted `k=v` joined by `&`."""
    message = "&".join(f"{k}={params[k]}" for k in sorted(params) if k not in ("hmac", "signature"))
    return hmac.new(api_secret.encode(), message.encode(), hashlib.sha256).hexdigest()


def webhook_hmac(body: bytes, api_secret: str) -> str:
    """`X-Shopify-Hmac-Sha256`: base64 HMAC-SHA256 of the raw body."""
    return base64.b64encode(hmac.new(api_secret.encode(), body, hashlib.sha256).digest()).decode()
