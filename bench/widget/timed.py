"""The app wrapped for the bench: each response carries `Server-Timing: wsgi;dur=<ms>`, the time spent inside the WSGI
call up to start_response (Flask builds the whole body first), so the bench can report server time apart from the
client and the network."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import Any

from app import create_app

_inner = create_app()


def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    start = time.perf_counter()

    def timed_start(status: str, headers: list[tuple[str, str]], exc_info: Any = None) -> Any:
        headers.append(("Server-Timing", f"wsgi;dur={(time.perf_counter() - start) * 1000:.3f}"))
        return start_response(status, headers, exc_info)

    return _inner(environ, timed_start)
