"""The storefront blueprint behind Shopify's app proxy: the shopper's widget and the referral landing page."""

from __future__ import annotations

from flask import Flask

from app.proxy.routes import bp


def init_app(app: Flask) -> None:
    import app.proxy.requests as _proxy_requests  # noqa: F401  (registers the proxy_requests table; "as" keeps `app` the Flask app)

    app.register_blueprint(bp)
