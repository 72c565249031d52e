"""Hostile-input fixtures: two installed shops with members and points, a fingerprint of every table, forgers.

Every module runs on PostgreSQL and on SQLite (the `hostile` fixture is parametrized by backend), with the
app under production rules (REGULARS_ENV unset), as an attacker would meet it. Shopify is pointed at a closed
loopback port, so nothing a hostile request provokes can leave the machine (a token exchange would fail fast
instead of calling the real Shopify).
"""

from __future__ import annotations

import hashlib
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

import jwt
import pytest
from flask_migrate import upgrade
from sqlalchemy import inspect, text

from app import create_app
from app.extensions import db
from tests.conftest import TEST_KEY, TEST_SECRET, free_port, make_config, truncate_all

BACKENDS = ("postgresql", "sqlite")

ALPHA = "alpha.myshopify.com"
BETA = "beta.myshopify.com"
ALPHA_API_KEY = "reg_alpha_" + "a" * 32
# Columns a legitimate read may touch: none of the requests here is legitimate, so this stays empty
# unless a test uses a valid credential on purpose.
VOLATILE_COLUMNS = frozenset({"last_used_at"})


@dataclass(frozen=True)
class World:
    """What was seeded: each shop's customer ids and the strings that must never leak across shops."""

    alpha_customers: tuple[int, ...]
    beta_customers: tuple[int, ...]
    beta_secrets: tuple[str, ...]
    alpha_reward_id: int
    beta_reward_id: int


def _seed() -> World:
    from app.api import hash_api_key
    from app.models import ApiKey, LedgerEntry, Member, Reward, Shop, utcnow

    now = utcnow()
    out: dict[str, Any] = {}
    for domain, base in ((ALPHA, 11_000_000_000_000_100), (BETA, 11_000_000_000_000_900)):
        shop = Shop(domain=domain, name=domain.split(".")[0].title(), access_token=f"tok-{domain}",
                    installed_at=now, settings={"pending_days": 0}, scopes="read_customers,write_discounts",
                    action_secret=f"action-secret-{domain}")
        db.session.add(shop)
        db.session.flush()
        customers = []
        for i in range(3):
            cid = base + i
            handle = domain.split(".")[0]
            member = Member(shop_id=shop.id, customer_id=cid, email=f"{handle}-member{i}@{handle}-secret.example",
                            email_normalized=f"{handle}-member{i}@{handle}-secret.example",
                            first_name=f"{handle.title()}First{i}", last_name=f"{handle.title()}Last{i}",
                            referral_code=f"{handle[:2].upper()}REF{i:03d}", enrolled_at=now,
                            points_available=1000 + i, points_pending=0, lifetime_points=1000 + i, orders_count=0)
            db.session.add(member)
            db.session.flush()
            db.session.add(LedgerEntry(shop_id=shop.id, member_id=member.id, points=1000 + i, kind="admin_adjustment",
                                       source="admin", status="available", idempotency_key=f"seed-{cid}",
                                       reason="seed", created_at=now))
            customers.append(cid)
        reward = Reward(shop_id=shop.id, type="fixed_amount", name="5 off", points_cost=500, value=Decimal("5.00"),
                        minimum_subtotal=Decimal("0"), active=True)
        db.session.add(reward)
        db.session.flush()
        out[domain] = (tuple(customers), int(reward.id))
        if domain == ALPHA:
            db.session.add(ApiKey(shop_id=shop.id, name="tools", prefix=ALPHA_API_KEY[:12],
                                  key_hash=hash_api_key(ALPHA_API_KEY), created_at=now))
    db.session.commit()
    beta_secrets = tuple(
        # Not the raw customer ids: a 404 may rightly echo the id it was asked for.
        s for i in range(3) for s in (f"beta-member{i}@beta-secret.example", f"BetaFirst{i}", f"BEREF{i:03d}")
    ) + ("beta-secret.example", "tok-beta.myshopify.com", "action-secret-beta")
    return World(out[ALPHA][0], out[BETA][0], beta_secrets, out[ALPHA][1], out[BETA][1])


def fingerprint() -> dict[str, str]:
    """A digest of every table's rows (volatile columns left out), on either backend: any insert, update or
    delete changes it, so row counts and balances included."""
    conn = db.session.connection()
    out = {}
    for table, select_all in _selects(conn):
        rows = conn.execute(text(select_all)).all()
        digest = hashlib.md5("|".join(sorted(repr(tuple(r)) for r in rows)).encode()).hexdigest()
        out[table] = f"{len(rows)}:{digest}"
    db.session.rollback()
    return out


_SELECTS: dict[str, list[tuple[str, str]]] = {}


def _selects(conn: Any) -> list[tuple[str, str]]:
    """One SELECT per table (volatile columns left out), read from the schema once per database."""
    key = str(conn.engine.url)
    if key not in _SELECTS:
        insp = inspect(conn)
        _SELECTS[key] = [
            (table, "SELECT " + ", ".join(f'"{c["name"]}"' for c in insp.get_columns(table)
                                          if c["name"] not in VOLATILE_COLUMNS) + f' FROM "{table}"')
            for table in sorted(insp.get_table_names())]
    return _SELECTS[key]


def _migrated_url(request: Any, tmp_path_factory: Any, backend: str) -> str:
    if backend == "postgresql":
        url: str = request.getfixturevalue("pg_url")
        truncate_all(url)
        return url
    url = f"sqlite:///{tmp_path_factory.mktemp('hostile')}/regulars.db"
    app = create_app(make_config(database_url=url))
    with app.app_context():
        upgrade(revision="heads")
        db.engine.dispose()
    return url


@pytest.fixture(scope="module", params=BACKENDS)
def hostile(request: Any, tmp_path_factory: Any) -> Iterator[tuple[Any, World]]:
    """The app (production rules) on a migrated database of each backend, the two shops seeded once a module."""
    url = _migrated_url(request, tmp_path_factory, request.param)
    app = create_app(make_config(env="production", database_url=url,
                                 shopify_api_origin=f"http://127.0.0.1:{free_port()}"))
    with app.app_context():
        world = _seed()
    yield app, world
    with app.app_context():
        db.session.remove()
        db.engine.dispose()
    if request.param == "postgresql":
        truncate_all(url)


# Written by an authenticated merchant's reads, by design: the audit trail of data exports and the
# dashboard's derived rollups (rebuilt from orders on first view). Neither is the shop's data changing.
READ_SIDE_EFFECT_TABLES = frozenset({"audit_log", "analytics_shops", "analytics_orders", "analytics_customers"})


def _unchanged(hostile: tuple[Any, World], exempt: frozenset[str]) -> Iterator[Any]:
    app, _world = hostile
    with app.app_context():
        before = fingerprint()
    yield app.test_client()
    with app.app_context():
        db.session.remove()
        after = fingerprint()
    changed = {t: (before.get(t), after.get(t)) for t in set(before) | set(after)
               if before.get(t) != after.get(t) and t not in exempt}
    assert not changed, f"hostile requests changed state: {changed}"


@pytest.fixture
def unchanged(hostile: tuple[Any, World]) -> Iterator[Any]:
    """The test client; after the test, every table must be exactly as before."""
    yield from _unchanged(hostile, frozenset())


@pytest.fixture
def unchanged_shop_data(hostile: tuple[Any, World]) -> Iterator[Any]:
    """For a signed-in merchant's reads: nothing changes but the audit trail and derived rollups."""
    yield from _unchanged(hostile, READ_SIDE_EFFECT_TABLES)


# --- forgers ----------------------------------------------------------------------------------------


def session_token(shop: str = ALPHA, *, secret: str = TEST_SECRET, aud: str = TEST_KEY, ttl: int = 60,
                  iat_offset: int = 0, dest: str | None = None, alg: str = "HS256", **extra: Any) -> str:
    issued = int(time.time()) + iat_offset
    claims = {"iss": f"https://{shop}/admin", "dest": dest or f"https://{shop}", "aud": aud, "sub": "1",
              "exp": issued + ttl, "nbf": issued, "iat": issued, "jti": str(uuid.uuid4()),
              "sid": hashlib.sha256(shop.encode()).hexdigest()[:32], **extra}
    return jwt.encode(claims, secret, algorithm=alg)


def forged_session_tokens() -> dict[str, str]:
    """Tokens Shopify never issued, or issued for someone else, or too late: each must be refused."""
    alg_none = jwt.encode({"dest": f"https://{ALPHA}", "aud": TEST_KEY, "exp": int(time.time()) + 60,
                           "nbf": int(time.time()), "iat": int(time.time())}, key="", algorithm="none")
    good = session_token()
    head, body, sig = good.split(".")
    return {
        "wrong secret": session_token(secret="not-the-secret"),
        "wrong aud": session_token(aud="another-app"),
        "expired": session_token(iat_offset=-3600),
        "not yet valid": session_token(iat_offset=3600),
        "dest not a shop": session_token(dest="https://evil.example.com"),
        "alg none": alg_none,
        "signature stripped": f"{head}.{body}.",
        "tampered payload": f"{head}.{body[:-2]}AA.{sig}",
        "garbage": "not.a.jwt",
        "empty": "",
    }


def proxy_query(shop: str = ALPHA, *, customer: int | None = None, secret: str = TEST_SECRET,
                timestamp: int | None = None, extra: dict[str, str] | None = None) -> str:
    from devstore import app_proxy_query

    params = app_proxy_query(shop, "/apps/regulars", customer, extra, api_secret=secret, timestamp=timestamp)
    return urlencode(params, doseq=True)
