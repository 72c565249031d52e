"""The shopper's languages (en, el, ro, th, zh-CN): .po catalogues, CLDR plurals, numbers, money and dates by Babel.

app/translations/<dir>/LC_MESSAGES/messages.po holds one entry per text: msgctxt is the text's key (what the
templates ask for and what merchants override), msgid (and msgid_plural) the English. The catalogues are read
from the .po files at first use and kept per worker, so a fresh clone needs no compile step and no compiled
binary is committed. Flask-Babel is wired to the same catalogues (init_app) for `gettext` and `_` in templates.
"""

from __future__ import annotations

import gettext
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache, cached_property, lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel import Locale
from babel.dates import format_date as babel_format_date
from babel.dates import format_skeleton, get_month_names
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_currency, format_decimal
from babel.support import Translations
from flask import Flask, g, has_request_context
from flask_babel import Babel, Domain, refresh

LOCALES = ("en", "el", "ro", "th", "zh-CN")
DEFAULT_LOCALE = "en"
TRANSLATIONS_DIR = Path(__file__).resolve().parent.parent / "translations"
# Storefront code → the catalogue's folder (gettext's spelling) and Babel's CLDR locale.
_FOLDERS = {"en": "en", "el": "el", "ro": "ro", "th": "th", "zh-CN": "zh_CN"}
_CLDR = {"en": "en", "el": "el", "ro": "ro", "th": "th", "zh-CN": "zh_Hans_CN"}
PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_LETTER_DIGIT = re.compile(r"(?<=[^\W\d_])(?=\d)|(?<=\d)(?=[^\W\d_])")
_NUMBERS = (int, Decimal, float)
# The parameter whose value chooses the plural form; every plural text carries it.
COUNT = "n"


def pick_locale(value: str | None) -> str:
    """Shopify's `request.locale.iso_code` ("zh-CN", "el", "ro-RO", "EN") → one we speak, else English."""
    if not value:
        return DEFAULT_LOCALE
    text = value.strip().replace("_", "-")
    lowered = text.lower()
    for code in LOCALES:
        if lowered == code.lower():
            return code
    base = lowered.split("-", 1)[0]
    if base == "zh":
        return "zh-CN"
    return base if base in LOCALES else DEFAULT_LOCALE


def babel_locale(locale: str) -> Locale:
    return _cldr(pick_locale(locale))


@cache
def _cldr(locale: str) -> Locale:
    return Locale.parse(_CLDR[locale])


def po_path(locale: str) -> Path:
    return TRANSLATIONS_DIR / _FOLDERS[locale] / "LC_MESSAGES" / "messages.po"


@cache
def catalog(locale: str) -> Catalog:
    """The locale's catalogue as Babel reads it (plural rules from the header, CLDR's for the language)."""
    with po_path(locale).open("rb") as fh:
        return read_po(fh, locale=_FOLDERS[locale], domain="messages")


@dataclass(frozen=True)
class Message:
    key: str
    # The English: one text, or the singular and the plural.
    english: tuple[str, ...]
    # The locale's texts in gettext's order of plural forms (one text when not plural); empty when untranslated.
    forms: tuple[str, ...]

    @property
    def plural(self) -> bool:
        return len(self.english) > 1


@cache
def messages(locale: str) -> dict[str, Message]:
    """key → Message for one locale, in the catalogue's order."""
    out: dict[str, Message] = {}
    for entry in catalog(locale):
        if not entry.id or not entry.context:
            continue
        english = tuple(entry.id) if isinstance(entry.id, tuple | list) else (entry.id,)
        forms = tuple(entry.string) if isinstance(entry.string, tuple | list) else (entry.string,)
        out[entry.context] = Message(entry.context, english, tuple(f or "" for f in forms) if any(forms) else ())
    return out


def keys() -> list[str]:
    """Every text's key, in the English catalogue's order (the English catalogue is the reference)."""
    return list(messages(DEFAULT_LOCALE))


@cache
def plural_tags(locale: str) -> tuple[str, ...]:
    """CLDR's name ("one", "few", "other"…) of each gettext plural form of the locale's catalogue, in order.

    Found by walking whole numbers through both rules: gettext's expression (which form the catalogue uses)
    and CLDR's (which category the number is in); they agree on every form, so each index gets one name.
    """
    cat, rules = catalog(locale), _cldr(locale).plural_form
    tags: list[str | None] = [None] * cat.num_plurals
    chooser = _gettext_plural(locale)
    for k in range(0, 1000):
        index = chooser(k)
        if tags[index] is None:
            tags[index] = rules(k)
        if all(tags):
            break
    return tuple(t or "other" for t in tags)


@cache
def _gettext_plural(locale: str) -> Any:
    return gettext.c2py(catalog(locale).plural_expr)


def plural_index(locale: str, count: Any) -> int:
    """Which form of the locale's plural texts `count` takes: CLDR's category for fractions (1.5 is "few" in
    Romanian, "other" in English), gettext's rule for whole numbers."""
    tags = plural_tags(locale)
    if isinstance(count, bool) or not isinstance(count, _NUMBERS):
        return len(tags) - 1
    value = Decimal(str(count)) if isinstance(count, float) else Decimal(count)
    if value == value.to_integral_value():
        return int(_gettext_plural(locale)(abs(int(value))))
    tag = _cldr(locale).plural_form(abs(value))
    return tags.index(tag) if tag in tags else len(tags) - 1


def placeholders(text: str) -> set[str]:
    return set(PLACEHOLDER.findall(text))


def fill(text: str, params: Mapping[str, Any]) -> str:
    """`{name}` placeholders replaced; unknown ones left as written (a merchant's text never raises)."""
    return PLACEHOLDER.sub(lambda m: str(params[m.group(1)]) if m.group(1) in params else m.group(0), text)


def override_key(key: str, tag: str | None) -> str:
    """The key a merchant's override is stored under: the text's key, with `#one`/`#few`/… for a plural form."""
    return key if tag is None else f"{key}#{tag}"


def default_text(locale: str, key: str, tag: str | None = None) -> str | None:
    """The catalogue's text for a key (and CLDR plural form) in one locale, None when it has no such text."""
    msg = messages(locale).get(key)
    if msg is None or not msg.forms:
        return None
    if tag is None:
        return None if msg.plural else msg.forms[0]
    if not msg.plural:
        return None
    tags = plural_tags(locale)
    return msg.forms[tags.index(tag)] if tag in tags and tags.index(tag) < len(msg.forms) else None


def text_keys(locale: str) -> list[tuple[str, str | None]]:
    """(key, plural form or None) of every text a merchant may override in this locale."""
    out: list[tuple[str, str | None]] = []
    for key, msg in messages(DEFAULT_LOCALE).items():
        if msg.plural:
            out.extend((key, tag) for tag in plural_tags(locale))
        else:
            out.append((key, None))
    return out


class Translator:
    """`t("key", n=3, tier="Gold")`: the merchant's text for the locale when they wrote one, else the
    catalogue's, else the English; the plural form chosen by `n`; numbers in the locale's digits."""

    def __init__(self, locale: str, overrides: Mapping[str, Any] | None = None) -> None:
        self.locale = locale
        self.babel = _cldr(locale)
        self._own = messages(locale)
        self._en = messages(DEFAULT_LOCALE)
        self._overrides = {k: v for k, v in (overrides or {}).items() if isinstance(v, str) and v}

    def template(self, key: str, count: Any = None) -> str:
        """The text before its placeholders are filled."""
        en = self._en.get(key)
        own = self._own.get(key)
        plural = en is not None and en.plural
        if plural:
            index = plural_index(self.locale, count)
            tag = plural_tags(self.locale)[index]
            mine = self._overrides.get(override_key(key, tag))
            if mine:
                return mine
            if own is not None and index < len(own.forms) and own.forms[index]:
                return own.forms[index]
            assert en is not None
            return en.english[plural_index(DEFAULT_LOCALE, count)]
        mine = self._overrides.get(key)
        if mine:
            return mine
        if own is not None and own.forms and own.forms[0]:
            return own.forms[0]
        return en.english[0] if en is not None else key

    def __call__(self, key: str, **params: Any) -> str:
        text = self.template(key, params.get(COUNT))
        if not params:
            return text
        shown = {k: self.number(v) if _is_number(v) else v for k, v in params.items()}
        return fill(text, shown)

    def label(self, key: str) -> str:
        """A label that runs into what follows ("Your tier: ", "您的等级："): a space after it, except after
        full-width punctuation, which carries its own."""
        text = self(key)
        last = text[-1:]
        full_width = bool(last) and ("\u3000" <= last <= "\u303f" or "\uff00" <= last <= "\uffef")
        return text if full_width else text + " "

    def has(self, key: str) -> bool:
        return key in self._en

    # The one place a number, a sum of money or a date a shopper reads is formatted (CLDR through Babel).
    def number(self, value: Any) -> str:
        return _number(self.locale, Decimal(str(value)) if isinstance(value, float) else value)

    def money(self, amount: Any, currency: str | None) -> str:
        value = Decimal(str(amount)) if not isinstance(amount, Decimal) else amount
        return _money(self.locale, value, (currency or "USD").upper())

    def date(self, value: date | datetime) -> str:
        """"December 1, 2026", "1 Δεκεμβρίου 2026" (Greek's genitive month), "2026年12月1日"."""
        return _date(self.locale, value.date() if isinstance(value, datetime) else value)

    def month_day(self, month: int, day: int) -> str:
        """A birthday without its year: "December 1", "1 Δεκεμβρίου", "12月1日" (2000: Feb 29 exists)."""
        return str(format_skeleton("MMMMd", date(2000, month, day), locale=self.babel))

    def month_name(self, month: int) -> str:
        """The month on its own, as a menu shows it (Greek's nominative "Δεκέμβριος")."""
        return str(get_month_names("wide", "stand-alone", self.babel)[month])

    def name(self, default: str, names: Mapping[str, Any] | None) -> str:
        """A reward's or tier's name in this language when the merchant gave one."""
        own = (names or {}).get(self.locale)
        return own if isinstance(own, str) and own else default


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBERS) and not isinstance(value, bool)


# A widget shows the same few numbers, sums and days again and again (20 history lines of one day); Babel's
# formatting is the costliest part of rendering it, so each result is kept per worker.
@lru_cache(maxsize=8192)
def _number(locale: str, value: int | Decimal) -> str:
    return str(format_decimal(value, locale=_cldr(locale)))


@lru_cache(maxsize=4096)
def _money(locale: str, value: Decimal, currency: str) -> str:
    text = str(format_currency(value, currency, locale=_cldr(locale)))
    # CLDR's currencySpacing, which Babel leaves out: a code made of letters ("RON", "CHF") stands apart
    # from the digits by a no-break space ("RON 5.00"), a sign ("$", "US$") does not.
    return _LETTER_DIGIT.sub("\u00a0", text)


@lru_cache(maxsize=4096)
def _date(locale: str, value: date) -> str:
    return str(babel_format_date(value, "long", locale=_cldr(locale)))


def translator(locale: str | None, overrides: Mapping[str, Mapping[str, Any]] | None = None) -> Translator:
    """The translator for a storefront locale; `overrides` is the shop's {locale: {key: text}}."""
    code = pick_locale(locale)
    own = (overrides or {}).get(code) if isinstance(overrides, Mapping) else None
    return Translator(code, own if isinstance(own, Mapping) else None)


# ------------------------------------------------------------------------------------ Flask-Babel


@cache
def gettext_translations(locale: str) -> Translations:
    """The catalogue as gettext Translations, compiled in memory from the .po (no .mo on disk)."""
    buf = BytesIO()
    write_mo(buf, catalog(locale))
    buf.seek(0)
    return Translations(buf, domain="messages")


def _selected_locale() -> str:
    # Set by the storefront routes from Shopify's locale (pick_locale); English elsewhere.
    return _CLDR[g.get("regulars_locale", DEFAULT_LOCALE)] if has_request_context() else _CLDR[DEFAULT_LOCALE]


def use_locale(locale: str) -> None:
    """Flask-Babel's locale (gettext, format_* in templates) for the rest of this request."""
    g.regulars_locale = pick_locale(locale)
    refresh()


class _Catalogues(Domain):  # type: ignore[misc]
    """Flask-Babel's gettext/ngettext (and `_` in templates) over the same in-memory catalogues as Translator."""

    def get_translations(self) -> Translations:
        return gettext_translations(pick_locale(g.get("regulars_locale")) if has_request_context()
                                    else DEFAULT_LOCALE)


class _Babel(Babel):  # type: ignore[misc]
    @cached_property
    def domain_instance(self) -> Domain:
        return _Catalogues()


def init_app(app: Flask) -> None:
    _Babel(app, locale_selector=_selected_locale, default_translation_directories=str(TRANSLATIONS_DIR))
