"""The HTTP face of the stand-in: Shopify's OAuth/token endpoints and Admin GraphQL (shop chosen by the Host
header), plus a JSON control API under /_dev for tests, the demo and benchmarks in other processes."""

from __future__ import annotations

import base64
import secrets
import time
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Flask, Response, jsonify, redirect, request

from . import graphql_api
from .models import Shop, gql_time
from .state import DevStore, DevStoreError, normalize_shop
from .tokens import decode_session_token, oauth_query_hmac

__all__ = ["create_app"]

TOKEN_EXCHANGE = "urn:ietf:params:oauth:grant-type:token-exchange"
INVALID_TOKEN_BODY = {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}


def _host_shop() -> str:
    return normalize_shop(request.host.split(":")[0])


def _json_or_form() -> dict[str, Any]:
    if request.is_json:
        body = request.get_json(silent=True)
        return body if isinstance(body, dict) else {}
    return request.form.to_dict()


def create_app(
    store: DevStore,
    *,
    api_key: str | None = None,
    api_secret: str | None = None,
    app_url: str | None = None,
) -> Flask:
    """The stand-in as a Flask app. api_key/api_secret/app_url default to the store's."""
    if api_key is not None:
        store.api_key = api_key
    if api_secret is not None:
        store.api_secret = api_secret
        store.sender.api_secret = api_secret
    if app_url is not None:
        store.app_url = app_url.rstrip("/")
        store.sender.app_url = store.app_url
    app = Flask("devstore")
    app.config["DEVSTORE"] = store
    from devstore.storefront import register as register_storefront

    register_storefront(app, store)

    def shop_or_404() -> Shop | None:
        return store.find_shop(_host_shop())

    @app.after_request
    def log_request(response: Response) -> Response:
        if request.path.startswith("/_dev"):
            return response
        body: Any = request.get_json(silent=True) if request.is_json else request.form.to_dict() or None
        entry = {
            "at": time.time(),
            "method": request.method,
            "path": request.path,
            "query": request.query_string.decode(),
            "shop": _host_shop(),
            "access_token": request.headers.get("X-Shopify-Access-Token"),
            "user_agent": request.headers.get("User-Agent"),
            "body": body,
            "status": response.status_code,
        }
        entry.update(getattr(request, "devstore_extra", {}))
        store.log_request(entry)
        return response

    # --- OAuth ----------------------------------------------------------------------------------------

    @app.get("/admin/oauth/authorize")
    def authorize() -> Any:
        """The merchant approves the install at once: redirect back with a code and Shopify's HMAC."""
        shop = shop_or_404()
        if shop is None:
            return jsonify({"errors": "Not Found"}), 404
        args = request.args
        if args.get("client_id") != store.api_key:
            return Response("Oauth error invalid_request: The client_id is invalid", status=400)
        redirect_uri = args.get("redirect_uri")
        if not redirect_uri:
            return Response("Oauth error invalid_request: The redirect_uri is missing", status=400)
        code = secrets.token_hex(16)
        with store.lock:
            store.auth_codes[code] = {
                "shop": shop.domain,
                "scope": args.get("scope") or store.scopes,
                "issued": time.time(),
                "online": "per-user" in args.getlist("grant_options[]"),
            }
        params = {
            "code": code,
            "host": base64.b64encode(f"admin.shopify.com/store/{shop.domain.split('.')[0]}".encode())
            .decode()
            .rstrip("="),
            "shop": shop.domain,
            "state": args.get("state", ""),
            "timestamp": str(int(time.time())),
        }
        params["hmac"] = oauth_query_hmac(params, store.api_secret)
        separator = "&" if "?" in redirect_uri else "?"
        return redirect(f"{redirect_uri}{separator}{urlencode(params)}", code=302)

    @app.post("/admin/oauth/access_token")
    def access_token() -> Any:
        shop = shop_or_404()
        if shop is None:
            return jsonify({"errors": "Not Found"}), 404
        body = _json_or_form()
        if body.get("client_id") != store.api_key or body.get("client_secret") != store.api_secret:
            return jsonify({"error": "invalid_client", "error_description": "Client credentials are invalid"}), 400
        grant = body.get("grant_type")
        if grant == TOKEN_EXCHANGE:
            return _token_exchange(shop, body)
        if grant == "refresh_token":
            return _refresh(shop, body)
        if grant in (None, "", "authorization_code"):
            return _authorization_code(shop, body)
        return jsonify({"error": "unsupported_grant_type"}), 400

    def _authorization_code(shop: Shop, body: dict) -> Any:
        with store.lock:
            grant = store.auth_codes.pop(body.get("code") or "", None)
            if grant is None or grant["shop"] != shop.domain or time.time() - grant["issued"] > 600:
                return jsonify(
                    {"error": "invalid_request",
                     "error_description": "The authorization code was not found or was already used"}
                ), 400
            shop.installed = True
            token = store._new_token(
                shop.domain, mode="online" if grant["online"] else "offline", expiring=False, scope=grant["scope"]
            )
            return jsonify(store.token_response(token))

    def _token_exchange(shop: Shop, body: dict) -> Any:
        try:
            claims = decode_session_token(str(body.get("subject_token") or ""), store.api_key, store.api_secret)
        except jwt.PyJWTError as exc:
            return jsonify({"error": "invalid_subject_token", "error_description": str(exc)}), 400
        if normalize_shop(str(claims.get("dest", ""))) != shop.domain:
            return jsonify(
                {"error": "invalid_subject_token", "error_description": "The token's dest is another shop"}
            ), 400
        if body.get("subject_token_type") != "urn:ietf:params:oauth:token-type:id_token":
            return jsonify({"error": "invalid_request", "error_description": "subject_token_type"}), 400
        requested = body.get("requested_token_type") or ""
        if requested.endswith("online-access-token"):
            mode = "online"
        elif requested.endswith("offline-access-token"):
            mode = "offline"
        else:
            return jsonify({"error": "invalid_request", "error_description": "requested_token_type"}), 400
        expiring = str(body.get("expiring", "0")) in ("1", "true", "True")
        with store.lock:
            # Token exchange is how a managed install completes: the app is installed from now on.
            shop.installed = True
            token = store._new_token(shop.domain, mode=mode, expiring=expiring, scope=store.scopes)
            return jsonify(store.token_response(token))

    def _refresh(shop: Shop, body: dict) -> Any:
        with store.lock:
            old = store.refresh_tokens.get(str(body.get("refresh_token") or ""))
            now = store.now()
            if (
                old is None
                or old.shop != shop.domain
                or old.revoked
                or (old.refresh_expires_at is not None and old.refresh_expires_at <= now)
            ):
                return jsonify(
                    {"error": "invalid_grant", "error_description": "The refresh token is invalid or expired"}
                ), 400
            # Refresh tokens rotate: the old one is spent.
            del store.refresh_tokens[old.refresh_token or ""]
            token = store._new_token(shop.domain, mode="offline", expiring=True, scope=old.scope)
            return jsonify(store.token_response(token))

    # --- Admin GraphQL --------------------------------------------------------------------------------

    @app.post("/admin/api/<version>/graphql.json")
    def admin_graphql(version: str) -> Any:
        shop = shop_or_404()
        if shop is None:
            return jsonify({"errors": "Not Found"}), 404
        if store.check_access_token(shop.domain, request.headers.get("X-Shopify-Access-Token")) is None:
            return jsonify(INVALID_TOKEN_BODY), 401
        body = request.get_json(silent=True)
        status, result, root_fields = graphql_api.execute(store, shop, body)
        request.devstore_extra = {  # type: ignore[attr-defined]
            "api_version": version,
            "root_fields": root_fields,
            "operation": (body or {}).get("query", "").lstrip().split("(")[0].split("{")[0].strip()
            if isinstance(body, dict) and isinstance(body.get("query"), str)
            else None,
            "variables": (body or {}).get("variables") if isinstance(body, dict) else None,
            "response": result,
        }
        response = jsonify(result)
        response.status_code = status
        if status == 200 and isinstance(result, dict) and "extensions" in result:
            available = result["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"]
            response.headers["X-Shopify-Shop-Api-Call-Limit"] = f"{int(2000 - available)}/2000"
        return response

    # --- control API ----------------------------------------------------------------------------------

    @app.errorhandler(DevStoreError)
    def devstore_error(exc: DevStoreError) -> Any:
        return jsonify({"error": str(exc)}), exc.status

    @app.errorhandler(TypeError)
    @app.errorhandler(KeyError)
    def bad_control_call(exc: Exception) -> Any:
        # Unknown or missing arguments to a control route are the caller's mistake, not a crash.
        if not request.path.startswith("/_dev"):
            raise exc
        return jsonify({"error": f"{type(exc).__name__}: {exc}"}), 400

    def body() -> dict[str, Any]:
        data = request.get_json(silent=True)
        return data if isinstance(data, dict) else {}

    @app.get("/_dev/health")
    def health() -> Any:
        return jsonify({"ok": True, "shops": sorted(store.shops)})

    @app.post("/_dev/reset")
    def reset() -> Any:
        store.reset()
        return jsonify({"ok": True})

    @app.post("/_dev/shops")
    def add_shop() -> Any:
        data = body()
        domain = data.pop("domain")
        return jsonify(store.add_shop(domain, **data)), 201

    @app.get("/_dev/shops/<shop>")
    def get_shop(shop: str) -> Any:
        return jsonify(store.shop(shop))

    @app.post("/_dev/shops/<shop>/uninstall")
    def uninstall(shop: str) -> Any:
        return jsonify(store.uninstall(shop, **body()))

    @app.post("/_dev/shops/<shop>/redact")
    def redact_shop(shop: str) -> Any:
        return jsonify(store.redact_shop(shop))

    @app.get("/_dev/shops/<shop>/customers")
    def list_customers(shop: str) -> Any:
        return jsonify(store.customers(shop))

    @app.post("/_dev/shops/<shop>/customers")
    def create_customer(shop: str) -> Any:
        data = body()
        email = data.pop("email", None)
        return jsonify(store.create_customer(shop, email, **data)), 201

    @app.get("/_dev/shops/<shop>/customers/<int:customer_id>")
    def get_customer(shop: str, customer_id: int) -> Any:
        return jsonify(store.get_customer(shop, customer_id))

    @app.patch("/_dev/shops/<shop>/customers/<int:customer_id>")
    def update_customer(shop: str, customer_id: int) -> Any:
        return jsonify(store.update_customer(shop, customer_id, **body()))

    @app.delete("/_dev/shops/<shop>/customers/<int:customer_id>")
    def delete_customer(shop: str, customer_id: int) -> Any:
        return jsonify(store.delete_customer(shop, customer_id, **body()))

    @app.get("/_dev/shops/<shop>/customers/<int:customer_id>/metafields")
    def customer_metafields(shop: str, customer_id: int) -> Any:
        return jsonify(store.metafields(shop, customer_id))

    @app.get("/_dev/shops/<shop>/flow-triggers")
    def flow_triggers(shop: str) -> Any:
        return jsonify(store.flow_triggers(shop))

    @app.get("/_dev/shops/<shop>/customers/<int:customer_id>/tags")
    def customer_tags(shop: str, customer_id: int) -> Any:
        return jsonify(store.tags(shop, customer_id))

    @app.post("/_dev/shops/<shop>/customers/<int:customer_id>/redact")
    def redact_customer(shop: str, customer_id: int) -> Any:
        return jsonify(store.redact_customer(shop, customer_id))

    @app.post("/_dev/shops/<shop>/customers/<int:customer_id>/data_request")
    def data_request(shop: str, customer_id: int) -> Any:
        return jsonify(store.data_request(shop, customer_id))

    @app.get("/_dev/shops/<shop>/orders")
    def list_orders(shop: str) -> Any:
        return jsonify(store.orders(shop))

    @app.post("/_dev/shops/<shop>/orders")
    def create_order(shop: str) -> Any:
        data = body()
        customer_id = data.pop("customer_id", None)
        lines = data.pop("lines")
        return jsonify(store.create_order(shop, customer_id, lines, **data)), 201

    @app.get("/_dev/shops/<shop>/orders/<int:order_id>")
    def get_order(shop: str, order_id: int) -> Any:
        return jsonify(store.get_order(shop, order_id))

    @app.patch("/_dev/shops/<shop>/orders/<int:order_id>")
    def edit_order(shop: str, order_id: int) -> Any:
        return jsonify(store.edit_order(shop, order_id, **body()))

    @app.post("/_dev/shops/<shop>/orders/<int:order_id>/paid")
    def mark_paid(shop: str, order_id: int) -> Any:
        return jsonify(store.mark_paid(shop, order_id, **body()))

    @app.post("/_dev/shops/<shop>/orders/<int:order_id>/refunds")
    def refund(shop: str, order_id: int) -> Any:
        return jsonify(store.refund(shop, order_id, **body())), 201

    @app.post("/_dev/shops/<shop>/orders/<int:order_id>/cancel")
    def cancel(shop: str, order_id: int) -> Any:
        return jsonify(store.cancel_order(shop, order_id, **body()))

    @app.get("/_dev/shops/<shop>/discount_codes")
    def discount_codes(shop: str) -> Any:
        return jsonify(store.discount_codes(shop))

    @app.post("/_dev/shops/<shop>/throttle")
    def throttle(shop: str) -> Any:
        store.throttle(shop, int(body().get("n", 1)))
        return jsonify({"ok": True})

    @app.post("/_dev/shops/<shop>/fail_next")
    def fail_next(shop: str) -> Any:
        data = body()
        store.fail_next(shop, int(data.get("n", 1)), int(data.get("status", 503)))
        return jsonify({"ok": True})

    @app.post("/_dev/shops/<shop>/fail_discounts")
    def fail_discounts(shop: str) -> Any:
        store.fail_discounts(shop, **body())
        return jsonify({"ok": True})

    @app.post("/_dev/shops/<shop>/clear_faults")
    def clear_faults(shop: str) -> Any:
        store.clear_faults(shop)
        return jsonify({"ok": True})

    @app.get("/_dev/shops/<shop>/access_tokens")
    def access_tokens(shop: str) -> Any:
        return jsonify(store.access_tokens(shop))

    @app.post("/_dev/shops/<shop>/access_tokens")
    def issue_access_token(shop: str) -> Any:
        return jsonify(store.issue_access_token(shop, **body())), 201

    @app.post("/_dev/shops/<shop>/access_tokens/expire")
    def expire_access_tokens(shop: str) -> Any:
        store.expire_access_tokens(shop)
        return jsonify({"ok": True})

    @app.post("/_dev/shops/<shop>/session_token")
    def session_token(shop: str) -> Any:
        data = body()
        token = store.mint_session_token(shop, user_id=data.get("user_id", 1), ttl=int(data.get("ttl", 60)))
        return jsonify({"id_token": token})

    @app.post("/_dev/shops/<shop>/app_proxy_query")
    def proxy_query(shop: str) -> Any:
        return jsonify(store.app_proxy_query(shop, **body()))

    @app.post("/_dev/clock/advance")
    def advance_clock() -> Any:
        store.advance(float(body().get("seconds", 0)))
        return jsonify({"now": gql_time(store.now())})

    @app.get("/_dev/clock")
    def clock() -> Any:
        return jsonify({"now": gql_time(store.now()), "offset_seconds": store._clock_offset / timedelta(seconds=1)})

    @app.post("/_dev/rate_limit")
    def rate_limit() -> Any:
        store.rate_limit = bool(body().get("enabled", True))
        return jsonify({"enabled": store.rate_limit})

    @app.get("/_dev/requests")
    def requests_log() -> Any:
        return jsonify(store.requests_log(request.args.get("shop"), request.args.get("path")))

    @app.delete("/_dev/requests")
    def clear_requests() -> Any:
        store.clear_requests()
        return jsonify({"ok": True})

    @app.post("/_dev/webhooks/mode")
    def webhook_mode() -> Any:
        mode = body().get("mode", "immediate")
        if mode not in ("immediate", "queue"):
            raise DevStoreError("mode is immediate or queue")
        store.sender.mode = mode
        return jsonify({"mode": mode})

    @app.post("/_dev/webhooks/flush")
    def webhook_flush() -> Any:
        return jsonify([d.to_dict() for d in store.sender.flush(**body())])

    @app.post("/_dev/webhooks/redeliver_failed")
    def webhook_redeliver() -> Any:
        return jsonify([d.to_dict() for d in store.sender.redeliver_failed()])

    @app.get("/_dev/webhooks/deliveries")
    def webhook_deliveries() -> Any:
        topic, shop = request.args.get("topic"), request.args.get("shop")
        return jsonify(
            [d.to_dict() for d in store.sender.deliveries_for(topic, normalize_shop(shop) if shop else None)]
        )

    @app.get("/_dev/webhooks/queued")
    def webhook_queued() -> Any:
        return jsonify([{"shop": e.shop, "topic": e.topic, "event_id": e.event_id} for e in store.sender.queued])

    return app
