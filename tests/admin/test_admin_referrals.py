"""The referrals index: search by advocate or friend, filter by status, sort, pages; decisions on another shop's referral are 404."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.models import Referral
from tests.admin.support import api, install_shop, member

pytestmark = pytest.mark.postgres


def _seed(shop: Any) -> None:
    ana = member(shop, 1, email="ana@x.test", first="Ana", last="Pop")
    bo = member(shop, 2, email="bo@x.test", first="Bo", last="100%_Real")
    rows = [(ana, "f1@friends.test", "completed"), (ana, "f2@friends.test", "review"),
            (bo, "cara@friends.test", "invited"), (bo, None, "pending")]
    for i, (adv, email, status) in enumerate(rows):
        db.session.add(Referral(shop_id=shop.id, advocate_member_id=adv.id, friend_email=email,
                                friend_code=f"FRIEND{i}", status=status))
    for i in range(30):
        db.session.add(Referral(shop_id=shop.id, advocate_member_id=ana.id, friend_email=f"bulk{i}@x.test",
                                friend_code=f"BULK{i}", status="invited"))
    db.session.commit()


def _get(client: Any, query: str) -> dict[str, Any]:
    r = api(client, "GET", f"/api/admin/referrals{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_search_filter_sort_and_page(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        _seed(shop)
    first = _get(client, "")
    assert (first["total"], first["page"], first["pages"], len(first["referrals"])) == (34, 1, 2, 25)
    assert first["referrals"][0]["friend_code"] == "BULK29"  # newest first
    second = _get(client, "?page=2")
    assert len(second["referrals"]) == 9 and second["referrals"][-1]["friend_code"] == "FRIEND0"
    assert _get(client, "?page=99")["page"] == 2
    assert _get(client, "?sort=oldest")["referrals"][0]["friend_code"] == "FRIEND0"
    by_status = _get(client, "?sort=status")["referrals"]
    assert by_status[0]["status"] == "review"  # what waits for the merchant comes first

    def codes(query: str) -> list[str]:
        return [r["friend_code"] for r in _get(client, query)["referrals"]]

    assert codes("?q=cara@friends") == ["FRIEND2"]           # the friend's email
    assert codes("?q=BO@X.TEST") == ["FRIEND3", "FRIEND2"]   # the advocate's email, any case
    assert codes("?q=ana pop&status=review") == ["FRIEND1"]  # the advocate's name, with a status
    assert codes("?q=100%25_") == ["FRIEND3", "FRIEND2"]     # "100%_" found as typed
    assert codes("?q=bo 1%25r") == [] and codes("?q=b_ 100") == []  # % and _ are plain characters, not wildcards
    found = _get(client, "?q=cara")
    row = found["referrals"][0]
    assert (row["advocate"], row["advocate_email"], row["advocate_customer_id"]) == ("Bo 100%_Real", "bo@x.test", "2")
    assert (row["status"], row["status_label"]) == ("invited", "Invited")
    assert {"status": "review", "label": "Needs your review"} in found["statuses"]
    for bad in ("?status=done", "?sort=name", "?page=0", "?page=x"):
        r = api(client, "GET", f"/api/admin/referrals{bad}")
        assert r.status_code == 422 and r.get_json()["error"]["fields"], bad


def test_another_shops_referrals_are_neither_listed_nor_decided(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        other = install_shop("beta.myshopify.com")
        theirs = member(other, 9, email="them@x.test")
        ref = Referral(shop_id=other.id, advocate_member_id=theirs.id, friend_code="THEIRS", status="review")
        db.session.add(ref)
        db.session.commit()
        ref_id = ref.id
    assert _get(client, "")["total"] == 0
    for decision in ("approve", "reject"):
        assert api(client, "POST", f"/api/admin/referrals/{ref_id}/{decision}").status_code == 404
    with pg_app.app_context():
        row = db.session.get(Referral, ref_id)
        assert row is not None and row.status == "review"
