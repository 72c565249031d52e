"""The JSON API under /api: authentication (session token or per-shop API key) and the error shape.

Route modules in this package (v1.py: public API v1; admin*.py, analytics.py, keys.py, texts.py: the admin page's
API; events.py, automations.py; openapi.py) add their routes to `bp` at import; init_app names each one.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from flask import Blueprint, Flask, Response, g, request
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.inputs import InputError, error_response, http_error, json_object
from app.services import api_keys

bp = Blueprint("api", __name__, url_prefix="/api")
F = TypeVar("F", bound=Callable[..., Any])
API_KEY_HEADER = "X-Regulars-Api-Key"


class ApiError(InputError):
    """Raised anywhere under /api: becomes {"error": {"code", "message", "fields"?}} with its status."""


def api_error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Response:
    return error_response(status, code, message, fields)


hash_api_key = api_keys.hash_key


def api_auth(*, allow_api_key: bool = True) -> Callable[[F], F]:
    """Sets g.shop and g.actor from a session token (Bearer) or, where allowed, an X-Regulars-Api-Key."""

    def decorate(view: F) -> F:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            raw_key = request.headers.get(API_KEY_HEADER)
            if raw_key and allow_api_key and not request.headers.get("Authorization"):
                found = api_keys.shop_for_key(raw_key.strip())
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
    # Each route module adds its routes to `bp` when imported, so they are imported here, by name, once `bp` exists.
    from app.api import (  # noqa: F401
        admin,
        admin_members,
        admin_program,
        analytics,
        automations,
        events,
        keys,
        openapi,
        texts,
        v1,
    )

    app.register_blueprint(bp)
