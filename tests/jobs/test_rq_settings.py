"""`rq worker --with-scheduler -c app.jobs.rq_settings` (the Procfile's worker line) in production: a real worker
finds the app's queues with their prefix and Redis from the environment, processes a stored delivery, and
every line it writes, RQ's own included, is one JSON object; the delivery's line names it."""

from __future__ import annotations

import json
import os
import secrets
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from sqlalchemy import select

from app import create_app
from app.extensions import db
from app.jobs import current_jobs
from app.models import Member, Shop, WebhookDelivery, utcnow
from app.services.deliveries import store_delivery
from tests.conftest import make_config, truncate_all

ROOT = Path(__file__).resolve().parent.parent.parent
pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGULARS_", "SHOPIFY_", "SENTRY_", "RQ_"))}
    env.update({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k" * 32, "SHOPIFY_API_SECRET": "s" * 32,
                "APP_URL": "https://loyalty.example.com", "PYTHONUNBUFFERED": "1", **extra})
    return env


def test_the_procfile_worker_in_production_serves_the_prefixed_queues_and_writes_json(pg_url, redis_url):
    prefix = f"s{secrets.token_hex(4)}-"
    app = create_app(make_config(database_url=pg_url, redis_url=redis_url, queue_prefix=prefix))
    try:
        with app.app_context():
            db.session.add(Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token=None))
            db.session.commit()
            delivery_id, _ = store_delivery(shop_domain="alpha.myshopify.com", topic="customers/create",
                                            webhook_id="wh-settings", event_id=str(uuid.uuid4()), triggered_at=None,
                                            api_version="2026-10", body=json.dumps({"id": 77, "email": "w@x.test"}))
            assert current_jobs().kick_all_slots()
        done = subprocess.run(
            [sys.executable, "-m", "rq.cli", "worker", "--burst", "--with-scheduler", "-c", "app.jobs.rq_settings"],
            cwd=ROOT, env=_env(DATABASE_URL=pg_url, REDIS_URL=redis_url, REGULARS_QUEUE_PREFIX=prefix),
            capture_output=True, text=True, timeout=120)
        output = done.stdout + done.stderr
        assert done.returncode == 0, output[-3000:]
        lines = [json.loads(line) for line in output.splitlines() if line.strip()]  # fails on any other line
        assert any(ln["logger"].startswith("rq.") and f"{prefix}webhooks" in ln["message"] for ln in lines), output
        mine = [ln for ln in lines if ln.get("delivery_id") == delivery_id]
        assert [(ln["outcome"], ln["webhook_id"], ln["topic"]) for ln in mine] == [
            ("processed", "wh-settings", "customers/create")], output
        with app.app_context():
            assert db.session.execute(select(WebhookDelivery.status)).scalar_one() == "processed"
            assert db.session.execute(select(Member.email)).scalar_one() == "w@x.test"
    finally:
        with app.app_context():
            redis = current_jobs().redis
            keys = list(redis.scan_iter(match=f"*{prefix}*"))
            if keys:
                redis.delete(*keys)
            db.session.remove()
            db.engine.dispose()
        truncate_all(pg_url)


def test_the_settings_refuse_to_start_without_redis_or_with_a_bad_setting():
    for env in (_env(DATABASE_URL="postgresql+psycopg://x@127.0.0.1/x"),
                _env(REDIS_URL="redis://127.0.0.1:6379/0", DATABASE_URL="mysql://nope")):
        done = subprocess.run([sys.executable, "-c", "import app.jobs.rq_settings"], cwd=ROOT, env=env,
                              capture_output=True, text=True, timeout=60)
        assert done.returncode != 0 and done.stderr.strip().startswith("configuration error:"), done.stderr
