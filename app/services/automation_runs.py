"""Deciding and firing automation steps, set-based: a few INSERT … SELECT and UPDATE statements per flow
and step, whatever the number of members (no Python loop per member, except to give an incentive).

One run of a flow, with `now` given:
1. the goal: active entries whose member ordered after the trigger leave (`converted`);
2. entries with no step left, or long past their last step, end (`completed`);
3. members whose trigger came in the entry window enter (holdout and A/B half fixed now, by the same stable
   hash as app.loyalty.automations.bucket, restated in SQL);
4. from the last step to the first, entries whose step came due move to it (one step at a time: a late run
   skips to the latest due step) with one step run each (unique per entry and step: never fired twice);
5. due runs fire: an `automation_step` outbox event (set-based), or, with an incentive, bonus points or a
   one-use code and then the event; holdout runs were only counted, they get nothing.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import bindparam, func, select, text

from app.extensions import db
from app.loyalty import ledger as rules
from app.loyalty.automations import ENTRY_GRACE_DAYS, FLOW_KEYS, Automation, Step
from app.loyalty.dates import days_observed_on
from app.models import AutomationStepRun, Shop, utcnow
from app.models.types import UTCDateTime
from app.services.automations import ensure_row, of_row
from app.services.events import note_outbox_written
from app.services.ledger import emit_event, lock_member, post_entry
from app.services.program import active_shops
from app.services.redemption import RedemptionFailed, RedemptionRefused, issue_gift_code
from app.services.rewards import RewardNotFound

log = logging.getLogger(__name__)

INCENTIVE_BATCH = 200


# ------------------------------------------------------------------------------------------- SQL flavour


class _Flavour:
    def __init__(self, dialect: str) -> None:
        self.pg = dialect == "postgresql"

    def bucket(self, prefix_param: str, col: str) -> str:
        """(first four bytes of SHA-256(prefix || customer id)) mod 100 — app.loyalty.automations.bucket."""
        if self.pg:
            return (f"(('x' || lpad(substr(encode(sha256(convert_to(:{prefix_param} || ({col})::text, 'UTF8')), 'hex'),"
                    f" 1, 8), 16, '0'))::bit(64)::bigint % 100)")
        return f"regulars_bucket(:{prefix_param}, {col})"

    def epoch(self, col: str) -> str:
        return f"(cast(extract(epoch from {col}) as bigint))::text" if self.pg else f"strftime('%s', {col})"

    def month_day(self, col: str) -> tuple[str, str]:
        if self.pg:
            return (f"extract(month from ({col} at time zone 'UTC'))::int", f"extract(day from ({col} at time zone 'UTC'))::int")
        return (f"cast(strftime('%m', {col}) as integer)", f"cast(strftime('%d', {col}) as integer)")

    def json_text(self, col: str, key: str) -> str:
        return f"({col}->>'{key}')" if self.pg else f"json_extract({col}, '$.{key}')"

    def json_int(self, col: str, key: str) -> str:
        return f"({col}->>'{key}')::int" if self.pg else f"json_extract({col}, '$.{key}')"

    def json_object(self, pairs: list[tuple[str, str]]) -> str:
        fn = "jsonb_build_object" if self.pg else "json_object"
        return f"{fn}(" + ", ".join(f"'{k}', {v}" for k, v in pairs) + ")"

    def true(self) -> str:
        return "true" if self.pg else "1"


def _sqlite_bucket(prefix: str, customer_id: Any) -> int:
    digest = hashlib.sha256(f"{prefix}{customer_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


def _flavour() -> _Flavour:
    fl = _Flavour(db.session.get_bind().dialect.name)
    if not fl.pg:
        raw: Any = db.session.connection().connection.driver_connection
        raw.create_function("regulars_bucket", 2, _sqlite_bucket, deterministic=True)
    return fl


def _exec(sql: str, params: dict[str, Any]) -> int:
    """Runs one statement; datetimes are bound as UTC columns are (SQLite keeps them naive), lists expand."""
    binds = []
    used = set(re.findall(r"(?<![:\w]):(\w+)", sql))
    for name, value in params.items():
        if name not in used:
            continue
        if isinstance(value, datetime):
            binds.append(bindparam(name, value, type_=UTCDateTime()))
        elif isinstance(value, (list, tuple, frozenset, set)):
            binds.append(bindparam(name, list(value), expanding=True))
        else:
            binds.append(bindparam(name, value))
    result = db.session.execute(text(sql).bindparams(*binds))
    return int(getattr(result, "rowcount", 0) or 0)


# ------------------------------------------------------------------------------------------- one flow


@dataclass
class FlowRun:
    flow: str
    entered: int = 0
    converted: int = 0
    fired: dict[str, int] | None = None
    holdout: dict[str, int] | None = None

    def __post_init__(self) -> None:
        self.fired = self.fired or {}
        self.holdout = self.holdout or {}


def _audience(a: Automation, params: dict[str, Any], now: datetime) -> str:
    where = ["m.shop_id = :shop", "m.enrolled_at IS NOT NULL", "m.deleted_at IS NULL", "m.redacted_at IS NULL"]
    if a.tier_ids:
        params["tier_ids"] = sorted(a.tier_ids)
        where.append("m.tier_id IN :tier_ids")
    segs = []
    if "new" in a.segments:
        segs.append("m.orders_count = 0")
    if "returning" in a.segments:
        segs.append("m.orders_count > 0")
    if "birthday_month" in a.segments:
        params["this_month"] = now.month
        segs.append("m.birthday_month = :this_month")
    if segs:
        where.append("(" + " OR ".join(segs) + ")")
    return " AND ".join(where)


def _days_back(now: datetime) -> list[date]:
    today = now.date()
    return [today - timedelta(days=i) for i in range(ENTRY_GRACE_DAYS + 1)]


# After this many rows written in one statement, PostgreSQL's statistics of the table are refreshed at once:
# on a fresh table the planner (and the foreign-key checks' cached plans) would otherwise still believe it
# empty and scan it whole for every row of the next statement, which is quadratic.
ANALYZE_AFTER = 1000


def _analyze(fl: _Flavour, table: str, written: int) -> None:
    if fl.pg and written >= ANALYZE_AFTER:
        db.session.execute(text(f"ANALYZE {table}"))


def _enter(fl: _Flavour, shop: Shop, a: Automation, now: datetime) -> int:
    """Step 3: new entries for the triggers in the entry window (ON CONFLICT: one entry per trigger, one
    active entry per member and flow)."""
    params: dict[str, Any] = {"shop": shop.id, "flow": a.key, "now": now, "holdout": a.holdout_percent,
                              "hp": f"{shop.domain}:{a.key}:", "ap": f"{shop.domain}:{a.key}:ab:"}
    aud = _audience(a, params, now)
    first, last = a.first_offset_seconds, a.last_offset_seconds
    params["entry_to"] = now - timedelta(seconds=first)
    params["entry_from"] = now - timedelta(seconds=last) - timedelta(days=ENTRY_GRACE_DAYS)
    cols = ("shop_id, flow, member_id, customer_id, entry_key, trigger_at, detail, holdout, variant, position, entered_at")
    head = f"INSERT INTO automation_enrollments ({cols}) "
    groups = (f"{fl.bucket('hp', 'm.customer_id')} < :holdout, "
              f"CASE WHEN {fl.bucket('ap', 'm.customer_id')} >= 50 THEN 'b' ELSE 'a' END, 0, :now")
    tail = " ON CONFLICT DO NOTHING"
    window = "BETWEEN :entry_from AND :entry_to"
    statements: list[tuple[str, dict[str, Any]]] = []
    if a.key in ("welcome", "first_repeat", "post_purchase", "reactivation"):
        trigger = {"welcome": "m.enrolled_at", "first_repeat": "m.first_order_at"}.get(a.key, "m.last_order_at")
        key = {"welcome": "'joined'", "first_repeat": "'first'"}.get(a.key, fl.epoch("m.last_order_at"))
        extra = " AND m.orders_count = 1" if a.key == "first_repeat" else ""
        statements.append((head + f"SELECT :shop, :flow, m.id, m.customer_id, {key}, {trigger}, NULL, {groups} "
                           f"FROM members m WHERE {aud}{extra} AND {trigger} IS NOT NULL AND {trigger} {window}" + tail,
                           params))
    elif a.key in ("birthday", "anniversary"):
        month_sql, day_sql = fl.month_day("m.enrolled_at")
        for d in _days_back(now):
            # The rule's own calendar (29 Feb on 28 Feb of other years); every day observed on d is in d's month.
            days = [day for _, day in days_observed_on(d)]
            p = {**params, "day_start": datetime.combine(d, time(), UTC), "year": str(d.year), "bm": d.month,
                 "bd": days, "year_start": datetime(d.year, 1, 1, tzinfo=UTC)}
            if a.key == "birthday":
                cond = "m.birthday_month = :bm AND m.birthday_day IN :bd"
            else:
                cond = f"{month_sql} = :bm AND {day_sql} IN :bd AND m.enrolled_at < :year_start"
            statements.append((head + f"SELECT :shop, :flow, m.id, m.customer_id, :year, :day_start, NULL, {groups} "
                               f"FROM members m WHERE {aud} AND {cond}" + tail, p))
    elif a.key == "tier_change":
        statements.append((head + f"SELECT :shop, :flow, m.id, m.customer_id, 'tc:' || tc.id, tc.created_at, tc.direction, "
                           f"{groups} FROM tier_changes tc JOIN members m ON m.id = tc.member_id "
                           f"WHERE tc.shop_id = :shop AND {aud} AND tc.created_at {window}" + tail, params))
    elif a.key == "points_expiring":
        expires = fl.json_text("o.payload", "expires_on")
        p = {**params, "entry_from": now - timedelta(days=40), "entry_to": now}
        statements.append((head + f"SELECT :shop, :flow, m.id, m.customer_id, {expires}, min(o.created_at), NULL, {groups} "
                           f"FROM outbox_events o JOIN members m ON m.id = o.member_id "
                           f"WHERE o.shop_id = :shop AND o.kind = 'points_expiring' AND {aud} AND o.created_at {window} "
                           f"AND {expires} IS NOT NULL GROUP BY m.id, m.customer_id, {expires}" + tail, p))
    entered = sum(_exec(sql, p) for sql, p in statements)
    _analyze(fl, "automation_enrollments", entered)
    return entered


def _exit_converted(shop: Shop, a: Automation, now: datetime) -> int:
    """Step 1: the goal. A counted order after the trigger takes the member out."""
    return _exec(
        "UPDATE automation_enrollments SET exited_at = :now, exit_reason = 'converted' "
        "WHERE shop_id = :shop AND flow = :flow AND exited_at IS NULL AND EXISTS ("
        " SELECT 1 FROM orders o WHERE o.shop_id = :shop AND o.member_id = automation_enrollments.member_id"
        " AND o.counted = :yes AND o.processed_at > automation_enrollments.trigger_at AND o.processed_at <= :now)",
        {"now": now, "shop": shop.id, "flow": a.key, "yes": True})


def _complete(shop: Shop, a: Automation, now: datetime) -> int:
    """Step 2: entries with no step left (or long past the last one) end; the member may enter again on a new trigger."""
    stale = now - timedelta(seconds=a.last_offset_seconds) - timedelta(days=a.window_days + ENTRY_GRACE_DAYS)
    if a.key == "points_expiring":
        stale = now - timedelta(days=45)
    done = "position > 0" if a.conditional_steps else "position >= :n"
    return _exec(
        "UPDATE automation_enrollments SET exited_at = :now, exit_reason = 'completed' "
        f"WHERE shop_id = :shop AND flow = :flow AND exited_at IS NULL AND ({done} OR trigger_at < :stale)",
        {"now": now, "shop": shop.id, "flow": a.key, "n": len(a.steps), "stale": stale})


def _advance(fl: _Flavour, shop: Shop, a: Automation, now: datetime) -> dict[str, int]:
    """Step 4: from the last step back to the first, entries whose step is due move to it, with a run."""
    reached: dict[str, int] = {}
    for pos in range(len(a.steps), 0, -1):
        step = a.steps[pos - 1]
        params: dict[str, Any] = {"shop": shop.id, "flow": a.key, "pos": pos, "step": step.key, "now": now}
        where = ["e.shop_id = :shop", "e.flow = :flow", "e.exited_at IS NULL", "e.position < :pos"]
        if a.key == "points_expiring":
            params["days"] = -(step.after_days or 0)
            where.append(
                "EXISTS (SELECT 1 FROM outbox_events o WHERE o.member_id = e.member_id AND o.kind = 'points_expiring'"
                f" AND {fl.json_text('o.payload', 'expires_on')} = e.entry_key AND {fl.json_int('o.payload', 'days_before')} = :days"
                " AND o.created_at <= :now)")
        else:
            params["threshold"] = now - timedelta(seconds=step.offset_seconds)
            where.append("e.trigger_at <= :threshold")
        if step.condition:
            params["cond"] = step.condition
            where.append("e.detail = :cond")
        cond = " AND ".join(where)
        n = _exec(
            "INSERT INTO automation_step_runs (shop_id, enrollment_id, member_id, flow, step_key, position, holdout,"
            " variant, status, due_at, incentive_points) "
            f"SELECT e.shop_id, e.id, e.member_id, e.flow, :step, :pos, e.holdout, e.variant,"
            f" CASE WHEN e.holdout = {fl.true()} THEN 'holdout' ELSE 'due' END, :now, 0 "
            f"FROM automation_enrollments e WHERE {cond} ON CONFLICT DO NOTHING", params)
        _analyze(fl, "automation_step_runs", n)
        if n:
            # The same condition on the table itself (no self-join: its plan stays linear on fresh statistics).
            _exec(f"UPDATE automation_enrollments AS e SET position = :pos WHERE {cond}", params)
            reached[step.key] = n
    return reached


def _fire_plain(fl: _Flavour, shop: Shop, a: Automation, step: Step, variant: str, now: datetime) -> int:
    """Step 5 without an incentive: one event per due run, set-based, and the runs marked fired."""
    params: dict[str, Any] = {"shop": shop.id, "flow": a.key, "step": step.key, "variant": variant, "now": now,
                              "message": step.message, "flow_name": a.name}
    payload = fl.json_object([("flow", ":flow"), ("flow_name", ":flow_name"), ("step", ":step"), ("run_id", "r.id"),
                              ("variant", "r.variant"), ("message", ":message"), ("incentive", "NULL")])
    cond = ("r.shop_id = :shop AND r.flow = :flow AND r.step_key = :step AND r.variant = :variant AND r.status = 'due'")
    n = _exec("INSERT INTO outbox_events (shop_id, member_id, kind, payload, created_at) "
              f"SELECT r.shop_id, r.member_id, 'automation_step', {payload}, :now FROM automation_step_runs r "
              f"WHERE {cond} ORDER BY r.id", params)
    if n:
        _exec(f"UPDATE automation_step_runs AS r SET status = 'fired', fired_at = :now WHERE {cond}", params)
        note_outbox_written()
    return n


def _fire_with_incentive(shop: Shop, a: Automation, step: Step, variant: str, now: datetime) -> int:
    """Step 5 with an incentive: bonus points (a ledger entry) or a one-use code, then the event. Batches."""

    incentive = step.incentive_for(variant)
    assert incentive is not None
    fired = 0
    while True:
        runs = list(db.session.execute(
            select(AutomationStepRun).where(
                AutomationStepRun.shop_id == shop.id, AutomationStepRun.flow == a.key,
                AutomationStepRun.step_key == step.key, AutomationStepRun.variant == variant,
                AutomationStepRun.status == "due")
            .order_by(AutomationStepRun.id).limit(INCENTIVE_BATCH).with_for_update(skip_locked=True)).scalars())
        if not runs:
            return fired
        for run in runs:
            doc: dict[str, Any] = incentive.document()
            key = f"automation:{run.id}"
            if incentive.type == "points":
                member = lock_member(run.member_id)
                post_entry(member, points=incentive.points, kind=rules.AUTOMATION_BONUS, source=rules.SOURCE_AUTOMATION,
                           idempotency_key=key, source_id=str(run.id), reason=f"{a.name}: {step.key}"[:255],
                           snapshot={"flow": a.key, "step": step.key, "variant": variant, "points": incentive.points},
                           now=now)
                run.incentive_points = incentive.points
            else:
                db.session.commit()  # the code's own commits must not take half of this batch with them
                member = lock_member(run.member_id)
                try:
                    assert incentive.reward_id is not None
                    redemption = issue_gift_code(shop, member, incentive.reward_id, idempotency_key=key,
                                                 expiry_days=incentive.expiry_days, now=now)
                except (RedemptionFailed, RedemptionRefused, RewardNotFound) as exc:
                    run = db.session.get(AutomationStepRun, run.id) or run
                    run.status, run.error = "failed", str(getattr(exc, "message", exc))[:500]
                    db.session.commit()
                    continue
                run = db.session.get(AutomationStepRun, run.id) or run
                run.redemption_id = redemption.id
                doc.update(code=redemption.code, expires_at=redemption.expires_at.isoformat().replace("+00:00", "Z")
                           if redemption.expires_at else None)
            emit_event(shop.id, run.member_id, "automation_step", {
                "flow": a.key, "flow_name": a.name, "step": step.key, "run_id": run.id, "variant": variant,
                "message": step.message, "incentive": doc}, now=now)
            run.status, run.fired_at = "fired", now
            fired += 1
        db.session.commit()


def run_flow(shop: Shop, key: str, now: datetime) -> FlowRun:
    """One flow of one shop, decided and fired at `now`. Commits."""
    row = ensure_row(shop, key, now)  # locked: one decider per flow and shop at a time
    a = of_row(shop, key, row)
    out = FlowRun(key)
    if not a.enabled:
        db.session.commit()
        return out
    fl = _flavour()
    out.converted = _exit_converted(shop, a, now)
    _complete(shop, a, now)
    out.entered = _enter(fl, shop, a, now)
    reached = _advance(fl, shop, a, now)
    holdout = dict(db.session.execute(
        select(AutomationStepRun.step_key, func.count()).where(
            AutomationStepRun.shop_id == shop.id, AutomationStepRun.flow == key, AutomationStepRun.due_at == now,
            AutomationStepRun.status == "holdout").group_by(AutomationStepRun.step_key)).all()) if reached else {}
    out.holdout = {k: int(v) for k, v in holdout.items()}
    fired: dict[str, int] = {}
    for step in a.steps:
        for variant in ("a", "b"):
            if step.incentive_for(variant) is None:
                n = _fire_plain(fl, shop, a, step, variant, now)
                if n:
                    fired[step.key] = fired.get(step.key, 0) + n
    row.last_run_at = now
    db.session.commit()
    for step in a.steps:
        for variant in ("a", "b"):
            if step.incentive_for(variant) is not None:
                n = _fire_with_incentive(shop, a, step, variant, now)
                if n:
                    fired[step.key] = fired.get(step.key, 0) + n
    _complete(shop, a, now)
    db.session.commit()
    out.fired = fired
    return out


def run_shop(shop: Shop, now: datetime, keys: Iterable[str] | None = None) -> list[FlowRun]:

    out = []
    for key in keys or FLOW_KEYS:
        try:
            out.append(run_flow(shop, key, now))
        except Exception:
            db.session.rollback()
            log.exception("automation %s failed for %s", key, shop.domain)
    return out


def run_all(now: datetime | None = None, shop_domain: str | None = None) -> dict[str, dict[str, int]]:
    """Every installed shop (or one): what fired, per flow and step. What the schedule and the CLI run."""

    now = now or utcnow()
    totals: dict[str, dict[str, int]] = {}
    for shop in active_shops():
        if shop_domain and shop.domain != shop_domain:
            continue
        for run in run_shop(shop, now):
            for step, n in (run.fired or {}).items():
                totals.setdefault(run.flow, {})[step] = totals.setdefault(run.flow, {}).get(step, 0) + n
    return totals

