"""Settings for RQ's own commands, read from the same environment as the app:

    rq worker --with-scheduler -c app.jobs.rq_settings          (the queues below, in order of urgency)
    rq cron -c app.jobs.rq_settings app/jobs/cron_config.py

REDIS_URL is the app's; QUEUES are the app's queues with REGULARS_QUEUE_PREFIX in front, so a worker
started without queue names serves exactly what the app enqueues; DICT_CONFIG gives RQ's own lines the
app's log format (JSON in production), which RQ applies before it sets up its own handlers. A bad setting
stops the command at once with the same one-line reason the app would give.
"""

from __future__ import annotations

from app import jobs
from app.config import Config, ConfigError
from app.logs import dict_config, route_stray_output

try:
    _config = Config.from_env()
except ConfigError as exc:
    raise SystemExit(f"configuration error: {exc}") from None
if not _config.redis_url:
    raise SystemExit("configuration error: REDIS_URL must be set for rq worker and rq cron")

REDIS_URL = _config.redis_url
QUEUES = [f"{_config.queue_prefix}{name}" for name in jobs.QUEUES]
DICT_CONFIG = dict_config(_config.production)
if _config.production:
    route_stray_output()
