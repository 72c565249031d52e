"""Public API v1, events out: the pull feed, webhook endpoints, destination settings and the delivery log
with replay (contract.md "Events out"; the admin page uses the same routes)."""

from __future__ import annotations

from typing import Any

from flask import Response, current_app, g, jsonify, request

from app.api import ApiError, api_auth, bp, json_body
from app.inputs import parse_whole_number
from app.services import events as svc


def _id(raw: Any, what: str) -> int:
    """An id in a path: digits within 64 bits, else 404 (as unknown ids answer)."""
    text = str(raw).strip()
    if not text.isdigit() or not 0 < int(text) < 2**63:
        raise ApiError(404, "not_found", f"no such {what}")
    return int(text)


def _query_int(name: str, default: int | None, low: int, high: int) -> int | None:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    value = parse_whole_number(raw, low=low, high=high)
    if value is None:
        raise ApiError(422, "invalid", f"{name} must be a whole number from {low} to {high}",
                       {name: f"must be a whole number from {low} to {high}"})
    return value


def _invalid(exc: svc.EventsInvalid) -> ApiError:
    return ApiError(422, "invalid", "some fields are not valid; nothing was saved", exc.errors)


@bp.get("/v1/events")
@api_auth()
def v1_events() -> Any:
    after = _query_int("after", None, 0, 2**63 - 1)
    limit = _query_int("limit", svc.FEED_DEFAULT, 1, svc.FEED_MAX)
    assert limit is not None
    events, next_id = svc.feed(g.shop, after, limit)
    return jsonify({"events": events, "next": next_id})


@bp.post("/v1/webhook-endpoints")
@api_auth()
def v1_endpoint_create() -> Any:
    cfg = current_app.config["REGULARS"]
    try:
        ep = svc.create_endpoint(g.shop, json_body(), development=cfg.env == "development")
    except svc.EventsInvalid as exc:
        raise _invalid(exc) from None
    resp = jsonify(svc.endpoint_document(ep, with_secret=True))
    resp.status_code = 201
    return resp


@bp.get("/v1/webhook-endpoints")
@api_auth()
def v1_endpoint_list() -> Any:
    return jsonify({"webhook_endpoints": [svc.endpoint_document(ep) for ep in svc.list_endpoints(g.shop)]})


@bp.delete("/v1/webhook-endpoints/<endpoint_id>")
@api_auth()
def v1_endpoint_delete(endpoint_id: str) -> Any:
    eid = _id(endpoint_id, "webhook endpoint")
    try:
        svc.delete_endpoint(g.shop, eid)
    except svc.EventsNotFound:
        raise ApiError(404, "not_found", "no such webhook endpoint") from None
    return Response(status=204)


@bp.get("/v1/integrations")
@api_auth()
def v1_integrations() -> Any:
    return jsonify(svc.integration_document(g.shop))


@bp.patch("/v1/integrations")
@api_auth()
def v1_integrations_patch() -> Any:
    try:
        return jsonify(svc.update_integrations(g.shop, json_body()))
    except svc.EventsInvalid as exc:
        raise _invalid(exc) from None


_STATUSES = ("pending", "delivered", "skipped", "dead")


@bp.get("/v1/event-deliveries")
@api_auth()
def v1_deliveries() -> Any:
    status = request.args.get("status") or None
    if status is not None and status not in _STATUSES:
        raise ApiError(422, "invalid", "unknown status", {"status": f"one of {', '.join(_STATUSES)}"})
    destination = (request.args.get("destination") or "").strip()[:48] or None
    before = _query_int("before", None, 1, 2**63 - 1)
    limit = _query_int("limit", 50, 1, 500)
    assert limit is not None
    rows = svc.list_deliveries(g.shop, destination=destination, status=status, before=before, limit=limit)
    return jsonify({"deliveries": [svc.delivery_document(r) for r in rows], "counts": svc.delivery_counts(g.shop)})


@bp.post("/v1/event-deliveries/replay")
@api_auth()
def v1_deliveries_replay() -> Any:
    body = json_body()
    ids = body.get("ids")
    dead = body.get("status") == "dead"
    if ids is not None and (not isinstance(ids, list) or not all(str(i).isdigit() for i in ids) or len(ids) > 1000):
        raise ApiError(422, "invalid", "ids must be a list of delivery ids", {"ids": "a list of delivery ids"})
    if not ids and not dead:
        raise ApiError(422, "invalid", "give ids, or status: dead", {"ids": "required unless status is dead"})
    destination = body.get("destination")
    if destination is not None and not isinstance(destination, str):
        raise ApiError(422, "invalid", "destination must be text", {"destination": "must be text"})
    n = svc.replay_deliveries(g.shop, [int(str(i)) for i in ids or []], dead=dead, destination=destination)
    return jsonify({"replayed": n})


@bp.post("/v1/event-deliveries/<delivery_id>/replay")
@api_auth()
def v1_delivery_replay(delivery_id: str) -> Any:
    did = _id(delivery_id, "delivery")
    n = svc.replay_deliveries(g.shop, [did])
    if not n:
        raise ApiError(404, "not_found", "no dead or skipped delivery with this id")
    return jsonify({"replayed": n})
