"""The app's one clock: `now()` is what every service reads (through app.models.utcnow), and tests or the
demo can move it (`set_now`, `advance`, `reset`) without threading a `now` through every call.

Only the reading of wall-clock time goes through here; sleeping and timeouts stay on real time. The
in-process scheduler waits on `changed` as well as on real time, so moving the clock wakes it at once.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_offset = timedelta(0)
_frozen: datetime | None = None
# Set whenever the clock is moved: a scheduler sleeping until a due time looks again.
changed = threading.Event()


def now() -> datetime:
    """The current time, UTC, aware."""
    frozen, offset = _frozen, _offset
    if frozen is not None:
        return frozen
    return datetime.now(UTC) + offset


def set_now(when: datetime, *, frozen: bool = False) -> None:
    """From now on the clock reads `when` and runs on from there (or stands still at it when `frozen`)."""
    global _offset, _frozen
    if when.tzinfo is None:
        raise ValueError("set_now needs an aware datetime")
    with _lock:
        if frozen:
            _frozen = when.astimezone(UTC)
        else:
            _frozen = None
            _offset = when.astimezone(UTC) - datetime.now(UTC)
    changed.set()


def advance(delta: timedelta) -> datetime:
    """Moves the clock forward by `delta` (frozen or running); returns the new time."""
    global _offset, _frozen
    with _lock:
        if _frozen is not None:
            _frozen = _frozen + delta
        else:
            _offset = _offset + delta
    changed.set()
    return now()


def reset() -> None:
    """Back to real time."""
    global _offset, _frozen
    with _lock:
        _offset, _frozen = timedelta(0), None
    changed.set()


def is_real() -> bool:
    return _frozen is None and _offset == timedelta(0)
