"""The write-back's wire format: the app-owned customer metafields, their GraphQL documents and answers.

Shopify asks apps to keep their data under their own reserved namespace: `$app` in every API call, which
Shopify expands to `app--{client id}`; in Liquid a theme app extension reads `customer.metafields['app--{id}']`.
The definitions (type, name, who may read) are declared in shopify.app.toml (`[customer.metafields.app.<key>]`)
and must stay in step with `FIELDS` below (tests/test_app_config.py checks it).

The namespace the app wrote before (`regulars`, merchant-owned and without definitions) is only ever deleted.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

APP_NAMESPACE = "$app"
LEGACY_NAMESPACE = "regulars"
LEGACY_KEYS = ("points", "tier", "referral_url")
METAFIELDS_PER_CALL = 25  # metafieldsSet's and metafieldsDelete's limit per call


@dataclass(frozen=True)
class MemberFields:
    """What the write-back puts on one customer, in the domain's words."""

    customer_id: int
    points: int
    pending_points: int
    tier: str | None
    tier_progress: int  # percent of the way to the next tier (100 at the top tier)
    referral_url: str


# key → metafield type, as declared in shopify.app.toml.
FIELDS: dict[str, str] = {
    "points": "number_integer",
    "pending_points": "number_integer",
    "tier": "single_line_text_field",
    "tier_progress": "number_integer",
    "referral_url": "url",
}
FIELDS_PER_MEMBER = len(FIELDS)
MEMBERS_PER_CALL = METAFIELDS_PER_CALL // FIELDS_PER_MEMBER

METAFIELDS_SET = (
    "mutation RegularsSync($metafields: [MetafieldsSetInput!]!) {"
    " metafieldsSet(metafields: $metafields) { metafields { id } userErrors { field message code elementIndex } } }"
)
METAFIELDS_DELETE = (
    "mutation RegularsLegacyDelete($metafields: [MetafieldIdentifierInput!]!) {"
    " metafieldsDelete(metafields: $metafields) { deletedMetafields { key namespace ownerId } userErrors { field message } } }"
)
TAGS_ADD = "mutation RegularsTagAdd($id: ID!, $tags: [String!]!) { tagsAdd(id: $id, tags: $tags) { userErrors { field message } } }"
TAGS_REMOVE = (
    "mutation RegularsTagRemove($id: ID!, $tags: [String!]!) { tagsRemove(id: $id, tags: $tags) { userErrors { field message } } }"
)


def customer_gid(customer_id: int) -> str:
    return f"gid://shopify/Customer/{int(customer_id)}"


def _values(fields: MemberFields) -> dict[str, str]:
    return {
        "points": str(int(fields.points)),
        "pending_points": str(int(fields.pending_points)),
        # Shopify refuses a blank value; "none" reads plainly in a theme and filters plainly in a segment.
        "tier": fields.tier or "none",
        "tier_progress": str(max(0, min(100, int(fields.tier_progress)))),
        "referral_url": fields.referral_url,
    }


def set_inputs(members: Iterable[MemberFields]) -> list[dict[str, Any]]:
    """metafieldsSet's input for these members, FIELDS_PER_MEMBER consecutive entries each, in order."""
    out: list[dict[str, Any]] = []
    for m in members:
        owner = customer_gid(m.customer_id)
        for key, value in _values(m).items():
            # The type is the definition's; sent anyway so a shop where the definitions are not deployed yet
            # still gets typed values.
            out.append({"ownerId": owner, "namespace": APP_NAMESPACE, "key": key, "type": FIELDS[key], "value": value})
    return out


def legacy_identifiers(customer_ids: Iterable[int]) -> list[dict[str, str]]:
    """metafieldsDelete's input: the old merchant-owned `regulars.*` values of these customers."""
    return [{"ownerId": customer_gid(cid), "namespace": LEGACY_NAMESPACE, "key": key}
            for cid in customer_ids for key in LEGACY_KEYS]


@dataclass(frozen=True)
class SetOutcome:
    ok: bool  # metafieldsSet is all-or-nothing: either every value was written or none was
    refused_members: frozenset[int]  # positions (in the call's member order) Shopify named in its errors
    errors: tuple[dict[str, Any], ...]


def parse_set(data: Mapping[str, Any]) -> SetOutcome:
    result = data.get("metafieldsSet") or {}
    errors = tuple(result.get("userErrors") or [])
    refused = frozenset(e["elementIndex"] // FIELDS_PER_MEMBER for e in errors
                        if isinstance(e.get("elementIndex"), int))
    ok = not errors or bool(result.get("metafields"))
    return SetOutcome(ok, refused, errors)


def parse_delete(data: Mapping[str, Any]) -> tuple[dict[str, Any], ...]:
    """The userErrors of a metafieldsDelete (a value that did not exist is no error)."""
    return tuple((data.get("metafieldsDelete") or {}).get("userErrors") or [])


__all__ = [
    "APP_NAMESPACE",
    "FIELDS",
    "FIELDS_PER_MEMBER",
    "LEGACY_KEYS",
    "LEGACY_NAMESPACE",
    "MEMBERS_PER_CALL",
    "METAFIELDS_DELETE",
    "METAFIELDS_PER_CALL",
    "METAFIELDS_SET",
    "MemberFields",
    "SetOutcome",
    "TAGS_ADD",
    "TAGS_REMOVE",
    "customer_gid",
    "legacy_identifiers",
    "parse_delete",
    "parse_set",
    "set_inputs",
]
