"""The member page's adjustment below zero, as a merchant does it: App Bridge's modal shows the resulting balance
first, and only a yes sends it (with allow_negative, which the API requires for it). No console error, no 4xx."""

from __future__ import annotations

import json
import os
from typing import Any

import pytest

from tests.browser.test_admin_browser import admin_page, nav  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def test_a_removal_below_zero_asks_first_and_sends_allow_negative(admin_page: Any) -> None:  # noqa: F811
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Shop, utcnow

    page = admin_page
    with page.regulars_app.app_context():
        shop = db.session.execute(select(Shop)).scalar_one()
        shop.setup_completed_at = utcnow()
        db.session.commit()
        db.session.remove()
    sent: list[dict[str, Any]] = []
    page.on("request", lambda r: sent.append(json.loads(r.post_data or "{}")) if r.url.endswith("/adjustments") else None)
    page.reload()
    page.get_by_role("heading", name="Retention dashboard").wait_for()
    nav(page, "Customers")
    page.get_by_role("link", name="Ada Lovelace").click()
    page.get_by_role("heading", name="Ada Lovelace").wait_for()
    assert page.get_by_test_id("available").inner_text() == "1,000"

    page.get_by_label("Points (negative to remove)").fill("-1500")
    page.get_by_label("Reason").fill("Chargeback")
    page.get_by_role("button", name="Adjust").click()
    modal = page.get_by_role("dialog", name="Take the balance below zero?")
    modal.wait_for()
    text = modal.inner_text()
    assert "1,000 points" in text and "-500 points" in text, text
    modal.get_by_role("button", name="Cancel").click()
    modal.wait_for(state="hidden")
    assert sent == []  # a no sends nothing
    assert page.get_by_test_id("available").inner_text() == "1,000"

    page.get_by_role("button", name="Adjust").click()
    modal.wait_for()
    modal.get_by_role("button", name="Adjust anyway").click()
    page.locator("#ledger", has_text="Chargeback").wait_for()
    assert page.get_by_test_id("available").inner_text() == "-500"
    assert len(sent) == 1 and sent[0]["allow_negative"] is True and sent[0]["points"] == -1500
    if os.environ.get("REGULARS_TRUST_SHOT"):
        page.screenshot(path=os.environ["REGULARS_TRUST_SHOT"], full_page=False)
    assert page.problems == [], page.problems
