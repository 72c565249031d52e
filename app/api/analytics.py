"""Dashboard endpoints (/api/admin/analytics/…) and the public GET /api/v1/analytics/summary: the service's
figures, with what each one means in words next to it (the admin shows them under "How it is calculated")."""

from __future__ import annotations

from typing import Any

from flask import g, request

from app.api import ApiError, api_auth, bp
from app.api.admin import settings_of
from app.services import analytics
from app.services.analytics import Period, Windows


def formulas(windows: Windows | None = None) -> dict[str, str]:
    """What each figure means, shown next to it in the admin and returned by the API."""
    windows = windows or Windows()
    return {
        "repeat_customer_rate": "Customers with 2 or more orders in the period ÷ customers with at least 1 order in "
                                "the period × 100",
        "purchase_frequency": "Orders in the period ÷ customers who ordered in the period",
        "average_order_value": "Revenue in the period ÷ orders in the period",
        "customer_lifetime_value": "Average order value × purchases per customer per year (purchase frequency "
                                   "scaled to 365 days) × average customer lifespan in years (first to last order "
                                   "of repeat customers)",
        "churn_rate": f"Customers active at the start (ordered in the {windows.churn_days} days before it) who "
                      "were no longer active at the end ÷ customers active at the start × 100",
        "retention_rate": "(Customers active at the end E − new customers in the period N) ÷ customers active at "
                          f"the start S × 100, active meaning an order in the {windows.retention_days} days before",
        "median_days_to_second_order": "Median number of days between first and second order, over customers "
                                       "whose second order fell in the period",
        "redemption_rate": "Points redeemed in the period ÷ points issued in the period × 100",
        "points_liability": "(Available + pending points of all members) × point value",
        "referral_revenue": "Revenue of paid orders in the period that used a referral friend code",
        "recency": "Customers by days since their last order, today: 0–30, 31–90, more than 90",
        "rfm": "Recency, frequency and monetary scores 1–5 by quintile among all customers; segment from R and F",
        "cohorts": "Customers grouped by the month of their first order; each cell is the share of the cohort "
                   "that ordered in that month after their first",
    }


def _period() -> Period:
    period, errors = analytics.parse_period(request.args.get("from"), request.args.get("to"))
    if period is None:
        raise ApiError(422, "invalid", "the date range is not valid", errors)
    return period


def _windows() -> Windows:
    windows, errors = analytics.parse_windows(request.args.get("churn_days"), request.args.get("retention_days"))
    if windows is None:
        raise ApiError(422, "invalid", "the churn or retention window is not valid", errors)
    return windows


def _summary() -> dict[str, Any]:
    period, windows = _period(), _windows()
    return {**analytics.summary(g.shop, settings_of(g.shop), period, windows), "formulas": formulas(windows)}


@bp.get("/admin/analytics/summary")
@api_auth(allow_api_key=False)
def admin_summary() -> Any:
    return _summary()


@bp.get("/admin/analytics/segments")
@api_auth(allow_api_key=False)
def admin_segments() -> Any:
    return {**analytics.segments(g.shop), "formulas": formulas()}


@bp.get("/admin/analytics/cohorts")
@api_auth(allow_api_key=False)
def admin_cohorts() -> Any:
    return {**analytics.cohorts(g.shop, _period()), "formula": formulas()["cohorts"]}


@bp.get("/admin/analytics/trends")
@api_auth(allow_api_key=False)
def admin_trends() -> Any:
    """Key figures per week or month (`period`, default month) over the last `periods` (1..104, default 12)."""
    asked, errors = analytics.parse_trend(request.args.get("period"), request.args.get("periods"))
    if asked is None:
        raise ApiError(422, "invalid", "the trend's periods are not valid", errors)
    return analytics.trends(g.shop, settings_of(g.shop), *asked)


@bp.post("/admin/analytics/refresh")
@api_auth(allow_api_key=False)
def admin_refresh() -> Any:
    """Queues a full rebuild of the rollups (a job: seconds at scale, never inside a request)."""
    return {"queued": analytics.request_rebuild(g.shop.id)}, 202


@bp.get("/v1/analytics/summary")
@api_auth()
def v1_summary() -> Any:
    """The dashboard's figures by contract.md's names; a session token or an X-Regulars-Api-Key."""
    return _summary()
