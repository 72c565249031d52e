"""Changes from the widget: redeem, join, and the guards every POST passes (owner, per-render token, request key)."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy import func, select

from app.extensions import db
from app.models import LedgerEntry, Member, Redemption
from tests.proxy.conftest import SHOP, Seeded, proxy_url


def form_fields(html: str, action: str, marker: str = "") -> dict[str, str]:
    """The hidden fields of the first form posting to `action` (after `marker` in the page)."""
    start = html.index(marker) if marker else 0
    form = html[html.index(f'action="/apps/regulars/widget/{action}"', start):]
    form = form[: form.index("</form>")]
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', form))


def _balance(app_client: Any, member_id: int) -> int:
    with app_client.application.app_context():
        return db.session.get(Member, member_id).points_available


def test_member_redeems_once_even_when_the_form_is_sent_twice(live: tuple[Any, Seeded]) -> None:
    client, seeded = live
    page = client.get(proxy_url("widget", seeded.customer_id)).get_data(as_text=True)
    fields = form_fields(page, "redeem", f'data-reward="{seeded.cheap_reward_id}"')
    first = client.post(proxy_url("widget/redeem", seeded.customer_id), data=fields)
    assert first.status_code == 200
    html = first.get_data(as_text=True)
    code = re.search(r"Your code (REG-[A-Z0-9-]+) is ready", html).group(1)
    assert f"<code data-code>{code}</code>" in html
    assert f'href="/discount/{code}?redirect=%2Fcart"' in html
    assert re.search(r"data-points-available>200<", html)
    # A double-submit (same request key) answers the same code and debits nothing more.
    again = client.post(proxy_url("widget/redeem", seeded.customer_id), data=fields)
    assert f"Your code {code} is ready" in again.get_data(as_text=True)
    assert _balance(client, seeded.member_id) == 200
    with client.application.app_context():
        assert db.session.scalar(select(func.count(Redemption.id))) == 1


def test_unaffordable_reward_is_refused_and_nothing_debited(live: tuple[Any, Seeded]) -> None:
    client, seeded = live
    page = client.get(proxy_url("widget", seeded.customer_id)).get_data(as_text=True)
    fields = form_fields(page, "redeem", f'data-reward="{seeded.dear_reward_id}"')
    resp = client.post(proxy_url("widget/redeem", seeded.customer_id), data=fields)
    assert resp.status_code == 409
    flash = resp.get_data(as_text=True).split('data-flash="reason_insufficient_points">')[1].split("</p>")[0]
    assert "You need 4,300 more points." in flash  # the shopper's words, not the API's message
    assert _balance(client, seeded.member_id) == 700
    # In the shopper's language, with its plural form and digit grouping; a tier-only reward names the tier.
    page = client.get(proxy_url("widget", seeded.customer_id, locale="ro")).get_data(as_text=True)
    fields = form_fields(page, "redeem", f'data-reward="{seeded.dear_reward_id}"')
    ro = client.post(proxy_url("widget/redeem", seeded.customer_id, locale="ro"), data=fields).get_data(as_text=True)
    assert "Îți mai trebuie 4.300 de puncte." in ro.split('data-flash="reason_insufficient_points">')[1].split("</p>")[0]
    fields = form_fields(page, "redeem", f'data-reward="{seeded.gold_reward_id}"')
    gold = client.post(proxy_url("widget/redeem", seeded.customer_id, locale="ro"), data=fields)
    assert gold.status_code == 409
    assert "Pentru membrii Gold." in gold.get_data(as_text=True).split('data-flash="reason_tier_not_allowed">')[1]


def test_a_form_cannot_act_for_another_customer(client: Any, seeded: Seeded) -> None:
    page = client.get(proxy_url("widget", seeded.customer_id)).get_data(as_text=True)
    fields = form_fields(page, "redeem", f'data-reward="{seeded.cheap_reward_id}"')
    # Naming someone else in the form is refused outright.
    named = client.post(proxy_url("widget/redeem", seeded.customer_id),
                        data={**fields, "customer_id": str(seeded.other_customer_id)})
    assert named.status_code == 403
    # Ann's rendered form replayed while Bob is signed in: the per-render token is Ann's, so refused.
    replay = client.post(proxy_url("widget/redeem", seeded.other_customer_id), data=fields)
    assert replay.status_code == 403
    assert "This page is out of date" in replay.get_data(as_text=True)
    # A visitor cannot post at all; nor can an unsigned request.
    assert client.post(proxy_url("widget/redeem", None), data=fields).status_code == 401
    assert client.post("/proxy/widget/redeem", data=fields).status_code == 401
    with client.application.app_context():
        assert db.session.scalar(select(func.count(Redemption.id))) == 0


def test_a_form_token_from_long_ago_is_refused(client: Any, seeded: Seeded) -> None:
    import time

    from app.proxy.auth import FORM_TOKEN_TTL_SECONDS, form_token

    with client.application.app_context():
        old = form_token(SHOP, f"{SHOP}|{seeded.customer_id}", now=time.time() - FORM_TOKEN_TTL_SECONDS - 5)
    resp = client.post(proxy_url("widget/redeem", seeded.customer_id),
                       data={"form_token": old, "request_key": "k1", "reward_id": str(seeded.cheap_reward_id)})
    assert resp.status_code == 403


def test_customer_joins_once_and_gets_the_signup_bonus(client: Any, seeded: Seeded) -> None:
    newcomer = 880000000000001  # beyond 2^53, as Shopify ids can be
    page = client.get(proxy_url("widget", newcomer)).get_data(as_text=True)
    fields = form_fields(page, "join")
    resp = client.post(proxy_url("widget/join", newcomer), data=fields)
    assert resp.status_code == 200
    html = resp.get_data(as_text=True)
    assert "Welcome to the program!" in html
    assert re.search(r"data-points-available>100<", html)
    client.post(proxy_url("widget/join", newcomer), data=fields)
    with client.application.app_context():
        member = db.session.execute(select(Member).where(Member.customer_id == newcomer)).scalar_one()
        assert member.points_available == 100
        assert db.session.scalar(select(func.count(LedgerEntry.id)).where(LedgerEntry.member_id == member.id)) == 1


def test_a_redemption_whose_outcome_was_not_recorded_answers_its_code_on_retry(live: tuple[Any, Seeded]) -> None:
    """The redemption committed (debit and code) but the request's note of its outcome did not (the process
    died, or the write failed): the claim stays 'started'. The shopper's retry with the same key, once the
    claim is old enough to be abandoned, gets the same code, and nothing is debited twice."""
    from datetime import timedelta

    from app.models import utcnow
    from app.services.proxy_requests import ABANDONED_AFTER, proxy_requests

    client, seeded = live
    page = client.get(proxy_url("widget", seeded.customer_id)).get_data(as_text=True)
    fields = form_fields(page, "redeem", f'data-reward="{seeded.cheap_reward_id}"')
    first = client.post(proxy_url("widget/redeem", seeded.customer_id), data=fields)
    code = re.search(r"Your code (REG-[A-Z0-9-]+) is ready", first.get_data(as_text=True)).group(1)
    with client.application.app_context():
        db.session.execute(proxy_requests.update().values(status="started", result=None))
        db.session.commit()
    # Still fresh: a concurrent duplicate may be running it, so the retry is told to wait.
    waiting = client.post(proxy_url("widget/redeem", seeded.customer_id), data=fields)
    assert waiting.status_code == 202
    with client.application.app_context():
        db.session.execute(proxy_requests.update().values(created_at=utcnow() - ABANDONED_AFTER - timedelta(seconds=1)))
        db.session.commit()
    retry = client.post(proxy_url("widget/redeem", seeded.customer_id), data=fields)
    assert retry.status_code == 200 and f"Your code {code} is ready" in retry.get_data(as_text=True)
    assert _balance(client, seeded.member_id) == 200
    with client.application.app_context():
        assert db.session.execute(select(func.count()).select_from(Redemption)).scalar_one() == 1
