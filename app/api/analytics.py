"""Dashboard endpoints (/api/admin/analytics/…) and the public GET /api/v1/analytics/summary."""

from __future__ import annotations

from typing import Any

from flask import g, request

from app.api import ApiError, api_auth, bp
from app.api.admin import settings_of
from app.services import analytics
from app.services.analytics import Period


def _period() -> Period:
    period, errors = analytics.parse_period(request.args.get("from"), request.args.get("to"))
    if period is None:
        raise ApiError(422, "invalid", "the date range is not valid", errors)
    return period


@bp.get("/admin/analytics/summary")
@api_auth(allow_api_key=False)
def admin_summary() -> Any:
    return analytics.summary(g.shop, settings_of(g.shop), _period())


@bp.get("/admin/analytics/segments")
@api_auth(allow_api_key=False)
def admin_segments() -> Any:
    return analytics.segments(g.shop)


@bp.get("/admin/analytics/cohorts")
@api_auth(allow_api_key=False)
def admin_cohorts() -> Any:
    return analytics.cohorts(g.shop, _period())


@bp.post("/admin/analytics/refresh")
@api_auth(allow_api_key=False)
def admin_refresh() -> Any:
    """Queues a full rebuild of the rollups (a job: seconds at scale, never inside a request)."""
    return {"queued": analytics.queue_rebuild(g.shop.id)}, 202


@bp.get("/v1/analytics/summary")
@api_auth()
def v1_summary() -> Any:
    """The dashboard's figures by contract.md's names; a session token or an X-Regulars-Api-Key."""
    return analytics.summary(g.shop, settings_of(g.shop), _period())
