"""gunicorn's settings for the web process: `gunicorn -c gunicorn.conf.py 'app:create_app()'` (Procfile,
compose.yaml and the Dockerfile run exactly that; gunicorn also reads this file by itself when started here).

Threads, not processes, carry the concurrency: a webhook mostly waits on its group commit, and the requests
of one process share that commit (app/services/intake.py). Command-line flags and GUNICORN_CMD_ARGS still
override anything set here.
"""

import os

from gunicorn.glogging import Logger

from app.config import Config, ConfigError
from app.logs import JsonFormatter

bind = f"0.0.0.0:{os.environ.get('PORT', '8000')}"
workers = int(os.environ.get("WEB_CONCURRENCY", "4"))
worker_class = "gthread"
threads = 8
# Shopify gives up on a webhook after 5 s; no request of ours should take anywhere near this.
timeout = 30
graceful_timeout = 20
# No access log: a line per request would cost every webhook (the load balancer logs requests anyway).
accesslog = None


class _Logger(Logger):
    """gunicorn's own lines (start, workers booting and exiting, timeouts) as JSON in production, like the
    app's. gunicorn's logconfig_dict would do it too, but it also turns on the access log for every request."""

    def setup(self, cfg):  # type: ignore[no-untyped-def]
        super().setup(cfg)
        if _production():
            for handler in self.error_log.handlers:
                handler.setFormatter(JsonFormatter())


def _production() -> bool:
    try:
        return Config.from_env().production
    except ConfigError:
        return False  # the app's workers stop at boot with the reason, in gunicorn's plain lines


logger_class = _Logger
