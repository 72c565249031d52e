"""Webhooks from the stand-in reach an app signed and shaped like Shopify's, including the messy cases."""

from __future__ import annotations

import json
from collections import Counter

import httpx

from devstore.tokens import webhook_hmac
from tests.devstore.devstore_support import API_SECRET, SHOP

SHOPIFY_HEADERS = {
    "x-shopify-topic", "x-shopify-hmac-sha256", "x-shopify-shop-domain", "x-shopify-webhook-id",
    "x-shopify-event-id", "x-shopify-triggered-at", "x-shopify-api-version", "content-type",
}


def test_order_and_refund_webhooks_are_signed_and_complete(store, receiver) -> None:
    customer = store.create_customer(SHOP, "ana@example.com", "Ana", "Lima")
    order = store.create_order(
        SHOP, customer["id"],
        [{"title": "Tee", "price": "20.00", "quantity": 2}, {"title": "Gift card", "price": "50.00", "gift_card": True}],
        shipping="5.00", tax="3.20", discount_codes=[{"code": "WELCOME", "amount": "4.00", "type": "fixed_amount"}],
        browser_ip="203.0.113.9", shipping_address={"address1": "1 Main St", "city": "Ottawa", "zip": "K1A"},
    )
    tee = order["line_items"][0]
    store.refund(SHOP, order["id"], [{"line_item_id": tee["id"], "quantity": 1}], shipping="5.00")

    assert receiver.topics() == ["customers/create", "orders/paid", "refunds/create", "orders/updated"]
    for delivery in receiver.received:
        assert delivery["ok"], delivery["headers"]
        assert set(delivery["headers"]) >= SHOPIFY_HEADERS
        assert delivery["headers"]["x-shopify-shop-domain"] == SHOP
        assert delivery["headers"]["x-shopify-api-version"] == "2026-10"
        assert delivery["headers"]["content-type"] == "application/json"
        assert delivery["headers"]["x-shopify-hmac-sha256"] == webhook_hmac(delivery["body"].encode(), API_SECRET)
        assert delivery["path"] == "/webhooks"
    assert len({d["headers"]["x-shopify-webhook-id"] for d in receiver.received}) == 4

    paid = json.loads(receiver.received[1]["body"])
    assert paid["id"] == order["id"] and paid["id"] > 2**53
    assert paid["admin_graphql_api_id"] == f"gid://shopify/Order/{order['id']}"
    assert paid["financial_status"] == "paid" and paid["name"] == "#1001"
    # Shopify's subtotal includes the gift card and is after the code discount.
    assert paid["subtotal_price"] == paid["current_subtotal_price"] == "86.00"
    assert paid["current_subtotal_price_set"]["shop_money"] == {"amount": "86.00", "currency_code": "USD"}
    assert paid["total_discounts"] == "4.00" and paid["total_price"] == "94.20"
    assert paid["discount_codes"] == [{"code": "WELCOME", "amount": "4.00", "type": "fixed_amount"}]
    assert paid["line_items"][1]["gift_card"] is True and paid["line_items"][1]["discount_allocations"] == []
    assert paid["customer"]["id"] == customer["id"] and paid["browser_ip"] == "203.0.113.9"
    assert paid["shipping_address"]["city"] == "Ottawa"
    assert paid["created_at"].endswith("-05:00")

    refund = json.loads(receiver.received[2]["body"])
    (line,) = refund["refund_line_items"]
    assert line["line_item_id"] == tee["id"] and line["quantity"] == 1
    # one tee is 20.00 less its 2.00 share of the discount; tax 3.20 was on the tees only (1.60 each)
    assert line["subtotal"] == 18.0 and line["subtotal_set"]["shop_money"]["amount"] == "18.00"
    assert line["total_tax_set"]["shop_money"]["amount"] == "1.60"
    assert line["line_item"]["gift_card"] is False
    assert refund["order_adjustments"][0]["kind"] == "shipping_refund"
    assert refund["order_adjustments"][0]["amount"] == "-5.00"
    assert refund["transactions"][0]["amount"] == "24.60" and refund["transactions"][0]["kind"] == "refund"

    updated = json.loads(receiver.received[3]["body"])
    assert updated["financial_status"] == "partially_refunded"
    assert updated["current_subtotal_price"] == "68.00"
    assert updated["current_total_tax"] == "1.60"
    assert updated["updated_at"] > paid["updated_at"]
    assert updated["refunds"][0]["id"] == refund["id"]


def test_cancel_refunds_then_cancels(store, receiver) -> None:
    customer = store.create_customer(SHOP, "bo@example.com", "Bo", "Ek")
    order = store.create_order(SHOP, customer["id"], [{"title": "Mug", "price": "12.50", "quantity": 2}])
    store.cancel_order(SHOP, order["id"], reason="customer")
    assert receiver.topics()[-2:] == ["refunds/create", "orders/cancelled"]
    cancelled = json.loads(receiver.received[-1]["body"])
    assert cancelled["financial_status"] == "refunded" and cancelled["cancel_reason"] == "customer"
    assert cancelled["cancelled_at"] is not None and cancelled["current_subtotal_price"] == "0.00"
    pending = store.create_order(SHOP, customer["id"], [{"title": "Mug", "price": "12.50"}], paid=False)
    assert receiver.topics()[-1] == "orders/cancelled"  # an unpaid order sends nothing
    voided = store.cancel_order(SHOP, pending["id"])
    assert voided["financial_status"] == "voided"


def test_mark_paid_and_edit(store, receiver) -> None:
    order = store.create_order(SHOP, None, [{"title": "Mug", "price": "10.00", "quantity": 3}], paid=False,
                               email="guest@example.com")
    assert receiver.topics() == []
    paid = store.mark_paid(SHOP, order["id"])
    edited = store.edit_order(SHOP, order["id"], remove_lines=[{"line_item_id": order["line_items"][0]["id"], "quantity": 1}])
    assert receiver.topics() == ["orders/paid", "orders/updated"]
    assert edited["current_subtotal_price"] == "20.00" and edited["line_items"][0]["current_quantity"] == 2
    assert edited["updated_at"] > paid["updated_at"] > order["updated_at"]


def test_queued_flush_duplicates_reorders_and_forges(store, receiver) -> None:
    customer = store.create_customer(SHOP, "cy@example.com", "Cy", "Do")
    store.sender.mode = "queue"
    for i in range(20):
        store.create_order(SHOP, customer["id"], [{"title": f"Thing {i}", "price": "10.00"}])
    assert len(receiver.received) == 1  # only customers/create so far
    deliveries = store.sender.flush(duplicate_rate=0.5, shuffle_window=10, seed=7, bad_hmac_rate=0.2)
    authentic = [d for d in deliveries if d.authentic]
    forged = [d for d in deliveries if not d.authentic]
    assert forged and all(d.status == 401 for d in forged)
    assert all(d.status == 200 for d in authentic)
    per_event = Counter(d.event_id for d in authentic)
    assert len(per_event) == 20 and max(per_event.values()) == 2
    for event_id, n in per_event.items():
        if n == 2:
            a, b = [d for d in authentic if d.event_id == event_id]
            assert a.webhook_id == b.webhook_id and a.body == b.body
    order_ids = [json.loads(d.body)["id"] for d in authentic if not d.duplicate]
    assert order_ids != sorted(order_ids)  # reordered
    received_ok = [r for r in receiver.received[1:] if r["ok"]]
    assert len(received_ok) == len(authentic)


def test_failed_delivery_is_retried_with_the_same_webhook_id(store, receiver) -> None:
    receiver.status = 500
    customer = store.create_customer(SHOP, "di@example.com", "Di", "Fo")
    receiver.status = 200
    (retry,) = store.sender.redeliver_failed()
    assert retry.status == 200 and retry.webhook_id == receiver.received[0]["headers"]["x-shopify-webhook-id"]
    assert json.loads(retry.body)["id"] == customer["id"]
    assert store.sender.redeliver_failed() == []


def test_uninstall_then_compliance(store, receiver) -> None:
    customer = store.create_customer(SHOP, "ed@example.com", "Ed", "Gu")
    store.create_order(SHOP, customer["id"], [{"title": "Mug", "price": "9.00"}])
    store.data_request(SHOP, customer["id"])
    store.redact_customer(SHOP, customer["id"])
    store.uninstall(SHOP)
    store.create_order(SHOP, customer["id"], [{"title": "Mug", "price": "9.00"}])  # no subscription any more
    store.redact_shop(SHOP)
    assert receiver.topics() == ["customers/create", "orders/paid", "customers/data_request", "customers/redact",
                                 "app/uninstalled", "shop/redact"]
    paths = {r["headers"]["x-shopify-topic"]: r["path"] for r in receiver.received}
    assert paths["customers/redact"] == paths["shop/redact"] == paths["customers/data_request"] == "/webhooks/compliance"
    assert paths["app/uninstalled"] == "/webhooks"
    redact = json.loads(receiver.received[3]["body"])
    assert redact["customer"]["id"] == customer["id"] and len(redact["orders_to_redact"]) == 1
    assert json.loads(receiver.received[-1]["body"]) == {"shop_id": store.shop(SHOP)["id"], "shop_domain": SHOP}
    assert json.loads(receiver.received[4]["body"])["myshopify_domain"] == SHOP


def test_notify_false_loses_the_webhook(store, receiver) -> None:
    customer = store.create_customer(SHOP, "fi@example.com", "Fi", "Ha", notify=False)
    store.create_order(SHOP, customer["id"], [{"title": "Mug", "price": "9.00"}], notify=False)
    assert receiver.received == [] and len(store.suppressed_events) == 2


def test_control_api_drives_the_store(running, receiver) -> None:
    base = running.base_url
    with httpx.Client(base_url=base) as http:
        assert http.post("/_dev/shops", json={"domain": "second", "currency": "EUR"}).status_code == 201
        customer = http.post("/_dev/shops/second.myshopify.com/customers",
                             json={"email": "gi@example.com", "first_name": "Gi"}).json()
        order = http.post("/_dev/shops/second.myshopify.com/orders", json={
            "customer_id": customer["id"], "lines": [{"title": "Book", "price": "30.00", "quantity": 2}],
            "shipping": "0.00"}).json()
        assert order["currency"] == "EUR" and order["current_subtotal_price"] == "60.00"
        line_id = order["line_items"][0]["id"]
        refund = http.post(f"/_dev/shops/second.myshopify.com/orders/{order['id']}/refunds",
                           json={"lines": [{"line_item_id": line_id, "quantity": 1}]})
        assert refund.status_code == 201 and refund.json()["refund_line_items"][0]["subtotal"] == 30.0
        assert http.get(f"/_dev/shops/second.myshopify.com/orders/{order['id']}").json()["current_subtotal_price"] == "30.00"
        bad = http.post(f"/_dev/shops/second.myshopify.com/orders/{order['id']}/refunds",
                        json={"lines": [{"line_item_id": line_id, "quantity": 5}]})
        assert bad.status_code == 422 and "cannot refund" in bad.json()["error"]
        assert http.post("/_dev/shops/second.myshopify.com/orders", json={"lines": [], "bogus": 1}).status_code == 400
        assert http.get("/_dev/shops/nowhere.myshopify.com").status_code == 404
        token = http.post("/_dev/shops/second.myshopify.com/session_token", json={}).json()["id_token"]
        assert token.count(".") == 2
        assert http.post("/_dev/shops/second.myshopify.com/throttle", json={"n": 1}).json() == {"ok": True}
        deliveries = http.get("/_dev/webhooks/deliveries", params={"shop": "second"}).json()
        assert [d["topic"] for d in deliveries] == ["customers/create", "orders/paid", "refunds/create", "orders/updated"]
        assert all(d["status"] == 200 for d in deliveries)
        http.post("/_dev/webhooks/mode", json={"mode": "queue"})
        http.post(f"/_dev/shops/second.myshopify.com/orders/{order['id']}/cancel", json={})
        assert len(http.get("/_dev/webhooks/queued").json()) == 2
        flushed = http.post("/_dev/webhooks/flush", json={"duplicate_rate": 0, "shuffle_window": 1}).json()
        assert [d["topic"] for d in flushed] == ["refunds/create", "orders/cancelled"]


def test_remote_client_mirrors_the_python_api(running, receiver) -> None:
    from devstore.client import RemoteDevStore, RemoteDevStoreError

    remote = RemoteDevStore(running.base_url)
    try:
        customer = remote.create_customer(SHOP, "hu@example.com", "Hu", "Ig")
        order = remote.create_order(SHOP, customer["id"], [{"title": "Lamp", "price": "40.00"}], shipping="0.00")
        remote.refund(SHOP, order["id"], [{"line_item_id": order["line_items"][0]["id"], "quantity": 1}])
        assert remote.get_order(SHOP, order["id"])["financial_status"] == "refunded"
        token = remote.issue_access_token(SHOP, expiring=True)
        assert token["expires_in"] == 3600 and token["refresh_token"].startswith("shprt_")
        assert [d["topic"] for d in remote.deliveries(shop=SHOP)][-2:] == ["refunds/create", "orders/updated"]
        try:
            remote.refund(SHOP, order["id"], [{"line_item_id": order["line_items"][0]["id"], "quantity": 1}])
            raise AssertionError("expected a refusal")
        except RemoteDevStoreError as exc:
            assert exc.status == 422
    finally:
        remote.close()
