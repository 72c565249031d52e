"""Money as Decimal: parsing Shopify amounts, points ↔ money, flooring, and shop money formats."""

from __future__ import annotations

import re
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Context, Decimal, InvalidOperation, localcontext

CENT = Decimal("0.01")

# Enough digits that no product of amounts, rates and multipliers is rounded before we floor it.
_EXACT = Context(prec=60)


def parse_money(value: object) -> Decimal:
    """Parse a Shopify money amount (``"59.90"``, ``"0"``, an int or a Decimal) into a finite Decimal.

    Raises ``ValueError`` for anything else: floats (money is never float), booleans, None, empty or
    garbage strings, NaN and infinities.
    """
    if isinstance(value, bool) or value is None or isinstance(value, float):
        raise ValueError(f"not a money amount: {value!r}")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int):
        result = Decimal(value)
    elif isinstance(value, str):
        text = value.strip()
        if not re.fullmatch(r"[+-]?(\d+(\.\d*)?|\.\d+)", text):
            raise ValueError(f"not a money amount: {value!r}")
        try:
            result = Decimal(text)
        except InvalidOperation as exc:  # pragma: no cover - the regex already rules this out
            raise ValueError(f"not a money amount: {value!r}") from exc
    else:
        raise ValueError(f"not a money amount: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite money amount: {value!r}")
    return result


def exact_product(*factors: Decimal | int) -> Decimal:
    """Multiply Decimals without any intermediate rounding (60 significant digits)."""
    with localcontext(_EXACT):
        result = Decimal(1)
        for factor in factors:
            result = result * Decimal(factor)
        return result


def floor_points(value: Decimal) -> int:
    """Whole points from an exact Decimal, always rounding down (449.25 → 449, -0.5 → -1)."""
    return int(value.to_integral_value(rounding=ROUND_FLOOR))


def floor_money(amount: Decimal, places: int = 2) -> Decimal:
    """Round money down to ``places`` decimals (5.999 → 5.99)."""
    return amount.quantize(Decimal(1).scaleb(-places), rounding=ROUND_FLOOR)


def points_to_money(points: int, point_value: Decimal) -> Decimal:
    """The money worth of ``points`` at ``point_value`` per point (500 × 0.01 → 5.00), exact, not rounded."""
    return exact_product(points, point_value)


def money_to_points(amount: Decimal, point_value: Decimal) -> int:
    """How many whole points ``amount`` is worth at ``point_value`` per point, rounded down."""
    if point_value <= 0:
        raise ValueError("point_value must be positive")
    with localcontext(_EXACT):
        return floor_points(amount / point_value)


# Shopify's money_format placeholders: (decimals, thousands separator, decimal separator)
_FORMATS: dict[str, tuple[int, str, str]] = {
    "amount": (2, ",", "."),
    "amount_no_decimals": (0, ",", "."),
    "amount_with_comma_separator": (2, ".", ","),
    "amount_no_decimals_with_comma_separator": (0, ".", ","),
    "amount_with_apostrophe_separator": (2, "'", "."),
    "amount_no_decimals_with_space_separator": (0, " ", "."),
    "amount_with_space_separator": (2, " ", ","),
    "amount_with_period_and_space_separator": (2, " ", "."),
}
_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\s*\}\}")


def _group(amount: Decimal, decimals: int, thousands: str, decimal_sep: str) -> str:
    rounded = amount.quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP)
    sign, _, _ = rounded.as_tuple()
    text = f"{abs(rounded):f}"
    whole, _, frac = text.partition(".")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    out = thousands.join(groups)
    if decimals:
        out += decimal_sep + frac
    return ("-" if sign and rounded != 0 else "") + out


def format_money(amount: Decimal, money_format: str = "${{amount}}") -> str:
    """Render ``amount`` with a shop's ``money_format`` (``"${{amount}}"``, ``"{{amount_with_comma_separator}} lei"``).

    Supports every Shopify placeholder (amount, amount_no_decimals, amount_with_comma_separator,
    amount_no_decimals_with_comma_separator, amount_with_apostrophe_separator,
    amount_no_decimals_with_space_separator, amount_with_space_separator,
    amount_with_period_and_space_separator); spaces inside the braces are allowed. Rounds half up.
    An unknown placeholder is rendered as ``amount``. HTML in the format is left as it is: escape the
    result where it goes into a page.
    """

    def replace(match: re.Match[str]) -> str:
        decimals, thousands, decimal_sep = _FORMATS.get(match.group(1), _FORMATS["amount"])
        return _group(amount, decimals, thousands, decimal_sep)

    if not _PLACEHOLDER.search(money_format):
        return _group(amount, 2, ",", ".")
    return _PLACEHOLDER.sub(replace, money_format)
