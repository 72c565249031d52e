"""The one text rule (what may be stored and shown) and the one rule for staff-entered links."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from app.loyalty.links import link_problem, safe_link
from app.loyalty.text import clean_json, clean_text, is_clean, json_text_may_need_cleaning


@given(st.text())
def test_cleaned_text_holds_no_control_character_or_surrogate_and_is_utf8(value):
    cleaned = clean_text(value)
    assert is_clean(cleaned) and clean_text(cleaned) == cleaned
    cleaned.encode("utf-8")  # never raises: PostgreSQL can store it
    assert all(c in "\t\n\r" or ord(c) >= 0x20 for c in cleaned)


@pytest.mark.parametrize("value, expected", [("An\x00a", "Ana"), ("a\tb\nc\rd", "a\tb\nc\rd"), ("\x01\x1f", ""),
                                             ("\ud800x", "\ufffdx"), ("Zoë 日本", "Zoë 日本"), ("\x7f", "\x7f")])
def test_clean_text(value, expected):
    assert clean_text(value) == expected


@given(st.recursive(st.none() | st.booleans() | st.integers() | st.text(),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(), kids, max_size=3)))
def test_every_escape_that_decodes_to_an_unclean_string_is_noticed(value):
    """The cheap pre-check on JSON text never lets a value through that cleaning would change."""
    raw = json.dumps(value)
    decoded = json.loads(raw)
    if not json_text_may_need_cleaning(raw):
        assert clean_json(decoded) == decoded


@pytest.mark.parametrize("url", ["https://shop.example/follow", "https://x.example:8443/a?b=c#d",
                                 "HTTPS://X.EXAMPLE/"])
def test_https_links_are_kept(url):
    assert link_problem(url) is None and safe_link(url) == url


@pytest.mark.parametrize("url", ["javascript:alert(1)", "JavaScript:alert(1)", "data:text/html,x", "//evil.example",
                                 "/relative", "http://x.example", "ftp://x.example", "https://", "https://u@x.example",
                                 "https://x.example/a b", "https://x.example\\@evil", "https://x.example:99999999/",
                                 "", "x" * 600, None, 5, {"href": "https://x.example"}])
def test_anything_else_is_refused_and_never_a_link(url):
    assert link_problem(url) is not None and safe_link(url) is None


def test_http_only_when_allowed():
    assert link_problem("http://127.0.0.1:9/x", allow_http=True) is None
    assert link_problem("http://127.0.0.1:9/x") is not None
    assert link_problem("javascript:alert(1)", allow_http=True) is not None
