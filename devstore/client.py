"""`RemoteDevStore`: the DevStore Python API over the /_dev control routes, for a stand-in in another process."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from .state import normalize_shop

__all__ = ["RemoteDevStore", "RemoteDevStoreError"]


class RemoteDevStoreError(RuntimeError):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"{status}: {message}")
        self.status = status


class RemoteDevStore:
    """Same method names and answers as `DevStore`, for the demo and benchmarks (`python -m devstore`)."""

    def __init__(self, base_url: str, *, timeout: float = 30.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.http = httpx.Client(base_url=self.base_url, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, json: dict | None = None, params: dict | None = None) -> Any:
        response = self.http.request(method, f"/_dev{path}", json=json, params=params)
        if response.status_code >= 400:
            try:
                message = response.json().get("error", response.text)
            except ValueError:
                message = response.text
            raise RemoteDevStoreError(response.status_code, message)
        return response.json()

    @staticmethod
    def _shop(shop: str) -> str:
        return "/shops/" + quote(normalize_shop(shop))

    # shops
    def add_shop(self, domain: str, currency: str = "USD", **options: Any) -> dict:
        return self._call("POST", "/shops", {"domain": domain, "currency": currency, **options})

    def shop(self, shop: str) -> dict:
        return self._call("GET", self._shop(shop))

    def uninstall(self, shop: str, **options: Any) -> dict:
        return self._call("POST", f"{self._shop(shop)}/uninstall", options)

    def redact_shop(self, shop: str) -> dict:
        return self._call("POST", f"{self._shop(shop)}/redact", {})

    # customers
    def create_customer(self, shop: str, email: str | None, first_name: str | None = None,
                        last_name: str | None = None, **options: Any) -> dict:
        body = {"email": email, "first_name": first_name, "last_name": last_name, **options}
        return self._call("POST", f"{self._shop(shop)}/customers", body)

    def update_customer(self, shop: str, customer_id: int, **changes: Any) -> dict:
        return self._call("PATCH", f"{self._shop(shop)}/customers/{int(customer_id)}", changes)

    def delete_customer(self, shop: str, customer_id: int, **options: Any) -> dict:
        return self._call("DELETE", f"{self._shop(shop)}/customers/{int(customer_id)}", options)

    def get_customer(self, shop: str, customer_id: int) -> dict:
        return self._call("GET", f"{self._shop(shop)}/customers/{int(customer_id)}")

    def customers(self, shop: str) -> list[dict]:
        return self._call("GET", f"{self._shop(shop)}/customers")

    def metafields(self, shop: str, customer_id: int) -> dict:
        return self._call("GET", f"{self._shop(shop)}/customers/{int(customer_id)}/metafields")

    def flow_triggers(self, shop: str) -> list[dict]:
        return self._call("GET", f"{self._shop(shop)}/flow-triggers")

    def tags(self, shop: str, customer_id: int) -> list[str]:
        return self._call("GET", f"{self._shop(shop)}/customers/{int(customer_id)}/tags")

    def redact_customer(self, shop: str, customer_id: int) -> dict:
        return self._call("POST", f"{self._shop(shop)}/customers/{int(customer_id)}/redact", {})

    def data_request(self, shop: str, customer_id: int) -> dict:
        return self._call("POST", f"{self._shop(shop)}/customers/{int(customer_id)}/data_request", {})

    # orders
    def create_order(self, shop: str, customer_id: int | None, lines: list[dict], **options: Any) -> dict:
        body = {"customer_id": customer_id, "lines": lines, **options}
        return self._call("POST", f"{self._shop(shop)}/orders", body)

    def get_order(self, shop: str, order_id: int) -> dict:
        return self._call("GET", f"{self._shop(shop)}/orders/{int(order_id)}")

    def orders(self, shop: str) -> list[dict]:
        return self._call("GET", f"{self._shop(shop)}/orders")

    def mark_paid(self, shop: str, order_id: int, **options: Any) -> dict:
        return self._call("POST", f"{self._shop(shop)}/orders/{int(order_id)}/paid", options)

    def refund(self, shop: str, order_id: int, lines: list[dict] | None = None, shipping: str = "0.00",
               **options: Any) -> dict:
        body = {"lines": lines or [], "shipping": shipping, **options}
        return self._call("POST", f"{self._shop(shop)}/orders/{int(order_id)}/refunds", body)

    def cancel_order(self, shop: str, order_id: int, reason: str = "customer", **options: Any) -> dict:
        return self._call("POST", f"{self._shop(shop)}/orders/{int(order_id)}/cancel", {"reason": reason, **options})

    def edit_order(self, shop: str, order_id: int, **changes: Any) -> dict:
        return self._call("PATCH", f"{self._shop(shop)}/orders/{int(order_id)}", changes)

    # discounts, faults, tokens
    def discount_codes(self, shop: str) -> list[dict]:
        return self._call("GET", f"{self._shop(shop)}/discount_codes")

    def throttle(self, shop: str, n: int = 1) -> None:
        self._call("POST", f"{self._shop(shop)}/throttle", {"n": n})

    def fail_next(self, shop: str, n: int = 1, status: int = 503) -> None:
        self._call("POST", f"{self._shop(shop)}/fail_next", {"n": n, "status": status})

    def fail_discounts(self, shop: str, n: int = 1, **options: Any) -> None:
        self._call("POST", f"{self._shop(shop)}/fail_discounts", {"n": n, **options})

    def clear_faults(self, shop: str) -> None:
        self._call("POST", f"{self._shop(shop)}/clear_faults", {})

    def issue_access_token(self, shop: str, **options: Any) -> dict:
        return self._call("POST", f"{self._shop(shop)}/access_tokens", options)

    def access_tokens(self, shop: str) -> list[dict]:
        return self._call("GET", f"{self._shop(shop)}/access_tokens")

    def expire_access_tokens(self, shop: str) -> None:
        self._call("POST", f"{self._shop(shop)}/access_tokens/expire", {})

    def mint_session_token(self, shop: str, *, user_id: int | str = 1, ttl: int = 60) -> str:
        return self._call("POST", f"{self._shop(shop)}/session_token", {"user_id": user_id, "ttl": ttl})["id_token"]

    def app_proxy_query(self, shop: str, **options: Any) -> dict:
        return self._call("POST", f"{self._shop(shop)}/app_proxy_query", options)

    # clock, logs, webhooks
    def advance(self, seconds: float) -> None:
        self._call("POST", "/clock/advance", {"seconds": seconds})

    def set_rate_limit(self, enabled: bool) -> None:
        self._call("POST", "/rate_limit", {"enabled": enabled})

    def requests_log(self, shop: str | None = None, path_contains: str | None = None) -> list[dict]:
        params = {k: v for k, v in {"shop": shop, "path": path_contains}.items() if v}
        return self._call("GET", "/requests", params=params)

    def clear_requests(self) -> None:
        self._call("DELETE", "/requests")

    def set_webhook_mode(self, mode: str) -> None:
        self._call("POST", "/webhooks/mode", {"mode": mode})

    def flush_webhooks(self, **options: Any) -> list[dict]:
        return self._call("POST", "/webhooks/flush", options)

    def redeliver_failed(self) -> list[dict]:
        return self._call("POST", "/webhooks/redeliver_failed", {})

    def deliveries(self, topic: str | None = None, shop: str | None = None) -> list[dict]:
        params = {k: v for k, v in {"topic": topic, "shop": shop}.items() if v}
        return self._call("GET", "/webhooks/deliveries", params=params)

    def reset(self) -> None:
        self._call("POST", "/reset", {})
