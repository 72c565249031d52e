"""Public API v1, automations (contract.md): list, read, edit, results; and campaigns' results against
their holdout. The admin's Automations page works through these same routes."""

from __future__ import annotations

from typing import Any

from flask import g, jsonify, request

from app.api import ApiError, api_auth, bp, json_body
from app.loyalty.automation_edits import AutomationInvalid
from app.models import utcnow
from app.services import automation_results as results
from app.services.automations import AutomationNotFound, get_automation, list_automations, patch_automation


def _not_found(key: str) -> ApiError:
    return ApiError(404, "not_found", f"no automation {key[:40]!r}")


@bp.get("/v1/automations")
@api_auth()
def v1_automations() -> Any:
    return jsonify({"automations": [a.document() for a in list_automations(g.shop)]})


@bp.get("/v1/automations/<key>")
@api_auth()
def v1_automation(key: str) -> Any:
    try:
        return jsonify(get_automation(g.shop, key).document())
    except AutomationNotFound:
        raise _not_found(key) from None


@bp.patch("/v1/automations/<key>")
@api_auth()
def v1_automation_patch(key: str) -> Any:
    body = json_body()
    try:
        return jsonify(patch_automation(g.shop, key, body, g.actor).document())
    except AutomationNotFound:
        raise _not_found(key) from None
    except AutomationInvalid as exc:
        raise ApiError(422, "invalid", "some fields are not valid; nothing was saved", exc.errors) from None


@bp.get("/v1/automations/<key>/results")
@api_auth()
def v1_automation_results(key: str) -> Any:
    start, end, errors = results.parse_range(request.args)
    if errors:
        raise ApiError(422, "invalid", "from and to must be dates", errors)
    try:
        return jsonify(results.automation_results(g.shop, key, start, end))
    except AutomationNotFound:
        raise _not_found(key) from None


@bp.get("/v1/campaigns/results")
@api_auth()
def v1_campaigns_results() -> Any:
    return jsonify({"campaigns": results.campaigns_results(g.shop, utcnow())})


@bp.get("/v1/campaigns/<campaign_id>/results")
@api_auth()
def v1_campaign_results(campaign_id: str) -> Any:
    text = str(campaign_id).strip()
    if not (text.isascii() and text.isdigit()) or not 0 < int(text) < 2**63:
        raise ApiError(404, "not_found", "no such campaign")
    try:
        return jsonify(results.campaign_results(g.shop, int(text), utcnow()))
    except AutomationNotFound:
        raise ApiError(404, "not_found", "no such campaign") from None
