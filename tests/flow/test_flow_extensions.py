"""The Flow extensions in extensions/ and the code agree: each trigger the relay fires has its extension,
and every field of its payload is declared there (Flow refuses undeclared fields); each action handle the
app answers has its extension."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest

from app.loyalty.automations import FLOW_KEYS
from app.services.flow_actions import HANDLES
from app.shopify.flow import TRIGGER_HANDLES, all_handles, trigger_handle, trigger_payload

ROOT = Path(__file__).resolve().parents[2] / "extensions"


def _extension(kind: str, handle: str) -> dict:
    path = ROOT / kind / handle / "shopify.extension.toml"
    assert path.exists(), path
    (ext,) = tomllib.loads(path.read_text())["extensions"]
    assert ext["handle"] == handle and len(handle) <= 30
    return ext


def _sample(event_type: str, flow: str | None = None) -> dict:
    data = {"points": 10, "points_available": 50, "expires_on": "2026-12-01", "code": "REG-ABC", "to": "Gold",
            "from": "Silver", "direction": "up", "reward_name": "5 off", "expires_at": "2027-01-01T00:00:00Z"}
    if flow:
        data = {"flow": flow, "step": "s", "message": "m", "incentive": {"type": "points", "points": 5}}
    return {"id": "1", "type": event_type, "shop": "a.myshopify.com", "occurred_at": "2026-01-01T00:00:00Z",
            "customer_id": "123", "data": data}


@pytest.mark.parametrize("event_type", sorted(TRIGGER_HANDLES) + [f"automation.step:{f}" for f in FLOW_KEYS])
def test_every_trigger_payload_field_is_declared_by_its_extension(event_type):
    flow = event_type.split(":", 1)[1] if ":" in event_type else None
    event = _sample(event_type.split(":")[0], flow)
    handle = trigger_handle(event["type"], event["data"])
    assert handle is not None
    ext = _extension("flow-triggers", handle)
    assert ext["type"] == "flow_trigger"
    fields = tomllib.loads((ROOT / "flow-triggers" / handle / "shopify.extension.toml").read_text())["settings"]["fields"]
    declared = {f["key"] for f in fields if "key" in f}
    assert any(f["type"] == "customer_reference" for f in fields)
    payload = trigger_payload(event)
    assert payload["customer_id"] == 123
    assert set(payload) - {"customer_id"} <= declared


def test_every_trigger_extension_is_one_the_relay_fires():
    on_disk = {p.name for p in (ROOT / "flow-triggers").iterdir()}
    assert on_disk == set(all_handles(FLOW_KEYS))


def test_every_flow_action_has_its_extension():
    for handle in HANDLES:
        ext = _extension("flow-actions", handle)
        assert ext["type"] == "flow_action" and ext["runtime_url"].endswith(f"/flow/actions/{handle}")


def test_the_lifecycle_callback_is_declared_and_names_the_route_the_app_answers():
    """Without the callback extension Flow never reports the triggers in use, and the relay (which sends only
    those unless the merchant asks for all) would send nothing to a shop whose merchant built a workflow."""
    from app import create_app
    from tests.conftest import make_config

    path = ROOT / "flow-lifecycle" / "shopify.extension.toml"
    (ext,) = tomllib.loads(path.read_text())["extensions"]
    assert ext["type"] == "flow_trigger_lifecycle_callback"
    routes = {(r.rule, m) for r in create_app(make_config()).url_map.iter_rules() for m in r.methods or ()}
    assert (ext["url"], "POST") in routes
