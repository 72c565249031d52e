"""Each UI extension target as a shopper sees it: the bundle Shopify CLI built, rendered by node with a fake of
Shopify's `shopify` global (a session token minted with the app secret, the locale, navigation), calling the
running app (/ext/v1 on PostgreSQL, fed by the stand-in Shopify's webhooks), in English and Thai."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest

from app.extensions import db
from app.models import Member, Order, Shop
from tests.extensions.conftest import ExtSeed, render

PAGE = ("regulars-account", "customer-account.page.render")
PROFILE = ("regulars-account-blocks", "customer-account.profile.block.render")
ORDER_STATUS = ("regulars-account-blocks", "customer-account.order-status.block.render")
THANK_YOU = ("regulars-thank-you", "purchase.thank-you.block.render")


@pytest.fixture(autouse=True)
def _built(bundles: Any) -> None:
    """Every test here renders the built bundles."""


def thai_date(value: datetime) -> str:
    """The Thai (Buddhist era) year a shopper in th reads, e.g. 2569 for 2026."""
    return str(value.year + 543)


def release_date(ext: ExtSeed) -> datetime:
    with ext.app.app_context():
        order = db.session.query(Order).filter_by(shop_id=ext.shop_id, order_id=ext.paid_order).one()
        assert order.points_release_at is not None
        return order.points_release_at


def en_date(value: datetime) -> str:
    return f"{value.strftime('%B')} {value.day}, {value.year}"


def lines(out: dict[str, Any]) -> list[str]:
    return out["text"].splitlines()


# --- the loyalty page -------------------------------------------------------------------------------------


def test_page_shows_the_members_real_data_in_english(ext: ExtSeed) -> None:
    out = render(ext, *PAGE, customer_id=ext.ann)
    text = out["text"]
    when = en_date(release_date(ext))
    assert "# Rewards" in text and "# Your points" in text
    assert "900 points" in lines(out)  # 100 sign-up + 1,300 adjustment − 500 spent
    assert "299 points pending" in lines(out)
    assert f"299 points from order #1001, spendable from {when}" in lines(out)
    with ext.app.app_context():
        earned = db.session.query(Member).filter_by(shop_id=ext.shop_id, customer_id=ext.ann).one().lifetime_points
    assert "# Your tier" in text and "Bronze" in lines(out)
    assert f"Earn {1000 - earned:,} more points to reach Silver" in lines(out)
    assert "5 off" in lines(out) and "500 points · €5.00" in lines(out)
    assert "5,000 points · €50.00" in lines(out) and "You need 4,100 points more." in text
    assert "On orders over €100.00" in text
    assert "[Redeem]" in lines(out) and "[Redeem (disabled)]" in lines(out)
    assert "# Your discount codes" in text and ext.code in lines(out)
    assert "5 points for every €1.00 you spend" in text and "Join the newsletter: 50 points" in text
    assert "/apps/regulars/r/" in text and "[Copy]" in lines(out)
    assert "We'll celebrate on March 14 with 100 points." in text
    assert "# Points history" in text and "Spent on a reward" in text
    assert "Adjusted by the store — Thanks for your patience" in text
    assert "Welcome bonus for joining" in text and "+1,300" in lines(out) and "-500" in lines(out)
    assert [f["path"] for f in out["fetches"]] == ["/ext/v1/member"]


def test_page_in_thai_uses_thai_words_numbers_and_dates(ext: ExtSeed) -> None:
    out = render(ext, *PAGE, customer_id=ext.ann, locale="th")
    text = out["text"]
    assert "# รางวัล" in text and "# คะแนนของคุณ" in text
    assert "900 คะแนน" in lines(out) and "299 คะแนน รอดำเนินการ" in lines(out)
    when = release_date(ext)
    # Thai months and the Buddhist-era year: Intl's own th calendar, as a Thai shopper reads dates.
    assert f"299 คะแนน จากคำสั่งซื้อ #1001 ใช้ได้ตั้งแต่ {when.day} ธันวาคม {thai_date(when)}" in lines(out) \
        or f"ใช้ได้ตั้งแต่ {when.day} " in text and thai_date(when) in text
    assert "[แลกรางวัล]" in lines(out) and "[แลกรางวัล (disabled)]" in lines(out)
    assert "5,000 คะแนน · €50.00" in lines(out) and "คุณต้องการอีก 4,100 คะแนน" in lines(out)
    assert "# ประวัติคะแนน" in text and "ใช้แลกรางวัล" in text and "# วิธีสะสมคะแนน" in text
    english = ("Points", "Redeem", "Rewards", "Your ", "pending", "Copy")
    assert not [word for word in english if word in text]  # nothing left in English


def test_redeeming_from_the_page_shows_the_new_code_and_balance(ext: ExtSeed) -> None:
    out = render(ext, *PAGE, customer_id=ext.ann, clicks=("Redeem",))
    with ext.app.app_context():
        member = db.session.query(Member).filter_by(shop_id=ext.shop_id, customer_id=ext.ann).one()
        assert member.points_available == 400
        codes = [c["code"] for c in ext.store.discount_codes("ext-shop.myshopify.com")]
    new_code = codes[-1]
    assert new_code != ext.code
    text = out["text"]
    assert f"# Your code {new_code} is ready." in text
    assert "You now have 400 points." in text and "400 points" in lines(out)
    assert text.count(new_code) >= 2  # in the banner and in the list of active codes
    assert [(f["method"], f["path"], f["status"]) for f in out["fetches"]][:2] == [
        ("GET", "/ext/v1/member", 200), ("POST", "/ext/v1/redemptions", 201)]


def test_page_for_a_visitor_and_for_a_customer_who_has_not_joined(ext: ExtSeed) -> None:
    visitor = render(ext, *PAGE, customer_id=None)
    assert "# Join our rewards program" in visitor["text"]
    assert "Create an account to join and get 100 points." in visitor["text"]
    assert "5 points for every €1.00 you spend" in visitor["text"]
    assert "Join the program: 100 points" in visitor["text"]
    assert "Redeem" not in visitor["text"] and "900" not in visitor["text"]
    guest = render(ext, *PAGE, customer_id=ext.carol, locale="th")
    assert "# เข้าร่วมโปรแกรมสะสมคะแนน" in guest["text"]
    assert "คำสั่งซื้อครั้งถัดไปจะทำให้คุณเป็นสมาชิก: 5 คะแนนทุกการใช้จ่าย €1.00" in guest["text"]


# --- the profile block ------------------------------------------------------------------------------------


def test_profile_block_shows_points_tier_and_the_way_to_the_page(ext: ExtSeed) -> None:
    out = render(ext, *PROFILE, customer_id=ext.ann)
    assert lines(out) == ["# Rewards", "900 points", "299 points pending", "Tier: Bronze",
                          "<View your rewards → extension://regulars-account>"]
    th = render(ext, *PROFILE, customer_id=ext.ann, locale="th")
    assert lines(th) == ["# รางวัล", "900 คะแนน", "299 คะแนน รอดำเนินการ", "ระดับ: Bronze",
                         "<ดูรางวัลของคุณ → extension://regulars-account>"]


def test_profile_block_for_a_visitor_invites_and_shows_nothing_while_the_program_is_off(ext: ExtSeed) -> None:
    out = render(ext, *PROFILE, customer_id=None)
    assert lines(out)[:2] == ["# Rewards", "Create an account to join and get 100 points."]
    with ext.app.app_context():
        shop = db.session.get(Shop, ext.shop_id)
        shop.settings = {**(shop.settings or {}), "enabled": False}
        db.session.commit()
    assert render(ext, *PROFILE, customer_id=ext.ann)["text"] == ""


# --- the order status block -------------------------------------------------------------------------------


def test_order_status_block_says_what_the_order_earned_and_until_when_it_is_pending(ext: ExtSeed) -> None:
    when = release_date(ext)
    out = render(ext, *ORDER_STATUS, customer_id=ext.ann, order_id=ext.paid_order)
    assert lines(out) == ["# Rewards", f"This order earned you 299 points. You can spend them from {en_date(when)}."]
    th = render(ext, *ORDER_STATUS, customer_id=ext.ann, order_id=ext.paid_order, locale="th")
    assert th["text"].startswith("# รางวัล\nคำสั่งซื้อนี้ทำให้คุณได้รับ 299 คะแนน ใช้ได้ตั้งแต่")
    assert thai_date(when) in th["text"]


def test_order_status_block_says_why_an_order_earned_nothing(ext: ExtSeed) -> None:
    test = render(ext, *ORDER_STATUS, customer_id=ext.ann, order_id=ext.test_order)
    assert lines(test)[1] == "This order earned no points: it was a test order."
    gift = render(ext, *ORDER_STATUS, customer_id=ext.ann, order_id=ext.gift_order, locale="th")
    assert lines(gift)[1] == "คำสั่งซื้อนี้ไม่ได้รับคะแนน เพราะบัตรของขวัญไม่ได้รับคะแนน"
    ext.store.cancel_order("ext-shop.myshopify.com", ext.paid_order)
    for _ in range(100):
        cancelled = render(ext, *ORDER_STATUS, customer_id=ext.ann, order_id=ext.paid_order)
        if "cancelled" in cancelled["text"]:
            break
    assert lines(cancelled)[1] == "This order earned no points: it was cancelled."


def test_order_status_block_before_sign_in_asks_to_sign_in(ext: ExtSeed) -> None:
    out = render(ext, *ORDER_STATUS, customer_id=None, order_id=ext.paid_order, auth_state="pre_authenticated",
                 clicks=("Sign in",))
    assert lines(out) == ["# Rewards", "Sign in to see the points this order earned you.", "[Sign in]"]
    assert out["fetches"] == [] and out["navigations"] == ["requireLogin"]


# --- the thank-you page -----------------------------------------------------------------------------------


def test_thank_you_tells_a_member_what_they_earned(ext: ExtSeed) -> None:
    when = release_date(ext)
    out = render(ext, *THANK_YOU, customer_id=ext.ann, order_id=ext.paid_order)
    assert lines(out) == ["# Rewards", f"You earned 299 points with this order. You can spend them from {en_date(when)}."]
    assert all("surface=checkout" in f["path"] for f in out["fetches"])
    th = render(ext, *THANK_YOU, customer_id=ext.ann, order_id=ext.paid_order, locale="th")
    assert lines(th)[1].startswith("คุณได้รับ 299 คะแนน จากคำสั่งซื้อนี้ ใช้ได้ตั้งแต่")


def test_thank_you_invites_a_guest_and_waits_for_an_order_still_on_its_way(ext: ExtSeed) -> None:
    guest = render(ext, *THANK_YOU, customer_id=None, order_id=ext.paid_order)
    assert lines(guest) == ["# Join Ext Shop Rewards",
                            "Create an account with your email to get 100 points, then 5 points for every €1.00 you spend."]
    th = render(ext, *THANK_YOU, customer_id=None, order_id=ext.paid_order, locale="th")
    assert lines(th)[0] == "# เข้าร่วมโปรแกรมสะสมคะแนนของ Ext Shop"
    # An order the app has not heard of yet: asked again a few times, then an honest "shortly".
    late = render(ext, *THANK_YOU, customer_id=ext.ann, order_id=123456789)
    assert lines(late)[1] == "Your points for this order will appear in your account shortly."
    assert [f["status"] for f in late["fetches"]] == [200, 404, 404, 404, 404, 404]


def test_thank_you_shows_nothing_while_the_program_is_off(ext: ExtSeed) -> None:
    with ext.app.app_context():
        shop = db.session.get(Shop, ext.shop_id)
        shop.settings = {**(shop.settings or {}), "enabled": False}
        db.session.commit()
    for customer in (ext.ann, None):
        out = render(ext, *THANK_YOU, customer_id=customer, order_id=ext.paid_order)
        assert out["text"] == "" and out["html"] == ""
