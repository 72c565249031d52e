"""A stand-in for a merchant's webhook endpoint: it receives Regulars' signed events, checks the
signature (X-Regulars-Hmac-Sha256) and records each one with its id (X-Regulars-Event-Id), counting
repeats the way an endpoint that honours the id would drop them. Small asyncio HTTP/1.1 server in a
thread (keep-alive), so a relay benchmark measures the relay rather than the receiver.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
from collections import Counter
from typing import Any


class Receiver:
    def __init__(self, secret: str | None = None) -> None:
        self.secret = secret
        self.lock = threading.Lock()
        self.received: list[dict[str, Any]] = []
        self.counts: Counter[str] = Counter()
        self.bad_signatures = 0
        self.fail_next: list[int] = []  # statuses to answer next
        self.fail_all: int | None = None  # answer this status to everything (an endpoint that is down)
        self.delay = 0.0  # seconds before each answer (a slow endpoint)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: asyncio.AbstractServer | None = None
        self.port = 0

    # ------------------------------------------------------------------ what arrived
    def ids(self) -> list[str]:
        with self.lock:
            return [r["id"] for r in self.received]

    def unique_ids(self) -> set[str]:
        with self.lock:
            return set(self.counts)

    def events(self) -> list[dict[str, Any]]:
        with self.lock:
            return [r["event"] for r in self.received]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/hooks"

    # ------------------------------------------------------------------ server
    def _answer(self, headers: dict[str, str], body: bytes) -> int:
        with self.lock:
            if self.fail_all:
                return self.fail_all
            if self.fail_next:
                return self.fail_next.pop(0)
        ok = True
        if self.secret is not None:
            want = base64.b64encode(hmac.new(self.secret.encode(), body, hashlib.sha256).digest()).decode()
            ok = hmac.compare_digest(want, headers.get("x-regulars-hmac-sha256", ""))
        try:
            event = json.loads(body)
        except ValueError:
            return 400
        with self.lock:
            if not ok:
                self.bad_signatures += 1
                return 401
            eid = headers.get("x-regulars-event-id", "")
            self.counts[eid] += 1
            self.received.append({"id": eid, "event": event, "headers": headers})
        return 200

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                lines = head.decode("latin-1").split("\r\n")
                headers = {}
                for line in lines[1:]:
                    if ":" in line:
                        k, v = line.split(":", 1)
                        headers[k.strip().lower()] = v.strip()
                body = await reader.readexactly(int(headers.get("content-length") or 0))
                if self.delay:
                    await asyncio.sleep(self.delay)
                status = self._answer(headers, body)
                reply = b"ok" if status < 300 else b"no"
                writer.write(f"HTTP/1.1 {status} X\r\nContent-Length: {len(reply)}\r\nContent-Type: text/plain\r\n\r\n".encode()
                             + reply)
                await writer.drain()
                if headers.get("connection", "").lower() == "close":
                    break
        except (asyncio.IncompleteReadError, ConnectionError, asyncio.LimitOverrunError):
            pass
        finally:
            writer.close()

    def start(self) -> Receiver:
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            self._server = loop.run_until_complete(asyncio.start_server(self._handle, "127.0.0.1", 0))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()

        threading.Thread(target=run, name="receiver", daemon=True).start()
        ready.wait(5)
        return self

    def stop(self) -> None:
        # Closing the listening socket is enough: open keep-alive connections end with their clients, and
        # the loop's daemon thread ends with the process (stopping the loop would strand their coroutines).
        if self._loop and self._server:
            self._loop.call_soon_threadsafe(self._server.close)
