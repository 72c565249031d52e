"""The .po catalogues: complete in every language, placeholders intact, every CLDR plural form written, and the
numbers, dates and plurals shoppers read as CLDR has them."""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from babel import Locale

from app.i18n import (
    DEFAULT_LOCALE,
    LOCALES,
    babel_locale,
    catalog,
    keys,
    messages,
    pick_locale,
    placeholders,
    plural_tags,
    translator,
)
from app.loyalty.ledger import ENTRY_KINDS
from app.loyalty.rewards import RefusalReason

ROOT = Path(__file__).resolve().parents[2]
OTHERS = [loc for loc in LOCALES if loc != DEFAULT_LOCALE]
_CLDR_ORDER = ("zero", "one", "two", "few", "many", "other")


@pytest.mark.parametrize("locale", LOCALES)
def test_every_text_is_translated_with_every_plural_form(locale: str) -> None:
    own = messages(locale)
    assert set(own) == set(keys()), f"{locale}: keys differ from the English catalogue"
    for key, english in messages(DEFAULT_LOCALE).items():
        msg = own[key]
        assert msg.english == english.english, f"{locale}/{key}: msgid differs from the English catalogue"
        expected = catalog(locale).num_plurals if english.plural else 1
        assert len(msg.forms) == expected and all(f.strip() for f in msg.forms), f"{locale}/{key}: {msg.forms}"


@pytest.mark.parametrize("locale", LOCALES)
def test_every_catalogue_follows_the_template(locale: str) -> None:
    """messages.pot is what `pybabel update` merges into each catalogue; none may drift from it, and no entry
    is left fuzzy (a guess of pybabel's that nobody checked)."""
    from babel.messages.pofile import read_po

    with (ROOT / "app/translations/messages.pot").open("rb") as fh:
        template = read_po(fh)
    wanted = [(m.context, m.id) for m in template if m.id]
    got = [(m.context, m.id) for m in catalog(locale) if m.id]
    assert got == wanted
    assert not [m.context for m in catalog(locale) if m.id and m.fuzzy]


@pytest.mark.parametrize("locale", LOCALES)
def test_placeholders_match_the_english(locale: str) -> None:
    for key, english in messages(DEFAULT_LOCALE).items():
        wanted = set().union(*(placeholders(e) for e in english.english))
        for form in messages(locale)[key].forms:
            assert placeholders(form) == wanted, f"{locale}/{key}: {form!r} names {placeholders(form)}, not {wanted}"
        if english.plural:
            assert "n" in wanted, f"{key}: a plural text names its count {{n}}"


@pytest.mark.parametrize("locale", LOCALES)
def test_plural_forms_are_cldrs(locale: str) -> None:
    rules = babel_locale(locale).plural_form
    cldr = sorted(rules.tags | {"other"}, key=_CLDR_ORDER.index)
    tags = plural_tags(locale)
    assert sorted(tags, key=_CLDR_ORDER.index) == cldr and len(set(tags)) == len(tags)
    assert catalog(locale).num_plurals == len(cldr)
    # Each gettext form is the CLDR category its name says, for every count up to 1000.
    t = translator(locale)
    forms = messages(locale)["points_n"].forms
    for count in range(0, 1001):
        assert t.template("points_n", count) == forms[tags.index(rules(count))], (locale, count)


def test_romanian_counts_take_their_three_forms() -> None:
    t = translator("ro")
    assert [t("points_n", n=k) for k in (1, 2, 19, 20, 101, 1000, 1500)] == [
        "1 punct", "2 puncte", "19 puncte", "20 de puncte", "101 puncte", "1.000 de puncte", "1.500 de puncte"]
    # A fraction is CLDR's "few" in Romanian, "other" in English.
    assert t("earn_order", n=Decimal("1.5"), unit="1,00 RON") == "1,5 puncte pentru fiecare 1,00 RON cheltuit"
    assert translator("en")("earn_order", n=Decimal("1.5"), unit="$1.00") == "1.5 points for every $1.00 you spend"
    assert translator("en")("points_n", n=1) == "1 point"


def test_dates_and_numbers_are_cldrs() -> None:
    day = date(2026, 12, 1)
    assert translator("el").date(day) == "1 Δεκεμβρίου 2026"  # the genitive month after a day
    assert translator("el").month_name(12) == "Δεκέμβριος"  # the nominative on its own
    assert translator("ro").date(day) == "1 decembrie 2026"
    assert translator("zh-CN").date(day) == "2026年12月1日"
    assert translator("en").date(day) == "December 1, 2026"
    assert translator("el").month_day(2, 29) == "29 Φεβρουαρίου"
    assert [translator(loc).number(1234567) for loc in LOCALES] == [
        "1,234,567", "1.234.567", "1.234.567", "1,234,567", "1,234,567"]
    assert translator("el").money(Decimal("1234.5"), "EUR") == "1.234,50\u00a0€"
    assert translator("en").money(Decimal("5"), "CHF") == "CHF\u00a05.00"
    assert translator("en").money(Decimal("5"), "USD") == "$5.00"


def test_chinese_texts_use_full_width_punctuation() -> None:
    ascii_marks = re.compile(r"[,:;!?()]")
    for key, msg in messages("zh-CN").items():
        for form in msg.forms:
            bare = re.sub(r"\{[a-z_]+\}", "", form)
            assert not ascii_marks.search(bare), f"zh-CN/{key}: {form!r}"


def test_a_label_is_spaced_from_what_follows_except_after_full_width_punctuation() -> None:
    assert translator("zh-CN").label("tier_label") == "您的等级："
    assert translator("en").label("tier_label") == "Your tier: "
    assert translator("el").label("perks") == "Προνόμια: "


def test_every_text_the_pages_ask_for_exists() -> None:
    used: set[str] = set()
    for path in (ROOT / "app/templates/proxy").glob("*.html"):
        used |= set(re.findall(r"\bt(?:\.label)?\('([a-z0-9_]+)'(?!\s*[+~])", path.read_text(encoding="utf-8")))
    routes = (ROOT / "app/proxy/routes.py").read_text(encoding="utf-8")
    used |= set(re.findall(r'_outcome\("[a-z]+", "([a-z0-9_]+)"(?!\s*\+)', routes))
    used |= set(re.findall(r'error="([a-z0-9_]+)"', routes))
    used |= {f"kind_{kind}" for kind in ENTRY_KINDS}
    used |= {f"reason_{reason}" for reason in RefusalReason.__args__}
    assert len(used) > 60
    assert used <= set(keys()), sorted(used - set(keys()))


def test_the_storefront_locale_picks_the_language() -> None:
    cases = {None: "en", "": "en", "zh-CN": "zh-CN", "zh-TW": "zh-CN", "zh": "zh-CN", "EL": "el", "ro-RO": "ro",
             "ro_RO": "ro", " th ": "th", "fr": "en", "pt-BR": "en"}
    assert {k: pick_locale(k) for k in cases} == cases


def test_a_missing_text_falls_back_to_english_then_to_its_key() -> None:
    t = translator("ro")
    assert t("no_such_text") == "no_such_text"
    assert Locale.parse("ro") == t.babel


def test_overrides_win_per_language_and_per_plural_form() -> None:
    overrides = {"ro": {"title": "Puncte de fidelitate", "points_n#other": "{n} de steluțe"}, "el": {"title": "Δώρα"}}
    t = translator("ro-RO", overrides)
    assert t("title") == "Puncte de fidelitate"
    assert t("points_n", n=20) == "20 de steluțe" and t("points_n", n=2) == "2 puncte"
    assert translator("en", overrides)("title") == "Rewards"
    assert translator("el", overrides)("title") == "Δώρα"


def test_flask_babel_reads_the_same_catalogues(pg_app: Any) -> None:
    import flask_babel

    from app.i18n import use_locale

    with pg_app.test_request_context():
        use_locale("ro-RO")
        assert flask_babel.npgettext("points_n", "{n} point", "{n} points", 20) == "{n} de puncte"
        assert flask_babel.pgettext("title", "Rewards") == "Recompense"
        assert flask_babel.format_decimal(12345) == "12.345"
