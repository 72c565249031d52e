"""PUT /api/admin/texts under hostile input: nested JSON of any shape and text of any kind is answered 200, 404 or
422 (the error shape), never a 5xx, and what is kept holds no character the database or the page cannot."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from app.extensions import db
from app.loyalty.text import is_clean
from app.models import Reward, Shop, Tier
from tests.admin.support import auth
from tests.proxy.conftest import SHOP, proxy_url, seed_shop

_TEXT = st.one_of(st.text(max_size=40), st.sampled_from([
    "\u0000", "\ud800", "{n}", "{n} {n}", "{", "}", "{0}", "{n!r}", "{__class__}", "{{n}}", "x" * 600,
    "<script>alert(1)</script>{n}", "\u202e{n}", "  {n}  "]))
_JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats() | _TEXT,
                     lambda kids: st.lists(kids, max_size=3) | st.dictionaries(_TEXT, kids, max_size=3),
                     max_leaves=6)
_LOCALE = st.sampled_from(["en", "ro", "el", "zh-CN", "th", "fr", "", "\u0000", "RO"])
_KEY = st.sampled_from(["title", "points_n#few", "points_n#one", "points_n", "earn_action#other", "pending_tag",
                        "no_such", "", "__proto__"])


def _body(ids: list[str]) -> Any:
    texts = st.dictionaries(_LOCALE, st.dictionaries(_KEY, _JSON | _TEXT, max_size=3) | _JSON, max_size=3)
    names = st.dictionaries(st.sampled_from([*ids, "0", "-1", "abc", "99999999999999999999"]),
                            st.dictionaries(_LOCALE, _JSON | _TEXT, max_size=3) | _JSON, max_size=2)
    return st.fixed_dictionaries({}, optional={"texts": texts | _JSON, "rewards": names, "tiers": names}) | _JSON


def test_hostile_texts_never_fail_the_server(pg_app: Any) -> None:
    with pg_app.app_context():
        seeded = seed_shop()
        ids = [str(seeded.cheap_reward_id), str(seeded.gold_reward_id)]
        ids += [str(t.id) for t in db.session.query(Tier).filter_by(shop_id=seeded.shop_id)]
    client = pg_app.test_client()
    headers = auth(SHOP)

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    @given(body=_body(ids))
    def run(body: Any) -> None:
        resp = client.put("/api/admin/texts", json=body, headers=headers)
        assert resp.status_code in (200, 404, 422), (body, resp.status_code, resp.get_data(as_text=True)[:300])
        if resp.status_code != 200:
            assert set(resp.get_json()["error"]) >= {"code", "message"}

    run()
    with pg_app.app_context():
        shop = db.session.get(Shop, seeded.shop_id)
        kept = [v for texts in shop.text_overrides.values() for v in texts.values()]
        kept += [v for row in db.session.query(Reward).filter_by(shop_id=shop.id) for v in row.names.values()]
        kept += [v for row in db.session.query(Tier).filter_by(shop_id=shop.id) for v in row.names.values()]
        assert all(isinstance(v, str) and is_clean(v) and 0 < len(v) <= 500 for v in kept)
    # Whatever was kept, every language's widget still renders.
    for locale in ("en", "ro", "el", "zh-CN", "th"):
        assert client.get(proxy_url("widget", seeded.customer_id, locale=locale)).status_code == 200
