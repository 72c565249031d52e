"""GET /api/openapi.json: an OpenAPI 3.1 document of every /api route, built from the URL map so it never
misses a route, with the bodies and answers of contract.md's public API v1 spelled out."""

from __future__ import annotations

import re
from typing import Any

from flask import current_app

from app.api import bp

_ERROR = {"type": "object", "required": ["error"], "properties": {"error": {
    "type": "object", "required": ["code", "message"],
    "properties": {"code": {"type": "string"}, "message": {"type": "string"},
                   "fields": {"type": "object", "additionalProperties": {"type": "string"}}}}}}
_OBJ: dict[str, Any] = {"type": "object"}
_NUM = {"type": ["string", "number"]}
_TIER = {"type": "object", "required": ["name", "threshold"], "properties": {
    "id": {"type": ["integer", "null"]}, "name": {"type": "string"}, "threshold": _NUM, "multiplier": _NUM,
    "entry_bonus": {"type": "integer"}}}
_PROGRAM_PATCH = {"type": "object", "properties": {
    "enabled": {"type": "boolean"}, "points_per_currency_unit": _NUM, "point_value": _NUM,
    "pending_days": {"type": "integer"}, "reversal_policy": {"enum": ["allow_negative", "cap_at_zero"]},
    "signup_points": {"type": "integer"}, "birthday_points": {"type": "integer"},
    "tier_metric": {"enum": ["points_earned", "amount_spent", "orders"]},
    "tier_window": {"enum": ["lifetime", "rolling_12_months", "calendar_year"]},
    "downgrade_grace_days": {"type": "integer"}, "expiry_mode": {"enum": ["none", "inactivity"]},
    "expiry_days": {"type": "integer"}, "code_expiry_days": {"type": "integer"}}}
# Request bodies by (method, OpenAPI path); contract.md's v1 shapes where it defines them.
BODIES: dict[tuple[str, str], dict[str, Any]] = {
    ("patch", "/api/v1/program"): _PROGRAM_PATCH,
    ("patch", "/api/admin/settings"): _PROGRAM_PATCH,
    ("post", "/api/v1/members/{customer_id}/adjustments"): {
        "type": "object", "required": ["points", "reason"],
        "properties": {"points": {"type": "integer"}, "reason": {"type": "string"}, "note": {"type": "string"},
                       "idempotency_key": {"type": "string"}, "allow_negative": {"type": "boolean"}}},
    ("post", "/api/admin/members/{customer_id}/adjustments"): {
        "type": "object", "required": ["points", "reason"],
        "properties": {"points": {"type": "integer"}, "reason": {"type": "string"}, "note": {"type": "string"},
                       "idempotency_key": {"type": "string"}, "allow_negative": {"type": "boolean"}}},
    ("post", "/api/v1/members/{customer_id}/redemptions"): {
        "type": "object", "required": ["reward_id", "idempotency_key"],
        "properties": {"reward_id": {"type": "integer"}, "idempotency_key": {"type": "string"},
                       "points": {"type": "integer"}}},
    ("post", "/api/v1/actions"): {
        "type": "object", "required": ["customer_id", "action", "idempotency_key"],
        "properties": {"customer_id": {"type": ["integer", "string"]}, "action": {"type": "string"},
                       "idempotency_key": {"type": "string"}}},
    ("post", "/api/admin/tiers/preview"): {"type": "object", "required": ["tiers"],
                                           "properties": {"tiers": {"type": "array", "items": _TIER}}},
    ("put", "/api/admin/tiers"): {"type": "object", "required": ["tiers"],
                                  "properties": {"tiers": {"type": "array", "items": _TIER}}},
    ("post", "/api/admin/api-keys"): {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}},
    ("post", "/api/admin/setup"): _PROGRAM_PATCH,
    ("put", "/api/admin/texts"): {"type": "object", "properties": {
        "texts": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": ["string", "null"]}}},
        "rewards": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": ["string", "null"]}}},
        "tiers": {"type": "object", "additionalProperties": {
            "type": "object", "additionalProperties": {"type": ["string", "null"]}}}}},
    ("post", "/api/v1/webhook-endpoints"): {
        "type": "object", "required": ["url"],
        "properties": {"url": {"type": "string"}, "events": {"type": "array", "items": {"type": "string"}}}},
    ("patch", "/api/v1/automations/{key}"): {"type": "object", "properties": {
        "enabled": {"type": "boolean"}, "holdout_percent": {"type": "integer"}, "window_days": {"type": "integer"},
        "steps": {"type": "array", "items": {"type": "object", "required": ["key"], "properties": {
            "key": {"type": "string"}, "after_days": {"type": "integer"}, "after_hours": {"type": "integer"},
            "incentive": {"type": ["object", "null"]}, "incentive_b": {"type": ["object", "null"]}}}}}},
    ("patch", "/api/v1/integrations"): {"type": "object", "properties": {
        "flow": {"type": "object", "properties": {"enabled": {"type": "boolean"}}},
        "klaviyo": {"type": "object", "properties": {"enabled": {"type": "boolean"},
                                                     "private_key": {"type": ["string", "null"]}}}}},
    ("post", "/api/v1/event-deliveries/replay"): {"type": "object", "properties": {
        "ids": {"type": "array", "items": {"type": "string"}}, "status": {"enum": ["dead"]},
        "destination": {"type": "string"}}},
}
_DATE_QUERY = [{"name": n, "in": "query", "required": False, "schema": {"type": "string", "format": "date"}}
               for n in ("from", "to")]
_WINDOWS = [{"name": n, "in": "query", "required": False, "schema": {"type": "integer", "minimum": 7, "maximum": 730}}
            for n in ("churn_days", "retention_days")]
QUERIES: dict[str, list[dict[str, Any]]] = {
    "/api/v1/analytics/summary": _DATE_QUERY + _WINDOWS, "/api/admin/analytics/summary": _DATE_QUERY + _WINDOWS,
    "/api/admin/analytics/trends": [
        {"name": "period", "in": "query", "schema": {"enum": ["week", "month"]}},
        {"name": "periods", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 104}}],
    "/api/admin/analytics/cohorts": _DATE_QUERY,
    "/api/admin/members": [
        {"name": "q", "in": "query", "schema": {"type": "string"}},
        {"name": "tier", "in": "query", "schema": {"type": "integer"}},
        {"name": "segment", "in": "query", "schema": {"type": "string"}},
        {"name": "sort", "in": "query", "schema": {"enum": ["balance", "spend", "last_order", "newest"]}},
        {"name": "page", "in": "query", "schema": {"type": "integer"}}],
    "/api/admin/referrals": [
        {"name": "q", "in": "query", "schema": {"type": "string"}},
        {"name": "status", "in": "query", "schema": {"type": "string"}},
        {"name": "sort", "in": "query", "schema": {"enum": ["newest", "oldest", "status"]}},
        {"name": "page", "in": "query", "schema": {"type": "integer"}}],
    "/api/admin/audit": [{"name": n, "in": "query", "schema": {"type": "string"}} for n in ("action", "q", "before")],
    "/api/v1/events": [{"name": "after", "in": "query", "schema": {"type": "string"}},
                       {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 1000}}],
    "/api/v1/automations/{key}/results": _DATE_QUERY,
    "/api/v1/event-deliveries": [{"name": n, "in": "query", "schema": {"type": "string"}}
                                 for n in ("status", "destination", "before", "limit")],
}
_CONVERTER = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


def build_document() -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for rule in current_app.url_map.iter_rules():
        if not rule.rule.startswith("/api/") or rule.rule == "/api/openapi.json":
            continue
        params: list[dict[str, Any]] = []

        def convert(m: re.Match[str], params: list[dict[str, Any]] = params) -> str:
            kind, args, name = m.group(1), m.group(2), m.group(3)
            schema: dict[str, Any] = {"type": "string"}
            if kind == "int":
                schema = {"type": "integer", "minimum": 0}
            elif kind == "any" and args:
                schema = {"enum": [a.strip().strip("'\"") for a in args.split(",")]}
            params.append({"name": name, "in": "path", "required": True, "schema": schema})
            return "{" + name + "}"

        path = _CONVERTER.sub(convert, rule.rule)
        view = current_app.view_functions[rule.endpoint]
        for method in sorted((rule.methods or set()) - {"HEAD", "OPTIONS"}):
            m = method.lower()
            op: dict[str, Any] = {
                "operationId": rule.endpoint.replace(".", "_") + "_" + m,
                "summary": (view.__doc__ or rule.endpoint).strip().splitlines()[0],
                "parameters": params + QUERIES.get(path, []),
                "responses": {
                    "200": {"description": "OK", "content": {"application/json": {"schema": _OBJ}}},
                    "401": {"description": "unauthenticated", "content": {"application/json": {"schema": _ERROR}}},
                    "404": {"description": "not found", "content": {"application/json": {"schema": _ERROR}}},
                    "422": {"description": "invalid", "content": {"application/json": {"schema": _ERROR}}},
                },
            }
            if m in ("post", "put", "patch"):
                op["requestBody"] = {"required": True, "content": {"application/json": {
                    "schema": BODIES.get((m, path), _OBJ)}}}
            paths.setdefault(path, {})[m] = op
    return {
        "openapi": "3.1.0",
        "info": {"title": "Regulars API", "version": "1",
                 "description": "Admin API (session token) and public API v1 (session token or X-Regulars-Api-Key)."},
        "components": {"securitySchemes": {
            "sessionToken": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
            "apiKey": {"type": "apiKey", "in": "header", "name": "X-Regulars-Api-Key"}}},
        "security": [{"sessionToken": []}, {"apiKey": []}],
        "paths": dict(sorted(paths.items())),
    }


@bp.get("/openapi.json")
def openapi_document() -> Any:
    return build_document()
