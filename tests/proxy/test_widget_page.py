"""The widget through the app proxy: who may see it, what a member sees, languages and money formats."""

from __future__ import annotations

import re
import time
from typing import Any

from tests.proxy.conftest import SHOP, Seeded, proxy_url


def test_member_sees_points_tier_progress_rewards_and_history(client: Any, seeded: Seeded) -> None:
    resp = client.get(proxy_url("widget", seeded.customer_id))
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    # 100 signup + 2 × 300 order available, 120 pending.
    assert re.search(r"data-points-available>700<", html)
    assert re.search(r"data-points-pending>120<", html)
    assert "Bronze" in html
    # Points earned so far 820 (pending counts as earned) → 180 more to Silver at 1000.
    assert "Earn 180 more points to reach Silver" in html
    # Affordable reward enabled; the dear one disabled with how many points are missing; Gold-only says so.
    cheap = html.split(f'data-reward="{seeded.cheap_reward_id}"')[1].split("</li>")[0]
    dear = html.split(f'data-reward="{seeded.dear_reward_id}"')[1].split("</li>")[0]
    gold = html.split(f'data-reward="{seeded.gold_reward_id}"')[1].split("</li>")[0]
    assert "disabled" not in cheap
    assert "disabled" in dear and "You need 4,300 more points." in dear
    assert "disabled" in gold and "For Gold members." in gold
    assert "https://widget-shop.myshopify.com/apps/regulars/r/ABCD2345" in html
    assert "Welcome bonus for joining" in html and "Points for order 9000" in html
    assert "Join the newsletter: 50 points" in html
    assert resp.headers["Cache-Control"] == "private, no-store"


def test_visitor_sees_the_program_and_sign_in_links(client: Any, seeded: Seeded) -> None:
    html = client.get(proxy_url("widget", None)).get_data(as_text=True)
    assert "Join our rewards program" in html
    assert 'href="/account/login"' in html and 'href="/account/register"' in html
    assert "5 points for every $1.00 you spend" in html
    assert "data-points-available" not in html and "ABCD2345" not in html


def test_customer_who_has_not_joined_gets_a_join_button(client: Any, seeded: Seeded) -> None:
    html = client.get(proxy_url("widget", 123456789012345)).get_data(as_text=True)
    assert "You are not a member yet" in html
    assert "Join and get 100 points" in html
    assert 'action="/apps/regulars/widget/join"' in html


def test_each_member_sees_only_their_own_data(client: Any, seeded: Seeded) -> None:
    html = client.get(proxy_url("widget", seeded.other_customer_id)).get_data(as_text=True)
    assert "WXYZ6789" in html and "ABCD2345" not in html
    assert re.search(r"data-points-available>0<", html)


def test_unsigned_forged_or_stale_requests_are_refused(client: Any, seeded: Seeded) -> None:
    good = proxy_url("widget", seeded.customer_id)
    assert client.get(good).status_code == 200
    # Another customer's id swapped into a signed query breaks the signature.
    forged = good.replace(f"logged_in_customer_id={seeded.customer_id}",
                          f"logged_in_customer_id={seeded.other_customer_id}")
    assert client.get(forged).status_code == 401
    assert client.get("/proxy/widget?shop=" + SHOP).status_code == 401
    stale = proxy_url("widget", seeded.customer_id, timestamp=int(time.time()) - 120)
    assert client.get(stale).status_code == 401
    wrong_secret = proxy_url("widget", seeded.customer_id, secret="not-the-secret")
    assert client.get(wrong_secret).status_code == 401
    unknown_shop = proxy_url("widget", seeded.customer_id, shop="nobody-here.myshopify.com")
    assert client.get(unknown_shop).status_code == 404


def test_repeated_parameters_are_signed_joined_by_commas(client: Any, seeded: Seeded) -> None:
    url = proxy_url("widget", seeded.customer_id, extra={"tag": ["a", "b"]})
    assert "tag=a&tag=b" in url
    assert client.get(url).status_code == 200
    # Dropping one of the repeated values changes the signed message.
    assert client.get(url.replace("tag=a&tag=b", "tag=a")).status_code == 401


def test_languages_follow_the_storefront_locale(client: Any, seeded: Seeded) -> None:
    expected = {
        "el": "Ανταμοιβές", "ro": "Recompense", "th": "ประวัติคะแนน", "zh-CN": "积分记录", "zh-TW": "积分记录",
        "ro-RO": "Istoricul punctelor", "fr": "Points history",
    }
    for locale, text in expected.items():
        html = client.get(proxy_url("widget", seeded.customer_id, locale=locale)).get_data(as_text=True)
        assert text in html, locale
    th = client.get(proxy_url("widget", seeded.customer_id, locale="th")).get_data(as_text=True)
    assert "สะสมอีก 180 คะแนนเพื่อขึ้นเป็น Silver" in th


def test_money_is_in_the_shop_currency_written_the_shoppers_way(pg_app: Any) -> None:
    from app.extensions import db
    from app.models import Shop
    from tests.proxy.conftest import seed_shop

    with pg_app.app_context():
        seeded = seed_shop(money_format="{{amount_with_comma_separator}} lei",
                           settings={"tier_metric": "amount_spent"})
        db.session.get(Shop, seeded.shop_id).currency = "RON"
        db.session.commit()
    client = pg_app.test_client()
    html = client.get(proxy_url("widget", seeded.customer_id, locale="ro")).get_data(as_text=True)
    # No orders yet: 1000 to spend to reach Silver, in lei, with Romanian's digit grouping and decimal comma (CLDR).
    assert "Mai cheltuiește 1.000,00\u00a0RON pentru a ajunge la Silver" in html
    assert "10,00\u00a0RON" in html  # the friend's discount in the referral offer
    english = client.get(proxy_url("widget", seeded.customer_id, locale="en")).get_data(as_text=True)
    assert "Spend RON\u00a01,000.00 more to reach Silver" in english
