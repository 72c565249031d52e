"""Delivery of webhooks to the app as Shopify does it: signed, with Shopify's headers, optionally messy."""

from __future__ import annotations

import json
import random
import threading
import time
import uuid
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from .tokens import webhook_hmac

__all__ = ["COMPLIANCE_TOPICS", "Delivery", "WebhookEvent", "WebhookSender"]

COMPLIANCE_TOPICS = frozenset({"customers/data_request", "customers/redact", "shop/redact"})


@dataclass
class WebhookEvent:
    """One thing that happened in a shop; every delivery of it carries the same event id."""

    shop: str
    topic: str
    payload: dict
    event_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    triggered_at: str = field(
        default_factory=lambda: datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f000Z")
    )


@dataclass
class Delivery:
    """One POST to the app, as recorded for assertions."""

    webhook_id: str
    event_id: str
    topic: str
    shop: str
    url: str
    headers: dict[str, str]
    body: str
    authentic: bool
    duplicate: bool = False
    status: int | None = None
    error: str | None = None
    delivered_at: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class WebhookSender:
    """Signs and POSTs webhooks to `<app_url>/webhooks` (compliance topics to `/webhooks/compliance`).

    mode "immediate" (default) delivers inside `emit` and returns the delivery; mode "queue" holds
    events until `flush`, which can duplicate, reorder, delay and forge deliveries like the real
    internet does.
    """

    def __init__(
        self,
        app_url: str | None,
        api_secret: str,
        *,
        api_version: str = "2026-10",
        client: httpx.Client | None = None,
        timeout: float = 30.0,
    ) -> None:
        self.app_url = app_url.rstrip("/") if app_url else None
        self.api_secret = api_secret
        self.api_version = api_version
        self.mode = "immediate"
        self._client = client
        self._timeout = timeout
        self._lock = threading.Lock()
        self._queue: list[WebhookEvent] = []
        self.deliveries: list[Delivery] = []
        self._background: list[threading.Thread] = []

    # --- public API -------------------------------------------------------------------------------

    def emit(self, event: WebhookEvent) -> Delivery | None:
        """Deliver now (immediate mode) or hold for `flush` (queue mode)."""
        if self.mode == "queue":
            with self._lock:
                self._queue.append(event)
            return None
        return self._send(self._prepare(event))

    def emit_in_background(self, event: WebhookEvent) -> None:
        """Deliver after the current request has answered (Shopify never calls back synchronously).

        Used for webhooks caused by the app's own Admin API calls, so a single-threaded app cannot
        deadlock waiting on itself.
        """
        if self.mode == "queue":
            self.emit(event)
            return
        thread = threading.Thread(target=self.emit, args=(event,), daemon=True)
        with self._lock:
            self._background = [t for t in self._background if t.is_alive()] + [thread]
        thread.start()

    def wait_idle(self, timeout: float = 10.0) -> None:
        """Wait for background deliveries to finish."""
        deadline = time.monotonic() + timeout
        with self._lock:
            threads = list(self._background)
        for thread in threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    @property
    def queued(self) -> list[WebhookEvent]:
        with self._lock:
            return list(self._queue)

    def flush(
        self,
        duplicate_rate: float = 0.25,
        shuffle_window: int = 20,
        seed: int | None = None,
        delay: float = 0.0,
        bad_hmac_rate: float = 0.0,
    ) -> list[Delivery]:
        """Deliver every queued event.

        duplicate_rate: chance an event is delivered twice (same webhook id and event id, as
            Shopify's retries are); shuffle_window: events are reordered within consecutive windows of
            this many deliveries; delay: up to this many seconds (random) between deliveries;
            bad_hmac_rate: chance of an extra forged copy (tampered body, wrong HMAC) the app must refuse.
        """
        rng = random.Random(seed)
        with self._lock:
            events, self._queue = self._queue, []
        planned: list[Delivery] = []
        for event in events:
            original = self._prepare(event)
            planned.append(original)
            if rng.random() < duplicate_rate:
                copy = Delivery(**{**asdict(original), "headers": dict(original.headers)})
                copy.duplicate = True
                planned.append(copy)
            if rng.random() < bad_hmac_rate:
                planned.append(self._forge(original))
        window = max(1, shuffle_window)
        for start in range(0, len(planned), window):
            chunk = planned[start : start + window]
            rng.shuffle(chunk)
            planned[start : start + window] = chunk
        done = []
        for delivery in planned:
            if delay:
                time.sleep(rng.uniform(0, delay))
            done.append(self._send(delivery))
        return done

    def redeliver_failed(self) -> list[Delivery]:
        """Retry every delivery that did not get a 2xx, reusing its webhook id as Shopify's retries do."""
        with self._lock:
            failed = [d for d in self.deliveries if d.authentic and not _ok(d.status)]
            answered = {d.webhook_id for d in self.deliveries if d.authentic and _ok(d.status)}
        retried = []
        seen = set()
        for d in failed:
            if d.webhook_id in answered or d.webhook_id in seen:
                continue
            seen.add(d.webhook_id)
            retried.append(self._send(Delivery(**{**asdict(d), "headers": dict(d.headers), "duplicate": True})))
        return retried

    def deliveries_for(self, topic: str | None = None, shop: str | None = None) -> list[Delivery]:
        with self._lock:
            return [
                d
                for d in self.deliveries
                if (topic is None or d.topic == topic) and (shop is None or d.shop == shop)
            ]

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def _http(self) -> httpx.Client:
        # Created on first use: a store without an app URL never opens a connection pool.
        if self._client is None:
            self._client = httpx.Client(timeout=self._timeout)
        return self._client

    # --- internals --------------------------------------------------------------------------------

    def _url(self, topic: str) -> str:
        path = "/webhooks/compliance" if topic in COMPLIANCE_TOPICS else "/webhooks"
        return f"{self.app_url}{path}"

    def _prepare(self, event: WebhookEvent) -> Delivery:
        body = json.dumps(event.payload, separators=(",", ":"))
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": event.topic,
            "X-Shopify-Hmac-Sha256": webhook_hmac(body.encode(), self.api_secret),
            "X-Shopify-Shop-Domain": event.shop,
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event.event_id,
            "X-Shopify-Triggered-At": event.triggered_at,
            "User-Agent": "Shopify-Captain-Hook",
        }
        return Delivery(
            webhook_id=headers["X-Shopify-Webhook-Id"],
            event_id=event.event_id,
            topic=event.topic,
            shop=event.shop,
            url=self._url(event.topic) if self.app_url else "",
            headers=headers,
            body=body,
            authentic=True,
        )

    def _forge(self, original: Delivery) -> Delivery:
        payload = json.loads(original.body)
        # A plausible tampering: inflate every money amount we can find at the top level.
        for key, value in list(payload.items()):
            if isinstance(value, str) and key.endswith("price"):
                payload[key] = "99999.00"
        payload["note"] = "forged"
        body = json.dumps(payload, separators=(",", ":"))
        headers = dict(original.headers)
        headers["X-Shopify-Hmac-Sha256"] = webhook_hmac(body.encode(), self.api_secret + "-wrong")
        headers["X-Shopify-Webhook-Id"] = str(uuid.uuid4())
        return Delivery(
            webhook_id=headers["X-Shopify-Webhook-Id"],
            event_id=original.event_id,
            topic=original.topic,
            shop=original.shop,
            url=original.url,
            headers=headers,
            body=body,
            authentic=False,
        )

    def _send(self, delivery: Delivery) -> Delivery:
        delivery.delivered_at = time.time()
        if self.app_url:
            try:
                response = self._http().post(
                    delivery.url, content=delivery.body.encode(), headers=delivery.headers
                )
                delivery.status = response.status_code
            except httpx.HTTPError as exc:
                delivery.error = f"{type(exc).__name__}: {exc}"
        with self._lock:
            self.deliveries.append(delivery)
        return delivery


def _ok(status: int | None) -> bool:
    return status is not None and 200 <= status < 300
