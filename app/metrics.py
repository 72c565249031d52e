"""GET /metrics: the figures an operator alerts on, in Prometheus' text format, behind a bearer token.

Without REGULARS_METRICS_TOKEN the route does not exist (404 like any unknown URL). A scrape reads the
database's figures (app.services.metrics) and Redis' (app.jobs.stats); a part that does not answer is
reported as down (`regulars_up{source=…} 0`) and its figures left out, so one outage never hides the rest.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Iterable

from flask import Blueprint, Flask, Response, current_app, jsonify, request

from app.jobs import current_jobs
from app.jobs.stats import delivery_outcomes, queue_figures
from app.services.metrics import database_figures

log = logging.getLogger(__name__)

bp = Blueprint("metrics", __name__)

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Exposition:
    """Prometheus text exposition format 0.0.4: HELP and TYPE once per family, then its samples."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def family(self, name: str, kind: str, help_text: str,
               samples: Iterable[tuple[dict[str, str], float]]) -> None:
        self.lines.append(f"# HELP {name} {help_text}")
        self.lines.append(f"# TYPE {name} {kind}")
        for labels, value in samples:
            self.lines.append(f"{name}{_labels(labels)} {_number(value)}")

    def one(self, name: str, kind: str, help_text: str, value: float) -> None:
        self.family(name, kind, help_text, [({}, value)])

    def text(self) -> str:
        return "\n".join(self.lines) + "\n"


def _labels(labels: dict[str, str]) -> str:
    if not labels:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in labels.items()) + "}"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _number(value: float) -> str:
    return str(int(value)) if float(value).is_integer() else repr(float(value))


def _unauthorized() -> tuple[Response, int]:
    resp = jsonify({"error": {"code": "unauthenticated", "message": "a valid metrics bearer token is required"}})
    resp.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
    return resp, 401


@bp.get("/metrics")
def metrics() -> Response | tuple[Response, int]:
    token = current_app.config["REGULARS"].metrics_token
    sent = request.headers.get("Authorization", "")
    scheme, _, credentials = sent.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(credentials.strip().encode(), token.encode()):
        return _unauthorized()

    out = _Exposition()
    up: dict[str, int] = {}
    try:
        figures = database_figures()
        up["database"] = 1
    except Exception as exc:
        log.warning("metrics: the database did not answer: %s", exc)
        figures = None
        up["database"] = 0
    if figures is not None:
        out.one("regulars_webhook_deliveries_received_total", "counter",
                "Webhook deliveries received and verified, Shopify's repeated deliveries included.",
                figures.deliveries_received)
        out.family("regulars_webhook_deliveries_pending", "gauge",
                   "Stored deliveries not processed yet, by status (retry: failed, waiting for its next attempt).",
                   [({"status": s}, n) for s, n in figures.deliveries_pending.items()])
        out.one("regulars_webhook_deliveries_due", "gauge", "Pending deliveries due now.", figures.deliveries_due)
        out.one("regulars_webhook_drain_lag_seconds", "gauge",
                "Age of the oldest delivery due now (0 when none is due).", figures.drain_lag_seconds)
        out.one("regulars_redemptions_total", "counter", "Redemptions recorded (points spent on a reward).",
                figures.redemptions)
        out.one("regulars_writeback_backlog", "gauge",
                "Members waiting for their points and tier to be written back to Shopify.", figures.writeback_backlog)
        out.one("regulars_writeback_oldest_seconds", "gauge",
                "Age of the oldest write-back request (0 when none waits).", figures.writeback_oldest_seconds)

    jobs = current_jobs()
    if not jobs.in_process:
        try:
            outcomes = delivery_outcomes(jobs)
            queues = queue_figures(jobs)
            up["redis"] = 1
        except Exception as exc:
            log.warning("metrics: Redis did not answer: %s", exc)
            up["redis"] = 0
        else:
            out.family("regulars_webhook_deliveries_processed_total", "counter",
                       "Deliveries processed by the drain, by outcome (skipped: nothing to do, e.g. shop uninstalled).",
                       [({"outcome": o}, outcomes[o]) for o in ("processed", "skipped")])
            out.one("regulars_webhook_delivery_retries_total", "counter",
                    "Delivery attempts that failed and were scheduled again with backoff.", outcomes["retry"])
            out.one("regulars_webhook_deliveries_failed_total", "counter",
                    "Deliveries that failed their last attempt (listed by `regulars failed`, replayable).",
                    outcomes["failed"])
            for field, help_text in (("waiting", "Jobs waiting in each RQ queue."),
                                     ("started", "Jobs running now, per RQ queue."),
                                     ("failed", "Jobs in each RQ queue's failed registry."),
                                     ("scheduled", "Jobs scheduled for later, per RQ queue.")):
                out.family(f"regulars_rq_jobs_{field}", "gauge", help_text,
                           [({"queue": q}, f[field]) for q, f in queues.items()])
    out.family("regulars_up", "gauge", "Whether each source of these figures answered this scrape.",
               [({"source": s}, v) for s, v in up.items()])
    return Response(out.text(), mimetype=None, content_type=CONTENT_TYPE)


def init_app(app: Flask) -> None:
    # No token configured: no route, so /metrics answers 404 like any URL the app does not have.
    if app.config["REGULARS"].metrics_token:
        app.register_blueprint(bp)
