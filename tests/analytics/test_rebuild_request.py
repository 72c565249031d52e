"""A shop whose rollups were never built: the dashboard's first requests, arriving together, ask for one rebuild
and, without Redis (the rebuild runs in-process), every one of them answers from the rebuilt rollups."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from typing import Any

import pytest

from app.extensions import db
from tests.admin.support import api, order

pytestmark = pytest.mark.postgres


def test_parallel_first_requests_all_read_the_rebuilt_rollups(pg_app: Any, shop: Any) -> None:
    for c in range(1, 41):
        order(shop, c, datetime(2026, 1, 5 + c % 20, tzinfo=UTC), "10.00")
        order(shop, c, datetime(2026, 2, 5 + c % 20, tzinfo=UTC), "15.00")
    db.session.commit()  # no refresh: as a shop looks before its first rebuild
    start = threading.Barrier(6)
    answers: list[dict[str, Any]] = []

    def ask() -> None:
        with pg_app.app_context():
            client = pg_app.test_client()
            start.wait(10)
            answers.append(api(client, "GET", "/api/admin/analytics/summary?from=2026-01-01&to=2026-03-31")
                           .get_json())

    threads = [threading.Thread(target=ask) for _ in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert len(answers) == 6
    assert [(a["customers"], a["repeat_customer_rate"]) for a in answers] == [(40, "100.00")] * 6
    assert all(a["rollup_as_of"] for a in answers)
