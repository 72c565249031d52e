"""GET/PUT /api/admin/texts on PostgreSQL: the merchant's texts and names per language, validated, per shop, and
what the widget then shows in Romanian, Greek and Chinese (override, CLDR plural, number formats)."""

from __future__ import annotations

from typing import Any

import pytest

from app.extensions import db
from app.models import AuditLog, Reward, Shop, Tier
from tests.admin.support import auth, install_shop
from tests.proxy.conftest import SHOP, Seeded, proxy_url, seed_shop


@pytest.fixture
def seeded(pg_app: Any) -> Seeded:
    with pg_app.app_context():
        return seed_shop()


def _put(client: Any, body: Any, domain: str = SHOP) -> Any:
    return client.put("/api/admin/texts", json=body, headers=auth(domain))


def _text(doc: dict[str, Any], key: str) -> dict[str, Any]:
    return next(t for t in doc["texts"] if t["key"] == key)


def _gold_id(pg_app: Any, seeded: Seeded) -> int:
    with pg_app.app_context():
        return db.session.query(Tier.id).filter_by(shop_id=seeded.shop_id, handle="gold").scalar()


def test_texts_need_a_session_token(client: Any, seeded: Seeded) -> None:
    assert client.get("/api/admin/texts").status_code == 401
    assert client.put("/api/admin/texts", json={}).status_code == 401
    assert client.get("/api/admin/texts", headers={"X-Regulars-Api-Key": "rk_anything"}).status_code == 401


def test_the_document_lists_defaults_per_language_and_plural_form(client: Any, seeded: Seeded) -> None:
    resp = client.get("/api/admin/texts", headers=auth(SHOP))
    assert resp.status_code == 200
    doc = resp.get_json()
    assert doc["locales"] == ["en", "el", "ro", "th", "zh-CN"]
    assert doc["plural_forms"] == {"en": ["one", "other"], "el": ["one", "other"], "ro": ["one", "few", "other"],
                                   "th": ["other"], "zh-CN": ["other"]}
    title = _text(doc, "title")
    assert title["default"] == {"en": "Rewards", "el": "Ανταμοιβές", "ro": "Recompense", "th": "รางวัล",
                                "zh-CN": "会员奖励"} and title["override"] == {}
    few = _text(doc, "points_n#few")
    assert few["default"] == {"ro": "{n} puncte"} and few["message"] == "points_n" and few["plural_form"] == "few"
    assert _text(doc, "points_n#other")["default"]["ro"] == "{n} de puncte"
    assert _text(doc, "points_n#one")["default"] == {"en": "{n} point", "el": "{n} πόντος", "ro": "{n} punct"}
    assert _text(doc, "points_n#other")["placeholders"] == ["n"]
    assert [k["key"] for k in doc["texts"] if k["key"].startswith("points_n")] == [
        "points_n#one", "points_n#few", "points_n#other"]
    assert {r["id"] for r in doc["rewards"]} == {seeded.cheap_reward_id, seeded.dear_reward_id, seeded.gold_reward_id}
    assert [t["name"] for t in doc["tiers"]] == ["Bronze", "Silver", "Gold"]
    assert all(r["names"] == {} for r in doc["rewards"] + doc["tiers"])


def test_merchant_texts_and_names_show_in_the_widget(pg_app: Any, client: Any, seeded: Seeded) -> None:
    gold = _gold_id(pg_app, seeded)
    resp = _put(client, {
        "texts": {"ro": {"title": "Premiile tale", "points_n#other": "{n} de stele"},
                  "zh-CN": {"section_rewards": "积分好礼"}, "el": {"tier_label": "Βαθμίδα:"}},
        "rewards": {str(seeded.cheap_reward_id): {"ro": "Reducere de 5 lei", "el": "Έκπτωση 5 €"}},
        "tiers": {str(gold): {"el": "Χρυσό", "zh-CN": "金卡"}},
    })
    assert resp.status_code == 200, resp.get_json()
    doc = resp.get_json()
    assert _text(doc, "title")["override"] == {"ro": "Premiile tale"}
    assert next(r for r in doc["rewards"] if r["id"] == seeded.cheap_reward_id)["names"] == {
        "ro": "Reducere de 5 lei", "el": "Έκπτωση 5 €"}
    assert client.get("/api/admin/texts", headers=auth(SHOP)).get_json() == doc

    ro = client.get(proxy_url("widget", seeded.customer_id, locale="ro-RO")).get_data(as_text=True)
    assert "Premiile tale" in ro and "Reducere de 5 lei" in ro
    cheap = ro.split(f'data-reward="{seeded.cheap_reward_id}"')[1].split("</li>")[0]
    assert "500 de stele" in cheap  # the merchant's "other" form, Romanian's 20-and-up
    dear = ro.split(f'data-reward="{seeded.dear_reward_id}"')[1].split("</li>")[0]
    assert "5.000 de stele" in dear and "Îți mai trebuie 4.300 de puncte." in dear  # CLDR's grouping, catalogue's form
    assert "Mai câștigă 180 de puncte pentru a ajunge la Silver" in ro

    el = client.get(proxy_url("widget", seeded.customer_id, locale="el")).get_data(as_text=True)
    assert "Βαθμίδα:" in el and "Έκπτωση 5 €" in el and "Ανταμοιβές" in el
    gold_row = el.split(f'data-reward="{seeded.gold_reward_id}"')[1].split("</li>")[0]
    assert "Για μέλη της βαθμίδας Χρυσό." in gold_row
    assert "5.000 πόντοι" in el and "Χρειάζεστε 4.300 ακόμη πόντους." in el

    zh = client.get(proxy_url("widget", seeded.customer_id, locale="zh-CN")).get_data(as_text=True)
    assert "积分好礼" in zh and "您的等级：</span><strong>" in zh and "仅限 金卡 会员。" in zh and "5,000 积分" in zh and "5.00 off" in zh
    assert "Recompense" not in zh and "Premiile tale" not in zh

    # English has none of it: the catalogue's texts and the names as typed.
    en = client.get(proxy_url("widget", seeded.customer_id, locale="en")).get_data(as_text=True)
    assert "Rewards" in en and "5.00 off" in en and "For Gold members." in en and "500 points" in en


def test_null_or_empty_goes_back_to_the_default(pg_app: Any, client: Any, seeded: Seeded) -> None:
    gold = _gold_id(pg_app, seeded)
    assert _put(client, {"texts": {"ro": {"title": "Premii", "save": "Păstrează"}},
                         "tiers": {str(gold): {"ro": "Aur"}}}).status_code == 200
    doc = _put(client, {"texts": {"ro": {"title": None, "save": "  "}}, "tiers": {str(gold): {"ro": None}}}).get_json()
    assert _text(doc, "title")["override"] == {} and _text(doc, "save")["override"] == {}
    assert next(t for t in doc["tiers"] if t["id"] == gold)["names"] == {}
    with pg_app.app_context():
        assert db.session.get(Shop, seeded.shop_id).text_overrides == {}
        assert db.session.query(AuditLog).filter_by(shop_id=seeded.shop_id, action="texts.updated").count() == 2
    assert "Recompense" in client.get(proxy_url("widget", seeded.customer_id, locale="ro")).get_data(as_text=True)


@pytest.mark.parametrize(("body", "field"), [
    ({"texts": {"ro": {"points_n#few": "puncte"}}}, "texts.ro.points_n#few"),  # lost {n}
    ({"texts": {"en": {"title": "Hi {name}"}}}, "texts.en.title"),  # a placeholder the text does not have
    ({"texts": {"en": {"points_n#few": "{n} points"}}}, "texts.en.points_n#few"),  # English has no "few"
    ({"texts": {"ro": {"no_such_text": "x"}}}, "texts.ro.no_such_text"),
    ({"texts": {"fr": {"title": "Récompenses"}}}, "texts.fr"),
    ({"texts": {"ro": {"title": "x" * 501}}}, "texts.ro.title"),
    ({"texts": {"ro": {"title": 5}}}, "texts.ro.title"),
    ({"texts": {"ro": "Premii"}}, "texts.ro"),
    ({"texts": ["ro"]}, "texts"),
    ({"rewards": {"abc": {"ro": "x"}}}, "rewards.abc"),
    ({"rewards": {"1": {"de": "x"}}}, "rewards.1.de"),
    ({"languages": {}}, "languages"),
])
def test_bad_texts_are_refused_with_the_field_and_nothing_is_saved(client: Any, seeded: Seeded, body: Any,
                                                                  field: str) -> None:
    # A valid Greek text rides along in the same request (where `texts` is an object): all or nothing.
    texts = body.get("texts", {})
    resp = _put(client, {**body, "texts": {**texts, "el": {"title": "Δώρα"}}} if isinstance(texts, dict) else body)
    assert resp.status_code == 422, resp.get_json()
    error = resp.get_json()["error"]
    assert error["code"] == "invalid" and field in error["fields"], error
    doc = client.get("/api/admin/texts", headers=auth(SHOP)).get_json()
    assert _text(doc, "title")["override"] == {}  # the valid Greek text in the same request was not saved either


def test_a_reward_or_tier_of_another_shop_is_not_found(pg_app: Any, client: Any, seeded: Seeded) -> None:
    with pg_app.app_context():
        other = install_shop("other-shop.myshopify.com")
        theirs = Reward(shop_id=other.id, type="fixed_amount", name="Theirs", points_cost=10)
        their_tier = Tier(shop_id=other.id, name="Theirs", handle="theirs", threshold=0)
        db.session.add_all([theirs, their_tier])
        db.session.commit()
        reward_id, tier_id = theirs.id, their_tier.id
    for body in ({"rewards": {str(reward_id): {"ro": "Al meu"}}}, {"tiers": {str(tier_id): {"ro": "Al meu"}}},
                 {"rewards": {"999999999": {"ro": "x"}}}):
        resp = _put(client, {**body, "texts": {"ro": {"title": "Premii"}}})
        assert resp.status_code == 404 and resp.get_json()["error"]["code"] == "not_found"
    with pg_app.app_context():
        assert db.session.get(Reward, reward_id).names == {} and db.session.get(Tier, tier_id).names == {}
        assert db.session.get(Shop, seeded.shop_id).text_overrides == {}
    # The other shop sees its own reward and none of ours.
    doc = client.get("/api/admin/texts", headers=auth("other-shop.myshopify.com")).get_json()
    assert [r["id"] for r in doc["rewards"]] == [reward_id]


def test_hostile_text_is_cleaned_and_shown_as_text(client: Any, seeded: Seeded) -> None:
    resp = _put(client, {"texts": {"en": {"title": "<script>alert(1)</script>\u0000Perks"}},
                         "rewards": {str(seeded.cheap_reward_id): {"en": "<img src=x onerror=alert(1)>"}}})
    assert resp.status_code == 200
    assert _text(resp.get_json(), "title")["override"] == {"en": "<script>alert(1)</script>Perks"}
    html = client.get(proxy_url("widget", seeded.customer_id, locale="en")).get_data(as_text=True)
    assert "<script>alert(1)" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;Perks" in html
    assert "<img src=x" not in html and "&lt;img src=x onerror=alert(1)&gt;" in html
