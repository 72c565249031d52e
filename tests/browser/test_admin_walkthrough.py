"""Every admin page walked as a merchant, in real Chromium against the stand-in Shopify: setup, each settings
group (fields that appear only when they apply, a plain-language error under its field), a tier edit with the
what-if, an adjustment below zero refused then confirmed, a reward deleted, a campaign paused, the audit log
filtered. On every page: no internal key visible; over the whole walk: no console error, no 4xx/5xx.

REGULARS_SCREENSHOTS=docs/screenshots saves admin-<page>.png for each page (off by default).
"""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from tests.browser.test_admin_browser import admin_page, nav  # noqa: F401  (the fixture)

pytestmark = [pytest.mark.browser, pytest.mark.postgres]

# What the merchant must never read: the API's keys and codes (the list, and their neighbours).
INTERNAL = ("allow_negative", "cap_at_zero", "points_earned", "amount_spent", "rolling_12_months", "calendar_year",
            "fixed_amount", "free_shipping", "free_product", "per_day", "per_month", "staff:1", "reward.created",
            "reward.deleted", "setup.completed", "setup_completed", "points.adjusted", "campaign.paused",
            "admin_adjustment", "earn_order", "points_per_currency_unit", "tier_metric", "expiry_mode",
            "honour_system", "pending_hint", "points_n", "#few", "#other", "day_7", "days_30", "social_proof", "tier_up", "check_in", "[object Object]",
            "undefined", "NaN")


def looked_at(page: Any, name: str, scroll_to: str | None = None) -> None:
    """The page as drawn: no internal key in the text the merchant reads; a screenshot when asked."""
    page.wait_for_load_state("networkidle")
    text = page.locator("body").inner_text()
    shown = [key for key in INTERNAL if key in text]
    assert not shown, (name, shown)
    folder = os.environ.get("REGULARS_SCREENSHOTS")
    if folder:
        page.evaluate("window.scrollTo(0, 0); document.querySelectorAll('.sb-toast').forEach((t) => t.remove())")
        if scroll_to:
            page.locator(scroll_to).first.evaluate("el => el.scrollIntoView()")
        page.screenshot(path=os.path.join(folder, f"admin-{name}.png"), full_page=False)


def save(page: Any) -> None:
    """App Bridge's contextual save bar: it is there while the form has changes, and gone once saved."""
    bar = page.get_by_role("region", name="Unsaved changes")
    bar.wait_for()
    bar.get_by_role("button", name="Save").click()


def saved(page: Any) -> None:
    """The save went through: the bar is gone and the page is drawn again from what the API now holds."""
    page.get_by_role("region", name="Unsaved changes").wait_for(state="hidden")
    page.wait_for_load_state("networkidle")


def refused(page: Any, path: str) -> None:
    """The one 422 the step provoked on purpose (and Chromium's console line for it), and nothing else."""
    expected = [p for p in page.problems if path in p and "422" in p] + \
        [p for p in page.problems if p.startswith("console: Failed to load resource") and "422" in p]
    assert len(expected) == 2, page.problems
    for p in expected:
        page.problems.remove(p)


def test_the_whole_admin_as_a_merchant(admin_page: Any) -> None:  # noqa: F811, PLR0915
    page = admin_page

    # --- setup ------------------------------------------------------------------------------------------
    page.get_by_role("heading", name="Set up your loyalty program").wait_for()
    looked_at(page, "setup")
    page.get_by_label("Sign-up bonus (points)").fill("150")
    page.get_by_role("button", name="Start the program").click()
    page.get_by_role("heading", name="VIP tiers").wait_for()

    # --- settings, group by group ---------------------------------------------------------------------------
    nav(page, "Settings")
    for group in ("Earning", "Redeeming", "Tiers", "Referrals", "Expiry", "Languages"):
        page.get_by_role("heading", name=group, exact=True).wait_for()
    assert page.get_by_label("Points for joining").input_value() == "150"
    # Fields that apply only to a choice appear with it.
    expire_after = page.get_by_label("Days without activity before points expire")
    assert not expire_after.is_visible()
    page.get_by_label("Points expiry").select_option(label="Points expire after a time without activity")
    expire_after.wait_for()
    expire_after.fill("200")
    grace = page.get_by_label("Days of grace before moving a customer down")
    assert not grace.is_visible()
    page.get_by_label("Counted over").select_option(label="In the last 12 months")
    grace.wait_for()
    refund = page.get_by_label("When a refund takes back more points than the customer has")
    assert refund.locator("option:checked").inner_text() == "Take the points back, even below zero"
    page.get_by_label("Points for the customer who referred").fill("600")  # the Referrals group
    # A wrong value: the error is under its field, in words.
    page.get_by_label("Points per USD spent").fill("lots")
    save(page)
    rate = page.locator('s-text-field[name="points_per_currency_unit"]')
    page.wait_for_function("() => document.querySelector('s-text-field[name=points_per_currency_unit]').getAttribute('error')")
    message = rate.locator(".sp-error").inner_text()
    assert message and "points_per_currency_unit" not in message, message
    assert page.get_by_label("Points per USD spent").get_attribute("aria-invalid") == "true"
    refused(page, "/api/admin/settings")
    looked_at(page, "settings-error")
    page.get_by_label("Points per USD spent").fill("5")
    save(page)
    page.get_by_text("Saved", exact=True).wait_for()
    saved(page)
    assert page.get_by_label("Days without activity before points expire").input_value() == "200"
    assert page.get_by_label("Counted over").locator("option:checked").inner_text() == "In the last 12 months"
    assert page.get_by_label("Points for the customer who referred").input_value() == "600"
    looked_at(page, "settings")

    # Languages: a reward's name and a shopper text in Romanian, labelled by what they say, never by key.
    page.get_by_label("Language to edit").select_option(label="Romanian")
    page.get_by_label("Reward: Free shipping").fill("Livrare gratuită")
    page.get_by_label("Find a text").fill("Redeem")
    redeem = page.locator("#text-list .text-entry:not([hidden])").first
    redeem.wait_for()
    redeem_label = redeem.locator("label").inner_text()
    redeem.locator("input").fill("Folosește punctele")
    save(page)
    saved(page)
    assert page.get_by_label("Language to edit").locator("option:checked").inner_text() == "Romanian"
    assert page.get_by_label("Reward: Free shipping").input_value() == "Livrare gratuită"
    assert page.get_by_label(redeem_label, exact=True).input_value() == "Folosește punctele"
    looked_at(page, "settings-languages", scroll_to="#group-languages")

    # --- tiers: the what-if, an error under its field, then saved ----------------------------------------
    with page.regulars_app.app_context():  # members as the daily evaluation left them: Ada Silver, Cy Bronze
        from app.extensions import db
        from app.models import Member, Tier

        tiers = {t.name: t.id for t in db.session.query(Tier)}
        for m in db.session.query(Member):
            m.tier_id = tiers["Silver"] if m.customer_id == 501 else tiers["Bronze"]
        db.session.commit()
    nav(page, "Tiers")
    page.get_by_role("heading", name="VIP tiers").wait_for()
    page.get_by_label("Tier 3 multiplier").fill("fast")
    page.get_by_role("button", name="Preview changes").click()
    page.wait_for_function("() => document.querySelector('[name=\"tiers.2.multiplier\"]').getAttribute('error')")
    refused(page, "/api/admin/tiers/preview")
    page.get_by_label("Tier 3 multiplier").fill("2")
    page.get_by_label("Tier 2 threshold").fill("1200")
    page.get_by_role("button", name="Preview changes").click()
    what_if = page.get_by_test_id("what-if")
    what_if.wait_for()
    assert "0 members move up, 1 moves down, 1 stays where they are" in what_if.inner_text()
    looked_at(page, "tiers")
    save(page)
    saved(page)
    assert page.get_by_label("Tier 2 threshold").input_value() == "1200"

    # --- customers: search, then an adjustment below zero refused, then confirmed ---------------------------
    nav(page, "Customers")
    page.get_by_label("Search by name or email").fill("ada")
    page.locator("s-table#members", has_text="Ada Lovelace").wait_for()
    page.wait_for_function("() => !document.querySelector('s-table#members').innerText.includes('Cy Young')")
    looked_at(page, "customers")
    page.get_by_role("link", name="Ada Lovelace").click()
    page.get_by_role("heading", name="Ada Lovelace").wait_for()
    page.get_by_label("Points (negative to remove)").fill("-1500")
    page.get_by_label("Reason").fill("Chargeback")
    page.get_by_role("button", name="Adjust").click()
    modal = page.get_by_role("dialog", name="Take the balance below zero?")
    modal.wait_for()
    assert "-500 points" in modal.inner_text()
    modal.get_by_role("button", name="Cancel").click()
    assert page.get_by_test_id("available").inner_text() == "1,000"
    page.get_by_role("button", name="Adjust").click()
    modal.get_by_role("button", name="Adjust anyway").click()
    page.locator("#ledger", has_text="Chargeback").wait_for()
    assert page.get_by_test_id("available").inner_text() == "-500"
    looked_at(page, "member")

    # --- rewards: one added, one deleted (gone from the list) ----------------------------------------------
    nav(page, "Rewards")
    page.get_by_role("heading", name="What customers can redeem").wait_for()
    page.get_by_label("Type").select_option(label="Free shipping")
    assert not page.get_by_label("Amount off (USD)").is_visible()  # no amount for free shipping
    page.get_by_label("Name customers see").fill("Free delivery")
    page.get_by_label("Points it costs").fill("300")
    page.get_by_role("button", name="Add reward", exact=True).last.click()
    row = page.locator('s-table-row[data-reward="Free delivery"]')
    row.wait_for()
    assert "Free shipping" in row.inner_text()
    row.get_by_role("button", name="Delete Free delivery").click()
    page.get_by_role("dialog", name="Delete this reward?").get_by_role("button", name="Delete reward").click()
    row.wait_for(state="detached")
    looked_at(page, "rewards")

    # --- points & actions: a campaign added, then paused ---------------------------------------------------
    nav(page, "Points & actions")
    page.get_by_role("heading", name="How customers earn").wait_for()
    today = datetime.now(UTC).date()
    page.get_by_label("Name", exact=True).first.fill("Double points week")
    page.get_by_label("Multiplier or bonus points").fill("2")
    page.get_by_label("Starts on").fill((today - timedelta(days=1)).isoformat())
    page.get_by_label("Ends after").fill((today + timedelta(days=7)).isoformat())
    page.get_by_role("button", name="Add campaign").last.click()
    campaign = page.locator('s-table-row[data-campaign-row="Double points week"]')
    campaign.get_by_text("Running").wait_for()
    # Edited in place: the form fills with the campaign, the change is saved to the same row.
    campaign.get_by_role("link", name="Edit").click()
    page.get_by_role("heading", name="Edit “Double points week”").wait_for()
    page.get_by_label("Multiplier or bonus points").fill("3")
    page.get_by_role("button", name="Save campaign").click()
    campaign.get_by_text("×3").wait_for()
    assert page.locator("s-table-row[data-campaign-row]").count() == 1
    campaign.get_by_role("button", name="Pause").click()
    campaign.get_by_text("Paused").wait_for()
    assert campaign.get_by_role("button", name="Resume").is_visible()
    looked_at(page, "points")

    # --- the other pages -------------------------------------------------------------------------------------
    nav(page, "Referrals")
    page.get_by_role("heading", name="All referrals").wait_for()
    page.get_by_label("Status").select_option(label="Needs review")
    page.wait_for_url("**status=review**")
    looked_at(page, "referrals")
    nav(page, "Analytics")
    page.get_by_role("heading", name="Members and other customers").wait_for()
    looked_at(page, "analytics")
    nav(page, "Automations")
    page.locator("tr[data-flow]").first.wait_for()
    looked_at(page, "automations")
    nav(page, "Home")
    page.get_by_role("heading", name="Retention dashboard").wait_for()
    page.get_by_label("From").fill("2026-01-01")  # the seeded orders' quarter
    page.get_by_label("To", exact=True).fill("2026-03-31")
    page.get_by_role("button", name="Show").click()
    page.get_by_text("from Jan 1, 2026 to Mar 31, 2026").wait_for()
    assert page.locator('[data-metric="repeat_customer_rate"]').inner_text() == "25%"
    looked_at(page, "dashboard")  # README shows it as admin-dashboard.png
    looked_at(page, "trends", scroll_to="#trends")

    # --- the audit log, filtered --------------------------------------------------------------------------
    nav(page, "Settings")
    page.get_by_role("link", name="Audit log").click()
    page.get_by_role("heading", name="Audit log").wait_for()
    log = page.locator("s-table#audit s-table-body")  # the rows, not the filters above them
    log.get_by_role("cell", name="Campaign paused").first.wait_for()
    assert "Staff member" in log.inner_text()
    assert "Points for joining: 150" in log.inner_text()  # settings named as the Settings page names them
    page.get_by_label("Action").select_option(label="Reward deleted")
    page.wait_for_url("**action=reward.deleted**")
    page.wait_for_function("() => !document.querySelector('s-table#audit s-table-body').innerText.includes('Campaign paused')")
    assert "Reward deleted" in log.inner_text() and "Free delivery" in log.inner_text()
    looked_at(page, "audit")
    page.get_by_label("Action").select_option(label="All actions")
    page.get_by_label("Search the log").fill("Double points")
    page.wait_for_url("**q=Double**")
    page.wait_for_function("() => !document.querySelector('s-table#audit s-table-body').innerText.includes('Reward deleted')")
    assert "Campaign paused" in log.inner_text()
    assert page.problems == [], page.problems
