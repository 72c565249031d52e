"""Jobs without Redis (the embedded default): one at a time per app, run in the caller's thread right after
its commit, plus one runner thread per process for work due later, work a caller handed over, and the
schedule (the sweeps that `rq cron` runs when Redis is there).

Serialised on purpose: SQLite has one writer at a time, and two in-process drains (or a drain and a
rollup rebuild) side by side only wait on each other's write lock. A request thread never waits long for
another's job: a drain it asks for while one is running is left to whoever holds the lock (or the
runner) after DRAIN_WAIT, and a drain it runs itself stops after DRAIN_BUDGET, handing the rest on, so a burst
of webhooks is answered within seconds and processed right behind.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import threading
import weakref
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from flask import Flask

from app import clock

log = logging.getLogger(__name__)

# A caller waits at most this long for the job running in another thread, then hands its own to the runner.
LOCK_WAIT = 5.0
# A webhook's request waits at most this long for a running job (usually a sweep of the schedule, or
# another request's drain) before leaving its delivery to whoever drains next, and drains for at most
# DRAIN_BUDGET itself: stored deliveries are processed right after their commit when the app is not busy,
# and a busy one still answers Shopify well within its 5 s.
DRAIN_WAIT = 0.5
DRAIN_BUDGET = 0.5
# The runner looks at the (movable) clock at least this often while timers or a schedule are pending.
TICK = 0.25


@dataclass
class Call:
    func: Callable[..., Any]
    args: tuple[Any, ...] = ()
    kwargs: dict[str, Any] = field(default_factory=dict)
    key: str | None = None

    @property
    def name(self) -> str:
        return getattr(self.func, "__qualname__", repr(self.func))

    def __call__(self) -> Any:
        return self.func(*self.args, **self.kwargs)


@dataclass(frozen=True)
class Periodic:
    """A job of the schedule: every `every`, or at `minute` past every hour (`hour` None) or past `hour`
    each day, UTC by the app clock."""

    name: str
    func: Callable[[], Any]
    every: timedelta | None = None
    hour: int | None = None
    minute: int = 0
    run_at_start: bool = True

    def next_after(self, now: datetime) -> datetime:
        if self.every is not None:
            return now + self.every
        at = now.replace(minute=self.minute, second=0, microsecond=0)
        if self.hour is None:
            return at if at > now else at + timedelta(hours=1)
        at = at.replace(hour=self.hour)
        return at if at > now else at + timedelta(days=1)


# A drain asked for: called with a time budget (None: no limit), returns True when nothing due is left.
Drain = Callable[[float | None], bool]


class InProcess:
    """The in-process job runner of one app (see the module docstring)."""

    def __init__(self, app: Flask, periodic: Sequence[Periodic] = (), *, clockwork: bool = True) -> None:
        """`clockwork` False: timers and the schedule never fire (tests that drive time through their own
        `now` arguments, so that nothing runs behind their backs); the synchronous jobs still run."""
        self._app = weakref.ref(app)
        self._lock = threading.Lock()  # held while a job of this app runs, in whichever thread
        self._local = threading.local()
        self._guard = threading.Lock()  # protects what follows
        self._queue: deque[Call] = deque()
        self._timers: list[tuple[datetime, int, Call]] = []
        self._timer_keys: set[str] = set()
        self._running: set[str] = set()  # ids of the jobs running now
        self._seq = itertools.count()
        self._drain: Drain | None = None
        self._periodic = list(periodic) if clockwork else []
        self._clockwork = clockwork
        self._scheduling = False
        self._next: dict[str, datetime] = {}
        runner().add(self)

    # --- what Jobs calls -------------------------------------------------------------------------------

    def run(self, call: Call, *, wait: float = LOCK_WAIT) -> None:
        """Runs `call` now in this thread (after the job this thread is running, if any), one job at a time.
        When another thread's job is still running after `wait` seconds, the runner runs it instead."""
        if self._in_job():
            self._local.later.append(call)
            return
        if call.key is not None and self._known(call.key):
            return  # the same job (by its id) is running or waiting right now: it does this one's work
        got = self._lock.acquire(timeout=wait) if wait > 0 else self._lock.acquire(blocking=False)
        if not got:
            log.debug("in-process job %s handed to the runner: another job is running", call.name)
            self.submit(call)
            return
        try:
            self._run_all([call], budget=DRAIN_BUDGET)
        finally:
            self._lock.release()
        self._wake_if_drain_left()

    def submit(self, call: Call) -> None:
        """Runs `call` on the runner thread, as soon as it can (once, if the same call is already waiting)."""
        with self._guard:
            if not any(q.func is call.func and q.args == call.args and q.kwargs == call.kwargs for q in self._queue):
                self._queue.append(call)
        runner().wake()

    def at(self, due: datetime, call: Call) -> None:
        """Runs `call` on the runner thread once the app clock reaches `due` (a call with the same key once)."""
        with self._guard:
            if call.key is not None:
                if call.key in self._timer_keys:
                    return
                self._timer_keys.add(call.key)
            heapq.heappush(self._timers, (due, next(self._seq), call))
        runner().wake()

    def request_drain(self, drain: Drain) -> None:
        """Makes sure `drain` runs after this moment: here, once the job running (if any) is done, within
        DRAIN_WAIT and DRAIN_BUDGET; else by whoever holds the lock next, or the runner."""
        with self._guard:
            self._drain = drain
        if self._in_job():
            return  # this thread's job loop takes it next
        if not self._lock.acquire(timeout=DRAIN_WAIT):
            runner().wake()
            return
        try:
            self._run_all([], budget=DRAIN_BUDGET)
        finally:
            self._lock.release()
        self._wake_if_drain_left()

    def set_schedule(self, periodic: Sequence[Periodic]) -> None:
        """The jobs the runner runs on their schedule once started (nothing when the clockwork is off)."""
        with self._guard:
            self._periodic = list(periodic) if self._clockwork else []

    def start_schedule(self) -> bool:
        """Starts the clockwork: timers fire, and the schedule runs (its first sweeps at once). Called when
        the app starts serving, not when it is built (`flask db upgrade` builds the app too). Returns False
        when this app has no clockwork."""
        with self._guard:
            if not self._clockwork or self._scheduling:
                return self._clockwork
            self._scheduling = True
        runner().wake()
        return True

    def pending(self) -> dict[str, int]:
        """What is waiting (for tests and the demo's curiosity)."""
        with self._guard:
            return {"queued": len(self._queue), "timers": len(self._timers), "drain": int(self._drain is not None),
                    "running": int(self._lock.locked())}

    def busy(self) -> bool:
        """Whether a job is running or waiting to run now (timers for later do not count)."""
        with self._guard:
            return self._lock.locked() or bool(self._queue) or self._drain is not None

    # --- the runner's side -------------------------------------------------------------------------------

    def has_clockwork(self) -> bool:
        """Whether the runner must keep looking at the clock for this app (timers or a schedule)."""
        with self._guard:
            return self._scheduling

    def step(self) -> None:
        """One look: queued calls, due timers, the wanted drain and due schedule entries, run in order."""
        app = self._app()
        if app is None:
            return
        now = clock.now()
        calls: list[Call] = []
        with self._guard:
            while self._queue:
                calls.append(self._queue.popleft())
            while self._scheduling and self._timers and self._timers[0][0] <= now:
                _, _, call = heapq.heappop(self._timers)
                if call.key is not None:
                    self._timer_keys.discard(call.key)
                calls.append(call)
            for job in self._periodic if self._scheduling else ():
                nxt = self._next.get(job.name)
                if nxt is None:
                    nxt = now if job.run_at_start else job.next_after(now)
                    self._next[job.name] = nxt
                if nxt <= now:
                    calls.append(Call(job.func))
                    self._next[job.name] = job.next_after(now)
            wanted = self._drain is not None
        if not calls and not wanted:
            return
        with app.app_context(), self._lock:
            self._run_all(calls, budget=None)

    # --- both ---------------------------------------------------------------------------------------------

    def _in_job(self) -> bool:
        return bool(getattr(self._local, "depth", 0))

    def _run_all(self, calls: list[Call], budget: float | None) -> None:
        """Runs `calls`, then whatever they asked for, then the wanted drain; the lock is held."""
        later: deque[Call] = deque(calls)
        self._local.later = later
        self._local.depth = 1
        try:
            while True:
                if later:
                    self._invoke(later.popleft())
                    continue
                with self._guard:
                    drain, self._drain = self._drain, None
                if drain is None:
                    break
                try:
                    finished = drain(budget)
                except Exception:
                    log.exception("in-process drain failed")
                    finished = True  # the minute sweep asks again
                if not finished:
                    with self._guard:
                        if self._drain is None:
                            self._drain = drain
                    break
        finally:
            self._local.depth = 0

    def _known(self, key: str) -> bool:
        with self._guard:
            return key in self._running or any(q.key == key for q in self._queue)

    def _invoke(self, call: Call) -> None:
        if call.key is not None:
            with self._guard:
                self._running.add(call.key)
        try:
            call()
        except Exception:
            # A job's failure is the job's: logged as a worker would, never the caller's (which committed).
            log.exception("in-process job %s failed", call.name)
        finally:
            if call.key is not None:
                with self._guard:
                    self._running.discard(call.key)

    def _wake_if_drain_left(self) -> None:
        with self._guard:
            left = self._drain is not None
        if left:
            runner().wake()


class _Runner:
    """The one runner thread of a process: steps every live InProcess, sleeping until woken or, while
    timers or a schedule wait, for at most TICK (the clock may have been moved)."""

    def __init__(self) -> None:
        self._apps: weakref.WeakSet[InProcess] = weakref.WeakSet()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._start_lock = threading.Lock()

    def add(self, jobs: InProcess) -> None:
        self._apps.add(jobs)

    def wake(self) -> None:
        self._ensure_thread()
        self._wake.set()

    def _ensure_thread(self) -> None:
        if self._thread is not None and self._thread.is_alive():
            return
        with self._start_lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(target=self._loop, name="regulars-jobs", daemon=True)
                self._thread.start()

    def _loop(self) -> None:
        while True:
            self._wake.clear()
            ticking = False
            for jobs in list(self._apps):
                try:
                    jobs.step()
                except Exception:
                    log.exception("in-process runner step failed")
                ticking = ticking or jobs.has_clockwork()
            self._wake.wait(timeout=TICK if ticking else None)


_RUNNER = _Runner()


def runner() -> _Runner:
    return _RUNNER
