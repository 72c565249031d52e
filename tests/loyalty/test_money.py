"""Money parsing, points ↔ money and shop money formats."""

from __future__ import annotations

from decimal import Decimal

import pytest

from app.loyalty.money import (
    floor_money,
    floor_points,
    format_money,
    money_to_points,
    parse_money,
    points_to_money,
)


@pytest.mark.parametrize("text,expected", [("59.90", "59.90"), ("0", "0"), (" 12.5 ", "12.5"), ("-3.00", "-3.00"), (7, "7")])
def test_parse_money_accepts_shopify_amounts(text: object, expected: str) -> None:
    assert parse_money(text) == Decimal(expected)


@pytest.mark.parametrize("bad", ["NaN", "nan", "inf", "-Infinity", "", "1,50", "12abc", "1e5", None, True, 1.5, [], "sNaN"])
def test_parse_money_refuses_garbage(bad: object) -> None:
    with pytest.raises(ValueError):
        parse_money(bad)


def test_points_and_money() -> None:
    assert points_to_money(500, Decimal("0.01")) == Decimal("5.00")
    assert money_to_points(Decimal("5.00"), Decimal("0.01")) == 500
    assert money_to_points(Decimal("0.019"), Decimal("0.01")) == 1
    assert floor_points(Decimal("449.25")) == 449
    assert floor_points(Decimal("-0.5")) == -1
    assert floor_money(Decimal("5.999")) == Decimal("5.99")


@pytest.mark.parametrize(
    "fmt,expected",
    [
        ("${{amount}}", "$1,234.57"),
        ("{{amount_with_comma_separator}} lei", "1.234,57 lei"),
        ("€{{amount_no_decimals}}", "€1,235"),
        ("{{ amount_no_decimals_with_comma_separator }} kr", "1.235 kr"),
        ("CHF {{amount_with_apostrophe_separator}}", "CHF 1'234.57"),
        ("{{amount_with_space_separator}} €", "1 234,57 €"),
        ("{{amount_with_period_and_space_separator}}", "1 234.57"),
        ("{{amount_no_decimals_with_space_separator}} Ft", "1 235 Ft"),
    ],
)
def test_format_money_with_shop_formats(fmt: str, expected: str) -> None:
    assert format_money(Decimal("1234.567"), fmt) == expected


def test_format_money_small_and_negative() -> None:
    assert format_money(Decimal("5"), "${{amount}}") == "$5.00"
    assert format_money(Decimal("-5"), "${{amount}}") == "$-5.00"
    assert format_money(Decimal("1234567.5"), "{{amount}}") == "1,234,567.50"
