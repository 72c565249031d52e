"""Where the analytics SQL differs between PostgreSQL (production) and SQLite (the embedded demo default).

PostgreSQL keeps exactly the statements it was tuned with. SQLite differs where it would change a figure or
fail: it stores money as floating point (so sums add whole cents, exact, and come back as cents), timestamps
as text 'YYYY-MM-DD HH:MM:SS.ffffff' (parameters are bound in that form so text comparisons are time
comparisons), and it has no bool_or, date_trunc, percentile_disc or advisory locks.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import bindparam, text

from app.extensions import db

# Which orders count: paid or partially refunded, not cancelled, not test, with a customer.
PAID = ("o.financial_status IN ('paid', 'partially_refunded') AND o.cancelled = false AND o.test = false "
        "AND o.customer_id IS NOT NULL")


@dataclass(frozen=True)
class Flavour:
    sqlite: bool
    any_member: str  # per customer: did any of their counted orders belong to a member
    customer_revenue: str  # analytics_customers.revenue from the customer's facts
    money_sum: str  # a money sum by the dashboard: {0} the column, {1} an aggregate FILTER; read with money
    month: str  # the UTC month of timestamp {0}, as a date or 'YYYY-MM-01'
    month_start: str  # the UTC instant the month of timestamp {0} began, comparable to a timestamp column
    in_customers: str  # "customer_id is one of :customer_ids" (see over_customers)


POSTGRES = Flavour(
    sqlite=False,
    any_member="bool_or(member_after_at IS NOT NULL)",
    customer_revenue="COALESCE(SUM(total_price), 0)",
    money_sum="COALESCE(SUM({0}){1}, 0)",
    month="date_trunc('month', {0} AT TIME ZONE 'UTC')",
    month_start="date_trunc('month', {0} AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'",
    in_customers="= ANY(CAST(:customer_ids AS bigint[]))",
)
SQLITE = Flavour(
    sqlite=True,
    any_member="MAX(member_after_at IS NOT NULL)",
    customer_revenue="SUM(CAST(ROUND(total_price * 100) AS INTEGER)) / 100.0",
    money_sum="SUM(CAST(ROUND({0} * 100) AS INTEGER)){1}",
    month="substr({0}, 1, 7) || '-01'",
    # A stored 'YYYY-MM-DD …' sorts below 'YYYY-MM-01' exactly when it is before that month began.
    month_start="substr({0}, 1, 7) || '-01'",
    in_customers="IN :customer_ids",
)


def flavour() -> Flavour:
    return SQLITE if db.engine.dialect.name == "sqlite" else POSTGRES


def money(value: Any, fl: Flavour) -> Decimal:
    """A money sum of Flavour.money_sum: PostgreSQL's numeric as is; SQLite's whole cents (None when nothing
    was summed, which PostgreSQL's COALESCE turns into 0)."""
    if not fl.sqlite:
        return Decimal(value)
    return Decimal(0) if value is None else Decimal(int(value)).scaleb(-2)


def bind(params: dict[str, Any], fl: Flavour) -> dict[str, Any]:
    """Statement parameters; on SQLite timestamps in the stored text form (UTC), so that comparing them with
    stored timestamps compares instants (the driver's own form, '…+00:00', would not)."""
    if not fl.sqlite:
        return params
    return {k: sqlite_at(v) if isinstance(v, datetime) else v for k, v in params.items()}


def sqlite_at(at: datetime) -> str:
    if at.tzinfo is None:
        raise ValueError("naive datetime given as a UTC timestamp")
    return at.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")


def over_customers(sql: str, fl: Flavour) -> Any:
    """A statement over :customer_ids: one array parameter on PostgreSQL, an expanded IN list on SQLite."""
    stmt = text(sql)
    return stmt.bindparams(bindparam("customer_ids", expanding=True)) if fl.sqlite else stmt


def expanding(name: str) -> Any:
    """A list parameter expanded to an IN list on both databases."""
    return bindparam(name, expanding=True)


def aware(value: Any) -> datetime:
    """A stored timestamp as an aware UTC datetime (SQLite hands back text or naive values)."""
    if not isinstance(value, datetime):
        value = datetime.fromisoformat(str(value))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def pg_days(micros: int) -> Decimal:
    """PostgreSQL's EXTRACT(EPOCH FROM gap) / 86400.0 for a gap of this many microseconds: the dividend is
    numeric with 6 decimals, and numeric division keeps at least 16 significant digits (select_div_scale in
    PostgreSQL's numeric.c, on base-10000 digits), rounding half away from zero."""
    seconds = Decimal(micros).scaleb(-6)
    if micros == 0:
        weight, first_digit = 0, 0
    else:
        weight = abs(seconds).adjusted() // 4  # position of the leading base-10000 digit
        first_digit = int(abs(seconds).scaleb(-4 * weight))
    # The divisor 86400.0: weight 1, leading base-10000 digit 8, 1 decimal.
    qweight = weight - 1 - (1 if first_digit <= 8 else 0)
    scale = min(max(16 - 4 * qweight, 6, 1, 0), 1000)
    quotient, remainder = divmod(abs(micros) * 10 ** scale, 86_400_000_000)
    if 2 * remainder >= 86_400_000_000:
        quotient += 1
    return Decimal(quotient if micros >= 0 else -quotient).scaleb(-scale)
