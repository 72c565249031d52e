"""An httpx client that sends `https://{shop}.myshopify.com/...` calls to the stand-in, as SHOPIFY_API_ORIGIN asks."""

from __future__ import annotations

from typing import Any

import httpx

__all__ = ["OriginRewritingTransport", "origin_rewriting_client"]


class OriginRewritingTransport(httpx.BaseTransport):
    """Keeps path, query and body; swaps scheme/host/port for the origin's and sets Host to the shop."""

    def __init__(self, origin: str, inner: httpx.BaseTransport | None = None) -> None:
        self.origin = httpx.URL(origin.rstrip("/"))
        self.inner = inner or httpx.HTTPTransport()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        shop_host = request.url.host
        request.url = request.url.copy_with(
            scheme=self.origin.scheme, host=self.origin.host, port=self.origin.port
        )
        request.headers["Host"] = shop_host
        return self.inner.handle_request(request)

    def close(self) -> None:
        self.inner.close()


def origin_rewriting_client(origin: str, **kwargs: Any) -> httpx.Client:
    """An `httpx.Client` for shopify_app's `http_client=` that talks to the stand-in at `origin`."""
    kwargs.setdefault("timeout", 30.0)
    return httpx.Client(transport=OriginRewritingTransport(origin), **kwargs)
