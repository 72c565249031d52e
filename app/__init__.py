"""Regulars: loyalty points, VIP tiers and referrals for Shopify stores. `create_app` builds the app."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from app import error_reporting, logs
from app.config import DEVELOPMENT, Config


def create_app(config: Config | dict[str, Any] | None = None) -> Flask:
    """Builds the Flask app: one init_app per subsystem, no I/O beyond reading the environment."""
    if config is None or isinstance(config, dict):
        if os.environ.get("REGULARS_ENV") == DEVELOPMENT:
            # Read only when development is asked for explicitly: a forgotten .env cannot turn a server that
            # was started without REGULARS_ENV (production rules) into a development one. Imported here so
            # production never loads it.
            from dotenv import load_dotenv

            load_dotenv(override=False)
        cfg = Config.from_env()
        if isinstance(config, dict):
            cfg = Config(**{**cfg.__dict__, **config})
    else:
        cfg = config

    app = Flask(__name__, instance_relative_config=True)
    app.session_interface = _SessionInterface()
    app.config["REGULARS"] = cfg
    app.config["SECRET_KEY"] = cfg.api_secret
    app.config["SQLALCHEMY_DATABASE_URI"] = _database_uri(app, cfg.database_url)
    app.config["SQLALCHEMY_ENGINE_OPTIONS"] = _engine_options(cfg.database_url)
    app.config["SESSION_COOKIE_SECURE"] = cfg.production
    app.config["SESSION_COOKIE_SAMESITE"] = "Lax"
    app.config["JSON_SORT_KEYS"] = False
    logs.configure(cfg.production)
    error_reporting.init_app(app)

    # Imported here, not at the top: every `import app.<anything>` runs this package first, and the pure
    # domain (app.loyalty) or a config check must not load the whole web app with it.
    from app import admin, api, db_setup, ext, flow, i18n, inputs, jobs, metrics, proxy, shopify, webhooks
    from app.auth import init_app as auth_init
    from app.cli import init_app as cli_init
    from app.health import init_app as health_init
    from app.jobs import due as due_jobs
    from app.jobs import schedule as job_schedule
    from app.jobs import work as job_work
    from app.jobs.events import init_app as events_init

    inputs.init_app(app)
    i18n.init_app(app)
    db_setup.init_app(app)
    shopify.init_app(app)
    jobs.init_app(app)
    job_schedule.init_app(app)
    due_jobs.init_app(app)
    job_work.init_app(app)
    events_init(app)
    webhooks.init_app(app)
    ext.init_app(app)
    auth_init(app)
    health_init(app)
    metrics.init_app(app)
    cli_init(app)
    admin.init_app(app)
    proxy.init_app(app)
    api.init_app(app)
    flow.init_app(app)
    return app


class _SessionInterface(SecureCookieSessionInterface):
    """Flask's signed-cookie session (only the OAuth grant uses it), with its signer built once per key
    instead of on every request: Flask builds it even for a request without a cookie, and building it
    serialises a test value (≈ 17 µs a request, measured, on every route the webhook receiver included)."""

    def __init__(self) -> None:
        self._signer: tuple[Any, Any] | None = None

    def get_signing_serializer(self, app: Flask) -> Any:
        key = (app.secret_key, tuple(app.config.get("SECRET_KEY_FALLBACKS") or ()))
        if self._signer is None or self._signer[0] != key:
            self._signer = (key, super().get_signing_serializer(app))
        return self._signer[1]


def _database_uri(app: Flask, url: str) -> str:
    if url.startswith("sqlite:///") and not url.startswith("sqlite:////") and url != "sqlite:///:memory:":
        # Relative SQLite paths are relative to the project, not the working directory.
        rel = url.removeprefix("sqlite:///")
        path = os.path.join(os.path.dirname(app.root_path), rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        return f"sqlite:///{path}"
    return url


def _engine_options(url: str) -> dict[str, Any]:
    if url.startswith("postgresql"):
        return {"pool_pre_ping": True, "pool_size": 5, "max_overflow": 5, "pool_recycle": 1800}
    return {}
