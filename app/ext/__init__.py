"""The backend of the app's customer account and checkout UI extensions: JSON under /ext/v1 (contract.md)."""

from __future__ import annotations

from flask import Flask

from app.ext.routes import bp


def init_app(app: Flask) -> None:
    app.register_blueprint(bp)
