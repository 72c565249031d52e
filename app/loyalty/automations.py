"""Automations (loyalty-rules.md, "Automations"): the flows, their default steps, editing them, the
holdout and A/B assignment, and which step is due. Plain data in, decisions out.

A flow's steps are timed from its trigger (the first order, the last order, the date, the tier change);
a member is in at most one step of a flow at a time (the latest step due), each step fires at most once
per entry, and an order (the goal) takes the member out. The holdout is chosen by a stable hash of
(shop, flow, customer), so editing the flow never reshuffles it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any, Literal

IncentiveType = Literal["points", "reward"]
FLOW_KEYS = ("welcome", "first_repeat", "post_purchase", "reactivation", "points_expiring", "birthday",
             "anniversary", "tier_change")
# Segments an automation's audience may name (the same small set campaigns use).
SEGMENTS = ("new", "returning", "birthday_month")
DEFAULT_HOLDOUT = 10
MAX_HOLDOUT = 50
MAX_STEPS = 8
MAX_OFFSET_DAYS = 400
MAX_BONUS_POINTS = 100_000
# Days a trigger stays enterable after its first step came due (a missed run still catches it).
ENTRY_GRACE_DAYS = 2


@dataclass(frozen=True)
class Incentive:
    type: IncentiveType
    points: int = 0
    reward_id: int | None = None
    expiry_days: int | None = None

    def document(self) -> dict[str, Any]:
        if self.type == "points":
            return {"type": "points", "points": self.points}
        out: dict[str, Any] = {"type": "reward", "reward_id": self.reward_id}
        if self.expiry_days is not None:
            out["expiry_days"] = self.expiry_days
        return out


@dataclass(frozen=True)
class Step:
    key: str
    after_days: int | None = None
    after_hours: int | None = None
    incentive: Incentive | None = None
    # The other incentive level of an A/B split (members in variant "b" get it instead).
    incentive_b: Incentive | None = None
    # tier_change only: the step is for "up" or "down" changes.
    condition: str | None = None
    message: str = ""

    @property
    def offset_seconds(self) -> int:
        return (self.after_days or 0) * 86400 + (self.after_hours or 0) * 3600

    def incentive_for(self, variant: str) -> Incentive | None:
        return self.incentive_b if variant == "b" and self.incentive_b is not None else self.incentive

    def document(self) -> dict[str, Any]:
        out: dict[str, Any] = {"key": self.key}
        if self.after_days is not None:
            out["after_days"] = self.after_days
        if self.after_hours is not None:
            out["after_hours"] = self.after_hours
        out["incentive"] = self.incentive.document() if self.incentive else None
        if self.incentive_b is not None:
            out["incentive_b"] = self.incentive_b.document()
        if self.condition:
            out["condition"] = self.condition
        if self.message:
            out["message"] = self.message
        return out


@dataclass(frozen=True)
class Automation:
    key: str
    name: str
    description: str
    steps: tuple[Step, ...]
    enabled: bool = False
    holdout_percent: int = DEFAULT_HOLDOUT
    # An order within this many days of a step counts as that step's conversion.
    window_days: int = 7
    tier_ids: frozenset[int] = frozenset()
    segments: frozenset[str] = frozenset()
    # Timings follow another setting (points_expiring: the program's expiry_reminder_days).
    fixed_timing: bool = False
    conditional_steps: bool = False

    def step(self, key: str) -> Step | None:
        return next((s for s in self.steps if s.key == key), None)

    @property
    def ab_test(self) -> bool:
        return any(s.incentive_b is not None for s in self.steps)

    @property
    def last_offset_seconds(self) -> int:
        return max((s.offset_seconds for s in self.steps), default=0)

    @property
    def first_offset_seconds(self) -> int:
        return min((s.offset_seconds for s in self.steps), default=0)

    def document(self) -> dict[str, Any]:
        return {
            "key": self.key, "name": self.name, "description": self.description, "enabled": self.enabled,
            "holdout_percent": self.holdout_percent, "window_days": self.window_days,
            "audience": {"tier_ids": sorted(self.tier_ids), "segments": sorted(self.segments)},
            "ab_test": self.ab_test, "steps": [s.document() for s in self.steps],
        }


def _steps(*specs: tuple[str, int | None, int | None, str]) -> tuple[Step, ...]:
    return tuple(Step(key, after_days=d, after_hours=h, message=m) for key, d, h, m in specs)


# The retention playbook's defaults (loyalty-rules.md); every flow starts off until the merchant turns it on.
DEFAULTS: dict[str, Automation] = {a.key: a for a in (
    Automation("welcome", "Welcome", "When a customer joins the program.",
               _steps(("welcome", None, 0, "Welcome, here is how your points work"))),
    Automation("first_repeat", "First repeat purchase",
               "After a first order, while there is no second one.",
               _steps(("day_7", 7, None, "How is your order? Your points are waiting"),
                      ("day_14", 14, None, "A little something for your next order"),
                      ("day_30", 30, None, "Last call: your first-repeat offer")), window_days=7),
    Automation("post_purchase", "Post-purchase check-in", "After each paid order.",
               _steps(("check_in", None, 48, "How did it go? See what your order earned")), window_days=14),
    Automation("reactivation", "Reactivation",
               "When a member has not ordered for a while: value, an offer, social proof, a final offer.",
               _steps(("value", 14, None, "Recency 0–30 days: what your points can get you"),
                      ("offer", 30, None, "Recency 31–90 days: a richer loyalty offer"),
                      ("social_proof", 45, None, "What other members are loving"),
                      ("final_offer", 90, None, "Recency 90+ days: our win-back deal")), window_days=14),
    Automation("points_expiring", "Points expiring",
               "Reminders before points expire (the program's expiry reminder days).",
               _steps(("days_30", -30, None, "Your points expire in 30 days"),
                      ("days_7", -7, None, "Your points expire in 7 days")), fixed_timing=True),
    Automation("birthday", "Birthday", "On the member's birthday.",
               _steps(("birthday", 0, None, "Happy birthday"))),
    Automation("anniversary", "Anniversary", "On the anniversary of joining the program.",
               _steps(("anniversary", 0, None, "Happy anniversary"))),
    Automation("tier_change", "Tier change", "When a member moves up or down a tier.",
               (Step("tier_up", after_hours=0, condition="up", message="Welcome to your new tier"),
                Step("tier_down", after_hours=0, condition="down", message="Your tier changed")),
               conditional_steps=True),
)}


def default_automation(key: str) -> Automation:
    return DEFAULTS[key]


def points_expiring_steps(reminder_days: Iterable[int]) -> tuple[Step, ...]:
    """The expiry reminders as steps, from the furthest to the nearest (their timing is the program's)."""
    return tuple(Step(f"days_{d}", after_days=-d) for d in sorted({int(d) for d in reminder_days}, reverse=True))


# --------------------------------------------------------------------------------- holdout and A/B


def bucket(shop: str, flow: str, customer_id: int, salt: str = "") -> int:
    """0..99, stable for (shop, flow, customer): the first four bytes of SHA-256 as an unsigned int, mod 100.
    app/services/automations.py restates this in SQL (a property test proves the two agree)."""
    digest = hashlib.sha256(f"{shop}:{flow}{salt}:{customer_id}".encode()).digest()
    return int.from_bytes(digest[:4], "big") % 100


def in_holdout(shop: str, flow: str, customer_id: int, holdout_percent: int) -> bool:
    return bucket(shop, flow, customer_id) < holdout_percent


def variant_of(shop: str, flow: str, customer_id: int) -> str:
    """The A/B half ("a" or "b") of a member in a flow: another stable hash, independent of the holdout."""
    return "b" if bucket(shop, flow, customer_id, ":ab") >= 50 else "a"


# ------------------------------------------------------------------------------------- due steps


def due_step(steps: tuple[Step, ...], elapsed_seconds: float, position: int, detail: str | None = None) -> int | None:
    """The 1-based index of the step to move to now, or None: the latest step whose time has come that is
    past the member's current one (steps skipped by a late run are not fired: one step at a time)."""
    due = None
    for i, step in enumerate(steps, 1):
        if step.condition is not None and step.condition != detail:
            continue
        if step.offset_seconds <= elapsed_seconds and i > position:
            due = i
    return due


# ------------------------------------------------------------------------------------- storage


def from_stored(key: str, enabled: bool, holdout_percent: int, config: Mapping[str, Any] | None) -> Automation:
    """An automation from its stored row (config as `document()` wrote it); unknown bits fall back to defaults."""
    base = replace(DEFAULTS[key], enabled=bool(enabled), holdout_percent=int(holdout_percent))
    cfg = dict(config or {})
    if not cfg:
        return base
    aud = cfg.get("audience") or {}
    stored = {s.get("key"): s for s in cfg.get("steps") or [] if isinstance(s, Mapping)}
    steps = []
    for key_ in [s.get("key") for s in cfg.get("steps") or [] if isinstance(s, Mapping)] or [s.key for s in base.steps]:
        default = base.step(str(key_))
        if default is None:
            continue
        raw = stored.get(key_) or {}
        steps.append(replace(
            default,
            after_days=raw.get("after_days", default.after_days) if not base.fixed_timing else default.after_days,
            after_hours=raw.get("after_hours", default.after_hours) if not base.fixed_timing else default.after_hours,
            incentive=_stored_incentive(raw.get("incentive")),
            incentive_b=_stored_incentive(raw.get("incentive_b")),
            message=raw.get("message", default.message),
        ))
    return replace(base, window_days=int(cfg.get("window_days", base.window_days)),
                   tier_ids=frozenset(int(t) for t in aud.get("tier_ids") or []),
                   segments=frozenset(str(s) for s in aud.get("segments") or []),
                   steps=tuple(steps) or base.steps)


def _stored_incentive(raw: Any) -> Incentive | None:
    if not isinstance(raw, Mapping):
        return None
    if raw.get("type") == "points":
        return Incentive("points", points=int(raw.get("points") or 0))
    if raw.get("type") == "reward" and raw.get("reward_id") is not None:
        return Incentive("reward", reward_id=int(raw["reward_id"]), expiry_days=raw.get("expiry_days"))
    return None


def stored_config(a: Automation) -> dict[str, Any]:
    doc = a.document()
    # Both timings kept, None included: a step moved from hours to days must not get the default hours back.
    steps = [{**s.document(), "after_days": s.after_days, "after_hours": s.after_hours} for s in a.steps]
    return {"window_days": doc["window_days"], "audience": doc["audience"], "steps": steps}


@dataclass(frozen=True)
class StepFigures:
    """What the results page shows for one step (and one A/B variant when split)."""

    key: str
    variant: str | None = None
    entered: int = 0
    fired: int = 0
    converted: int = 0
    revenue: Any = 0
    holdout_entered: int = 0
    holdout_converted: int = 0
    holdout_revenue: Any = 0
    incentive_cost: Any = 0
    extra: dict[str, Any] = field(default_factory=dict)
