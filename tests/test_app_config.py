"""shopify.app.toml agrees with the code, and configuration fails fast with a one-line reason."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.config import DEFAULT_SCOPES, PINNED_API_VERSION, Config, ConfigError
from app.services.topics import HANDLERS
from app.webhooks import COMPLIANCE_TOPICS

TOML = tomllib.loads((Path(__file__).parent.parent / "shopify.app.toml").read_text())


def _subscriptions() -> dict[str, str]:
    out = {}
    for sub in TOML["webhooks"]["subscriptions"]:
        for topic in sub.get("topics", []) + sub.get("compliance_topics", []):
            out[topic] = sub["uri"]
    return out


def test_every_subscribed_topic_has_a_handler_and_every_handler_is_subscribed():
    assert set(_subscriptions()) == set(HANDLERS)


def test_compliance_topics_go_to_the_compliance_route():
    subs = _subscriptions()
    assert {t for t, uri in subs.items() if uri == "/webhooks/compliance"} == set(COMPLIANCE_TOPICS)
    assert {t for t, uri in subs.items() if uri == "/webhooks"} == set(HANDLERS) - set(COMPLIANCE_TOPICS)


def test_toml_matches_the_pinned_version_scopes_and_proxy():
    from app.proxy.routes import STOREFRONT_PREFIX

    assert f"/{TOML['app_proxy']['prefix']}/{TOML['app_proxy']['subpath']}" == STOREFRONT_PREFIX
    assert TOML["webhooks"]["api_version"] == PINNED_API_VERSION
    assert TOML["access_scopes"]["scopes"] == DEFAULT_SCOPES
    assert TOML["embedded"] is True
    proxy = TOML["app_proxy"]
    assert (proxy["prefix"], proxy["subpath"]) == ("apps", "regulars") and proxy["url"].endswith("/proxy")
    assert all(u.endswith("/auth/callback") for u in TOML["auth"]["redirect_urls"])


def test_defaults_outside_production():
    cfg = Config.from_env({"REGULARS_ENV": "development"})
    assert cfg.development and not cfg.production
    assert (cfg.api_key, cfg.api_secret) == ("dev-api-key", "dev-api-secret")
    assert cfg.database_url == "sqlite:///instance/regulars.db" and cfg.redis_url is None
    assert cfg.app_url == "http://127.0.0.1:8000" and cfg.api_version == PINNED_API_VERSION


@pytest.mark.parametrize("env, needle", [
    ({"REGULARS_ENV": "production"}, "SHOPIFY_API_KEY"),
    ({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k"}, "SHOPIFY_API_SECRET"),
    ({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "dev-api-secret"}, "SHOPIFY_API_SECRET"),
    ({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "APP_URL": "https://a.example"}, "DATABASE_URL"),
    ({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "APP_URL": "http://a.example",
      "DATABASE_URL": "postgresql://x/y"}, "https"),
    ({"REGULARS_ENV": "staging"}, "SHOPIFY_API_KEY"),  # anything but development is production
    ({"REGULARS_ENV": "production\nx"}, "REGULARS_ENV"),
    ({"REGULARS_ENV": "development", "DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    ({"REGULARS_ENV": "development", "REDIS_URL": "http://x"}, "REDIS_URL"),
    ({"REGULARS_ENV": "development", "SHOPIFY_API_VERSION": "2026-13"}, "SHOPIFY_API_VERSION"),
    ({"REGULARS_ENV": "development", "APP_URL": "ftp://x"}, "APP_URL"),
])
def test_bad_configuration_fails_fast_with_one_line(env, needle):
    with pytest.raises(ConfigError) as info:
        Config.from_env(env)
    message = str(info.value)
    assert needle in message and "\n" not in message


@pytest.mark.parametrize("environ", [{}, {"REGULARS_ENV": ""}, {"REGULARS_ENV": "test"},
                                     {"REGULARS_ENV": "Development"}, {"REGULARS_ENV": "dev"}])
def test_unset_or_anything_but_development_is_production(environ):
    """A server started without REGULARS_ENV gets production rules: no dev secrets, and the one-line error
    says which variable turns on development for local work."""
    with pytest.raises(ConfigError) as info:
        Config.from_env(environ)
    message = str(info.value)
    assert "SHOPIFY_API_KEY" in message and "REGULARS_ENV=development" in message and "\n" not in message
    real = {**environ, "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "APP_URL": "https://a.example",
            "DATABASE_URL": "postgresql://u@h/db"}
    cfg = Config.from_env(real)
    assert cfg.production and not cfg.development


def test_the_dataclass_default_is_production_too():
    assert Config().production and not Config().development


def test_production_accepts_real_settings():
    cfg = Config.from_env({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s",
                           "APP_URL": "https://a.example", "DATABASE_URL": "postgres://u@h/db",
                           "REDIS_URL": "redis://h:6379/0"})
    assert cfg.production and cfg.database_url == "postgresql+psycopg://u@h/db"


def test_production_refuses_the_stand_in_origin():
    with pytest.raises(ConfigError, match="SHOPIFY_API_ORIGIN"):
        Config.from_env({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s",
                         "APP_URL": "https://a.example", "DATABASE_URL": "postgresql://u@h/db",
                         "SHOPIFY_API_ORIGIN": "http://127.0.0.1:9"})


def test_the_app_owned_metafields_are_declared_as_the_write_back_writes_them():
    """Each key the write-back sets under `$app` has its definition in shopify.app.toml, of the same type, readable
    by the storefront and customer accounts (Shopify shows nothing without one), and there is no other."""
    from app.shopify.metafields import FIELDS

    declared = TOML["customer"]["metafields"]["app"]
    assert {key: spec["type"] for key, spec in declared.items()} == FIELDS
    for key, spec in declared.items():
        assert spec["name"] and spec["description"], key
        assert spec["access"] == {"admin": "merchant_read", "storefront": "public_read", "customer_account": "read"}, key
