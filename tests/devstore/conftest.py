"""Fixtures for the stand-in's own tests: a running stand-in and a tiny webhook receiver."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from flask import Flask, request
from shopify_app import ShopifyApp
from werkzeug.serving import make_server

from devstore import DevStore, origin_rewriting_client, serve_in_thread
from tests.devstore.devstore_support import API_KEY, API_SECRET, SHOP


@dataclass
class Receiver:
    url: str
    received: list[dict] = field(default_factory=list)
    status: int = 200
    lock: threading.Lock = field(default_factory=threading.Lock)

    def topics(self) -> list[str]:
        with self.lock:
            return [r["headers"]["x-shopify-topic"] for r in self.received]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    """An app stand-in that verifies every webhook with shopify_app and records it."""
    app = Flask("receiver")
    verifier = ShopifyApp(API_KEY, API_SECRET)
    holder: dict[str, Receiver] = {}

    def record() -> tuple[str, int]:
        raw = request.get_data(as_text=True)
        headers = {k.lower(): v for k, v in request.headers.items()}
        result = verifier.verify_webhook_req({"method": "POST", "headers": headers, "url": request.url, "body": raw})
        rec = holder["r"]
        with rec.lock:
            rec.received.append({"path": request.path, "headers": headers, "body": raw, "ok": result.ok,
                                 "shop": result.shop})
        if not result.ok:
            return "unauthorized", 401
        return "", rec.status

    app.add_url_rule("/webhooks", "webhooks", record, methods=["POST"])
    app.add_url_rule("/webhooks/compliance", "compliance", record, methods=["POST"])
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    holder["r"] = Receiver(url=f"http://127.0.0.1:{server.server_port}")
    yield holder["r"]
    server.shutdown()


@dataclass
class Running:
    store: DevStore
    base_url: str
    http: httpx.Client

    def graphql(self, token: str, query: str, variables: dict | None = None, shop: str = SHOP) -> httpx.Response:
        return self.http.post(
            f"https://{shop}/admin/api/2026-10/graphql.json",
            json={"query": query, "variables": variables or {}},
            headers={"X-Shopify-Access-Token": token},
        )


@pytest.fixture
def store(receiver: Receiver) -> DevStore:
    s = DevStore(api_key=API_KEY, api_secret=API_SECRET, app_url=receiver.url)
    s.add_shop(SHOP)
    return s


@pytest.fixture
def running(store: DevStore) -> Iterator[Running]:
    server, _thread, base_url = serve_in_thread(store)
    client = origin_rewriting_client(base_url)
    yield Running(store, base_url, client)
    client.close()
    server.shutdown()


@pytest.fixture
def shopify_app() -> ShopifyApp:
    return ShopifyApp(API_KEY, API_SECRET)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # The shared test secret is shorter than PyJWT's recommended 32 bytes; that is the contract's value,
    # not a finding, so keep it out of this directory's warning summary.
    here = str(Path(__file__).parent)
    for item in items:
        if str(item.path).startswith(here):
            item.add_marker(pytest.mark.filterwarnings("ignore::jwt.warnings.InsecureKeyLengthWarning"))
