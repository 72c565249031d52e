"""The JSON API under /api: authentication (session token or per-shop API key) and the error shape.

Route modules in this package (v1.py: public API v1; admin.py etc.: the admin page's API) add their
routes to `bp` at import; init_app imports every module of the package.
"""

from __future__ import annotations

import hashlib
import importlib
import pkgutil
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, request
from sqlalchemy import select
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.inputs import InputError, error_response, http_error, json_object
from app.models import ApiKey, Shop, utcnow

bp = Blueprint("api", __name__, url_prefix="/api")
F = TypeVar("F", bound=Callable[..., Any])
API_KEY_HEADER = "X-Regulars-Api-Key"


class ApiError(InputError):
    """Raised anywhere under /api: becomes {"error": {"code", "message", "fields"?}} with its status."""


def api_error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Response:
    return error_response(status, code, message, fields)


def hash_api_key(raw: str) -> str:
    return hashlib.sha256(raw.encode("utf-8", "surrogatepass")).hexdigest()


def _shop_from_api_key(raw: str) -> tuple[Shop, ApiKey] | None:
    key = db.session.execute(
        select(ApiKey).where(ApiKey.key_hash == hash_api_key(raw), ApiKey.revoked_at.is_(None))
    ).scalar_one_or_none()
    if key is None:
        return None
    shop = db.session.get(Shop, key.shop_id)
    if shop is None or not shop.active:
        return None
    key.last_used_at = utcnow()
    return shop, key


def api_auth(*, allow_api_key: bool = True) -> Callable[[F], F]:
    """Sets g.shop and g.actor from a session token (Bearer) or, where allowed, an X-Regulars-Api-Key."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            raw_key = request.headers.get(API_KEY_HEADER)
            if raw_key and allow_api_key and not request.headers.get("Authorization"):
                found = _shop_from_api_key(raw_key.strip())
                if found is None:
                    return api_error(401, "unauthenticated", "API key unknown or revoked")
                g.shop, key = found
                g.actor = f"api_key:{key.prefix}"
                return view(*args, **kwargs)
            from app.auth import verify_session_request

            identity, failure = verify_session_request()
            if failure is not None:
                if failure.status_code == 401 or not request.headers.get("Authorization"):
                    resp = api_error(401, "unauthenticated", "session token missing, invalid or expired")
                    resp.headers["X-Shopify-Retry-Invalid-Session-Request"] = "1"
                    return resp
                return failure
            assert identity is not None
            g.shop = identity.shop
            g.actor = f"staff:{identity.user_id or 'unknown'}"
            return view(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    return decorate


def json_body() -> dict[str, Any]:
    """The request's JSON object (strings cleaned): 400 when the body is not JSON, 422 when not an object."""
    return json_object(request)


@bp.errorhandler(ApiError)
def _api_error(exc: ApiError) -> Response:
    db.session.rollback()
    return api_error(exc.status, exc.code, exc.message, exc.fields)


@bp.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> Any:
    return http_error(exc)


def init_app(app: Flask) -> None:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    app.register_blueprint(bp)
