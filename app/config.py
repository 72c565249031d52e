"""The one Config, read from the environment with strict parsing; bad values fail at start-up."""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlparse

# Kept equal to `[webhooks] api_version` in shopify.app.toml (a test checks it).
PINNED_API_VERSION = "2026-10"
DEFAULT_SCOPES = "read_customers,write_customers,read_orders,write_discounts,write_app_proxy"
DEV_API_KEY = "dev-api-key"
DEV_API_SECRET = "dev-api-secret"
_API_VERSION_RE = re.compile(r"^\d{4}-(01|04|07|10)$|^unstable$")
# REGULARS_ENV: exactly this value turns the development aids on; anything else, or nothing, is production.
DEVELOPMENT = "development"
_LOCAL_HINT = " (REGULARS_ENV is not development, so production rules apply; set REGULARS_ENV=development for local work)"


class ConfigError(ValueError):
    """A setting is missing or malformed; the message is one line saying which and why."""


@dataclass(frozen=True)
class Config:
    env: str = "production"
    api_key: str = DEV_API_KEY
    api_secret: str = DEV_API_SECRET
    scopes: tuple[str, ...] = tuple(DEFAULT_SCOPES.split(","))
    api_version: str = PINNED_API_VERSION
    app_url: str = "http://127.0.0.1:8000"
    database_url: str = "sqlite:///instance/regulars.db"
    redis_url: str | None = None
    shopify_api_origin: str | None = None
    # Operations: the bearer token of GET /metrics (unset: no /metrics at all) and Sentry's DSN (unset: off).
    metrics_token: str | None = None
    sentry_dsn: str | None = None
    # Development and tests only: Klaviyo's API at a local stand-in (like SHOPIFY_API_ORIGIN).
    klaviyo_api_origin: str | None = None
    # Internal knobs, not part of the outside contract.
    queue_prefix: str = ""
    drain_slots: int = 2
    delivery_max_attempts: int = 5
    # Without Redis: whether this process runs the schedule and fires work due later itself (what `rq cron`
    # and `rq worker --with-scheduler` do with Redis). None = yes, except under env "test" (tests that drive
    # time through `now` arguments; the tests about the schedule turn it on).
    in_process_schedule: bool | None = None
    # How long the relay holds a claimed delivery before another relay may send it again (a crash's cost).
    relay_lease_seconds: int = 120

    @property
    def production(self) -> bool:
        """Production rules: real secrets, https, no development aid. Everything but an explicit development."""
        return self.env != DEVELOPMENT

    @property
    def development(self) -> bool:
        return self.env == DEVELOPMENT

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Config:
        env_map = dict(os.environ if environ is None else environ)

        def get(name: str) -> str | None:
            value = env_map.get(name)
            if value is None:
                return None
            value = value.strip()
            return value or None

        env = get("REGULARS_ENV") or "production"
        if len(env) > 64 or not env.isprintable():
            raise ConfigError("REGULARS_ENV must be a short name: development, or anything else for production")
        production = env != DEVELOPMENT

        api_key = get("SHOPIFY_API_KEY")
        api_secret = get("SHOPIFY_API_SECRET")
        if production:
            if not api_key or api_key == DEV_API_KEY:
                raise ConfigError("SHOPIFY_API_KEY must be set to the app's client id in production" + _LOCAL_HINT)
            if not api_secret or api_secret == DEV_API_SECRET:
                raise ConfigError("SHOPIFY_API_SECRET must be set to the app's real client secret in production"
                                  + _LOCAL_HINT)
        api_key = api_key or DEV_API_KEY
        api_secret = api_secret or DEV_API_SECRET

        scopes_raw = get("SHOPIFY_SCOPES") or DEFAULT_SCOPES
        scopes = tuple(s.strip() for s in scopes_raw.split(",") if s.strip())
        if not scopes or any(not re.fullmatch(r"[a-z_]+", s) for s in scopes):
            raise ConfigError(f"SHOPIFY_SCOPES must be a comma-separated list of scope names, not {scopes_raw!r}")

        api_version = get("SHOPIFY_API_VERSION") or PINNED_API_VERSION
        if not _API_VERSION_RE.match(api_version):
            raise ConfigError(f"SHOPIFY_API_VERSION must look like 2026-10, not {api_version!r}")

        app_url = (get("APP_URL") or "http://127.0.0.1:8000").rstrip("/")
        _require_http_url("APP_URL", app_url)
        if production and not app_url.startswith("https://"):
            raise ConfigError("APP_URL must be an https:// URL in production" + _LOCAL_HINT)

        database_url = get("DATABASE_URL")
        if production and not database_url:
            raise ConfigError("DATABASE_URL must be set in production (a postgresql+psycopg:// URL)" + _LOCAL_HINT)
        database_url = database_url or "sqlite:///instance/regulars.db"
        if database_url.startswith("postgres://") or database_url.startswith("postgresql://"):
            # Heroku-style URLs name no driver; psycopg 3 is the one installed.
            database_url = "postgresql+psycopg://" + database_url.split("://", 1)[1]
        if not re.match(r"^(sqlite|postgresql\+psycopg)://", database_url):
            raise ConfigError(f"DATABASE_URL must be a sqlite:// or postgresql+psycopg:// URL, not {database_url!r}")

        redis_url = get("REDIS_URL")
        if redis_url and not re.match(r"^rediss?://", redis_url):
            raise ConfigError(f"REDIS_URL must be a redis:// URL, not {redis_url!r}")

        origin = get("SHOPIFY_API_ORIGIN")
        if origin:
            if production:
                raise ConfigError("SHOPIFY_API_ORIGIN is a development aid and must not be set in production"
                                  + _LOCAL_HINT)
            origin = origin.rstrip("/")
            _require_http_url("SHOPIFY_API_ORIGIN", origin)

        metrics_token = get("REGULARS_METRICS_TOKEN")
        if metrics_token is not None and not re.fullmatch(r"[\x21-\x7e]{16,512}", metrics_token):
            raise ConfigError("REGULARS_METRICS_TOKEN must be 16 to 512 printable characters without spaces")

        sentry_dsn = get("SENTRY_DSN")
        if sentry_dsn is not None:
            dsn = urlparse(sentry_dsn)
            if dsn.scheme not in ("http", "https") or not dsn.username or not dsn.hostname or not dsn.path.strip("/"):
                raise ConfigError("SENTRY_DSN must look like https://<key>@<host>/<project> (as Sentry shows it)")
        klaviyo_origin = get("KLAVIYO_API_ORIGIN")
        if klaviyo_origin:
            if production:
                raise ConfigError("KLAVIYO_API_ORIGIN is a development aid and must not be set in production")
            klaviyo_origin = klaviyo_origin.rstrip("/")
            _require_http_url("KLAVIYO_API_ORIGIN", klaviyo_origin)

        lease_raw = get("REGULARS_RELAY_LEASE_SECONDS") or "120"
        if not (lease_raw.isascii() and lease_raw.isdigit()) or not 1 <= int(lease_raw) <= 3600:
            raise ConfigError("REGULARS_RELAY_LEASE_SECONDS must be a whole number of seconds from 1 to 3600")

        slots_raw = get("REGULARS_DRAIN_SLOTS") or "2"
        attempts_raw = get("REGULARS_DELIVERY_MAX_ATTEMPTS") or "5"
        try:
            drain_slots = int(slots_raw)
            max_attempts = int(attempts_raw)
        except ValueError as exc:
            raise ConfigError(f"REGULARS_DRAIN_SLOTS and REGULARS_DELIVERY_MAX_ATTEMPTS must be integers ({exc})") from None
        if not 1 <= drain_slots <= 64 or not 1 <= max_attempts <= 50:
            raise ConfigError("REGULARS_DRAIN_SLOTS must be 1..64 and REGULARS_DELIVERY_MAX_ATTEMPTS 1..50")

        return cls(
            env=env,
            api_key=api_key,
            api_secret=api_secret,
            scopes=scopes,
            api_version=api_version,
            app_url=app_url,
            database_url=database_url,
            redis_url=redis_url,
            shopify_api_origin=origin,
            metrics_token=metrics_token,
            sentry_dsn=sentry_dsn,
            klaviyo_api_origin=klaviyo_origin,
            queue_prefix=get("REGULARS_QUEUE_PREFIX") or "",
            drain_slots=drain_slots,
            delivery_max_attempts=max_attempts,
            relay_lease_seconds=int(lease_raw),
        )


def _require_http_url(name: str, value: str) -> None:
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise ConfigError(f"{name} must be an http(s) URL, not {value!r}")
