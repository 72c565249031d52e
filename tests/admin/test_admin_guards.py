"""Guards on a manual adjustment: below zero is refused with a 422 unless allow_negative is true; another shop's member is 404."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from tests.admin.support import api, install_shop, member

pytestmark = pytest.mark.postgres


def test_below_zero_needs_allow_negative(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        member(shop, 51, email="neg@x.test", points=100)
        db.session.commit()
    body = {"points": -999_999, "reason": "Typo test"}
    refused = api(client, "POST", "/api/admin/members/51/adjustments", json=body)
    assert refused.status_code == 422
    error = refused.get_json()["error"]
    assert error["code"] == "negative_balance"
    assert "100" in error["fields"]["points"] and "-999899" in error["fields"]["points"]  # what the result would be
    assert api(client, "GET", "/api/admin/members/51").get_json()["points_available"] == 100
    confirmed = api(client, "POST", "/api/admin/members/51/adjustments", json={**body, "allow_negative": True})
    assert confirmed.status_code == 201 and confirmed.get_json()["points_available"] == 100 - 999_999


def test_adjustment_form_errors_are_plain(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        member(shop, 53, email="p@x.test", points=10)
        db.session.commit()
    r = api(client, "POST", "/api/admin/members/53/adjustments", json={"points": 0, "reason": " "})
    error = r.get_json()["error"]
    assert r.status_code == 422 and error["message"] == "Check the highlighted fields"
    assert error["fields"] == {"points": "Enter a whole number of points other than 0 (negative to remove points)",
                               "reason": "Enter a reason; it is kept in the audit log"}


def test_another_shops_member_is_not_found(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        other = install_shop("beta.myshopify.com")
        member(other, 52, email="them@x.test", points=10)
        db.session.commit()
    assert api(client, "GET", "/api/admin/members/52").status_code == 404
    r = api(client, "POST", "/api/admin/members/52/adjustments", json={"points": 5, "reason": "x"})
    assert r.status_code == 404
