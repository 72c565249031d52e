"""Background work: RQ queues by urgency when REDIS_URL is set, otherwise in-process right after the commit
(app.jobs.inprocess: one job at a time, a runner thread for work due later and for the schedule).

Queues: `webhooks` (order points: urgent), `sync` (write-back to Shopify), `bulk` (backfills, imports,
reconciliation), so a long backfill never delays order points. Entry points take ids, reload, call services.
Work due later (app.services.due) goes to RQ's scheduler (`enqueue_at`, workers `--with-scheduler`) or to the
in-process runner's timers; the schedule's sweeps stay the safety net either way.
"""

from __future__ import annotations

import logging
import math
import os
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any

from flask import Flask, current_app, has_app_context
from redis import Redis
from rq import Queue

from app import clock, error_reporting
from app.jobs.inprocess import LOCK_WAIT, Call, InProcess

log = logging.getLogger(__name__)

QUEUES = ("webhooks", "sync", "bulk")
_EXT = "regulars.jobs"


# Deliveries per in-process drain step: a request thread checks its time budget between steps.
INPROCESS_DRAIN_STEP = 5


class Jobs:
    def __init__(self, redis_url: str | None, prefix: str, drain_slots: int,
                 inprocess: InProcess | None = None) -> None:
        self.redis_url = redis_url
        self.prefix = prefix
        self.drain_slots = drain_slots
        self.inprocess = inprocess
        self._redis: Any = None
        self._kick_thread: _Kicker | None = None
        self._kick_lock = threading.Lock()

    @property
    def in_process(self) -> bool:
        return not self.redis_url

    def queue_name(self, name: str) -> str:
        return f"{self.prefix}{name}"

    @property
    def redis(self) -> Any:
        if self._redis is None:
            # Short timeouts: a Redis outage must not hold a webhook past Shopify's 5 s limit.
            self._redis = Redis.from_url(
                self.redis_url or "", socket_connect_timeout=0.5, socket_timeout=1.0, health_check_interval=30
            )
        return self._redis

    def queue(self, name: str) -> Any:
        return Queue(self.queue_name(name), connection=self.redis, default_timeout=600)

    def enqueue(self, queue: str, func: Callable[..., Any], *args: Any, job_id: str | None = None, **kw: Any) -> bool:
        """Runs `func(*args)` in the background (in-process when Redis is not configured).

        Returns False when Redis could not take the job: callers keep their work in the database
        (stored deliveries, the outbox), so the sweeper finds it again once Redis is back.
        """
        if self.in_process:
            assert self.inprocess is not None
            # The write-back coalesces every pending change in one run: when a job is running, the runner
            # does it next rather than this request waiting (it is due "within a minute", not now).
            self.inprocess.run(Call(func, args, kw, job_id), wait=0 if queue == "sync" else LOCK_WAIT)
            return True
        try:
            self.queue(queue).enqueue(func, *args, job_id=job_id, result_ttl=60, failure_ttl=7 * 86400, **kw)
            return True
        except Exception as exc:  # redis.ConnectionError, TimeoutError, …
            log.warning("could not enqueue %s on %s: %s", getattr(func, "__name__", func), queue, exc)
            return False

    def enqueue_at(self, queue: str, due: datetime, func: Callable[..., Any], *args: Any, job_id: str) -> bool:
        """Runs `func(*args)` once the app clock reaches `due` (at once when it has): RQ's scheduler with Redis
        (the workers run `--with-scheduler`), the in-process runner's timers without. A job id is scheduled
        once. False when Redis could not take it: the schedule's sweep does the work a little later."""
        if self.in_process:
            assert self.inprocess is not None
            self.inprocess.at(due, Call(func, args, {}, job_id))
            return True
        delay = due - clock.now()
        try:
            q = self.queue(queue)
            if delay.total_seconds() <= 0:
                q.enqueue(func, *args, job_id=job_id, result_ttl=60, failure_ttl=7 * 86400)
            else:
                # RQ's scheduler runs on real time (the delay is what the app clock says is left) and keeps
                # whole seconds, truncated: rounded up and a second more, the job never runs early.
                late = timedelta(seconds=math.ceil(delay.total_seconds()) + 1)
                q.enqueue_in(late, func, *args, job_id=job_id, result_ttl=60, failure_ttl=7 * 86400)
            return True
        except Exception as exc:
            log.warning("could not schedule %s on %s: %s", getattr(func, "__name__", func), queue, exc)
            return False

    def request_drain(self, slot_hint: int) -> bool:
        """Makes sure a drain of the webhooks queue will run after this moment.

        A flag per slot, set with NX: only the setter enqueues, and a drain clears its flag before it
        starts claiming, so every delivery committed before a failed NX is seen by the pending drain.
        """
        from app.jobs.webhooks import drain_webhooks  # here: app.jobs.webhooks imports this module

        slot = slot_hint % self.drain_slots
        if self.in_process:
            assert self.inprocess is not None
            self.inprocess.request_drain(_drain_in_process)
            return True
        try:
            if self.redis.set(self.drain_flag(slot), "1", nx=True, ex=600):
                return self.enqueue("webhooks", drain_webhooks, slot)
            return True
        except Exception as exc:
            log.warning("Redis unavailable, delivery left for the sweeper: %s", exc)
            return False

    def request_drains(self, delivery_ids: list[int]) -> bool:
        """After new deliveries were committed: makes sure every drain slot runs after this moment.

        In-process, one drain (run here) takes every due delivery. With Redis the flags are set by this
        process's kicker thread, at once when it is idle and at most every _Kicker.INTERVAL under load, one
        round trip for all slots: the caller does not wait for Redis, and a burst of commits costs one
        kick. The kick happens after the caller's commit, so the flag protocol of `request_drain` holds;
        a kick lost with the process (or to a Redis outage) is redone by the sweeper within the minute.
        """
        if not delivery_ids:
            return True
        if self.in_process:
            return self.request_drain(delivery_ids[0])
        self._kicker().wake()
        return True

    def kick_all_slots(self) -> bool:
        """One round trip: the flag of every slot with NX, then a drain enqueued for each flag this set."""
        from app.jobs.webhooks import drain_webhooks  # here: app.jobs.webhooks imports this module

        slots = range(self.drain_slots)
        try:
            pipe = self.redis.pipeline(transaction=False)
            for slot in slots:
                pipe.set(self.drain_flag(slot), "1", nx=True, ex=600)
            won = pipe.execute()
        except Exception as exc:
            log.warning("Redis unavailable, deliveries left for the sweeper: %s", exc)
            return False
        ok = True
        for slot, setter in zip(slots, won, strict=True):
            if setter:
                ok = self.enqueue("webhooks", drain_webhooks, slot) and ok
        return ok

    def _kicker(self) -> _Kicker:
        kicker = self._kick_thread
        if kicker is None or not kicker.alive():
            with self._kick_lock:
                kicker = self._kick_thread
                if kicker is None or not kicker.alive():
                    kicker = self._kick_thread = _Kicker(self.kick_all_slots)
        return kicker

    def drain_flag(self, slot: int) -> str:
        return f"regulars:{self.prefix}drain-requested:{slot}"


class _Kicker:
    """A daemon thread of one process that sets the drain flags when woken (see Jobs.request_drains)."""

    # Seconds between two kicks under load: a drain then starts at most this late. Under load a drain is
    # nearly always running already and a kick finds its flag set, so more kicks would only cost CPU.
    INTERVAL = 0.02
    RETRY = 1.0  # after a failed kick (Redis down): the sweeper covers meanwhile, without a warning per commit

    def __init__(self, kick: Callable[[], bool]) -> None:
        self._kick = kick
        self._event = threading.Event()
        self._pid = os.getpid()
        self._thread = threading.Thread(target=self._run, name="regulars-drain-kicker", daemon=True)
        self._thread.start()

    def alive(self) -> bool:
        # A forked child (gunicorn --preload) has the object but not the thread.
        return self._pid == os.getpid() and self._thread.is_alive()

    def wake(self) -> None:
        self._event.set()

    def _run(self) -> None:
        last = 0.0
        while True:
            self._event.wait()
            pause = last + self.INTERVAL - time.monotonic()
            if pause > 0:
                time.sleep(pause)
            # Cleared before the kick: a commit after this line wakes the next round, one before it is
            # covered by this kick, which comes after it.
            self._event.clear()
            last = time.monotonic()
            try:
                ok = self._kick()
            except Exception:
                log.exception("drain kick failed")
                ok = False
            if not ok:
                last += self.RETRY


def _drain_in_process(budget: float | None) -> bool:
    """The in-process drain, in steps; True when nothing due is left, False when `budget` seconds ran out."""
    from app.jobs.webhooks import drain_webhooks  # here: app.jobs.webhooks imports this module

    deadline = None if budget is None else time.monotonic() + budget
    while True:
        if drain_webhooks(0, limit=INPROCESS_DRAIN_STEP) < INPROCESS_DRAIN_STEP:
            return True
        if deadline is not None and time.monotonic() >= deadline:
            return False


def init_app(app: Flask) -> None:
    """The job layer of `app`. The schedule (app.jobs.schedule) and work due later (app.jobs.due) are wired by
    their own init_app, called next by create_app."""
    cfg = app.config["REGULARS"]
    inprocess = None
    if not cfg.redis_url:
        # The clockwork runs in-process too (what `rq cron` and `rq worker --with-scheduler` do with Redis),
        # unless the config says not to (tests that drive time through `now` arguments).
        clockwork = cfg.in_process_schedule if cfg.in_process_schedule is not None else cfg.env != "test"
        inprocess = InProcess(app, clockwork=clockwork)
    app.extensions[_EXT] = Jobs(cfg.redis_url, cfg.queue_prefix, cfg.drain_slots, inprocess)
    if inprocess is not None:
        started = False

        @app.before_request
        def _start_schedule() -> None:
            # Once the app serves: the embedded default's clockwork starts with its first request.
            nonlocal started
            if not started:
                started = True
                inprocess.start_schedule()


def jobs_for(app: Flask) -> Jobs:
    j: Jobs = app.extensions[_EXT]
    return j


def current_jobs() -> Jobs:
    return jobs_for(current_app)  # type: ignore[arg-type]


_worker_app: Flask | None = None


@contextmanager
def job_context() -> Iterator[Flask]:
    """The app context a job runs in: the caller's (in-process) or one app per worker process."""
    global _worker_app
    if has_app_context():
        yield current_app  # type: ignore[misc]
        return
    if _worker_app is None:
        from app import create_app  # here: create_app imports this module

        _worker_app = create_app()
    try:
        with _worker_app.app_context():
            yield _worker_app
    except Exception as exc:
        # RQ logs a job's exception after this context has closed, too late for the flush below.
        error_reporting.capture(exc)
        raise
    finally:
        # RQ's work horse leaves with os._exit: what Sentry queued (when it is on) goes now or never.
        error_reporting.flush()
