"""The one adapter to Klaviyo: Events API (create event) and Profiles API (profile import), with the
`revision` header and Klaviyo's rate limits (a token bucket per private key, 429 Retry-After honoured).

Plain httpx rather than the official SDK: two endpoints, and the SDK has no httpx client to inject, so the
stand-in (KLAVIYO_API_ORIGIN) could not be reached through the same code path.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import httpx
from flask import current_app

API_ORIGIN = "https://a.klaviyo.com"
REVISION = "2026-10-15"
# Klaviyo's published limits: events 350/s burst, 3,500/min steady; profile import 75/s, 700/min.
EVENTS_LIMIT = (350.0, 3500.0 / 60.0)
PROFILES_LIMIT = (75.0, 700.0 / 60.0)

# Event type → the metric name Klaviyo shows (the names loyalty apps' merchants already know).
METRICS: dict[str, str] = {
    "points.earned": "Points Earned",
    "points.redeemed": "Points Redeemed",
    "reward.code_issued": "Reward Code Issued",
    "points.expiring": "Points Expiring",
    "points.expired": "Points Expired",
    "tier.changed": "VIP Tier Changed",
    "referral.completed": "Referral Completed",
    "automation.step": "Loyalty Automation Step",
}


@dataclass(frozen=True)
class Sent:
    """One call's outcome: ok, or retry after `retry_after` seconds (rate limit or outage), or refused."""

    ok: bool
    status: int
    error: str = ""
    retry_after: float | None = None
    permanent: bool = False


class _Bucket:
    def __init__(self, burst: float, rate: float) -> None:
        self.burst, self.rate = burst, rate
        self.tokens, self.at = burst, time.monotonic()

    def take(self) -> float:
        """0 when a call may go now, else the seconds until one may."""
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return 0.0
        return (1 - self.tokens) / self.rate


class KlaviyoClient:
    def __init__(self, origin: str | None = None, http: httpx.Client | None = None) -> None:
        self.origin = (origin or API_ORIGIN).rstrip("/")
        self.http = http or httpx.Client(timeout=10.0)
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self._lock = threading.Lock()

    def _wait(self, key: str, api: str) -> float:
        burst, rate = EVENTS_LIMIT if api == "events" else PROFILES_LIMIT
        with self._lock:
            bucket = self._buckets.setdefault((key, api), _Bucket(burst, rate))
            return bucket.take()

    def _post(self, key: str, api: str, path: str, body: dict[str, Any]) -> Sent:
        wait = self._wait(key, api)
        if wait > 0:
            return Sent(False, 429, "rate limit (client side)", retry_after=wait)
        try:
            resp = self.http.post(f"{self.origin}{path}", json=body, headers={
                "Authorization": f"Klaviyo-API-Key {key}", "revision": REVISION,
                "accept": "application/vnd.api+json", "content-type": "application/vnd.api+json",
            })
        except httpx.HTTPError as exc:
            return Sent(False, 0, f"Klaviyo unreachable: {exc}")
        if 200 <= resp.status_code < 300:
            return Sent(True, resp.status_code)
        detail = _error_detail(resp)
        if resp.status_code == 429:
            return Sent(False, 429, "rate limited by Klaviyo", retry_after=_retry_after(resp))
        # 400/401/403: the key or the body is wrong; retrying the same request will not help.
        permanent = resp.status_code in (400, 401, 403, 404, 409, 422)
        return Sent(False, resp.status_code, f"Klaviyo answered {resp.status_code}: {detail}", permanent=permanent)

    def create_event(self, key: str, body: dict[str, Any]) -> Sent:
        return self._post(key, "events", "/api/events", body)

    def import_profile(self, key: str, body: dict[str, Any]) -> Sent:
        return self._post(key, "profiles", "/api/profile-import", body)


def _retry_after(resp: httpx.Response) -> float:
    try:
        return max(1.0, float(resp.headers.get("Retry-After") or 1))
    except ValueError:
        return 1.0


def _error_detail(resp: httpx.Response) -> str:
    try:
        errors = resp.json().get("errors") or []
        return "; ".join(str(e.get("detail") or e.get("title")) for e in errors if isinstance(e, dict))[:300]
    except ValueError:
        return resp.text[:300]


def _profile(member: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    attributes: dict[str, Any] = {"external_id": str(member["customer_id"]), "properties": properties}
    if member.get("email"):
        attributes["email"] = member["email"]
    if member.get("first_name"):
        attributes["first_name"] = member["first_name"]
    if member.get("last_name"):
        attributes["last_name"] = member["last_name"]
    return {"data": {"type": "profile", "attributes": attributes}}


def event_body(event: dict[str, Any], member: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    """Create Event: the metric by name, the profile (with the loyalty properties), and `unique_id` = the
    event id, which Klaviyo uses to drop a repeat of the same event."""
    data = dict(event.get("data") or {})
    return {"data": {"type": "event", "attributes": {
        "properties": {**data, "event_type": event["type"], "shop": event["shop"]},
        "time": event["occurred_at"],
        "unique_id": event["id"],
        "metric": {"data": {"type": "metric", "attributes": {"name": METRICS.get(event["type"], event["type"])}}},
        "profile": _profile(member, properties),
    }}}


def profile_body(member: dict[str, Any], properties: dict[str, Any]) -> dict[str, Any]:
    return _profile(member, properties)


_EXT = "regulars.klaviyo"


def current_klaviyo() -> KlaviyoClient:
    """The app's Klaviyo client (KLAVIYO_API_ORIGIN, a development aid, points it at a stand-in)."""
    client: KlaviyoClient | None = current_app.extensions.get(_EXT)
    if client is None:
        client = current_app.extensions[_EXT] = KlaviyoClient(current_app.config["REGULARS"].klaviyo_api_origin)
    return client
