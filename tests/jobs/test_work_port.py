"""Services ask for background work by name (app.services.work); the job layer (app.jobs.work) turns each name
into its RQ job. A name nobody serves fails loudly, never a log line at INFO."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from typing import Any

import pytest
from redis import Redis
from rq import Queue

from app import create_app
from app.jobs.work import QUEUED
from app.services import work
from tests.conftest import make_config

pytestmark = pytest.mark.redis


@pytest.fixture
def rq_app(redis_url: str) -> Iterator[tuple[Any, str]]:
    prefix = f"work{secrets.token_hex(4)}-"
    app = create_app(make_config(redis_url=redis_url, queue_prefix=prefix))
    yield app, prefix
    conn = Redis.from_url(redis_url)
    for name in ("webhooks", "sync", "bulk"):
        Queue(f"{prefix}{name}", connection=conn).empty()


def test_each_task_a_service_may_ask_for_is_served_by_the_job_layer() -> None:
    # The drain protocol's two, and the analytics rebuild (one queued per shop: app.jobs.analytics), are served by
    # the dispatcher itself.
    assert set(work.TASKS) == set(QUEUED) | {"drain", "drain-now", "analytics-rebuild"}


def test_an_analytics_rebuild_is_queued_once_per_shop(rq_app: tuple[Any, str], redis_url: str) -> None:
    app, prefix = rq_app
    conn = Redis.from_url(redis_url)
    flag = f"regulars:{prefix}analytics-rebuild:7"
    conn.delete(flag)
    try:
        with app.app_context():
            assert work.request("analytics-rebuild", 7, job_id="analytics-rebuild-7") is True
            assert work.request("analytics-rebuild", 7, job_id="analytics-rebuild-7") is False  # one is queued
        bulk = Queue(f"{prefix}bulk", connection=conn).jobs
        assert [(j.func_name, j.args) for j in bulk] == [("app.jobs.analytics.rebuild_shop", (7,))]
    finally:
        conn.delete(flag)


def test_a_requested_task_is_queued_as_its_job(rq_app: tuple[Any, str], redis_url: str) -> None:
    app, prefix = rq_app
    conn = Redis.from_url(redis_url)
    with app.app_context():
        assert work.request("writeback") is True
        assert work.request("evaluate-shop-tiers", 5, job_id=f"tiers-5-{prefix}") is True
    sync = Queue(f"{prefix}sync", connection=conn).jobs
    bulk = Queue(f"{prefix}bulk", connection=conn).jobs
    assert [j.func_name for j in sync] == ["app.jobs.schedule.sync_writeback"]
    assert [(j.func_name, j.args, j.id) for j in bulk] == [("app.jobs.schedule.evaluate_shop_tiers", (5,),
                                                            f"tiers-5-{prefix}")]


def test_a_misspelt_task_raises(rq_app: tuple[Any, str]) -> None:
    app, _ = rq_app
    with app.app_context(), pytest.raises(ValueError, match="writebak"):
        work.request("writebak")
