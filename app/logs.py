"""How log lines look: one JSON object per line in production, plain readable lines in development.

Each line of a web request carries `request_id` (the `X-Request-Id` the load balancer sent, or one made up
the first time the request logs something) and `webhook_id` when Shopify's `X-Shopify-Webhook-Id` is there;
each line written while a stored delivery is processed carries `delivery_id`, `webhook_id`, `topic`, `shop`.
Nothing here runs on a request that logs nothing: the ids are looked up when a line is formatted, so the
webhook receiver's hot path pays nothing for them.
"""

from __future__ import annotations

import json
import logging
import re
import sys
import threading
import uuid
from contextvars import ContextVar, Token
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context, request

# What a LogRecord carries by itself; anything else on it came from `extra=` and is written out too.
_STANDARD = frozenset(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {"message", "asctime", "taskName"}
_REQUEST_ID_KEY = "regulars.request_id"
# An incoming request id is kept only if it looks like one (no spaces, quotes or control characters).
_REQUEST_ID_RE = re.compile(r"[A-Za-z0-9._:@/+=-]{1,128}")

_delivery: ContextVar[dict[str, Any] | None] = ContextVar("regulars_delivery", default=None)


class delivery_context:  # noqa: N801 (used as a function: `with delivery_context(…):`)
    """Every line logged inside carries the delivery's ids (the drain wraps each handler in it). A class, not a
    @contextmanager generator: it runs for every delivery, and this costs a fraction of a microsecond."""

    __slots__ = ("_fields", "_token")

    def __init__(self, delivery_id: int, webhook_id: str | None, topic: str, shop: str) -> None:
        self._fields = {"delivery_id": delivery_id, "webhook_id": webhook_id, "topic": topic, "shop": shop}
        self._token: Token[dict[str, Any] | None] | None = None

    def __enter__(self) -> None:
        self._token = _delivery.set(self._fields)

    def __exit__(self, *exc: object) -> None:
        if self._token is not None:
            _delivery.reset(self._token)
            self._token = None


def request_id() -> str | None:
    """The current request's id (made once per request, on first use), or None outside a request."""
    if not has_request_context():
        return None
    environ = request.environ
    rid = environ.get(_REQUEST_ID_KEY)
    if rid is None:
        sent = environ.get("HTTP_X_REQUEST_ID", "")
        rid = sent if _REQUEST_ID_RE.fullmatch(sent) else uuid.uuid4().hex
        environ[_REQUEST_ID_KEY] = rid
    return str(rid)


def context_fields() -> dict[str, Any]:
    """The ids of what is being done now: the web request, the delivery being processed, or both."""
    fields: dict[str, Any] = {}
    if has_request_context():
        fields["request_id"] = request_id()
        fields["method"] = request.method
        fields["path"] = request.path
        webhook_id = request.environ.get("HTTP_X_SHOPIFY_WEBHOOK_ID")
        if webhook_id:
            fields["webhook_id"] = webhook_id[:128]
    delivery = _delivery.get()
    if delivery is not None:
        fields.update(delivery)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (UTC, ISO 8601), level, logger, message, the context ids, extras."""

    def format(self, record: logging.LogRecord) -> str:
        out: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds").replace(
                "+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "pid": record.process,
        }
        out.update(context_fields())
        for key, value in record.__dict__.items():
            if key not in _STANDARD and not key.startswith("_"):
                out[key] = value
        if record.exc_info:
            out["exception"] = self.formatException(record.exc_info)
        elif record.exc_text:
            out["exception"] = record.exc_text
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, default=str, ensure_ascii=False)


PLAIN_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
# Libraries that say at INFO what every process start does (alembic lists its plugins each time the app is
# built, which an RQ work horse does for every job).
QUIET = {"alembic.runtime.plugins": logging.WARNING}


def formatter(production: bool) -> logging.Formatter:
    return JsonFormatter() if production else logging.Formatter(PLAIN_FORMAT)


def configure(production: bool) -> None:
    """The process's logging, from create_app: INFO, JSON lines in production, plain ones in development.

    Left alone when the process has set up its root logger already: gunicorn.conf.py, RQ's DICT_CONFIG
    (app/jobs/rq_settings.py) and pytest's capture each do it their own way."""
    for name, level in QUIET.items():
        logging.getLogger(name).setLevel(level)
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter(production))
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    if production:
        route_stray_output()


def route_stray_output() -> None:
    """Warnings and uncaught exceptions as log lines too, so that production's output stays one JSON object
    per line (Python would print them as plain multi-line text)."""
    logging.captureWarnings(True)
    crash = logging.getLogger("regulars.uncaught")

    def excepthook(kind: type[BaseException], value: BaseException, tb: Any) -> None:
        crash.critical("uncaught %s", kind.__name__, exc_info=(kind, value, tb))

    def thread_excepthook(args: threading.ExceptHookArgs) -> None:
        if args.exc_type is not SystemExit and args.exc_value is not None:
            crash.critical("uncaught %s in thread %s", args.exc_type.__name__,
                           args.thread.name if args.thread else "?",
                           exc_info=(args.exc_type, args.exc_value, args.exc_traceback))

    sys.excepthook = excepthook
    threading.excepthook = thread_excepthook


def dict_config(production: bool) -> dict[str, Any]:
    """The same set-up as `configure`, as a logging.config.dictConfig document (RQ's DICT_CONFIG setting)."""
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"regulars": {"()": "app.logs.formatter", "production": production}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "regulars",
                                "stream": "ext://sys.stderr"}},
        "root": {"level": "INFO", "handlers": ["stderr"]},
        "loggers": {name: {"level": logging.getLevelName(level)} for name, level in QUIET.items()},
    }
