"""A delivery whose processing fails is retried with backoff, then marked failed, listed, and replayable."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from app.extensions import db
from app.jobs.webhooks import drain_webhooks
from app.models import Member, Shop, WebhookDelivery, utcnow
from app.services.deliveries import backoff
from tests.helpers import post_webhook


def _install(app) -> None:
    with app.app_context():
        db.session.add(Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="t"))
        db.session.commit()


def _delivery(app) -> WebhookDelivery:
    with app.app_context():
        row = db.session.execute(select(WebhookDelivery)).scalar_one()
        db.session.expunge(row)
        return row


def _make_due(app) -> None:
    with app.app_context():
        db.session.execute(update(WebhookDelivery).values(next_attempt_at=utcnow() - timedelta(seconds=1)))
        db.session.commit()


def test_backoff_grows_and_is_capped():
    assert [backoff(n).total_seconds() for n in (1, 2, 3)] == [5, 20, 80]
    assert backoff(50) == timedelta(hours=1)


def test_failing_delivery_retries_then_fails_then_replays(pg_app):
    _install(pg_app)
    cfg = pg_app.config["REGULARS"]
    # A customers/create whose id is not a number: the handler refuses it.
    assert post_webhook(pg_app.test_client(), "customers/create", {"id": "not-a-number"}).status_code == 200
    first = _delivery(pg_app)
    assert first.status == "retry" and first.attempts == 1 and "ValueError" in first.last_error
    assert first.next_attempt_at > utcnow()
    # Not due yet: a drain leaves it alone.
    with pg_app.app_context():
        assert drain_webhooks(0) == 0
    for _ in range(cfg.delivery_max_attempts - 1):
        _make_due(pg_app)
        with pg_app.app_context():
            drain_webhooks(0)
    final = _delivery(pg_app)
    assert final.status == "failed" and final.attempts == cfg.delivery_max_attempts

    runner = pg_app.test_cli_runner()
    listed = runner.invoke(args=["regulars", "failed"])
    assert str(final.id) in listed.output and "customers/create" in listed.output

    # The payload is corrected (as after a code fix) and the failed delivery is replayed.
    with pg_app.app_context():
        db.session.execute(update(WebhookDelivery).values(body='{"id": 77, "email": "fixed@x.y"}'))
        db.session.commit()
    replayed = runner.invoke(args=["regulars", "replay", "--failed"])
    assert "replayed 1" in replayed.output
    assert _delivery(pg_app).status == "processed"
    with pg_app.app_context():
        assert db.session.execute(select(Member.email)).scalar_one() == "fixed@x.y"
