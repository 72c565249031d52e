"""The member page's adjustment below zero, as a merchant does it: the page asks first, and only a yes sends it
(with allow_negative, which the API requires for it). No console error, no 4xx on the way."""

from __future__ import annotations

import os
from typing import Any

import pytest

from tests.browser.test_admin_browser import admin_page  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]


def test_a_removal_below_zero_asks_first_and_sends_allow_negative(admin_page: Any) -> None:  # noqa: F811
    from sqlalchemy import select

    from app.extensions import db
    from app.models import Shop, utcnow

    page = admin_page
    # The first load routes an unset-up shop to #/setup: let it settle, or its redirect lands after ours.
    page.get_by_role("heading", name="Set up your loyalty program").wait_for()
    with page.regulars_app.app_context():
        shop = db.session.execute(select(Shop)).scalar_one()
        shop.setup_completed_at = utcnow()
        db.session.commit()
        db.session.remove()
    problems: list[str] = []
    page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
    page.on("response", lambda r: problems.append(f"{r.status} {r.url}") if r.status >= 400 else None)
    page.reload()  # a fresh page reads the shop as set up; then the member's route
    page.get_by_role("heading", name="Set up your loyalty program").wait_for()
    page.goto(page.url.split("#")[0] + "#/member/501")
    page.get_by_role("heading", name="Ada Lovelace").wait_for()
    assert page.get_by_test_id("available").inner_text() == "1000"

    asked: list[str] = []
    page.get_by_label("Points (negative to remove)").fill("-1500")
    page.get_by_label("Reason").fill("Chargeback")
    page.once("dialog", lambda d: (asked.append(d.message), d.dismiss()))
    page.get_by_role("button", name="Adjust").click()
    page.wait_for_function("() => true")  # let the submit handler run
    assert len(asked) == 1 and "below zero" in asked[0] and "-500" in asked[0], asked
    assert page.get_by_test_id("available").inner_text() == "1000"  # a no sends nothing

    page.once("dialog", lambda d: (asked.append(d.message), d.accept()))
    page.get_by_role("button", name="Adjust").click()
    page.locator("#ledger", has_text="Chargeback").wait_for()
    assert page.get_by_test_id("available").inner_text() == "-500"
    assert len(asked) == 2
    if os.environ.get("REGULARS_TRUST_SHOT"):
        page.screenshot(path=os.environ["REGULARS_TRUST_SHOT"], full_page=False)
    assert not problems, problems
