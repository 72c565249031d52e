"""The widget's per-worker catalogue cache: an admin change shows at once; member data is never cached."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import CustomAction, Reward, Shop, utcnow
from app.services.ledger import lock_member, post_entry
from tests.proxy.conftest import Seeded, proxy_url


def _widget(client: Any, customer_id: int | None) -> str:
    resp = client.get(proxy_url("widget", customer_id))
    assert resp.status_code == 200
    return str(resp.get_data(as_text=True))


def test_a_new_reward_shows_at_once(pg_app: Any, client: Any, seeded: Seeded) -> None:
    assert "Free tote bag" not in _widget(client, seeded.customer_id)  # the catalogue is now cached
    with pg_app.app_context():
        shop = db.session.get(Shop, seeded.shop_id)
        db.session.add(Reward(shop_id=shop.id, type="fixed_amount", name="Free tote bag", points_cost=300,
                              value=Decimal("12.00"), position=9))
        shop.updated_at = utcnow()
        db.session.commit()
    assert "Free tote bag" in _widget(client, seeded.customer_id)


def test_catalogue_edits_show_at_once_even_without_a_version_bump(pg_app: Any, client: Any, seeded: Seeded) -> None:
    html = _widget(client, seeded.customer_id)
    assert f'data-reward="{seeded.dear_reward_id}"' in html and "Join the newsletter" in html
    with pg_app.app_context():
        # Custom actions have no updated_at, and nothing here touches the shop row.
        action = db.session.execute(select(CustomAction).where(CustomAction.key == "newsletter")).scalar_one()
        action.name = "Sign up for letters"
        db.session.get(Reward, seeded.dear_reward_id).active = False
        db.session.commit()
    html = _widget(client, seeded.customer_id)
    assert "Sign up for letters: 50 points" in html and "Join the newsletter" not in html
    assert f'data-reward="{seeded.dear_reward_id}"' not in html


def test_settings_change_shows_at_once(pg_app: Any, client: Any, seeded: Seeded) -> None:
    assert "5 points for every $1.00" in _widget(client, None)
    with pg_app.app_context():
        shop = db.session.get(Shop, seeded.shop_id)
        shop.settings = {**(shop.settings or {}), "points_per_currency_unit": 7}
        db.session.commit()
    assert "7 points for every $1.00" in _widget(client, None)


def test_points_and_history_are_read_fresh_on_every_request(pg_app: Any, client: Any, seeded: Seeded) -> None:
    assert re.search(r"data-points-available>700<", _widget(client, seeded.customer_id))
    with pg_app.app_context():
        post_entry(lock_member(seeded.member_id), points=45, kind="admin_adjustment", source="admin",
                   idempotency_key="cache-test", note="Goodwill")
        db.session.commit()
    html = _widget(client, seeded.customer_id)
    assert re.search(r"data-points-available>745<", html)
    assert "Goodwill" in html


def test_the_theme_gets_a_bare_fragment_and_a_page_gets_its_long_cached_stylesheet(client: Any, seeded: Seeded) -> None:
    # In the theme, the widget's script and styles are the theme app extension's assets on Shopify's CDN: the
    # fragment the extension asks for (view=theme) references nothing of its own.
    themed = client.get(proxy_url("widget", seeded.customer_id, extra={"view": "theme"}))
    html = themed.get_data(as_text=True)
    assert themed.status_code == 200 and "data-points-available" in html
    assert "<script" not in html and "<link" not in html and "<style" not in html and "/static/" not in html
    # The widget opened as a page of its own (the block's <noscript> link) styles itself from behind the proxy,
    # and has no script (its forms post as pages).
    html = _widget(client, seeded.customer_id)
    css = re.search(r'href="/apps/regulars/static/(widget\.[0-9a-f]{12}\.css)"', html)
    assert css and "<script" not in html and "<style>" not in html
    resp = client.get(proxy_url(f"static/{css.group(1)}", None))
    assert resp.status_code == 200 and resp.mimetype == "text/css" and ".regulars" in resp.get_data(as_text=True)
    assert resp.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # Like every /proxy route, it answers only Shopify's signed requests; the script is no longer the app's.
    assert client.get(f"/proxy/static/{css.group(1)}").status_code == 401
    assert client.get(proxy_url("static/secrets.txt", None)).status_code == 404
    assert client.get(proxy_url("static/widget.0123456789ab.js", None)).status_code == 404


def test_the_theme_stylesheet_carries_the_proxy_pages_rules() -> None:
    """One look: the extension's regulars.css holds app/static/proxy/widget.css as it is (the landing page and
    the widget opened as a page use that file; the theme uses the extension's)."""
    root = Path(__file__).resolve().parents[2]
    widget = (root / "app" / "static" / "proxy" / "widget.css").read_text()
    assert widget in (root / "extensions" / "regulars-theme" / "assets" / "regulars.css").read_text()
