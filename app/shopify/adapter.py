"""ShopifyAdapter: wraps Shopify's own `shopify_app` (verification, token exchange, Admin GraphQL) and ShopifyAPI.

Everything that knows Shopify's wire format lives here, so the rest of the app sees plain values and errors.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import shopify  # ShopifyAPI: its OAuth query-HMAC check
from shopify_app import ShopifyApp
from shopify_app.types import RequestInput

from app.loyalty.text import clean_json, json_text_may_need_cleaning
from app.shopify.transport import build_http_client

log = logging.getLogger(__name__)

_SHOP_RE = re.compile(r"^[a-z0-9][a-z0-9-]{0,59}\.myshopify\.com$")
# Authorization-code callbacks older than this are refused (replay protection; Shopify redirects at once).
OAUTH_MAX_AGE_SECONDS = 600


def normalize_shop_domain(value: str | None) -> str | None:
    """'Example.myshopify.com' or 'example' → 'example.myshopify.com'; None when it is not a shop domain."""
    if not value or not isinstance(value, str):
        return None
    value = value.strip().lower()
    value = value.removeprefix("https://").removeprefix("http://").rstrip("/")
    if "." not in value:
        value = f"{value}.myshopify.com"
    return value if _SHOP_RE.match(value) else None


def is_valid_shop_domain(value: str | None) -> bool:
    return bool(value) and normalize_shop_domain(value) == value


# Webhook topics whose body names the shop's myshopify domain, and the field that does (`domain` in
# app/uninstalled may be a custom domain, so it is not compared).
BODY_SHOP_FIELDS = {
    "customers/data_request": "shop_domain",
    "customers/redact": "shop_domain",
    "shop/redact": "shop_domain",
    "app/uninstalled": "myshopify_domain",
}


def body_names_another_shop(topic: str, payload: dict[str, Any], shop_domain: str) -> bool:
    """True when a delivery's body names a different shop than its X-Shopify-Shop-Domain header.

    The HMAC covers the body only, so a genuine body of shop A re-sent with shop B's domain in the header
    passes verification; for the topics whose body names the shop, the two must agree."""
    field = BODY_SHOP_FIELDS.get(topic)
    if field is None or field not in payload or payload[field] is None:
        return False
    named = payload[field]
    return not isinstance(named, str) or normalize_shop_domain(named) != shop_domain


def decode_payload(body: str) -> dict[str, Any]:
    """A stored delivery's body as the handlers read it: its text cleaned (app.loyalty.text), so a customer
    name holding NUL is stored without it instead of failing every delivery of that customer."""
    payload: dict[str, Any] = json.loads(body)
    return clean_json(payload) if json_text_may_need_cleaning(body) else payload


_TIME_CLAIMS = ("exp", "nbf", "iat")


def session_token_problem(claims: dict[str, Any]) -> str | None:
    """What shopify_app's App Home check leaves out of Shopify's session-token steps; None when all hold.

    shopify_app (PyJWT underneath) checks exp/nbf only when present, so a token without `exp` would never
    expire; and it reads the shop from `dest` alone, where Shopify's steps require `iss` (the shop's admin)
    and `dest` (the shop) to name the same shop."""
    for claim in _TIME_CLAIMS:
        value = claims.get(claim)
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"missing_{claim}"
    iss, dest = claims.get("iss"), claims.get("dest")
    if not isinstance(iss, str) or not isinstance(dest, str):
        return "missing_iss_or_dest"
    try:
        iss_parts, dest_parts = urlsplit(iss), urlsplit(dest)
    except ValueError:
        return "invalid_iss_or_dest"
    if iss_parts.scheme != "https" or dest_parts.scheme != "https":
        return "invalid_iss_or_dest"
    shop = normalize_shop_domain(dest_parts.hostname)
    if shop is None or dest_parts.hostname != shop or iss_parts.hostname != shop:
        return "iss_dest_mismatch"
    return None


class ShopifyUnavailable(RuntimeError):
    """Shopify could not be reached or kept failing after retries."""


class ThrottledError(ShopifyUnavailable):
    """Shopify kept answering THROTTLED; `retry_after` says when capacity should be back."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class GraphQLError(RuntimeError):
    """Shopify answered, and refused: GraphQL errors other than THROTTLED, or an HTTP error that retrying won't fix."""

    def __init__(self, message: str, errors: Any = None, status: int | None = None) -> None:
        super().__init__(message)
        self.errors = errors
        self.status = status


@dataclass(frozen=True)
class OfflineToken:
    access_token: str
    scope: str
    expires_at: datetime | None
    refresh_token: str | None
    refresh_token_expires_at: datetime | None


@dataclass(frozen=True)
class WebhookVerdict:
    status: int  # 200 when authentic
    shop_domain: str | None
    reason: str


@dataclass(frozen=True)
class ExtensionCaller:
    """What a customer account or checkout UI extension's session token says, once shopify_app has verified it.

    `preflight` is a CORS preflight answered by shopify_app (nothing is authenticated then). `status`,
    `body` and `headers` are the response shopify_app prescribes when the request is not `ok`.
    """

    ok: bool
    preflight: bool
    status: int
    headers: dict[str, str]
    shop_domain: str | None = None
    # Shopify's numeric customer id from the token's `sub` (gid://shopify/Customer/{id}); None for a visitor.
    customer_id: int | None = None
    reason: str = ""


_GID_RE = re.compile(r"^gid://shopify/(?P<kind>[A-Za-z]+)/(?P<id>[1-9][0-9]{0,18})$")


def numeric_id(value: object, kind: str, *, gid_only: bool = False) -> int | None:
    """Shopify's id from a gid (`gid://shopify/{kind}/123`) or (unless `gid_only`) a plain number; None when
    it is neither. Ids above 2^63 − 1 are refused: they are not Shopify ids and would not fit our columns."""
    if isinstance(value, bool) or not isinstance(value, int | str):
        return None
    text = str(value).strip()
    if text.isascii() and text.isdigit() and len(text) <= 19 and not gid_only:
        number = int(text)
    else:
        match = _GID_RE.match(text)
        if match is None or match["kind"] != kind:
            return None
        number = int(match["id"])
    return number if 0 < number < 2**63 else None


def _parse_iso(value: str | None) -> datetime | None:
    if not value:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


class ShopifyAdapter:
    def __init__(
        self,
        *,
        api_key: str,
        api_secret: str,
        api_version: str,
        api_origin: str | None,
        scopes: tuple[str, ...],
    ) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.api_version = api_version
        self.api_origin = api_origin
        self.scopes = scopes
        self.app = ShopifyApp(client_id=api_key, client_secret=api_secret)
        self._http: httpx.Client | None = None
        # ShopifyAPI keeps its key and secret on the class; set once here.
        shopify.Session.setup(api_key=api_key, secret=api_secret)

    @property
    def http(self) -> httpx.Client:
        # Created on first use: no sockets at import or app creation (forked workers get their own).
        if self._http is None:
            self._http = build_http_client(self.api_origin)
        return self._http

    def reset_http(self) -> None:
        """Forget the pooled client (after a fork)."""
        self._http = None

    # ---------------------------------------------------------------- verification
    def verify_webhook(self, headers: Any, body: bytes) -> WebhookVerdict:
        received = headers.get("X-Shopify-Hmac-Sha256") or headers.get("x-shopify-hmac-sha256")
        if not received:
            return WebhookVerdict(401, None, "missing X-Shopify-Hmac-Sha256")
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            # shopify_app signs str bodies; a body that is not UTF-8 is checked over its raw bytes here.
            digest = base64.b64encode(hmac.new(self.api_secret.encode(), body, hashlib.sha256).digest()).decode()
            ok = hmac.compare_digest(digest, received)
            return WebhookVerdict(400 if ok else 401, None, "body is not UTF-8 JSON" if ok else "invalid HMAC")
        # Only the headers shopify_app reads, rather than a copy of every header for it to normalise and redact.
        # (Most of its cost, ≈ 60 of ≈ 75 µs, is redacting the body for a log record we never use.)
        shop_header = headers.get("X-Shopify-Shop-Domain") or ""
        result = self.app.verify_webhook_req({
            "method": "POST", "url": "", "body": text,
            "headers": {"X-Shopify-Hmac-Sha256": received, "X-Shopify-Shop-Domain": shop_header},
        })
        if not result.ok:
            status = 401 if result.response.status in (400, 401) else result.response.status
            return WebhookVerdict(status, None, result.log.code)
        domain = normalize_shop_domain(shop_header)
        return WebhookVerdict(200, domain, "verified")

    def verify_app_home(self, method: str, url: str, headers: Any, body: str = "") -> Any:
        """shopify_app's App Home check: the id_token (query or Bearer header) signed with our secret, plus the
        claims it does not check (session_token_problem). A token failing those gets the response shopify_app
        prescribes for an invalid token (the patch-id-token bounce for documents, 401 + retry for fetches)."""
        result = self.app.verify_app_home_req(
            {"method": method, "headers": dict(headers), "url": url, "body": body},
            app_home_patch_id_token_path="/auth/patch-id-token",
        )
        if not result.ok or result.id_token is None:
            return result
        problem = session_token_problem(dict(result.id_token.claims))
        if problem is None:
            return result
        log.info("session token refused: %s", problem)
        refused = result.invalid_token_response
        return replace(result, ok=False, shop=None, user_id=None, id_token=None,
                       log=replace(result.log, code=problem, detail="session token claims are not Shopify's"),
                       response=refused if refused is not None else replace(result.response, status=401))

    def verify_app_proxy(self, method: str, url: str, headers: Any, body: str = "") -> Any:
        return self.app.verify_app_proxy_req({"method": method, "headers": dict(headers), "url": url, "body": body})

    def verify_ui_extension(self, surface: str, method: str, url: str, headers: Any) -> ExtensionCaller:
        """A request from the app's customer account (`surface="customer_account"`) or checkout UI extension,
        through shopify_app's verifier for that surface; the CORS preflight is answered by it too."""
        request: RequestInput = {"method": method, "headers": dict(headers), "url": url, "body": ""}
        if surface == "checkout":
            result = self.app.verify_checkout_ui_ext_req(request)
        else:
            result = self.app.verify_customer_account_ui_ext_req(request)
        cors = dict(result.response.headers or {})
        if result.ok and result.id_token is None:  # OPTIONS from another origin: shopify_app's 204 and CORS headers
            return ExtensionCaller(True, True, result.response.status, cors, reason=result.log.code)
        if not result.ok or result.id_token is None:
            return ExtensionCaller(False, False, result.response.status, cors, reason=result.log.code)
        claims = result.id_token.claims or {}
        domain = normalize_shop_domain(result.shop)
        if domain is None:
            return ExtensionCaller(False, False, 401, cors, reason="no_shop")
        sub = claims.get("sub")
        customer_id = None
        if sub:
            # Only a customer gid: an admin session token (sub = a staff user's number) is no customer.
            customer_id = numeric_id(sub, "Customer", gid_only=True)
            if customer_id is None:  # signed with our secret, but no customer we can name: refuse rather than guess
                return ExtensionCaller(False, False, 401, cors, reason="invalid_sub")
        return ExtensionCaller(True, False, 200, cors, shop_domain=domain, customer_id=customer_id, reason="verified")

    def patch_id_token_page(self, method: str, url: str, headers: Any, app_url: str) -> Any | None:
        """shopify_app's bounce page, or None when its `shop` is not a myshopify domain or `shopify-reload` is
        not a page of this app (a path, or an absolute URL under `app_url`): shopify_app copies `shop` into the
        page's CSP unchecked (`*` would let any site frame it, CR/LF would break the header) and App Bridge
        reloads whatever `shopify-reload` says, with a fresh session token on it."""
        query = parse_qs(urlsplit(url).query, keep_blank_values=True)
        shops, reloads = query.get("shop", []), query.get("shopify-reload", [])
        if len(shops) != 1 or not is_valid_shop_domain(shops[0]) or len(reloads) != 1:
            return None
        reload = reloads[0].removeprefix(app_url.rstrip("/"))
        if not reload.startswith("/") or reload.startswith("//") or "\\" in reload or not reload.isprintable():
            return None
        return self.app.app_home_patch_id_token({"method": method, "headers": dict(headers), "url": url, "body": ""})

    # ---------------------------------------------------------------- OAuth (authorization-code grant)
    def authorize_url(self, shop_domain: str, redirect_uri: str, state: str) -> str:
        query = urlencode(
            {"client_id": self.api_key, "scope": ",".join(self.scopes), "redirect_uri": redirect_uri, "state": state}
        )
        return f"https://{shop_domain}/admin/oauth/authorize?{query}"

    def new_state(self) -> str:
        return secrets.token_urlsafe(24)

    def verify_oauth_query(self, params: Mapping[str, str], now: float | None = None) -> str | None:
        """None when the callback query is authentic and fresh; otherwise why not."""
        if not shopify.Session.validate_hmac(dict(params)):
            return "invalid hmac"
        try:
            ts = int(params.get("timestamp", ""))
        except ValueError:
            return "invalid timestamp"
        if abs((now if now is not None else time.time()) - ts) > OAUTH_MAX_AGE_SECONDS:
            return "stale timestamp"
        return None

    def exchange_code(self, shop_domain: str, code: str) -> OfflineToken:
        # ShopifyAPI's request_token opens its own urllib connection, which cannot be pointed at the
        # stand-in; the same POST goes through our httpx client instead.
        try:
            resp = self.http.post(
                f"https://{shop_domain}/admin/oauth/access_token",
                json={"client_id": self.api_key, "client_secret": self.api_secret, "code": code},
            )
        except httpx.HTTPError as exc:
            raise ShopifyUnavailable(f"token request failed: {exc}") from exc
        if resp.status_code != 200:
            raise GraphQLError("Shopify refused the authorization code", status=resp.status_code)
        data = resp.json()
        return OfflineToken(data["access_token"], data.get("scope", ""), None, None, None)

    # ---------------------------------------------------------------- token exchange
    def exchange_id_token(self, id_token: Any) -> OfflineToken:
        result = self.app.exchange_using_token_exchange("offline", id_token=id_token, expiring=True, http_client=self.http)
        if not result.ok or result.access_token is None:
            raise GraphQLError(f"token exchange failed: {result.log.code}", status=result.response.status)
        return self._offline_token(result.access_token)

    def refresh(self, shop_domain: str, refresh_token: str, expires_at: datetime | None,
                refresh_expires_at: datetime | None) -> OfflineToken:
        fmt = "%Y-%m-%dT%H:%M:%SZ"
        result = self.app.refresh_token_exchanged_access_token(
            {
                "shop": shop_domain.removesuffix(".myshopify.com"),
                "refresh_token": refresh_token,
                "expires": expires_at.strftime(fmt) if expires_at else None,
                "refresh_token_expires": refresh_expires_at.strftime(fmt) if refresh_expires_at else None,
                "access_mode": "offline",
            },
            http_client=self.http,
        )
        if not result.ok or result.access_token is None:
            raise GraphQLError(f"token refresh failed: {result.log.code}", status=result.response.status)
        return self._offline_token(result.access_token)

    @staticmethod
    def _offline_token(tok: Any) -> OfflineToken:
        return OfflineToken(
            access_token=tok.token,
            scope=tok.scope or "",
            expires_at=_parse_iso(tok.expires),
            refresh_token=tok.refresh_token,
            refresh_token_expires_at=_parse_iso(tok.refresh_token_expires),
        )

    # ---------------------------------------------------------------- Admin GraphQL
    def graphql(
        self,
        shop_domain: str,
        access_token: str,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        throttle_retries: int = 4,
        sleep: Any = time.sleep,
    ) -> dict[str, Any]:
        """Runs one Admin GraphQL operation and returns its `data`.

        shopify_app retries 429s and 5xx; THROTTLED arrives as a 200 with errors, which it hands back,
        so waiting for the bucket to refill (throttleStatus) is done here. Never drops: raises instead.
        """
        shop = shop_domain.removesuffix(".myshopify.com")
        for attempt in range(throttle_retries + 1):
            result = self.app.admin_graphql_request(
                query, shop=shop, access_token=access_token, api_version=self.api_version,
                variables=variables, http_client=self.http,
            )
            if result.ok:
                # Shopify's text as the rest of the app may store it (app.loyalty.text).
                data: dict[str, Any] = clean_json(result.data or {})
                return data
            code = result.log.code
            if code == "network_error" or result.response.status in (0, 429) or result.response.status >= 500:
                raise ShopifyUnavailable(f"Shopify unreachable ({code}, HTTP {result.response.status})")
            if code != "graphql_errors":
                raise GraphQLError(f"Shopify refused the request ({code})", status=result.response.status)
            try:
                body = json.loads(result.response.body or "{}")
            except ValueError:
                body = {}
            errors = body.get("errors") or []
            throttled = any(
                isinstance(e, dict) and (e.get("extensions") or {}).get("code") == "THROTTLED" for e in errors
            )
            if not throttled:
                raise GraphQLError("GraphQL errors", errors=errors, status=200)
            wait = throttle_wait_seconds(body.get("extensions"), attempt)
            if attempt == throttle_retries:
                raise ThrottledError("Shopify kept answering THROTTLED", retry_after=wait)
            log.info("THROTTLED by %s; waiting %.2fs", shop_domain, wait)
            sleep(wait)
        raise AssertionError("unreachable")


def throttle_wait_seconds(extensions: Any, attempt: int, needed: float = 100.0) -> float:
    """How long until the leaky bucket holds `needed` points again (Shopify's throttleStatus), else backoff."""
    try:
        status = extensions["cost"]["throttleStatus"]
        available = float(status["currentlyAvailable"])
        rate = float(status["restoreRate"]) or 50.0
        requested = float(extensions["cost"].get("requestedQueryCost") or needed)
        return max(0.05, min(10.0, (requested - available) / rate))
    except (KeyError, TypeError, ValueError):
        return min(10.0, 0.25 * (2**attempt))
