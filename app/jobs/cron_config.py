"""The schedule, for RQ's own scheduler:

    rq cron app/jobs/cron_config.py --url "$REDIS_URL"      (with REGULARS_QUEUE_PREFIX as the workers have it)

Jobs go to the configured queues (`<prefix>webhooks`, `<prefix>sync`, `<prefix>bulk`), so the workers
started with `rq worker --with-scheduler <prefix>webhooks <prefix>sync <prefix>bulk` run them (the
scheduler is what runs the work scheduled for a precise moment, app.services.due). Times are UTC (the
cron expressions are read in the scheduler's local time: run it with TZ=UTC). Run one scheduler per
deployment. The table itself is app.jobs.schedule.schedule_entries, shared with the in-process runner.
"""

from __future__ import annotations

import os

from rq.cron import register

from app.jobs import QUEUES
from app.jobs.schedule import schedule_entries

PREFIX = (os.environ.get("REGULARS_QUEUE_PREFIX") or "").strip()
QUEUE_NAMES = {q: f"{PREFIX}{q}" for q in QUEUES}

for entry in schedule_entries():
    if entry.every is not None:
        register(entry.func, queue_name=QUEUE_NAMES[entry.queue], interval=entry.every, job_timeout=entry.timeout,
                 name=f"regulars.{entry.name}")
    else:
        register(entry.func, queue_name=QUEUE_NAMES[entry.queue], cron=entry.cron, job_timeout=entry.timeout,
                 name=f"regulars.{entry.name}")
