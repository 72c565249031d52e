"""The receiver's drain requests with Redis: a kicker thread per process sets every slot's flag after the
commits that woke it, one round trip for a burst, and never misses a commit made while it was kicking."""

from __future__ import annotations

import secrets
import threading
import time

import pytest
from redis import Redis
from rq import Queue

from app.jobs import Jobs, _Kicker

pytestmark = pytest.mark.redis


def _wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.005)
    return predicate()


@pytest.fixture
def jobs(redis_url):
    j = Jobs(redis_url, f"k{secrets.token_hex(4)}-", drain_slots=2)
    yield j
    conn = Redis.from_url(redis_url)
    for slot in range(2):
        conn.delete(j.drain_flag(slot))
    Queue(j.queue_name("webhooks"), connection=conn).empty()


def test_new_deliveries_get_a_drain_per_slot_and_a_burst_one_kick(jobs, redis_url):
    conn = Redis.from_url(redis_url)
    queue = Queue(jobs.queue_name("webhooks"), connection=conn)
    kicks = []
    first_started, burst_done = threading.Event(), threading.Event()
    real = jobs.kick_all_slots

    def counted() -> bool:
        kicks.append(len(kicks))
        if len(kicks) == 1:
            # The first commit's kick is under way while the burst commits: held until the burst is over.
            first_started.set()
            assert burst_done.wait(5)
        return real()

    jobs.kick_all_slots = counted  # type: ignore[method-assign]
    assert jobs.request_drains([]) is True and jobs._kick_thread is None  # nothing new: no thread, no kick
    assert jobs.request_drains([0]) is True
    assert first_started.wait(5)
    for i in range(1, 200):  # a burst of commits during that kick
        assert jobs.request_drains([i]) is True
    burst_done.set()
    assert _wait_for(lambda: len(queue) == 2 and len(kicks) == 2)
    time.sleep(4 * _Kicker.INTERVAL)  # room for a kick too many, which the next line would see
    assert len(kicks) == 2  # the first commit's, then one for all 199 of the burst
    assert all(conn.get(jobs.drain_flag(slot)) == b"1" for slot in range(2))
    assert sorted(job.args for job in queue.jobs) == [(0,), (1,)]
    # A flag still set means its drain has not started: the next kick sets nothing and enqueues nothing more.
    jobs.request_drains([7])
    assert _wait_for(lambda: len(kicks) == 3)
    time.sleep(4 * _Kicker.INTERVAL)
    assert len(queue) == 2


def test_a_commit_during_a_kick_gets_a_kick_after_it():
    started, release = threading.Event(), threading.Event()
    calls = []

    def kick() -> bool:
        calls.append(time.monotonic())
        if len(calls) == 1:
            started.set()
            assert release.wait(5)
        return True

    kicker = _Kicker(kick)
    kicker.wake()
    assert started.wait(5)
    kicker.wake()  # committed while the first kick is under way: that kick may have missed it
    release.set()
    assert _wait_for(lambda: len(calls) == 2)
    time.sleep(4 * _Kicker.INTERVAL)
    assert len(calls) == 2  # and no kick without a commit


def test_with_redis_down_the_kicker_backs_off_instead_of_failing_each_request():
    calls = []
    kicker = _Kicker(lambda: calls.append(1) or False)  # what kick_all_slots answers with Redis down
    for _ in range(50):
        kicker.wake()
        time.sleep(0.002)
    assert _wait_for(lambda: len(calls) >= 1)
    time.sleep(0.2)
    assert len(calls) == 1  # the next try waits _Kicker.RETRY; the sweeper re-kicks meanwhile
