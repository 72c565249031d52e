"""Sends calls meant for https://{shop}.myshopify.com to SHOPIFY_API_ORIGIN instead (development and tests only)."""

from __future__ import annotations

import httpx


class OriginRewritingTransport(httpx.BaseTransport):
    """Path, query and body unchanged; the Host header keeps the shop so a stand-in can tell shops apart.

    shopify_app accepts an httpx.Client for token exchange and Admin GraphQL, so this is the one seam
    through which tests reach the local stand-in while the app's own code path stays the production one.
    """

    def __init__(self, origin: str, inner: httpx.BaseTransport | None = None) -> None:
        self._origin = httpx.URL(origin)
        self._inner = inner or httpx.HTTPTransport(retries=0)

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        original_host = request.url.host
        request.url = request.url.copy_with(
            scheme=self._origin.scheme, host=self._origin.host, port=self._origin.port
        )
        request.headers["Host"] = original_host
        return self._inner.handle_request(request)

    def close(self) -> None:
        self._inner.close()


def build_http_client(origin: str | None, timeout: float = 10.0) -> httpx.Client:
    if origin:
        return httpx.Client(transport=OriginRewritingTransport(origin), timeout=timeout)
    return httpx.Client(timeout=timeout)
