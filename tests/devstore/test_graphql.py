"""Admin GraphQL against the stand-in, through shopify_app's client where it matters."""

from __future__ import annotations

from datetime import timedelta

import pytest

from devstore.models import gql_time
from tests.devstore.devstore_support import SHOP

DISCOUNT = """
mutation CreateReward($discount: DiscountCodeBasicInput!) {
  discountCodeBasicCreate(basicCodeDiscount: $discount) {
    codeDiscountNode {
      id
      codeDiscount {
        __typename
        ... on DiscountCodeBasic {
          title status usageLimit appliesOncePerCustomer endsAt
          codes(first: 1) { nodes { code } }
          customerGets { value { ... on DiscountAmount { amount { amount currencyCode } } } }
          minimumRequirement { ... on DiscountMinimumSubtotal { greaterThanOrEqualToSubtotal { amount } } }
        }
      }
    }
    userErrors { field message code }
  }
}
"""

METAFIELDS = """
mutation Sync($metafields: [MetafieldsSetInput!]!) {
  metafieldsSet(metafields: $metafields) {
    metafields { id namespace key value type }
    userErrors { field message code }
  }
}
"""


@pytest.fixture
def token(running) -> str:
    return running.store.issue_access_token(SHOP)["access_token"]


@pytest.fixture
def customer(running) -> dict:
    return running.store.create_customer(SHOP, "ana@example.com", "Ana", "Lima")


def _discount_input(customer: dict, code: str = "REG-5OFF-AAAA") -> dict:
    return {
        "title": "Regulars reward",
        "code": code,
        "startsAt": "2020-01-01T00:00:00Z",
        "endsAt": "2999-01-01T00:00:00Z",
        "customerSelection": {"customers": {"add": [customer["admin_graphql_api_id"]]}},
        "customerGets": {"value": {"discountAmount": {"amount": "5.00", "appliesOnEachItem": False}},
                         "items": {"all": True}},
        "minimumRequirement": {"subtotal": {"greaterThanOrEqualToSubtotal": "20.00"}},
        "usageLimit": 1,
        "appliesOncePerCustomer": True,
    }


def test_discount_code_created_through_official_client(running, shopify_app, token, customer) -> None:
    result = shopify_app.admin_graphql_request(
        DISCOUNT, shop="demo", access_token=token, api_version="2026-10",
        variables={"discount": _discount_input(customer)}, http_client=running.http,
    )
    assert result.ok, result.log
    payload = result.data["discountCodeBasicCreate"]
    assert payload["userErrors"] == []
    node = payload["codeDiscountNode"]
    assert node["id"].startswith("gid://shopify/DiscountCodeNode/")
    discount = node["codeDiscount"]
    assert discount["__typename"] == "DiscountCodeBasic" and discount["status"] == "ACTIVE"
    assert discount["codes"]["nodes"] == [{"code": "REG-5OFF-AAAA"}]
    assert discount["customerGets"]["value"]["amount"] == {"amount": "5.00", "currencyCode": "USD"}
    assert discount["minimumRequirement"]["greaterThanOrEqualToSubtotal"] == {"amount": "20.00"}
    cost = result.extensions["cost"]
    assert cost["throttleStatus"]["maximumAvailable"] == 2000.0 and cost["throttleStatus"]["restoreRate"] == 100.0

    (stored,) = running.store.discount_codes(SHOP)
    assert stored["code"] == "REG-5OFF-AAAA" and stored["customer_ids"] == [customer["id"]]
    assert stored["usage_limit"] == 1 and stored["minimum_subtotal"] == "20.00" and stored["used"] is False

    # Codes are unique per shop, case-insensitively.
    again = shopify_app.admin_graphql_request(
        DISCOUNT, shop="demo", access_token=token, api_version="2026-10",
        variables={"discount": _discount_input(customer, "reg-5off-aaaa")}, http_client=running.http,
    )
    assert again.data["discountCodeBasicCreate"] == {
        "codeDiscountNode": None,
        "userErrors": [{"field": ["basicCodeDiscount", "code"],
                        "message": "Code must be unique. Please try a different code.", "code": "TAKEN"}],
    }


def test_discount_code_is_marked_used_and_enforced_at_checkout(running, token, customer) -> None:
    running.graphql(token, DISCOUNT, {"discount": _discount_input(customer)})
    line = [{"title": "Mug", "price": "12.00", "quantity": 2}]
    order = running.store.create_order(SHOP, customer["id"], line, discount_codes=[{"code": "REG-5OFF-AAAA"}])
    assert order["discount_codes"] == [{"code": "REG-5OFF-AAAA", "amount": "5.00", "type": "fixed_amount"}]
    assert order["current_subtotal_price"] == "19.00"
    (stored,) = running.store.discount_codes(SHOP)
    assert stored["used"] and stored["used_by_orders"] == [order["id"]] and stored["status"] == "EXPIRED"
    from devstore import DevStoreError

    with pytest.raises(DevStoreError):
        running.store.create_order(SHOP, customer["id"], line, discount_codes=[{"code": "REG-5OFF-AAAA"}])


def test_discount_expiry_and_wrong_customer(running, token, customer) -> None:
    from devstore import DevStoreError

    other = running.store.create_customer(SHOP, "bo@example.com", "Bo", "Ek")
    spec = _discount_input(customer, "REG-EXP")
    spec["endsAt"] = gql_time(running.store.now() + timedelta(days=90))
    running.graphql(token, DISCOUNT, {"discount": spec})
    line = [{"title": "Mug", "price": "30.00"}]
    with pytest.raises(DevStoreError, match="not valid for this customer"):
        running.store.create_order(SHOP, other["id"], line, discount_codes=[{"code": "REG-EXP"}])
    running.store.advance(91 * 86400)
    with pytest.raises(DevStoreError, match="expired"):
        running.store.create_order(SHOP, customer["id"], line, discount_codes=[{"code": "REG-EXP"}])


def test_discount_validation_and_injected_failure(running, token, customer) -> None:
    bad = _discount_input(customer, "")
    bad["customerGets"]["value"] = {"percentage": 1.5}
    errors = running.graphql(token, DISCOUNT, {"discount": bad}).json()["data"]["discountCodeBasicCreate"]["userErrors"]
    assert {e["code"] for e in errors} == {"BLANK", "VALUE_OUTSIDE_RANGE"}

    running.store.fail_discounts(SHOP, 1, message="Shopify is having a bad day", code="INTERNAL_ERROR")
    body = running.graphql(token, DISCOUNT, {"discount": _discount_input(customer)}).json()
    assert body["data"]["discountCodeBasicCreate"]["codeDiscountNode"] is None
    assert body["data"]["discountCodeBasicCreate"]["userErrors"][0]["message"] == "Shopify is having a bad day"
    ok = running.graphql(token, DISCOUNT, {"discount": _discount_input(customer)}).json()
    assert ok["data"]["discountCodeBasicCreate"]["userErrors"] == []


def test_free_shipping_and_delete(running, token, customer) -> None:
    create = """mutation($d: DiscountCodeFreeShippingInput!) { discountCodeFreeShippingCreate(freeShippingCodeDiscount: $d) {
      codeDiscountNode { id codeDiscount { ... on DiscountCodeFreeShipping { title summary } } } userErrors { code } } }"""
    spec = {"title": "Free shipping", "code": "REG-SHIP", "startsAt": "2020-01-01T00:00:00Z",
            "customerSelection": {"customers": {"add": [customer["admin_graphql_api_id"]]}}, "usageLimit": 1}
    node = running.graphql(token, create, {"d": spec}).json()["data"]["discountCodeFreeShippingCreate"]["codeDiscountNode"]
    assert node["codeDiscount"]["summary"] == "Free shipping on all products"
    order = running.store.create_order(SHOP, customer["id"], [{"title": "Tee", "price": "10.00"}], shipping="7.50",
                                       discount_codes=[{"code": "REG-SHIP"}])
    assert order["discount_codes"][0] == {"code": "REG-SHIP", "amount": "7.50", "type": "shipping"}
    assert order["total_shipping_price_set"]["shop_money"]["amount"] == "0.00"
    assert order["current_subtotal_price"] == "10.00"

    delete = "mutation($id: ID!) { discountCodeDelete(id: $id) { deletedCodeDiscountId userErrors { code } } }"
    result = running.graphql(token, delete, {"id": node["id"]}).json()["data"]["discountCodeDelete"]
    assert result == {"deletedCodeDiscountId": node["id"], "userErrors": []}
    assert running.store.discount_codes(SHOP)[0]["deleted"] is True


def test_metafields_set_through_official_client(running, shopify_app, token, customer) -> None:
    owner = customer["admin_graphql_api_id"]
    metafields = [
        {"ownerId": owner, "namespace": "regulars", "key": "points", "type": "number_integer", "value": "1250"},
        {"ownerId": owner, "namespace": "regulars", "key": "tier", "type": "single_line_text_field", "value": "Gold"},
        {"ownerId": owner, "namespace": "regulars", "key": "referral_url", "type": "url",
         "value": "https://demo.myshopify.com/apps/regulars/r/AB12CD34"},
    ]
    result = shopify_app.admin_graphql_request(
        METAFIELDS, shop="demo", access_token=token, api_version="2026-10",
        variables={"metafields": metafields}, http_client=running.http,
    )
    assert result.ok and result.data["metafieldsSet"]["userErrors"] == []
    assert [m["key"] for m in result.data["metafieldsSet"]["metafields"]] == ["points", "tier", "referral_url"]
    stored = running.store.metafields(SHOP, customer["id"])
    assert stored["regulars.points"]["value"] == "1250" and stored["regulars.tier"]["type"] == "single_line_text_field"

    # Invalid values are refused all-or-nothing.
    bad = [dict(metafields[0], value="1300"), dict(metafields[1], value="x"), dict(metafields[0], key="p", value="1.5")]
    body = running.graphql(token, METAFIELDS, {"metafields": bad}).json()["data"]["metafieldsSet"]
    assert body["metafields"] is None and body["userErrors"][0]["field"] == ["metafields", "2", "key"]
    bad = [dict(metafields[0], value="12.5")]
    body = running.graphql(token, METAFIELDS, {"metafields": bad}).json()["data"]["metafieldsSet"]
    # Only the selected fields come back (elementIndex was not asked for).
    assert body["userErrors"] == [{"field": ["metafields", "0", "value"], "message": "Value must be an integer.",
                                   "code": "INVALID_VALUE"}]
    assert running.store.metafields(SHOP, customer["id"])["regulars.points"]["value"] == "1250"


def test_app_namespace_expands_and_follows_the_apps_definitions(running, token, customer) -> None:
    """`$app` (or no namespace) is the app's reserved `app--{client id}`; the definitions declared in
    shopify.app.toml give the type (it may be left out) and refuse another one."""
    store, owner = running.store, customer["admin_graphql_api_id"]
    own = f"app--{store.api_key}"
    assert store.metafield_definition("CUSTOMER", own, "points").type == "number_integer"
    assert store.metafield_definition("CUSTOMER", own, "referral_url").storefront == "public_read"
    metafields = [
        {"ownerId": owner, "namespace": "$app", "key": "points", "value": "1250"},  # type from the definition
        {"ownerId": owner, "key": "tier", "type": "single_line_text_field", "value": "Gold"},  # omitted = $app
        {"ownerId": owner, "namespace": "$app:extra", "key": "note", "type": "single_line_text_field", "value": "x"},
    ]
    body = running.graphql(token, METAFIELDS, {"metafields": metafields}).json()["data"]["metafieldsSet"]
    assert body["userErrors"] == []
    assert [(m["namespace"], m["type"]) for m in body["metafields"]] == [
        (own, "number_integer"), (own, "single_line_text_field"), (f"{own}--extra", "single_line_text_field")]
    assert store.app_metafields(SHOP, customer["id"])["points"]["value"] == "1250"
    read = running.graphql(token, 'query($id: ID!) { customer(id: $id) { a: metafield(namespace: "$app", key: "points")'
                           ' { namespace value } b: metafield(key: "tier") { value } } }', {"id": owner}).json()
    assert read["data"]["customer"] == {"a": {"namespace": own, "value": "1250"}, "b": {"value": "Gold"}}
    for wrong, code in (({"type": "single_line_text_field", "value": "1250"}, "INVALID_TYPE"),  # not the definition's
                        ({"namespace": "app--someone-else"}, "APP_NOT_AUTHORIZED"),
                        ({"namespace": "$other"}, "INVALID")):
        body = running.graphql(token, METAFIELDS, {"metafields": [{**metafields[0], **wrong}]}).json()
        assert body["data"]["metafieldsSet"]["metafields"] is None
        assert body["data"]["metafieldsSet"]["userErrors"][0]["code"] == code, wrong


def test_metafields_delete_names_what_it_deleted(running, token, customer) -> None:
    store, owner = running.store, customer["admin_graphql_api_id"]
    running.graphql(token, METAFIELDS, {"metafields": [
        {"ownerId": owner, "namespace": "regulars", "key": "points", "type": "number_integer", "value": "5"},
        {"ownerId": owner, "namespace": "$app", "key": "points", "value": "5"}]})
    delete = ("mutation($m: [MetafieldIdentifierInput!]!) { metafieldsDelete(metafields: $m) {"
              " deletedMetafields { ownerId namespace key } userErrors { field message } } }")
    gone = running.graphql(token, delete, {"m": [{"ownerId": owner, "namespace": "regulars", "key": "points"},
                                                 {"ownerId": owner, "namespace": "regulars", "key": "tier"}]}).json()
    assert gone["data"]["metafieldsDelete"] == {
        "deletedMetafields": [{"ownerId": owner, "namespace": "regulars", "key": "points"}, None], "userErrors": []}
    assert set(store.metafields(SHOP, customer["id"])) == {f"app--{store.api_key}.points"}


def test_tags_add_remove_and_customers_update_webhook(running, token, customer, receiver) -> None:
    add = "mutation($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { node { id } userErrors { message } } }"
    remove = "mutation($id: ID!, $tags: [String!]!) { tagsRemove(id: $id, tags: $tags) { node { id } userErrors { message } } }"
    gid = customer["admin_graphql_api_id"]
    body = running.graphql(token, add, {"id": gid, "tags": ["regulars-tier-gold", "vip"]}).json()
    assert body["data"]["tagsAdd"] == {"node": {"id": gid}, "userErrors": []}
    running.graphql(token, remove, {"id": gid, "tags": ["vip"]})
    assert running.store.tags(SHOP, customer["id"]) == ["regulars-tier-gold"]
    running.store.sender.wait_idle()
    updates = [r for r in receiver.received if r["headers"]["x-shopify-topic"] == "customers/update"]
    assert len(updates) == 2 and all(r["ok"] for r in updates)


def test_throttled_on_request(running, shopify_app, token) -> None:
    running.store.throttle(SHOP, 1)
    response = running.graphql(token, "{ shop { name } }")
    assert response.status_code == 200
    body = response.json()
    assert body["errors"] == [{"message": "Throttled",
                               "extensions": {"code": "THROTTLED", "documentation": "https://shopify.dev/api/usage/rate-limits"}}]
    assert body["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] == 0
    assert body["extensions"]["cost"]["actualQueryCost"] is None
    running.store.throttle(SHOP, 1)
    result = shopify_app.admin_graphql_request("{ shop { name } }", shop="demo", access_token=token,
                                               api_version="2026-10", http_client=running.http)
    assert not result.ok and result.log.code == "graphql_errors"
    assert shopify_app.admin_graphql_request("{ shop { name } }", shop="demo", access_token=token,
                                             api_version="2026-10", http_client=running.http).ok


def test_cost_bucket_throttles_by_itself(running, token) -> None:
    # 2 + 100 × (1 per order + lineItems: 2 + 3 × 1) = 602: three fit in the 2000-point bucket, not four.
    query = "{ orders(first: 100) { nodes { id lineItems(first: 3) { nodes { id } } } } }"
    answers = [running.graphql(token, query).json() for _ in range(4)]
    assert [("data" in a) for a in answers] == [True, True, True, False]
    assert answers[0]["extensions"]["cost"]["requestedQueryCost"] == 602
    assert answers[2]["extensions"]["cost"]["throttleStatus"]["currentlyAvailable"] < 602
    assert answers[3]["errors"][0]["extensions"]["code"] == "THROTTLED"
    too_big = running.graphql(token, "{ orders(first: 250) { nodes { id lineItems(first: 5) { nodes { id } } } } }")
    assert too_big.json()["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"


def test_fail_next_and_bad_token(running, shopify_app, token) -> None:
    running.store.fail_next(SHOP, 1, status=500)
    assert running.graphql(token, "{ shop { name } }").status_code == 500
    assert running.graphql(token, "{ shop { name } }").status_code == 200
    running.store.fail_next(SHOP, 1, status=503)
    result = shopify_app.admin_graphql_request("{ shop { name } }", shop="demo", access_token=token,
                                               api_version="2026-10", max_retries=0, http_client=running.http)
    assert not result.ok and result.response.status == 503
    response = running.graphql("shpat_bogus", "{ shop { name } }")
    assert response.status_code == 401
    assert response.json() == {"errors": "[API] Invalid API key or access token (unrecognized login or wrong password)"}
    result = shopify_app.admin_graphql_request("{ shop { name } }", shop="demo", access_token="shpat_bogus",
                                               api_version="2026-10", http_client=running.http)
    assert not result.ok and result.response.status == 401


def test_orders_query_updated_since_with_pagination(running, token, customer) -> None:
    store = running.store
    ids = [store.create_order(SHOP, customer["id"], [{"title": f"Item {i}", "price": "10.00"}])["id"] for i in range(5)]
    since = store.now() + timedelta(seconds=30)
    store.advance(60)
    store.refund(SHOP, ids[1], [{"line_item_id": store.get_order(SHOP, ids[1])["line_items"][0]["id"], "quantity": 1}])
    store.edit_order(SHOP, ids[3], note="gift wrap")
    query = """query($q: String!, $after: String) {
      orders(first: 1, after: $after, query: $q, sortKey: UPDATED_AT) {
        edges { cursor node { id legacyResourceId displayFinancialStatus updatedAt
          currentSubtotalPriceSet { shopMoney { amount currencyCode } }
          customer { id legacyResourceId email }
          lineItems(first: 5) { nodes { id isGiftCard quantity originalUnitPriceSet { shopMoney { amount } } } }
          refunds { id createdAt } } }
        pageInfo { hasNextPage endCursor } } }"""
    seen, after = [], None
    while True:
        data = running.graphql(token, query, {"q": f"updated_at:>='{gql_time(since)}'", "after": after}).json()
        page = data["data"]["orders"]
        seen += [e["node"] for e in page["edges"]]
        if not page["pageInfo"]["hasNextPage"]:
            break
        after = page["pageInfo"]["endCursor"]
    assert [int(n["legacyResourceId"]) for n in seen] == [ids[1], ids[3]]
    refunded = seen[0]
    # All items back but not the shipping: Shopify calls that partially refunded.
    assert refunded["displayFinancialStatus"] == "PARTIALLY_REFUNDED"
    assert refunded["currentSubtotalPriceSet"]["shopMoney"] == {"amount": "0.00", "currencyCode": "USD"}
    assert refunded["customer"] == {"id": customer["admin_graphql_api_id"], "legacyResourceId": str(customer["id"]),
                                    "email": "ana@example.com"}
    assert len(refunded["refunds"]) == 1 and refunded["lineItems"]["nodes"][0]["isGiftCard"] is False


def test_customer_query_aliases_fragments_and_unknown_root(running, token, customer) -> None:
    query = """
    query One($id: ID!) {
      first: customer(id: $id) { ...Who tags metafield(namespace: "regulars", key: "points") { value } }
      missing: customer(id: "gid://shopify/Customer/1") { id }
    }
    fragment Who on Customer { id legacyResourceId email firstName lastName }
    """
    data = running.graphql(token, query, {"id": customer["admin_graphql_api_id"]}).json()["data"]
    assert data["first"] == {"id": customer["admin_graphql_api_id"], "legacyResourceId": str(customer["id"]),
                             "email": "ana@example.com", "firstName": "Ana", "lastName": "Lima", "tags": [],
                             "metafield": None}
    assert data["missing"] is None
    body = running.graphql(token, "{ nope { id } }").json()
    assert "data" not in body and body["errors"][0]["extensions"]["code"] == "undefinedField"
    body = running.graphql(token, "{ shop { name ").json()
    assert "Syntax Error" in body["errors"][0]["message"]

    found = running.graphql(token, '{ customers(first: 5, query: "email:ana@example.com") { nodes { id } } }').json()
    assert found["data"]["customers"]["nodes"] == [{"id": customer["admin_graphql_api_id"]}]


def test_requests_are_logged_with_root_fields(running, token, customer) -> None:
    running.graphql(token, METAFIELDS, {"metafields": [
        {"ownerId": customer["admin_graphql_api_id"], "namespace": "regulars", "key": "points",
         "type": "number_integer", "value": "5"}]})
    (call,) = running.store.graphql_calls(SHOP, "metafieldsSet")
    assert call["access_token"] == token and call["api_version"] == "2026-10"
    assert call["variables"]["metafields"][0]["value"] == "5"


def test_uninstall_revokes_tokens(running, token) -> None:
    assert running.graphql(token, "{ shop { name } }").status_code == 200
    running.store.uninstall(SHOP)
    assert running.graphql(token, "{ shop { name } }").status_code == 401
