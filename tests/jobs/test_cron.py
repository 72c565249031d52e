"""`rq cron app/jobs/cron_config.py` starts and puts the schedule's jobs on the configured queues."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from redis import Redis
from rq import Queue

pytestmark = pytest.mark.redis
ROOT = Path(__file__).resolve().parents[2]


def test_rq_cron_enqueues_interval_jobs_on_prefixed_queues(redis_url):
    prefix = f"cron{secrets.token_hex(3)}-"
    env = {**os.environ, "REGULARS_QUEUE_PREFIX": prefix, "REDIS_URL": redis_url, "TZ": "UTC"}
    proc = subprocess.Popen([sys.executable, "-m", "rq.cli", "cron", "--url", redis_url, "app/jobs/cron_config.py"],
                            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            start_new_session=True)
    conn = Redis.from_url(redis_url)
    queues = {name: Queue(f"{prefix}{name}", connection=conn) for name in ("webhooks", "sync", "bulk")}
    try:
        deadline = time.time() + 30
        funcs: set[str] = set()
        while time.time() < deadline and not {"app.jobs.webhooks.sweep", "app.jobs.schedule.sync_writeback",
                                                "app.jobs.schedule.release_pending_points"} <= funcs:
            funcs = {job.func_name for q in queues.values() for job in q.jobs}
            time.sleep(0.3)
        assert "app.jobs.webhooks.sweep" in {j.func_name for j in queues["webhooks"].jobs}
        assert "app.jobs.schedule.sync_writeback" in {j.func_name for j in queues["sync"].jobs}
        assert "app.jobs.schedule.release_pending_points" in {j.func_name for j in queues["bulk"].jobs}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        out = proc.communicate(timeout=20)[0]
        for q in queues.values():
            q.empty()
        conn.close()
    assert b"Traceback" not in out, out.decode()[-2000:]
