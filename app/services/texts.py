"""The merchant's own words for shoppers: per-language overrides of the catalogue's texts and per-language names
of rewards and tiers. Reads them as the admin's Languages screen shows them and saves them, validated. Commits."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from app.extensions import db
from app.i18n import LOCALES, default_text, override_key, placeholders, plural_tags, text_keys
from app.inputs import parse_id
from app.loyalty.text import clean_text
from app.models import Reward, Shop, Tier
from app.services import audit

# A shopper-facing text is a sentence or two; a reward's name is as long as its column allows, a tier's too.
MAX_TEXT = 500
MAX_REWARD_NAME = 128
MAX_TIER_NAME = 64


class TextsRefused(Exception):
    """What the request asked cannot be saved: `status` (422 invalid, 404 no such reward or tier) and, per field,
    the reason in plain words (`texts.ro.points_n#few`: …)."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields or {}


def _all_text_keys() -> list[tuple[str, str, str | None]]:
    """(stored key, message key, plural form) of every overridable text over every locale, in catalogue order;
    a plural text's forms in CLDR's order (one, few, other), each once."""
    seen: dict[str, tuple[str, str, str | None]] = {}
    order = ("zero", "one", "two", "few", "many", "other")
    for locale in LOCALES:
        for key, tag in text_keys(locale):
            seen.setdefault(override_key(key, tag), (override_key(key, tag), key, tag))
    by_message: dict[str, list[tuple[str, str, str | None]]] = {}
    for item in seen.values():
        by_message.setdefault(item[1], []).append(item)
    out: list[tuple[str, str, str | None]] = []
    for items in by_message.values():
        out.extend(sorted(items, key=lambda i: order.index(i[2]) if i[2] in order else -1))
    return out


def _overrides(shop: Shop) -> dict[str, dict[str, str]]:
    raw = shop.text_overrides if isinstance(shop.text_overrides, dict) else {}
    return {loc: {k: v for k, v in texts.items() if isinstance(v, str)}
            for loc, texts in raw.items() if loc in LOCALES and isinstance(texts, dict)}


def _names(row: Reward | Tier) -> dict[str, str]:
    raw = row.names if isinstance(row.names, dict) else {}
    return {loc: v for loc, v in raw.items() if loc in LOCALES and isinstance(v, str)}


def _rewards(shop: Shop) -> list[Reward]:
    # Deleted (deactivated) rewards are gone from the storefront, so they have nothing to be named in.
    return list(db.session.execute(select(Reward).where(Reward.shop_id == shop.id, Reward.active.is_(True))
                                   .order_by(Reward.position, Reward.id)).scalars())


def _tiers(shop: Shop) -> list[Tier]:
    return sorted(db.session.execute(select(Tier).where(Tier.shop_id == shop.id)).scalars(),
                  key=lambda t: (t.threshold, t.position, t.id))


def texts_document(shop: Shop) -> dict[str, Any]:
    """GET /api/admin/texts: every text with its default and the merchant's override per language, and the
    rewards' and tiers' names per language. A plural text is one entry per CLDR form ("points_n#few"), present
    in the languages that have that form."""
    overrides = _overrides(shop)
    texts = []
    for stored, key, tag in _all_text_keys():
        default = {loc: text for loc in LOCALES if (text := default_text(loc, key, tag)) is not None}
        entry: dict[str, Any] = {
            "key": stored, "default": default,
            "override": {loc: overrides[loc][stored] for loc in LOCALES if stored in overrides.get(loc, {})},
            "placeholders": sorted(placeholders(next(iter(default.values()), ""))),
        }
        if tag is not None:
            entry["message"], entry["plural_form"] = key, tag
        texts.append(entry)
    return {
        "locales": list(LOCALES),
        # The CLDR plural forms each language's plural texts take, in order ("ro": one, few, other).
        "plural_forms": {loc: list(plural_tags(loc)) for loc in LOCALES},
        "texts": texts,
        "rewards": [{"id": r.id, "name": r.name, "names": _names(r)} for r in _rewards(shop)],
        "tiers": [{"id": t.id, "name": t.name, "names": _names(t)} for t in _tiers(shop)],
    }


def _text_value(raw: Any, cap: int) -> tuple[str | None, str | None]:
    """(the cleaned text or None for "back to the default", the error) for one submitted value."""
    if raw is None:
        return None, None
    if not isinstance(raw, str):
        return None, "must be a text, or null to go back to the default"
    text = clean_text(raw).strip()
    if not text:
        return None, None
    if len(text) > cap:
        return None, f"must be at most {cap} characters"
    return text, None


def _object(value: Any, field: str, errors: dict[str, str]) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        errors[field] = "must be an object"
        return {}
    return value


def _validate_texts(body: dict[str, Any], errors: dict[str, str]) -> dict[str, dict[str, str | None]]:
    known = {loc: {override_key(k, t): (k, t) for k, t in text_keys(loc)} for loc in LOCALES}
    out: dict[str, dict[str, str | None]] = {}
    for locale, texts in _object(body.get("texts"), "texts", errors).items():
        if locale not in LOCALES:
            errors[f"texts.{locale}"] = f"is not a language of the storefront ({', '.join(LOCALES)})"
            continue
        for stored, raw in _object(texts, f"texts.{locale}", errors).items():
            field = f"texts.{locale}.{stored}"
            if stored not in known[locale]:
                errors[field] = "is not a text shoppers see in this language"
                continue
            text, problem = _text_value(raw, MAX_TEXT)
            if problem:
                errors[field] = problem
                continue
            if text is not None:
                key, tag = known[locale][stored]
                wanted = placeholders(default_text(locale, key, tag) or "")
                got = placeholders(text)
                if got != wanted:
                    names = ", ".join("{" + p + "}" for p in sorted(wanted)) or "no placeholders"
                    errors[field] = f"must keep the placeholders of the default text: {names}"
                    continue
            out.setdefault(locale, {})[stored] = text
    return out


def _validate_names(body: dict[str, Any], what: str, cap: int, errors: dict[str, str]
                    ) -> dict[int, dict[str, str | None]]:
    out: dict[int, dict[str, str | None]] = {}
    for raw_id, names in _object(body.get(what), what, errors).items():
        row_id = parse_id(raw_id)
        if row_id is None:
            errors[f"{what}.{raw_id}"] = "is not an id"
            continue
        for locale, raw in _object(names, f"{what}.{raw_id}", errors).items():
            field = f"{what}.{raw_id}.{locale}"
            if locale not in LOCALES:
                errors[field] = f"is not a language of the storefront ({', '.join(LOCALES)})"
                continue
            name, problem = _text_value(raw, cap)
            if problem:
                errors[field] = problem
                continue
            out.setdefault(row_id, {})[locale] = name
    return out


def _rows(rows: list[Reward] | list[Tier], changes: dict[int, dict[str, str | None]], what: str
          ) -> dict[int, Reward | Tier]:
    """The shop's rows the changes name; another shop's id (or a deleted reward's) names nothing here: 404."""
    by_id: dict[int, Reward | Tier] = {row.id: row for row in rows}
    missing = [row_id for row_id in changes if row_id not in by_id]
    if missing:
        raise TextsRefused(404, "not_found", f"no such {what} in this shop: {', '.join(map(str, missing))}")
    return by_id


def _apply_names(by_id: dict[int, Reward | Tier], changes: dict[int, dict[str, str | None]]) -> list[int]:
    for row_id, names in changes.items():
        row = by_id[row_id]
        merged = _names(row)
        for locale, name in names.items():
            if name is None:
                merged.pop(locale, None)
            else:
                merged[locale] = name
        row.names = merged  # a new dict: the JSON column sees the change
    return sorted(changes)


def update_texts(shop: Shop, body: dict[str, Any], actor: str) -> dict[str, Any]:
    """PUT /api/admin/texts: {"texts": {locale: {key: text|null}}, "rewards": {id: {locale: name|null}},
    "tiers": {id: {locale: name|null}}}; null (or an empty text) goes back to the default. All or nothing."""
    errors: dict[str, str] = {}
    unknown = sorted(set(body) - {"texts", "rewards", "tiers"})
    for name in unknown:
        errors[name] = "is not part of the languages settings (texts, rewards, tiers)"
    texts = _validate_texts(body, errors)
    rewards = _validate_names(body, "rewards", MAX_REWARD_NAME, errors)
    tiers = _validate_names(body, "tiers", MAX_TIER_NAME, errors)
    if errors:
        raise TextsRefused(422, "invalid", "some texts cannot be saved", errors)
    if not (texts or rewards or tiers):
        return texts_document(shop)  # nothing asked: nothing to save or audit
    reward_rows = _rows(_rewards(shop), rewards, "reward") if rewards else {}
    tier_rows = _rows(_tiers(shop), tiers, "tier") if tiers else {}
    renamed_rewards = _apply_names(reward_rows, rewards)
    renamed_tiers = _apply_names(tier_rows, tiers)
    if texts:
        merged = _overrides(shop)
        for locale, changes in texts.items():
            own = merged.setdefault(locale, {})
            for stored, text in changes.items():
                if text is None:
                    own.pop(stored, None)
                else:
                    own[stored] = text
        shop.text_overrides = {loc: own for loc, own in merged.items() if own}
    audit.record(shop, actor, "texts.updated", target_type="shop", target_id=shop.id, details={
        "texts": {loc: sorted(changes) for loc, changes in texts.items()},
        "rewards": renamed_rewards, "tiers": renamed_tiers,
    })
    db.session.commit()
    return texts_document(shop)
