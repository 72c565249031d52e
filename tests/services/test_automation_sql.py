"""The holdout and A/B hash restated in SQL (for set-based decisions) equals the domain's, on PostgreSQL and
SQLite, for any shop, flow and Shopify-sized customer id."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import bindparam, text

from app import create_app
from app.extensions import db
from app.loyalty import automations as domain
from app.services.automation_runs import _flavour
from tests.conftest import make_config

cases = st.lists(st.tuples(st.from_regex(r"[a-z0-9-]{1,20}\.myshopify\.com", fullmatch=True),
                           st.sampled_from(domain.FLOW_KEYS), st.integers(1, 2**63 - 1),
                           st.sampled_from(["", ":ab"])), min_size=1, max_size=40)


def _sql_buckets(rows):
    fl = _flavour()
    out = []
    for shop, flow, cid, salt in rows:
        sql = f"SELECT {fl.bucket('p', ':cid')}"
        value = db.session.execute(text(sql).bindparams(bindparam("p", f"{shop}:{flow}{salt}:"),
                                                        bindparam("cid", cid))).scalar_one()
        out.append(int(value))
    return out


@pytest.mark.postgres
@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=cases)
def test_postgres_bucket_equals_the_domain(pg_app, rows):
    with pg_app.app_context():
        assert _sql_buckets(rows) == [domain.bucket(s, f, c, salt) for s, f, c, salt in rows]
        db.session.rollback()


@settings(max_examples=30, deadline=None)
@given(rows=cases)
def test_sqlite_bucket_equals_the_domain(rows):
    app = create_app(make_config(database_url="sqlite:///:memory:"))
    with app.app_context():
        assert _sql_buckets(rows) == [domain.bucket(s, f, c, salt) for s, f, c, salt in rows]
