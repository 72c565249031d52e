"""GET /metrics: Prometheus' text format behind a bearer token (no token configured: no route at all), with
the deliveries received / processed / failed, the drain's lag, each RQ queue's depth, the redemptions and
the write-back backlog, read from PostgreSQL and Redis as they are."""

from __future__ import annotations

import json
import re
import secrets
import uuid
from datetime import timedelta
from typing import Any

import pytest
from flask_migrate import upgrade
from sqlalchemy import update

from app import create_app
from app.config import Config, ConfigError
from app.extensions import db
from app.jobs import current_jobs
from app.jobs.stats import record_outcomes
from app.jobs.webhooks import drain_webhooks
from app.models import Member, Redemption, Shop, WebhookDelivery, utcnow
from app.services.deliveries import drain, store_delivery
from tests.conftest import make_config, truncate_all
from tests.helpers import post_webhook

TOKEN = "metrics-" + "x" * 24


@pytest.fixture
def app(pg_url: str, redis_url: str) -> Any:
    prefix = f"m{secrets.token_hex(4)}-"
    app = create_app(make_config(database_url=pg_url, redis_url=redis_url, queue_prefix=prefix, metrics_token=TOKEN))
    yield app
    with app.app_context():
        jobs = current_jobs()
        keys = list(jobs.redis.scan_iter(match=f"*{prefix}*"))
        if keys:
            jobs.redis.delete(*keys)
        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


def scrape(app: Any) -> dict[str, float]:
    resp = app.test_client().get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200, resp.get_data(as_text=True)
    assert resp.headers["Content-Type"] == "text/plain; version=0.0.4; charset=utf-8"
    text = resp.get_data(as_text=True)
    samples: dict[str, float] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            assert re.fullmatch(r"# (HELP|TYPE) [a-z_]+ .+", line), line
            continue
        name, value = line.rsplit(" ", 1)
        assert re.fullmatch(r'[a-z_]+(\{[a-z_]+="[^"]*"(,[a-z_]+="[^"]*")*\})?', name), line
        samples[name] = float(value)
    return samples


def add_shop(app: Any, domain: str, **kw: Any) -> int:
    with app.app_context():
        now = utcnow()
        shop = Shop(domain=domain, settings={"pending_days": 0}, installed_at=now, access_token="tok", **kw)
        db.session.add(shop)
        db.session.commit()
        return int(shop.id)


@pytest.mark.postgres
def test_without_a_token_configured_there_is_no_metrics_route(pg_url):
    app = create_app(make_config(database_url=pg_url))
    assert app.test_client().get("/metrics").status_code == 404
    assert app.test_client().get("/metrics", headers={"Authorization": "Bearer anything"}).status_code == 404


@pytest.mark.postgres
@pytest.mark.redis
def test_a_missing_or_wrong_token_is_refused_with_401_and_the_error_shape(app):
    client = app.test_client()
    for headers in ({}, {"Authorization": "Bearer wrong-token-wrong-token"}, {"Authorization": f"Basic {TOKEN}"},
                    {"Authorization": f"Bearer {TOKEN}x"}):
        resp = client.get("/metrics", headers=headers)
        assert resp.status_code == 401, headers
        assert resp.get_json()["error"]["code"] == "unauthenticated"
        assert resp.headers["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.postgres
@pytest.mark.redis
def test_deliveries_received_processed_skipped_and_the_queue_behind_them(app):
    add_shop(app, "alpha.myshopify.com")
    client = app.test_client()
    before = scrape(app)
    assert before["regulars_webhook_deliveries_received_total"] == 0
    assert before['regulars_up{source="database"}'] == 1 and before['regulars_up{source="redis"}'] == 1
    for customer in (1, 2):
        assert post_webhook(client, "customers/create", {"id": customer, "email": f"c{customer}@x.test"}).status_code == 200
    assert post_webhook(client, "customers/create", {"id": 3}, shop="unknown.myshopify.com").status_code == 200
    prefix = app.config["REGULARS"].queue_prefix
    with app.app_context():
        current_jobs().kick_all_slots()  # what the receiver's kicker thread does after the commits
    stored = scrape(app)
    assert stored["regulars_webhook_deliveries_received_total"] == 3
    assert stored['regulars_webhook_deliveries_pending{status="received"}'] == 3
    assert stored["regulars_webhook_deliveries_due"] == 3
    assert stored["regulars_webhook_drain_lag_seconds"] >= 0
    assert stored[f'regulars_rq_jobs_waiting{{queue="{prefix}webhooks"}}'] >= 1
    assert stored[f'regulars_rq_jobs_waiting{{queue="{prefix}sync"}}'] == 0

    with app.app_context():
        assert drain_webhooks(0) == 3  # the job a worker runs
    after = scrape(app)
    assert after['regulars_webhook_deliveries_processed_total{outcome="processed"}'] == 2
    assert after['regulars_webhook_deliveries_processed_total{outcome="skipped"}'] == 1
    assert after['regulars_webhook_deliveries_pending{status="received"}'] == 0
    assert after["regulars_webhook_deliveries_due"] == 0 and after["regulars_webhook_drain_lag_seconds"] == 0
    assert after["regulars_webhook_deliveries_failed_total"] == 0
    # Shopify delivering the same webhook again: acknowledged, not stored again, and counted as received (its
    # INSERT took the sequence's next id before ON CONFLICT refused it); nothing is pending.
    post_webhook(client, "customers/create", {"id": 4}, webhook_id="same-webhook-id")
    with app.app_context():
        drain_webhooks(0)
    assert post_webhook(client, "customers/create", {"id": 4}, webhook_id="same-webhook-id").status_code == 200
    again = scrape(app)
    assert again["regulars_webhook_deliveries_received_total"] == 5
    assert again['regulars_webhook_deliveries_processed_total{outcome="processed"}'] == 3
    assert again['regulars_webhook_deliveries_pending{status="received"}'] == 0


@pytest.mark.postgres
@pytest.mark.redis
def test_drain_lag_is_the_age_of_the_oldest_due_delivery(app):
    with app.app_context():
        ids = [store_delivery(shop_domain="alpha.myshopify.com", topic="customers/create", webhook_id=str(uuid.uuid4()),
                              event_id=None, triggered_at=None, api_version="2026-10", body="{}")[0] for _ in range(3)]
        now = utcnow()
        t = WebhookDelivery.__table__
        db.session.execute(update(t).where(t.c.id == ids[0]).values(created_at=now - timedelta(minutes=10),
                                                                      status="retry",
                                                                      next_attempt_at=now + timedelta(hours=1)))
        db.session.execute(update(t).where(t.c.id == ids[1]).values(created_at=now - timedelta(seconds=90)))
        db.session.commit()
    figures = scrape(app)
    # The oldest one waits for its retry (not due): the lag is the oldest *due* one's age, ninety seconds.
    assert 90 <= figures["regulars_webhook_drain_lag_seconds"] < 150
    assert figures["regulars_webhook_deliveries_due"] == 2
    assert figures['regulars_webhook_deliveries_pending{status="retry"}'] == 1


@pytest.mark.postgres
@pytest.mark.redis
def test_retried_and_given_up_deliveries_are_counted(app):
    with app.app_context():
        for _ in range(2):
            store_delivery(shop_domain="alpha.myshopify.com", topic="orders/paid", webhook_id=str(uuid.uuid4()),
                           event_id=None, triggered_at=None, api_version="2026-10", body=json.dumps({"id": 1}))
        jobs = current_jobs()

        def broken(delivery: WebhookDelivery) -> str:
            raise RuntimeError("handler broke")

        # One attempt allowed: both give up at once; then two more stored ones fail into retry (5 allowed).
        drain(broken, 1, on_batch=lambda r: record_outcomes(jobs, r.outcomes))
        for _ in range(2):
            store_delivery(shop_domain="alpha.myshopify.com", topic="orders/paid", webhook_id=str(uuid.uuid4()),
                           event_id=None, triggered_at=None, api_version="2026-10", body=json.dumps({"id": 1}))
        drain(broken, 5, on_batch=lambda r: record_outcomes(jobs, r.outcomes))
    figures = scrape(app)
    assert figures["regulars_webhook_deliveries_failed_total"] == 2
    assert figures["regulars_webhook_delivery_retries_total"] == 2
    assert figures['regulars_webhook_deliveries_pending{status="retry"}'] == 2


@pytest.mark.postgres
@pytest.mark.redis
def test_redemptions_and_the_write_back_backlog(app):
    shop_id = add_shop(app, "alpha.myshopify.com")
    gone_id = add_shop(app, "gone.myshopify.com", uninstalled_at=utcnow())
    with app.app_context():
        now = utcnow()
        members = [Member(shop_id=shop_id, customer_id=c) for c in (1, 2, 3, 4)] + [Member(shop_id=gone_id, customer_id=9)]
        db.session.add_all(members)
        db.session.flush()
        members[0].sync_requested_at = now - timedelta(minutes=5)
        members[1].sync_requested_at = now - timedelta(seconds=30)
        members[2].sync_requested_at = now - timedelta(hours=2)
        members[2].deleted_at = now  # never written back: not counted
        members[4].sync_requested_at = now - timedelta(hours=3)  # its shop uninstalled: not counted
        for n in range(3):
            db.session.add(Redemption(shop_id=shop_id, member_id=members[3].id, reward_name="5 off", reward_type="fixed_amount",
                                      idempotency_key=f"k{n}", points=500, code=f"CODE{n}", status="issued"))
        db.session.commit()
    figures = scrape(app)
    assert figures["regulars_redemptions_total"] == 3
    assert figures["regulars_writeback_backlog"] == 2
    assert 300 <= figures["regulars_writeback_oldest_seconds"] < 400


@pytest.mark.postgres
def test_redis_down_is_reported_and_the_database_figures_still_come(pg_url):
    app = create_app(make_config(database_url=pg_url, redis_url="redis://127.0.0.1:1/0", metrics_token=TOKEN))
    figures = scrape(app)
    assert figures['regulars_up{source="redis"}'] == 0 and figures['regulars_up{source="database"}'] == 1
    assert "regulars_webhook_deliveries_received_total" in figures
    assert not any(name.startswith("regulars_rq_") for name in figures)


def test_on_sqlite_with_jobs_in_process_the_database_figures_come_alone(tmp_path):
    app = create_app(make_config(database_url=f"sqlite:///{tmp_path}/regulars.db", metrics_token=TOKEN))
    with app.app_context():
        upgrade(revision="heads")
    client = app.test_client()
    for n in range(2):
        assert post_webhook(client, "customers/create", {"id": n}, shop="unknown.myshopify.com").status_code == 200
    figures = scrape(app)
    assert figures["regulars_webhook_deliveries_received_total"] == 2
    assert figures["regulars_webhook_deliveries_due"] == 0  # processed in-process, right after the commit
    assert figures['regulars_up{source="database"}'] == 1 and 'regulars_up{source="redis"}' not in figures
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("token", ["short", "has a space in it somewhere", "x" * 513])
def test_a_weak_or_malformed_metrics_token_stops_the_app_at_start_up(token):
    with pytest.raises(ConfigError, match="REGULARS_METRICS_TOKEN"):
        Config.from_env({"REGULARS_ENV": "development", "REGULARS_METRICS_TOKEN": token})
    assert Config.from_env({"REGULARS_ENV": "development", "REGULARS_METRICS_TOKEN": "  " + TOKEN + " "}).metrics_token == TOKEN
    assert Config.from_env({"REGULARS_ENV": "development", "REGULARS_METRICS_TOKEN": ""}).metrics_token is None
