"""Shopify Flow's wire format: the flowTriggerReceive document and its answer, the triggers' payloads,
and the verification of Flow's signed requests (actions and trigger lifecycle callbacks)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

FLOW_TRIGGER_RECEIVE = (
    "mutation RegularsFlowTrigger($handle: String, $payload: JSON) {"
    " flowTriggerReceive(handle: $handle, payload: $payload) { userErrors { field message } } }"
)

# Event type → the handle of its flow_trigger extension (extensions/flow-*/shopify.extension.toml).
TRIGGER_HANDLES: dict[str, str] = {
    "points.earned": "regulars-points-earned",
    "points.redeemed": "regulars-points-redeemed",
    "reward.code_issued": "regulars-reward-code-issued",
    "points.expiring": "regulars-points-expiring",
    "tier.changed": "regulars-tier-changed",
    "referral.completed": "regulars-referral-completed",
}
# automation.step events go to one trigger per flow.
AUTOMATION_HANDLE_PREFIX = "regulars-step-"


def trigger_handle(event_type: str, data: dict[str, Any]) -> str | None:
    if event_type == "automation.step":
        flow = str(data.get("flow") or "")
        return f"{AUTOMATION_HANDLE_PREFIX}{flow.replace('_', '-')}" if flow else None
    return TRIGGER_HANDLES.get(event_type)


def all_handles(flows: tuple[str, ...]) -> list[str]:
    return sorted({*TRIGGER_HANDLES.values(), *(f"{AUTOMATION_HANDLE_PREFIX}{f.replace('_', '-')}" for f in flows)})


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def trigger_payload(event: dict[str, Any]) -> dict[str, Any]:
    """The trigger's payload: the customer reference (`customer_id`, Shopify's numeric id) and the
    fields each extension declares, by their keys."""
    data = event.get("data") or {}
    out: dict[str, Any] = {"Event id": event["id"], "Occurred at": event["occurred_at"]}
    if event.get("customer_id") is not None:
        out["customer_id"] = int(event["customer_id"])
    kind = event["type"]
    if kind in ("points.earned", "points.redeemed", "points.expiring"):
        out["Points"] = abs(int(data.get("points") or 0))
        out["Points balance"] = int(data.get("points_available") or 0)
    if kind == "points.expiring":
        out["Expires on"] = _text(data.get("expires_on"))
    if kind in ("points.redeemed", "reward.code_issued"):
        out["Reward code"] = _text(data.get("code"))
    if kind == "reward.code_issued":
        out["Reward name"] = _text(data.get("reward_name"))
        out["Code expires at"] = _text(data.get("expires_at"))
    if kind == "tier.changed":
        out["Tier"] = _text(data.get("to"))
        out["Previous tier"] = _text(data.get("from"))
        out["Direction"] = _text(data.get("direction"))
    if kind == "referral.completed":
        out["Points"] = int(data.get("points") or 0)
    if kind == "automation.step":
        out["Step"] = _text(data.get("step"))
        out["Message"] = _text(data.get("message"))
        incentive = data.get("incentive") or {}
        out["Bonus points"] = int(incentive.get("points") or 0)
        out["Reward code"] = _text(incentive.get("code"))
    return out


@dataclass(frozen=True)
class TriggerAnswer:
    ok: bool
    errors: list[str]


def parse_trigger_answer(data: dict[str, Any]) -> TriggerAnswer:
    result = data.get("flowTriggerReceive") or {}
    errors = [str((e or {}).get("message")) for e in result.get("userErrors") or []]
    return TriggerAnswer(not errors, errors)


@dataclass(frozen=True)
class FlowRequest:
    """A verified request from Flow: the shop and the JSON body."""

    ok: bool
    status: int
    shop: str | None
    body: dict[str, Any]
    reason: str


def verify_flow_request(shopify_app: Any, headers: Any, raw: bytes) -> FlowRequest:
    """Flow signs its action requests (and lifecycle callbacks) like webhooks: base64 HMAC-SHA256 of the
    body with the app secret in X-Shopify-Hmac-Sha256; shopify_app's verify_flow_action_req checks it."""
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return FlowRequest(False, 400, None, {}, "body is not UTF-8")
    wanted = ("x-shopify-hmac-sha256", "x-shopify-shop-domain")
    picked = {k: v for k, v in headers.items() if k.lower() in wanted}
    result = shopify_app.verify_flow_action_req({"method": "POST", "headers": picked, "url": "", "body": text})
    if not result.ok:
        status = 401 if result.response.status in (400, 401) else int(result.response.status)
        return FlowRequest(False, status, None, {}, str(result.log.code))
    try:
        body = json.loads(text)
    except ValueError:
        return FlowRequest(False, 400, None, {}, "body is not JSON")
    if not isinstance(body, dict):
        return FlowRequest(False, 400, None, {}, "body is not a JSON object")
    # The body is what the HMAC covers: its shopify_domain wins over the (unsigned) header.
    shop = body.get("shopify_domain") or (f"{result.shop}.myshopify.com" if result.shop else None)
    return FlowRequest(True, 200, str(shop) if shop else None, body, "verified")


def customer_id_of(value: Any) -> int | None:
    """A Flow customer reference: `gid://shopify/Customer/123` or the number itself."""
    text = str(value or "").strip()
    if text.startswith("gid://shopify/Customer/"):
        text = text.rsplit("/", 1)[1]
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        return None
    return int(text)
