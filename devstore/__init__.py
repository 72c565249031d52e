"""A local stand-in for Shopify (OAuth, token exchange, Admin GraphQL, webhooks) for tests, the demo and benchmarks."""

from __future__ import annotations

import threading
from typing import Any

from werkzeug.serving import BaseWSGIServer, make_server

from .server import create_app
from .state import DEFAULT_SCOPES, DevStore, DevStoreError, NotFound
from .testing import origin_rewriting_client
from .tokens import app_proxy_query, mint_session_token, sign_app_proxy, webhook_hmac
from .webhooks import Delivery, WebhookEvent, WebhookSender

__all__ = [
    "DEFAULT_SCOPES",
    "Delivery",
    "DevStore",
    "DevStoreError",
    "NotFound",
    "WebhookEvent",
    "WebhookSender",
    "app_proxy_query",
    "create_app",
    "mint_session_token",
    "origin_rewriting_client",
    "serve_in_thread",
    "sign_app_proxy",
    "webhook_hmac",
]


def serve_in_thread(
    store: DevStore,
    host: str = "127.0.0.1",
    port: int = 0,
    **app_options: Any,
) -> tuple[BaseWSGIServer, threading.Thread, str]:
    """Run the stand-in on a werkzeug server in a daemon thread; port 0 picks a free port.

    Returns (server, thread, base_url); stop with `server.shutdown()`. app_options go to `create_app`
    (api_key, api_secret, app_url).
    """
    server = make_server(host, port, create_app(store, **app_options), threaded=True)
    # A short poll interval keeps shutdown() (every test teardown) fast.
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, name="devstore", daemon=True)
    thread.start()
    return server, thread, f"http://{host}:{server.server_port}"
