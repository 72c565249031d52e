"""A local stand-in for Klaviyo's API (Events and Profiles), for tests and the demo: it checks what
Klaviyo checks (the private key header, the `revision` header, the JSON:API body), answers as Klaviyo
does (202 for an event, 200/201 for a profile import, 429 with Retry-After when over its limit), drops
an event whose `unique_id` it has seen (as Klaviyo does), and records everything it accepted.

The app reaches it through KLAVIYO_API_ORIGIN (development only), like SHOPIFY_API_ORIGIN.
"""

from __future__ import annotations

import threading
from typing import Any

from flask import Flask, Response, jsonify, request
from werkzeug.serving import BaseWSGIServer, make_server


def _error(status: int, code: str, detail: str) -> tuple[Response, int]:
    return jsonify({"errors": [{"status": status, "code": code, "title": code.replace("_", " "), "detail": detail}]}), status


class FakeKlaviyo:
    def __init__(self, keys: set[str] | None = None) -> None:
        self.lock = threading.Lock()
        self.keys = keys  # None: any pk_… key
        self.events: list[dict[str, Any]] = []
        self.profiles: dict[str, dict[str, Any]] = {}
        self.profile_calls = 0
        self.duplicates = 0
        self.requests = 0
        self.fail_next: list[int] = []  # statuses to answer next (e.g. [429, 500])

    def event_ids(self) -> list[str]:
        with self.lock:
            return [e["unique_id"] for e in self.events]

    def app(self) -> Flask:
        app = Flask("fake-klaviyo")

        @app.before_request
        def check() -> Any:
            with self.lock:
                self.requests += 1
                status = self.fail_next.pop(0) if self.fail_next else None
            if status == 429:
                resp = _error(429, "throttled", "Request was throttled.")[0]
                resp.status_code = 429
                resp.headers["Retry-After"] = "1"
                return resp
            if status:
                return _error(status, "server_error", "stand-in failure")
            auth = request.headers.get("Authorization", "")
            key = auth.removeprefix("Klaviyo-API-Key ").strip()
            if not auth.startswith("Klaviyo-API-Key ") or not key.startswith("pk_") or (self.keys is not None and key not in self.keys):
                return _error(401, "not_authenticated", "Missing or invalid private key.")
            if not request.headers.get("revision"):
                return _error(400, "invalid", "Missing required revision header.")
            body = request.get_json(silent=True)
            if not isinstance(body, dict) or not isinstance(body.get("data"), dict):
                return _error(400, "invalid", "Invalid JSON:API body.")
            return None

        @app.post("/api/events")
        def create_event() -> Any:
            data = request.get_json()["data"]
            attrs = data.get("attributes") or {}
            metric = (((attrs.get("metric") or {}).get("data") or {}).get("attributes") or {}).get("name")
            profile = ((attrs.get("profile") or {}).get("data") or {}).get("attributes") or {}
            if data.get("type") != "event" or not metric or not (profile.get("email") or profile.get("external_id")):
                return _error(400, "invalid", "An event needs a metric name and a profile identifier.")
            with self.lock:
                uid = attrs.get("unique_id")
                if uid and any(e["unique_id"] == uid for e in self.events):
                    self.duplicates += 1
                else:
                    self.events.append({"unique_id": uid, "metric": metric, "time": attrs.get("time"),
                                        "properties": attrs.get("properties") or {}, "profile": profile,
                                        "revision": request.headers.get("revision")})
            return Response(status=202)

        @app.post("/api/profile-import")
        def import_profile() -> Any:
            data = request.get_json()["data"]
            attrs = data.get("attributes") or {}
            ident = attrs.get("external_id") or attrs.get("email")
            if data.get("type") != "profile" or not ident:
                return _error(400, "invalid", "A profile needs an email or an external_id.")
            with self.lock:
                self.profile_calls += 1
                created = ident not in self.profiles
                current = self.profiles.setdefault(ident, {"properties": {}})
                current.update({k: v for k, v in attrs.items() if k != "properties"})
                current["properties"].update(attrs.get("properties") or {})
            return jsonify({"data": {"type": "profile", "id": str(ident), "attributes": current}}), 201 if created else 200

        @app.get("/_dev/received")
        def received() -> Any:
            with self.lock:
                return jsonify({"events": self.events, "profiles": self.profiles, "duplicates": self.duplicates})

        return app


def serve_klaviyo(fake: FakeKlaviyo, host: str = "127.0.0.1", port: int = 0) -> tuple[BaseWSGIServer, str]:
    server = make_server(host, port, fake.app(), threaded=True)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()
    return server, f"http://{host}:{server.server_port}"
