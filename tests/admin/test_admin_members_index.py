"""The customers index pages as the merchant reads it: 25 a page, the total and page count, sorted by points, the last page
clamped, a bad page a 422, and another shop's members never counted."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from tests.admin.support import api, install_shop, member

pytestmark = pytest.mark.postgres


def _get(client: Any, query: str) -> dict[str, Any]:
    r = api(client, "GET", f"/api/admin/members{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_members_come_25_a_page_most_points_first(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        for i in range(1, 31):
            member(shop, 1000 + i, email=f"m{i}@x.test", first="M", last=str(i), points=i * 10)
        other = install_shop("beta.myshopify.com")
        member(other, 5000, email="them@x.test", points=10**6)
        db.session.commit()
    first = _get(client, "?sort=balance")
    assert (first["total"], first["page"], first["pages"], len(first["members"])) == (30, 1, 2, 25)
    assert [m["points_available"] for m in first["members"][:2]] == [300, 290]
    second = _get(client, "?sort=balance&page=2")
    assert [m["customer_id"] for m in second["members"]] == ["1005", "1004", "1003", "1002", "1001"]
    seen = {m["customer_id"] for m in first["members"]} | {m["customer_id"] for m in second["members"]}
    assert len(seen) == 30 and "5000" not in seen
    for bad in ("?page=0", "?page=x", "?page=²"):
        r = api(client, "GET", f"/api/admin/members{bad}")
        assert r.status_code == 422 and r.get_json()["error"]["fields"], bad
