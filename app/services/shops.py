"""Shops: install (token exchange or authorization code), token refresh, uninstall and reinstall, Admin API calls."""

from __future__ import annotations

import logging
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import inspect, select

from app.extensions import db
from app.models import Shop, utcnow
from app.shopify import GraphQLError, current_shopify
from app.shopify.adapter import OfflineToken

log = logging.getLogger(__name__)

# Refresh a token this long before it expires, so no call races the expiry. shopify_app refuses to refresh
# a token with more than 60 s left ("token_still_valid"), so the margin is the library's.
REFRESH_MARGIN = timedelta(seconds=60)


class ShopNotInstalled(RuntimeError):
    """The shop has no usable token: it uninstalled the app, or never installed it."""


# Domain → shop row for the current batch of deliveries (see cached_lookups).
_BY_DOMAIN = "shops.by_domain"


@contextmanager
def cached_lookups() -> Iterator[None]:
    """Within the block (the drain's batch: one transaction), get_shop reads each domain's row once and then
    hands out that same object (the session's identity map would give that object, first-loaded state
    included, to a second SELECT in the same transaction anyway; it is reloaded if it was expired)."""
    if db.session.info.get(_BY_DOMAIN) is not None:
        yield
        return
    db.session.info[_BY_DOMAIN] = {}
    try:
        yield
    finally:
        db.session.info.pop(_BY_DOMAIN, None)


def get_shop(domain: str) -> Shop | None:
    cache: dict[str, Shop] | None = db.session.info.get(_BY_DOMAIN)
    if cache is not None:
        known = cache.get(domain)
        # Still this session's row (not deleted meanwhile, e.g. by shop/redact): the same object a query
        # would return.
        if known is not None and inspect(known).persistent:
            return known
    shop: Shop | None = db.session.execute(select(Shop).where(Shop.domain == domain)).scalar_one_or_none()
    if cache is not None and shop is not None:
        cache[domain] = shop  # a strong reference: the identity map alone would let it be collected
    return shop


def get_active_shop(domain: str) -> Shop | None:
    shop = get_shop(domain)
    return shop if shop is not None and shop.active else None


def save_install(domain: str, token: OfflineToken, now: datetime | None = None) -> Shop:
    """Stores a fresh offline token; a first install or a reinstall after app/uninstalled alike. Commits."""
    now = now or utcnow()
    shop = get_shop(domain)
    if shop is None:
        shop = Shop(domain=domain, settings={}, created_at=now)
        db.session.add(shop)
    if shop.uninstalled_at is not None or shop.installed_at is None:
        shop.installed_at = now
        shop.uninstalled_at = None
    shop.access_token = token.access_token
    shop.access_token_expires_at = token.expires_at
    shop.refresh_token = token.refresh_token
    shop.refresh_token_expires_at = token.refresh_token_expires_at
    shop.scopes = token.scope
    if not shop.action_secret:
        shop.action_secret = secrets.token_hex(32)
    db.session.commit()
    return shop


def needs_token(shop: Shop | None, now: datetime | None = None) -> bool:
    if shop is None or not shop.active or not shop.access_token:
        return True
    now = now or utcnow()
    # An expired token with a live refresh token is refreshed, not re-exchanged.
    if shop.access_token_expires_at and shop.access_token_expires_at <= now:
        return not (shop.refresh_token and shop.refresh_token_expires_at and shop.refresh_token_expires_at > now)
    return False


def mark_uninstalled(domain: str, triggered_at: datetime | None = None) -> bool:
    """app/uninstalled: forget the tokens at once; all work for the shop stops. Does not commit.

    A late delivery of an old uninstall (triggered before the current install) changes nothing.
    """
    shop = get_shop(domain)
    if shop is None:
        return False
    if triggered_at and shop.installed_at and triggered_at < shop.installed_at:
        return False
    shop.access_token = None
    shop.access_token_expires_at = None
    shop.refresh_token = None
    shop.refresh_token_expires_at = None
    if shop.uninstalled_at is None:
        shop.uninstalled_at = utcnow()
    return True


def access_token_for(shop: Shop, now: datetime | None = None) -> str:
    """A valid offline token, refreshed first when it expires within REFRESH_MARGIN. Commits a refresh."""
    if not shop.active or not shop.access_token:
        raise ShopNotInstalled(shop.domain)
    now = now or utcnow()
    expires = shop.access_token_expires_at
    if expires is not None and expires - REFRESH_MARGIN <= now:
        if not shop.refresh_token or (shop.refresh_token_expires_at and shop.refresh_token_expires_at <= now):
            raise ShopNotInstalled(f"{shop.domain}: token expired and cannot be refreshed")
        # Lock the shop row so concurrent workers refresh once and all use the result.
        locked = db.session.execute(select(Shop).where(Shop.id == shop.id).with_for_update()).scalar_one()
        if locked.access_token_expires_at and locked.access_token_expires_at - REFRESH_MARGIN <= now:
            fresh = current_shopify().refresh(
                locked.domain, locked.refresh_token or "", locked.access_token_expires_at,
                locked.refresh_token_expires_at,
            )
            locked.access_token = fresh.access_token
            locked.access_token_expires_at = fresh.expires_at
            locked.refresh_token = fresh.refresh_token or locked.refresh_token
            locked.refresh_token_expires_at = fresh.refresh_token_expires_at or locked.refresh_token_expires_at
        db.session.commit()
        shop = locked
    return shop.access_token or ""


def admin_graphql(shop: Shop, query: str, variables: dict[str, Any] | None = None) -> dict[str, Any]:
    """One Admin GraphQL call for the shop, with a fresh token and Shopify's throttling honoured."""
    token = access_token_for(shop)
    try:
        return current_shopify().graphql(shop.domain, token, query, variables)
    except GraphQLError as exc:
        if exc.status == 401:
            raise ShopNotInstalled(f"{shop.domain}: Shopify rejected the access token") from exc
        raise
