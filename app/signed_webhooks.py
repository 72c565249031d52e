"""Our events on the wire to merchants' endpoints (contract.md, "Events out"): the JSON body, its
signature and headers, and the POST. Any 2xx is delivery; anything else is for the relay to retry."""

from __future__ import annotations

import base64
import hashlib
import hmac
import http.client
import ipaddress
import json
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

SIGNATURE_HEADER = "X-Regulars-Hmac-Sha256"
EVENT_ID_HEADER = "X-Regulars-Event-Id"
TIMEOUT = 10.0


def body_of(event: dict[str, Any]) -> bytes:
    return json.dumps(event, separators=(",", ":"), ensure_ascii=False, default=str).encode("utf-8")


def signature(secret: str, body: bytes) -> str:
    """Base64 HMAC-SHA256 of the raw body with the endpoint's secret."""
    return base64.b64encode(hmac.new(secret.encode("utf-8"), body, hashlib.sha256).digest()).decode("ascii")


def headers_for(event: dict[str, Any], secret: str, body: bytes) -> dict[str, str]:
    return {"Content-Type": "application/json", SIGNATURE_HEADER: signature(secret, body),
            EVENT_ID_HEADER: str(event["id"]), "X-Regulars-Event-Type": str(event["type"]),
            "X-Regulars-Shop-Domain": str(event["shop"]), "User-Agent": "Regulars-Webhooks/1"}


@dataclass(frozen=True)
class PostResult:
    ok: bool
    status: int
    error: str = ""
    permanent: bool = False


class WebhookPoster:
    """Keep-alive connections per thread and endpoint, safe to share between threads. The standard
    library's http.client rather than httpx here: measured ≈ 4× less CPU per request (3,700 against
    800 requests/s on one thread), and the relay's throughput is that per-request cost. Redirects are not
    followed: an endpoint answers for itself."""

    def __init__(self, allow_private: bool = False) -> None:
        self._local = threading.local()
        self._tls = ssl.create_default_context()
        # Production refuses hosts that resolve to private, loopback or link-local addresses (an endpoint
        # URL must not reach into the app's own network); development posts to 127.0.0.1 on purpose.
        self.allow_private = allow_private
        self._checked: dict[str, tuple[float, bool]] = {}
        self._checked_lock = threading.Lock()

    def _public(self, host: str) -> bool:
        now = time.monotonic()
        with self._checked_lock:
            hit = self._checked.get(host)
        if hit and now - hit[0] < 60:
            return hit[1]
        try:
            infos = socket.getaddrinfo(host, None, proto=socket.IPPROTO_TCP)
            ok = bool(infos) and all(ipaddress.ip_address(str(i[4][0]).split("%")[0]).is_global for i in infos)
        except (OSError, ValueError):
            ok = False
        with self._checked_lock:
            self._checked[host] = (now, ok)
        return ok

    def _connection(self, scheme: str, host: str, port: int | None) -> http.client.HTTPConnection:
        pool: dict[tuple[str, str, int | None], http.client.HTTPConnection] = self._local.__dict__.setdefault("pool", {})
        key = (scheme, host, port)
        conn = pool.get(key)
        if conn is None:
            if scheme == "https":
                conn = http.client.HTTPSConnection(host, port, timeout=TIMEOUT, context=self._tls)
            else:
                conn = http.client.HTTPConnection(host, port, timeout=TIMEOUT)
            pool[key] = conn
        return conn

    def _drop(self, scheme: str, host: str, port: int | None) -> None:
        conn = self._local.__dict__.get("pool", {}).pop((scheme, host, port), None)
        if conn is not None:
            conn.close()

    def post(self, url: str, body: bytes, headers: dict[str, str]) -> PostResult:
        parts = urlsplit(url)
        scheme, host, port = parts.scheme, parts.hostname or "", parts.port
        path = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        if not self.allow_private and not self._public(host):
            return PostResult(False, 0, f"{host} does not resolve to public addresses only", permanent=True)
        for attempt in (1, 2):  # once more on a fresh connection when a kept-alive one was closed meanwhile
            conn = self._connection(scheme, host, port)
            try:
                conn.request("POST", path, body=body, headers=headers)
                resp = conn.getresponse()
                text = resp.read(4096)
                if resp.will_close:
                    self._drop(scheme, host, port)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError) as exc:
                self._drop(scheme, host, port)
                if attempt == 1:
                    continue
                return PostResult(False, 0, f"{type(exc).__name__}: {exc}"[:500])
            except (OSError, http.client.HTTPException) as exc:
                self._drop(scheme, host, port)
                return PostResult(False, 0, f"{type(exc).__name__}: {exc}"[:500])
            if 200 <= resp.status < 300:
                return PostResult(True, resp.status)
            return PostResult(False, resp.status, f"HTTP {resp.status}: {text[:200].decode('utf-8', 'replace')}")
        return PostResult(False, 0, "unreachable")
