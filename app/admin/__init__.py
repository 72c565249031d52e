"""The embedded admin: the page Shopify admin shows in its iframe, and its JSON API."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, current_app, render_template

from app.auth import verify_session_request

bp = Blueprint("admin", __name__)


@bp.get("/")
def home() -> Response | str:
    identity, failure = verify_session_request()
    if failure is not None:
        return failure
    assert identity is not None
    cfg = current_app.config["REGULARS"]
    return render_template("admin/home.html", shop=identity.shop, api_key=cfg.api_key)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
