"""The audit log: every admin action (and every API-key action) recorded with who, what and on what, and read back in words."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.models import ApiKey, AuditLog, Member, Reward, Shop, utcnow

# The canonical action names (`thing.past_tense`) and how the admin says each. The one place label text lives.
ACTIONS: dict[str, str] = {
    "setup.completed": "Setup completed",
    "setup.repeated": "Setup run again",
    "settings.updated": "Settings changed",
    "program.updated": "Program changed",
    "tiers.saved": "Tiers saved",
    "reward.created": "Reward created",
    "reward.updated": "Reward changed",
    "reward.deleted": "Reward deleted",
    "campaign.created": "Campaign created",
    "campaign.updated": "Campaign changed",
    "campaign.paused": "Campaign paused",
    "campaign.resumed": "Campaign resumed",
    "campaign.ended": "Campaign ended",
    "campaign.deleted": "Campaign deleted",
    "custom_action.saved": "Way to earn saved",
    "points.adjusted": "Points adjusted",
    "referral.approved": "Referral approved",
    "referral.rejected": "Referral rejected",
    "api_key.created": "API key created",
    "api_key.revoked": "API key revoked",
    "export.members": "Customers exported",
    "export.ledger": "Points history exported",
    "automation.updated": "Automation changed",
    "texts.updated": "Shopper texts changed",
    "customer.data_requested": "Customer data requested by Shopify",
}

# Names older versions wrote: rows keep them, reads and filters see the canonical name.
LEGACY_ACTIONS: dict[str, str] = {
    "setup_completed": "setup.completed",
    "setup_repeated": "setup.repeated",
    "settings_updated": "settings.updated",
    "tiers_saved": "tiers.saved",
    "campaign_saved": "campaign.updated",
    "custom_action_saved": "custom_action.saved",
    # delete_reward wrote this when deleting was switching off.
    "reward.deactivated": "reward.deleted",
    "api_key_created": "api_key.created",
    "api key created": "api_key.created",
    "api_key_revoked": "api_key.revoked",
    "api key revoked": "api_key.revoked",
    "export_members": "export.members",
    "export_ledger": "export.ledger",
    "automation_updated": "automation.updated",
    "customer_data_request": "customer.data_requested",
}

_ACTORS = {"system": "Regulars", "automation": "Regulars", "demo": "Regulars (demo data)", "shopify": "Shopify",
           "shopify_flow": "Shopify Flow", "app:signed": "Another app (signed request)"}

PAGE_SIZE = 50
# With a text filter, at most this many rows are read for one page; the page then says where to go on.
_SCAN_LIMIT = 5000
_SUMMARY_MAX = 240


def canonical(action: str) -> str:
    return LEGACY_ACTIONS.get(action, action)


def label_of(action: str) -> str:
    name = canonical(action)
    return ACTIONS.get(name) or name.replace(".", " ").replace("_", " ").capitalize()


def record(shop: Shop, actor: str, action: str, *, target_type: str | None = None,
           target_id: str | int | None = None, details: dict[str, Any] | None = None) -> AuditLog:
    """Adds an audit row in the caller's transaction (it commits with the change it describes)."""
    row = AuditLog(shop_id=shop.id, actor=actor, action=canonical(action), target_type=target_type,
                   target_id=str(target_id) if target_id is not None else None, details=details,
                   created_at=utcnow())
    db.session.add(row)
    return row


def record_now(shop: Shop, actor: str, action: str, **kwargs: Any) -> AuditLog:
    """Records an action that changes nothing else (an export) and commits it on its own."""
    row = record(shop, actor, action, **kwargs)
    db.session.commit()
    return row


# --- reading it back in words ----------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    row: AuditLog
    action: str
    label: str
    actor_label: str
    summary: str


@dataclass(frozen=True)
class AuditPage:
    entries: list[Entry]
    next_before: int | None


@dataclass(frozen=True)
class _Names:
    """Names the summaries and actor labels need, read once per page."""

    keys: Mapping[str, str]
    members: Mapping[str, str]
    rewards: Mapping[str, str]


def _id(target: str | None) -> str | None:
    """The target id when it can be a database id (ASCII digits within bigint), else None."""
    return target if target and target.isascii() and target.isdigit() and len(target) < 19 else None


def _names(shop: Shop, rows: Sequence[AuditLog]) -> _Names:
    prefixes = {r.actor.split(":", 1)[1] for r in rows if r.actor.startswith("api_key:")}
    members = {int(t) for r in rows if r.target_type in ("member", "customer") and (t := _id(r.target_id))}
    rewards = {int(t) for r in rows if r.target_type == "reward" and (t := _id(r.target_id))}
    keys = {p: n for p, n in db.session.execute(select(ApiKey.prefix, ApiKey.name).where(
        ApiKey.shop_id == shop.id, ApiKey.prefix.in_(prefixes)))} if prefixes else {}
    people = {str(m.customer_id): m.display_name for m in db.session.execute(select(Member).where(
        Member.shop_id == shop.id, Member.customer_id.in_(members))).scalars()} if members else {}
    reward_names = {str(i): n for i, n in db.session.execute(select(Reward.id, Reward.name).where(
        Reward.shop_id == shop.id, Reward.id.in_(rewards)))} if rewards else {}
    return _Names(keys, people, reward_names)


def actor_label(actor: str, names: _Names | None = None) -> str:
    if actor.startswith("staff:"):
        who = actor.split(":", 1)[1]
        return f"Staff member {who}" if who.isascii() and who.isdigit() else "A staff member"
    if actor.startswith("api_key:"):
        prefix = actor.split(":", 1)[1]
        name = (names.keys if names else {}).get(prefix)
        return f"API key ‘{name}’" if name else f"API key {prefix}…"
    return _ACTORS.get(actor, actor)


def _words(key: str) -> str:
    return key.replace("_", " ").strip()


def _points(value: Any) -> str:
    try:
        n = int(value)
    except (TypeError, ValueError):
        return str(value)
    return f"{n:+,} points" if n else "0 points"


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "on" if value else "off"
    if isinstance(value, str | int | float):
        return str(value)
    return None


def _pairs(values: Mapping[str, Any]) -> str:
    parts = [f"{_words(k)} {v}" for k, v in ((k, _scalar(x)) for k, x in values.items()) if v is not None]
    return ", ".join(parts)


def _quoted(name: Any) -> str:
    return f"‘{name}’" if name not in (None, "") else ""


def _campaign_words(d: Mapping[str, Any]) -> str:
    kind, value = d.get("kind"), d.get("value")
    effect = ""
    if kind == "multiplier" and value is not None:
        effect = f"{str(value).rstrip('0').rstrip('.')}× points"
    elif kind == "bonus" and value is not None:
        effect = f"{_points(str(value).split('.')[0])} per order"
    return " · ".join(p for p in (_quoted(d.get("name")), effect) if p)


def summary_of(row: AuditLog, names: _Names | None = None) -> str:
    """A short line a merchant reads, made from the row's details; never the raw JSON."""
    d: Mapping[str, Any] = row.details if isinstance(row.details, dict) else {}
    action = canonical(row.action)
    target = row.target_id or ""
    members = names.members if names else {}
    text = ""
    if action == "points.adjusted":
        who = members.get(target) or (f"customer {target}" if target else "a customer")
        text = f"{_points(d.get('points'))} for {who}"
        if d.get("reason"):
            text += f": {d['reason']}"
    elif action.startswith("reward."):
        name = d.get("name") or (names.rewards.get(target) if names else None)
        cost = d.get("points_cost")
        text = " · ".join(p for p in (_quoted(name), f"{cost} points" if cost not in (None, "") else "") if p)
    elif action.startswith("campaign."):
        text = _campaign_words(d)
        if d.get("changed"):
            text += f" (changed: {', '.join(_words(k) for k in d['changed'])})"
    elif action in ("settings.updated", "automation.updated"):
        changes = d.get("changes") or d.get("patch") or {}
        changed = ", ".join(_words(k) for k in changes) if isinstance(changes, dict) else ""
        text = (f"{_quoted(target)} " if action == "automation.updated" else "") + (
            f"changed {changed}" if changed else "")
    elif action == "program.updated":
        fields = d.get("fields") or []
        text = "changed " + ", ".join(_words(str(f)) for f in fields) if fields else ""
    elif action == "tiers.saved":
        tiers = d.get("tiers") or []
        text = ", ".join(f"{t.get('name')} from {t.get('threshold')}" for t in tiers if isinstance(t, dict))
    elif action.startswith("api_key."):
        text = " ".join(p for p in (_quoted(d.get("name")), f"({d['prefix']}…)" if d.get("prefix") else "") if p)
    elif action.startswith("setup."):
        choices = d.get("choices")
        text = _pairs(choices) if isinstance(choices, dict) else ""
    elif action.startswith("referral."):
        text = f"referral {target}" + (f" · {_words(str(d['outcome']))}" if d.get("outcome") else "")
    elif action == "customer.data_requested":
        who = members.get(target) or f"customer {target}"
        text = f"data of {who} kept for the merchant"
    elif action == "texts.updated":
        langs = sorted(d.get("texts") or {})
        parts = [f"texts in {', '.join(langs)}" if langs else "",
                 "reward names" if d.get("rewards") else "", "tier names" if d.get("tiers") else ""]
        text = ", ".join(p for p in parts if p)
    elif action.startswith("export."):
        text = "CSV download"
    elif action == "custom_action.saved":
        text = " · ".join(p for p in (_quoted(d.get("name") or target), _points(d.get("points"))
                                      if d.get("points") is not None else "", _words(str(d.get("limit") or ""))) if p)
    else:
        text = _pairs(d)
    text = text.strip() or (f"{_words(row.target_type or '')} {target}".strip())
    text = text[:1].upper() + text[1:]
    return text if len(text) <= _SUMMARY_MAX else text[: _SUMMARY_MAX - 1] + "…"


def _entries(shop: Shop, rows: Sequence[AuditLog]) -> list[Entry]:
    names = _names(shop, rows)
    return [Entry(row=r, action=canonical(r.action), label=label_of(r.action),
                  actor_label=actor_label(r.actor, names), summary=summary_of(r, names)) for r in rows]


def _matches(entry: Entry, needle: str) -> bool:
    r = entry.row
    haystack = " ".join((entry.summary, entry.label, r.target_type or "", r.target_id or "", entry.actor_label))
    return needle in haystack.lower()


def names_of(action: str) -> Iterable[str]:
    """Every stored name of a canonical action: itself and the legacy names that map to it."""
    return [action, *(old for old, new in LEGACY_ACTIONS.items() if new == action)]


def audit_page(shop: Shop, *, before: int | None = None, action: str | None = None, q: str | None = None,
               page_size: int = PAGE_SIZE) -> AuditPage:
    """The newest entries before id `before`, of `action` (a canonical name; legacy rows included), whose
    summary, label or target holds `q` (case-insensitive). `next_before` continues the list (None at its end).

    The summary is made in Python from the details, so a text filter reads rows in batches until the page is
    full or _SCAN_LIMIT rows were read; then next_before says where the next read starts."""
    stmt = select(AuditLog).where(AuditLog.shop_id == shop.id)
    if action:
        stmt = stmt.where(AuditLog.action.in_(list(names_of(action))))
    needle = (q or "").strip().lower()
    if not needle:
        if before:
            stmt = stmt.where(AuditLog.id < before)
        rows = db.session.execute(stmt.order_by(AuditLog.id.desc()).limit(page_size)).scalars().all()
        return AuditPage(_entries(shop, rows), rows[-1].id if len(rows) == page_size else None)
    found: list[Entry] = []
    cursor, scanned, batch = before, 0, 500
    while scanned < _SCAN_LIMIT:
        page = stmt.where(AuditLog.id < cursor) if cursor else stmt
        rows = db.session.execute(page.order_by(AuditLog.id.desc()).limit(batch)).scalars().all()
        for entry in _entries(shop, rows):
            scanned += 1
            cursor = entry.row.id
            if _matches(entry, needle):
                found.append(entry)
                if len(found) == page_size:
                    return AuditPage(found, cursor)
        if len(rows) < batch:
            return AuditPage(found, None)
    return AuditPage(found, cursor)
