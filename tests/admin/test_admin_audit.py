"""The audit log in words: canonical action names, a label, who did it and a one-line summary; filters and paging."""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

import pytest

from app.extensions import db
from app.models import AuditLog, utcnow
from app.services import audit
from tests.admin.support import api, install_shop, member

pytestmark = pytest.mark.postgres
APP = Path(__file__).resolve().parents[2] / "app"


def _entries(client: Any, query: str = "") -> dict[str, Any]:
    r = api(client, "GET", f"/api/admin/audit{query}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_every_recorded_action_is_canonical_and_labelled() -> None:
    """Each literal action name passed to audit.record anywhere in the app is one of audit.ACTIONS."""
    found: set[str] = set()
    for path in APP.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                    and node.func.attr in ("record", "record_now") and isinstance(node.func.value, ast.Name)
                    and node.func.value.id == "audit" and len(node.args) >= 3):
                arg = node.args[2]
                names = [arg] if isinstance(arg, ast.Constant) else \
                    [n for n in ast.walk(arg) if isinstance(n, ast.Constant) and isinstance(n.value, str)]
                found |= {f"{path.name}:{n.value}" for n in names if isinstance(n.value, str)}
    assert found, "no audit.record call found"
    dynamic_prefixes = ("campaign.", "export.")  # f"campaign.{past}", f"export.{what}"
    bad = sorted(f for f in found if f.split(":", 1)[1] not in audit.ACTIONS
                 and f.split(":", 1)[1] not in dynamic_prefixes)
    assert bad == []
    assert all(name in audit.ACTIONS for name in audit.LEGACY_ACTIONS.values())


def test_entries_read_in_words(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        member(shop, 21, email="sam@x.test", first="Sam", last="Lee", points=100)
        db.session.commit()
    reward = api(client, "POST", "/api/admin/rewards", json={"type": "free_shipping", "name": "Free shipping",
                                                             "points_cost": 800}).get_json()
    api(client, "DELETE", f"/api/admin/rewards/{reward['id']}")
    created = api(client, "POST", "/api/admin/api-keys", json={"name": "Warehouse"}).get_json()
    adjusted = client.post("/api/v1/members/21/adjustments", headers={"X-Regulars-Api-Key": created["key"]},
                           json={"points": 1500, "reason": "Goodwill"})
    assert adjusted.status_code == 201, adjusted.get_json()
    api(client, "PATCH", "/api/admin/settings", json={"signup_points": 50})
    entries = _entries(client)["entries"]
    assert [(e["action"], e["label"], e["actor_label"], e["summary"]) for e in entries] == [
        ("settings.updated", "Settings changed", "Staff member 7", "Changed signup points"),
        ("points.adjusted", "Points adjusted", "API key ‘Warehouse’", "+1,500 points for Sam Lee: Goodwill"),
        ("api_key.created", "API key created", "Staff member 7", f"‘Warehouse’ ({created['prefix']}…)"),
        ("reward.deleted", "Reward deleted", "Staff member 7", "‘Free shipping’ · 800 points"),
        ("reward.created", "Reward created", "Staff member 7", "‘Free shipping’ · 800 points"),
    ]
    for e in entries:  # no JSON, no internal keys (an API key's prefix has its own underscore)
        assert "{" not in e["summary"] and "_" not in e["summary"].replace(created["prefix"], "")


def test_legacy_rows_read_as_their_canonical_action_and_filters(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        other = install_shop("beta.myshopify.com")
        rows = [
            AuditLog(shop_id=shop.id, actor="staff:1", action="api key created", target_type="api_key",
                     target_id="1", details={"name": "Old ERP", "prefix": "rgl_old"}),
            AuditLog(shop_id=shop.id, actor="system", action="settings_updated", target_type="shop",
                     details={"changes": {"pending_days": 7}}),
            AuditLog(shop_id=shop.id, actor="staff:unknown", action="reward.deactivated", target_type="reward",
                     target_id="999"),
            AuditLog(shop_id=other.id, actor="staff:1", action="api_key.created", target_type="api_key",
                     details={"name": "Theirs", "prefix": "rgl_xyz"}),
        ]
        for row in rows:
            row.created_at = utcnow()
            db.session.add(row)
        db.session.commit()
    entries = _entries(client)["entries"]
    assert [(e["action"], e["label"], e["actor_label"], e["summary"]) for e in entries] == [
        ("reward.deleted", "Reward deleted", "A staff member", "Reward 999"),
        ("settings.updated", "Settings changed", "Regulars", "Changed pending days"),
        ("api_key.created", "API key created", "Staff member 1", "‘Old ERP’ (rgl_old…)"),
    ]
    # Filters: the canonical name finds the legacy rows; another shop's rows never show.
    assert [e["summary"] for e in _entries(client, "?action=api_key.created")["entries"]] == ["‘Old ERP’ (rgl_old…)"]
    assert [e["action"] for e in _entries(client, "?q=PENDING")["entries"]] == ["settings.updated"]
    assert _entries(client, "?q=Theirs")["entries"] == []
    bad = api(client, "GET", "/api/admin/audit?action=api key created")
    assert bad.status_code == 422 and "action" in bad.get_json()["error"]["fields"]
    listed = {a["action"]: a["label"] for a in _entries(client)["actions"]}
    assert listed["campaign.paused"] == "Campaign paused"


def test_paging_by_before_with_and_without_a_text_filter(client: Any, shop: Any, pg_app: Any) -> None:
    with pg_app.app_context():
        for i in range(120):
            db.session.add(AuditLog(shop_id=shop.id, actor="staff:1", action="points.adjusted", target_type="member",
                                    target_id="5", details={"points": i + 1, "reason": "odd" if i % 2 else "even"},
                                    created_at=utcnow()))
        db.session.commit()
    first = _entries(client)
    assert len(first["entries"]) == 50 and first["next_before"] == first["entries"][-1]["id"]
    second = _entries(client, f"?before={first['next_before']}")
    third = _entries(client, f"?before={second['next_before']}")
    assert len(second["entries"]) == 50 and len(third["entries"]) == 20 and third["next_before"] is None
    ids = [e["id"] for page in (first, second, third) for e in page["entries"]]
    assert ids == sorted(ids, reverse=True) and len(set(ids)) == 120
    odd = _entries(client, "?q=odd")
    assert len(odd["entries"]) == 50 and all(e["summary"].endswith(": odd") for e in odd["entries"])
    rest = _entries(client, f"?q=odd&before={odd['next_before']}")
    assert len(rest["entries"]) == 10 and rest["next_before"] is None
    assert {e["id"] for e in odd["entries"]}.isdisjoint({e["id"] for e in rest["entries"]})
    assert api(client, "GET", "/api/admin/audit?before=abc").status_code == 422
