"""The referral landing: the friend's offer, an email, a one-use code and the redirect; unknown codes leak nothing."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import Referral
from tests.proxy.conftest import SHOP, Seeded, proxy_url


def _token(html: str) -> str:
    return re.search(r'name="form_token" value="([^"]+)"', html).group(1)


def test_friend_gets_a_code_and_is_sent_to_the_discount_url(live: tuple[Any, Seeded]) -> None:
    client, _ = live
    page = client.get(proxy_url("r/abcd-2345", None))
    html = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "$10.00 off your first order" in html
    assert "Ann" not in html and "ann@example.com" not in html
    resp = client.post(proxy_url("r/ABCD2345", None), data={"email": "friend@example.org", "form_token": _token(html)})
    assert resp.status_code == 303
    with client.application.app_context():
        referral = db.session.execute(select(Referral)).scalar_one()
        assert referral.friend_email == "friend@example.org"
    assert resp.headers["Location"] == f"/discount/{referral.friend_code}"


def test_unknown_code_gets_a_friendly_page_with_the_same_status(client: Any, seeded: Seeded) -> None:
    known = client.get(proxy_url("r/ABCD2345", None))
    unknown = client.get(proxy_url("r/ZZZZ9999", None))
    garbage = client.get(proxy_url("r/%3Cscript%3E", None))
    assert known.status_code == unknown.status_code == garbage.status_code == 200
    text = unknown.get_data(as_text=True)
    assert "This invitation link is not active" in text
    assert "<script>" not in garbage.get_data(as_text=True)
    from app.proxy.auth import form_token

    with client.application.app_context():
        token = form_token(SHOP, "referral|ZZZZ9999")
    posted = client.post(proxy_url("r/ZZZZ9999", None), data={"email": "x@example.org", "form_token": token})
    assert posted.status_code == 200 and "Location" not in posted.headers


def test_landing_speaks_the_storefront_language(client: Any, seeded: Seeded) -> None:
    html = client.get(proxy_url("r/ABCD2345", None, locale="el")).get_data(as_text=True)
    assert "Ένα δώρο από έναν φίλο" in html and 'lang="el"' in html
