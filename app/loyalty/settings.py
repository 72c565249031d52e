"""A shop's program settings (every number of loyalty-rules.md with its default) and their validation."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from decimal import Decimal, InvalidOperation
from typing import Any, Final, Literal

ReversalPolicy = Literal["allow_negative", "cap_at_zero"]
TierMetric = Literal["points_earned", "amount_spent", "orders"]
TierWindow = Literal["lifetime", "rolling_12_months", "calendar_year"]
ExpiryMode = Literal["none", "inactivity"]

REVERSAL_POLICIES: Final = ("allow_negative", "cap_at_zero")
TIER_METRICS: Final = ("points_earned", "amount_spent", "orders")
TIER_WINDOWS: Final = ("lifetime", "rolling_12_months", "calendar_year")
EXPIRY_MODES: Final = ("none", "inactivity")


@dataclass(frozen=True)
class ProgramSettings:
    """Every per-shop setting of the program; the defaults are those of loyalty-rules.md."""

    enabled: bool = True
    points_per_currency_unit: Decimal = Decimal("5")
    point_value: Decimal = Decimal("0.01")
    include_shipping: bool = False
    include_taxes: bool = False
    allow_test_orders: bool = False
    pending_days: int = 14
    reversal_policy: ReversalPolicy = "allow_negative"
    signup_points: int = 100
    birthday_points: int = 100
    anniversary_points: int = 0  # 0 = off
    tier_metric: TierMetric = "points_earned"
    tier_window: TierWindow = "lifetime"
    downgrade_grace_days: int = 30
    code_expiry_days: int = 90
    refund_expired_codes: bool = False
    referral_friend_discount: Decimal = Decimal("10.00")
    referral_advocate_points: int = 500
    referral_monthly_limit: int = 10
    expiry_mode: ExpiryMode = "none"
    expiry_days: int = 365
    expiry_reminder_days: tuple[int, ...] = (30, 7)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ProgramSettings:
        """Build settings from stored JSON (as written by ``to_dict``); missing keys take their default.

        Raises ``SettingsError`` (a ``ValueError``) naming every invalid field.
        """
        settings, errors = validate_settings_patch(cls(), data)
        if errors:
            raise SettingsError(errors)
        return settings

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: Decimals as strings, the reminder days as a list."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, Decimal):
                value = str(value)
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out


class SettingsError(ValueError):
    """Invalid settings; ``errors`` maps each field to a message a merchant can read."""

    def __init__(self, errors: Mapping[str, str]) -> None:
        self.errors = dict(errors)
        super().__init__("; ".join(f"{k}: {v}" for k, v in sorted(self.errors.items())))


class _Invalid(Exception):
    pass


def _bool(value: object) -> bool:
    if not isinstance(value, bool):
        raise _Invalid("must be true or false")
    return value


def _int(low: int, high: int) -> Callable[[object], int]:
    def check(value: object) -> int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Invalid("must be a whole number")
        if value < low:
            raise _Invalid(f"must be at least {low}")
        if value > high:
            raise _Invalid(f"must be at most {high}")
        return value

    return check


def _decimal(low: Decimal, *, strictly_above: bool = False, high: Decimal | None = None) -> Callable[[object], Decimal]:
    def check(value: object) -> Decimal:
        # JSON numbers arrive as float; their shortest repr ("5.5") is what the merchant typed.
        if isinstance(value, bool) or not isinstance(value, str | int | float | Decimal):
            raise _Invalid("must be a number")
        try:
            number = Decimal(repr(value)) if isinstance(value, float) else Decimal(value)
        except (InvalidOperation, ValueError):
            raise _Invalid("must be a number") from None
        if not number.is_finite():
            raise _Invalid("must be a finite number")
        if strictly_above and number <= low:
            raise _Invalid(f"must be greater than {low}")
        if number < low:
            raise _Invalid(f"must be at least {low}")
        if high is not None and number > high:
            raise _Invalid(f"must be at most {high}")
        return number

    return check


def _choice(options: tuple[str, ...]) -> Callable[[object], str]:
    def check(value: object) -> str:
        if value not in options:
            raise _Invalid("must be one of " + ", ".join(options))
        assert isinstance(value, str)
        return value

    return check


def _reminders(value: object) -> tuple[int, ...]:
    if not isinstance(value, list | tuple):
        raise _Invalid("must be a list of whole numbers of days")
    days = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int) or item < 1:
            raise _Invalid("every reminder must be a whole number of days, at least 1")
        days.append(item)
    if len(set(days)) != len(days):
        raise _Invalid("reminder days must be different")
    if len(days) > 5:
        raise _Invalid("at most 5 reminders")
    return tuple(sorted(days, reverse=True))


_MAX_DAYS = 3650
_VALIDATORS: dict[str, Callable[[object], object]] = {
    "enabled": _bool,
    "points_per_currency_unit": _decimal(Decimal(0), high=Decimal(10000)),
    "point_value": _decimal(Decimal(0), strictly_above=True),
    "include_shipping": _bool,
    "include_taxes": _bool,
    "allow_test_orders": _bool,
    "pending_days": _int(0, 365),
    "reversal_policy": _choice(REVERSAL_POLICIES),
    "signup_points": _int(0, 10**9),
    "birthday_points": _int(0, 10**9),
    "anniversary_points": _int(0, 10**9),
    "tier_metric": _choice(TIER_METRICS),
    "tier_window": _choice(TIER_WINDOWS),
    "downgrade_grace_days": _int(0, _MAX_DAYS),
    "code_expiry_days": _int(1, _MAX_DAYS),
    "refund_expired_codes": _bool,
    "referral_friend_discount": _decimal(Decimal(0)),
    "referral_advocate_points": _int(0, 10**9),
    "referral_monthly_limit": _int(1, 10**6),
    "expiry_mode": _choice(EXPIRY_MODES),
    "expiry_days": _int(1, _MAX_DAYS),
    "expiry_reminder_days": _reminders,
}


def validate_settings_patch(
    current: ProgramSettings, patch: Mapping[str, Any]
) -> tuple[ProgramSettings, dict[str, str]]:
    """Apply ``patch`` (any subset of the settings, JSON values) to ``current``, all or nothing.

    Returns ``(new_settings, {})`` when every field is valid, else ``(current, errors)`` with one message
    per bad field: unknown keys, wrong types (booleans must be true/false, counts whole numbers, money
    and rates numbers or numeric strings), negatives, unknown enum values, and reminders not shorter
    than ``expiry_days``. Nothing is applied when any field is wrong.
    """
    errors: dict[str, str] = {}
    changes: dict[str, object] = {}
    for key, value in patch.items():
        validator = _VALIDATORS.get(key)
        if validator is None:
            errors[key] = "unknown setting"
            continue
        try:
            changes[key] = validator(value)
        except _Invalid as exc:
            errors[key] = str(exc)
    if errors:
        return current, errors
    candidate = replace(current, **changes)  # type: ignore[arg-type]
    too_late = [d for d in candidate.expiry_reminder_days if d >= candidate.expiry_days]
    if too_late:
        field = "expiry_reminder_days" if "expiry_reminder_days" in patch or "expiry_days" not in patch else "expiry_days"
        errors[field] = f"reminders must come before expiry ({candidate.expiry_days} days)"
        return current, errors
    return candidate, {}
