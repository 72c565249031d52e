"""The receiver's group commit on PostgreSQL: rows that queue during a commit share the next one, and every
request still gets its own answer only after its row is committed."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any

import httpx
import psycopg
import pytest
from sqlalchemy import func, select

from app.extensions import db
from app.models import Shop, WebhookDelivery, utcnow
from app.services.intake import GroupCommit
from tests.conftest import LiveServer, truncate_all
from tests.helpers import webhook

pytestmark = pytest.mark.postgres


def _dsn(pg_url: str) -> str:
    return pg_url.replace("postgresql+psycopg://", "postgresql://")


def _row(webhook_id: str, event_id: str | None = None, body: str = '{"id": 1}') -> dict[str, Any]:
    return {"shop_domain": "alpha.myshopify.com", "topic": "orders/paid", "webhook_id": webhook_id,
            "event_id": event_id or f"e-{webhook_id}", "triggered_at": datetime(2026, 11, 22, 10, tzinfo=UTC),
            "api_version": "2026-10", "body": body, "now": datetime.now(UTC)}


def _stored(pg_url: str) -> dict[str, int]:
    with psycopg.connect(_dsn(pg_url)) as conn:
        return {w: i for i, w in conn.execute("SELECT id, webhook_id FROM webhook_deliveries")}


@pytest.fixture
def committer(pg_url: str) -> Iterator[GroupCommit]:
    gc = GroupCommit(_dsn(pg_url))
    yield gc
    if gc._conn is not None:
        gc._conn.close()
    truncate_all(pg_url)


class _Gate:
    """Holds the first batch's INSERT until the test has queued what it wants behind it."""

    def __init__(self, gc: GroupCommit) -> None:
        self.entered, self.release = threading.Event(), threading.Event()
        real = gc._execute

        def held(sql: str, params: dict[str, Any]) -> Any:
            if not self.entered.is_set():
                self.entered.set()
                assert self.release.wait(10)
            return real(sql, params)

        gc._execute = held  # type: ignore[method-assign]


def _queue_behind(gc: GroupCommit, calls: list[Any]) -> list[Any]:
    """Runs calls[0] (it leads and is held at its INSERT), queues the others behind it, then lets go."""
    gate = _Gate(gc)
    pool = ThreadPoolExecutor(len(calls))
    futures = [pool.submit(calls[0])]
    assert gate.entered.wait(5)
    futures += [pool.submit(c) for c in calls[1:]]
    deadline = time.monotonic() + 5
    while len(gc._queue) < len(calls) - 1 and time.monotonic() < deadline:
        time.sleep(0.005)
    assert len(gc._queue) == len(calls) - 1, "the followers did not queue behind the held commit"
    gate.release.set()
    results = []
    for f in futures:
        try:
            results.append(f.result(timeout=10))
        except Exception as exc:  # noqa: BLE001 - the test looks at which call failed
            results.append(exc)
    pool.shutdown()
    return results


def test_rows_queued_during_a_commit_share_the_next_one_and_each_gets_its_answer(pg_url, committer):
    seen_at_kick: list[tuple[list[int], dict[str, int]]] = []

    def kick(ids: list[int]) -> None:
        # Called after the commit: another connection already sees the rows.
        seen_at_kick.append((sorted(ids), _stored(pg_url)))

    committer.store(_row("old", event_id="known-event"))
    calls = [
        lambda: committer.store(_row("lead"), kick=kick),
        *[lambda i=i: committer.store(_row(f"new-{i}"), kick=kick) for i in range(4)],
        lambda: committer.store(_row("new-0"), kick=kick),  # the same webhook id again, in the same batch
        lambda: committer.store(_row("other-id", event_id="known-event"), kick=kick),  # an event already stored
        lambda: committer.store(_row("no-kick")),  # e.g. app/uninstalled: its caller kicks
    ]
    results = _queue_behind(committer, calls)

    stored = _stored(pg_url)
    assert set(stored) == {"old", "lead", "new-0", "new-1", "new-2", "new-3", "no-kick"}
    assert results[0] == (stored["lead"], True)
    assert results[1:5] == [(stored[f"new-{i}"], True) for i in range(4)]
    assert results[5] == (None, False) and results[6] == (None, False)
    assert results[7] == (stored["no-kick"], False)
    # Three commits: the first row alone, the held lead alone, then the seven queued behind it together.
    assert (committer.batches, committer.rows) == (3, 9)
    # One drain request per batch with its new rows (two batches may ask in either order: the lead is handed
    # over at the commit, before the drain request).
    assert sorted(ids for ids, _ in seen_at_kick) == sorted([[stored["lead"]],
                                                             sorted(stored[f"new-{i}"] for i in range(4))])
    for ids, visible in seen_at_kick:
        assert set(ids) <= set(visible.values())


def test_a_row_the_database_refuses_fails_only_its_own_request(pg_url, committer):
    calls = [lambda: committer.store(_row("lead")),
             lambda: committer.store(_row("good-1")),
             lambda: committer.store(_row("bad", body='{"x": "\x00"}')),  # PostgreSQL text holds no NUL
             lambda: committer.store(_row("good-2"))]
    results = _queue_behind(committer, calls)
    stored = _stored(pg_url)
    assert set(stored) == {"lead", "good-1", "good-2"}
    assert results[1] == (stored["good-1"], False) and results[3] == (stored["good-2"], False)
    assert isinstance(results[2], psycopg.DataError)


def test_a_cut_connection_is_replaced_and_the_row_stored(pg_url, committer):
    assert committer.store(_row("before"))[0] is not None
    assert committer._conn is not None
    pid = committer._conn.info.backend_pid
    with psycopg.connect(_dsn(pg_url), autocommit=True) as admin:
        admin.execute("SELECT pg_terminate_backend(%s)", (pid,))
    new_id, _ = committer.store(_row("after"))
    assert new_id is not None and set(_stored(pg_url)) == {"before", "after"}


def test_concurrent_deliveries_and_their_duplicates_through_the_receiver(pg_url):
    """Real HTTP, many threads, every webhook sent twice at once: each stored and processed once, all 200."""
    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(database_url=pg_url))
    with app.app_context():
        db.session.add(Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="tok"))
        db.session.commit()
    requests = []
    for i in range(30):
        body, headers = webhook("customers/create", {"id": 7_100_000_000_000 + i, "email": f"c{i}@example.com",
                                                     "created_at": "2026-11-01T10:00:00Z"},
                                webhook_id=str(uuid.uuid4()))
        requests += [(body, headers), (body, headers)]
    try:
        with LiveServer(app) as live, httpx.Client(base_url=live.url, timeout=10) as http, \
                ThreadPoolExecutor(12) as pool:
            codes = list(pool.map(lambda r: http.post("/webhooks", content=r[0], headers=r[1]).status_code, requests))
        assert codes == [200] * len(requests)
        with app.app_context():
            statuses = db.session.execute(select(WebhookDelivery.status, func.count())
                                          .group_by(WebhookDelivery.status)).all()
            assert dict(statuses) == {"processed": 30}
    finally:
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
        truncate_all(pg_url)
