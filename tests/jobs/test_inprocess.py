"""The in-process job runner (no Redis): jobs of an app run one at a time whichever thread asks; a drain
asked for while another job runs is never lost; timers fire by the app clock, and not at all when the
clockwork is off."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest

from app import clock, create_app
from app.jobs import jobs_for
from app.jobs.inprocess import Call
from tests.conftest import make_config


@pytest.fixture
def app() -> Any:
    yield create_app(make_config(in_process_schedule=True))
    clock.reset()


def _eventually(check: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("not done in time")
        time.sleep(0.05)


def test_jobs_never_overlap_whichever_thread_asks(app: Any) -> None:
    jobs = jobs_for(app)
    running, most, done = [0], [0], []
    guard = threading.Lock()

    def job(n: int) -> None:
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.02)
        with guard:
            running[0] -= 1
            done.append(n)

    def ask(n: int) -> None:
        with app.app_context():
            jobs.enqueue("bulk", job, n)

    threads = [threading.Thread(target=ask, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert sorted(done) == list(range(8))
    assert most[0] == 1


def test_a_job_asked_for_by_a_job_runs_after_it_in_the_same_thread(app: Any) -> None:
    jobs = jobs_for(app)
    order: list[str] = []

    def inner() -> None:
        order.append("inner")

    def outer() -> None:
        jobs.enqueue("sync", inner)
        order.append("outer done")

    with app.app_context():
        jobs.enqueue("bulk", outer)
    assert order == ["outer done", "inner"]


def test_a_drain_asked_for_while_another_job_runs_is_not_lost(app: Any) -> None:
    inprocess = jobs_for(app).inprocess
    assert inprocess is not None
    release = threading.Event()
    drained: list[float | None] = []

    def long_job() -> None:
        release.wait(10)

    holder = threading.Thread(target=lambda: inprocess.run(Call(long_job)))
    holder.start()
    _eventually(lambda: inprocess._lock.locked())

    def drain(budget: float | None) -> bool:
        drained.append(budget)
        return True

    # The webhook's request gives up waiting (the delivery is stored), and the drain still happens.
    asker = threading.Thread(target=lambda: inprocess.request_drain(drain))
    asker.start()
    asker.join(10)
    assert not asker.is_alive() and drained == []
    release.set()
    holder.join(10)
    _eventually(lambda: drained)
    assert len(drained) == 1


def test_timers_fire_when_the_app_clock_reaches_them(app: Any) -> None:
    inprocess = jobs_for(app).inprocess
    assert inprocess is not None and inprocess.start_schedule()
    fired: list[str] = []
    inprocess.at(clock.now() + timedelta(days=1), Call(fired.append, ("tomorrow",), key="t1"))
    inprocess.at(clock.now() + timedelta(days=1), Call(fired.append, ("tomorrow",), key="t1"))  # same key: once
    time.sleep(0.6)
    assert fired == []
    clock.advance(timedelta(days=1, seconds=1))
    _eventually(lambda: fired)
    time.sleep(0.3)
    assert fired == ["tomorrow"]


def test_without_clockwork_nothing_fires_behind_a_tests_back() -> None:
    app = create_app(make_config())  # env "test": the tests that drive time through `now` arguments
    inprocess = jobs_for(app).inprocess
    assert inprocess is not None and not inprocess.start_schedule()
    fired: list[int] = []
    inprocess.at(clock.now() - timedelta(seconds=1), Call(fired.append, (1,)))
    time.sleep(0.6)
    assert fired == []


def test_a_job_already_running_under_its_id_is_not_run_again_behind_it(app: Any) -> None:
    """Four dashboard calls asking for the same rollup rebuild at once: one rebuild, not four in a row."""
    jobs = jobs_for(app)
    started, release, runs = threading.Event(), threading.Event(), []

    def rebuild() -> None:
        runs.append(1)
        started.set()
        release.wait(10)

    def ask() -> None:
        with app.app_context():
            jobs.enqueue("bulk", rebuild, job_id="analytics-rebuild-1")

    first = threading.Thread(target=ask)
    first.start()
    assert started.wait(10)
    others = [threading.Thread(target=ask) for _ in range(3)]
    for t in others:
        t.start()
    for t in others:
        t.join(10)
    assert not any(t.is_alive() for t in others)  # they did not wait for it either
    release.set()
    first.join(10)
    assert runs == [1]
