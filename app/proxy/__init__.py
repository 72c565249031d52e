"""The storefront blueprint behind Shopify's app proxy: the shopper's widget and the referral landing page."""

from __future__ import annotations

from flask import Flask

from app.proxy.routes import (
    bp,  # its service, app.services.proxy_requests, registers the proxy_requests table
)


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
