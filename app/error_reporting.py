"""Optional error reporting to Sentry: on only when SENTRY_DSN is set, and sentry_sdk is imported only then.

What it reports: unhandled exceptions of web requests (Flask integration), every ERROR line logged, with
its traceback (logging integration: a delivery whose handler failed, a failed drain kick, …), and a job's
exception on its way out to RQ (`capture`, from the job context). RQ runs each job in a forked work horse
that leaves with os._exit, so the job context flushes what is queued before the horse exits (`flush`). No request bodies, cookies or user data are sent (send_default_pii off).
"""

from __future__ import annotations

from typing import Any

from flask import Flask

_enabled_dsn: str | None = None


def init_app(app: Flask) -> None:
    global _enabled_dsn
    cfg = app.config["REGULARS"]
    if not cfg.sentry_dsn or cfg.sentry_dsn == _enabled_dsn:
        return
    import sentry_sdk  # only here: without SENTRY_DSN the package is never loaded

    sentry_sdk.init(
        dsn=cfg.sentry_dsn,
        environment=cfg.env,
        send_default_pii=False,
        # Errors only: no performance tracing, which would cost every request (the webhook receiver's included).
        traces_sample_rate=None,
    )
    _enabled_dsn = cfg.sentry_dsn


def capture(exc: BaseException) -> None:
    """Reports an exception that is about to leave the app's hands (a no-op when Sentry is off)."""
    if _enabled_dsn is None:
        return
    import sentry_sdk

    sentry_sdk.capture_exception(exc)


def flush(timeout: float = 2.0) -> None:
    """Sends what is queued (a no-op when Sentry is off)."""
    if _enabled_dsn is None:
        return
    import sentry_sdk

    client: Any = sentry_sdk.get_client()
    client.flush(timeout=timeout)
