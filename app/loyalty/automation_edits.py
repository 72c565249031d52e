"""Editing an automation (contract.md PATCH /api/v1/automations/{key}): every field checked and named when
wrong, steps matched by key and kept in time order, incentives validated against the program's rewards."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from app.loyalty.automations import (
    MAX_BONUS_POINTS,
    MAX_HOLDOUT,
    MAX_OFFSET_DAYS,
    MAX_STEPS,
    SEGMENTS,
    Automation,
    Incentive,
    Step,
)


class AutomationInvalid(ValueError):
    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


def _int(value: Any) -> int | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return value


def parse_incentive(raw: Any, where: str, errors: dict[str, str], reward_ids: frozenset[int]) -> Incentive | None:
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        errors[where] = "must be null or an object with a type"
        return None
    kind = raw.get("type")
    if kind == "points":
        points = _int(raw.get("points"))
        if points is None or not 1 <= points <= MAX_BONUS_POINTS:
            errors[f"{where}.points"] = f"must be a whole number of points between 1 and {MAX_BONUS_POINTS}"
            return None
        return Incentive("points", points=points)
    if kind == "reward":
        reward_id = raw.get("reward_id")
        rid = _int(reward_id) if not isinstance(reward_id, str) else (int(reward_id) if reward_id.isdigit() else None)
        if rid is None or rid not in reward_ids:
            errors[f"{where}.reward_id"] = "must be the id of one of the program's active rewards"
            return None
        expiry = raw.get("expiry_days")
        if expiry is not None and (_int(expiry) is None or not 1 <= expiry <= 365):
            errors[f"{where}.expiry_days"] = "must be a whole number of days between 1 and 365"
            return None
        return Incentive("reward", reward_id=rid, expiry_days=expiry)
    errors[f"{where}.type"] = "must be points or reward"
    return None


_STEP_FIELDS = frozenset({"key", "after_days", "after_hours", "incentive", "incentive_b", "message", "condition"})
_FIELDS = frozenset({"key", "name", "description", "enabled", "holdout_percent", "window_days", "audience", "steps",
                     "ab_test"})


def _patch_step(step: Step, raw: Mapping[str, Any], where: str, automation: Automation, errors: dict[str, str],
                reward_ids: frozenset[int]) -> Step:
    unknown = set(raw) - _STEP_FIELDS
    if unknown:
        errors[where] = f"unknown field {sorted(unknown)[0]}"
        return step
    changes: dict[str, Any] = {}
    for name in ("after_days", "after_hours"):
        if name in raw:
            if automation.fixed_timing:
                if raw[name] != getattr(step, name):  # the document read back unchanged is fine
                    errors[f"{where}.{name}"] = "this flow's timing follows the program's expiry reminder days"
                continue
            value = raw[name]
            if value is not None and (_int(value) is None or not 0 <= value <= MAX_OFFSET_DAYS * (24 if name == "after_hours" else 1)):
                errors[f"{where}.{name}"] = "must be a whole number, 0 or more" if value is None or _int(value) is None or value < 0 \
                    else "is too far away"
                continue
            changes[name] = value
    if "incentive" in raw:
        changes["incentive"] = parse_incentive(raw["incentive"], f"{where}.incentive", errors, reward_ids)
    if "incentive_b" in raw:
        changes["incentive_b"] = parse_incentive(raw["incentive_b"], f"{where}.incentive_b", errors, reward_ids)
    if "message" in raw:
        msg = raw["message"]
        if not isinstance(msg, str) or len(msg) > 255:
            errors[f"{where}.message"] = "must be text of at most 255 characters"
        else:
            changes["message"] = msg.strip()
    if "condition" in raw and raw["condition"] != step.condition:
        errors[f"{where}.condition"] = "cannot be changed"
    return replace(step, **changes)


def apply_patch(current: Automation, patch: Mapping[str, Any], *, reward_ids: frozenset[int] = frozenset(),
                tier_ids: frozenset[int] = frozenset()) -> Automation:
    """The automation with `patch` applied (contract.md PATCH /api/v1/automations/{key}); raises
    AutomationInvalid naming every bad field. `steps` replaces the list, each matched by `key`."""
    errors: dict[str, str] = {}
    unknown = set(patch) - _FIELDS
    if unknown:
        errors[sorted(unknown)[0]] = "unknown field"
    changes: dict[str, Any] = {}
    if "key" in patch and patch["key"] != current.key:
        errors["key"] = "cannot be changed"
    if "enabled" in patch:
        if not isinstance(patch["enabled"], bool):
            errors["enabled"] = "must be true or false"
        else:
            changes["enabled"] = patch["enabled"]
    if "holdout_percent" in patch:
        h = _int(patch["holdout_percent"])
        if h is None or not 0 <= h <= MAX_HOLDOUT:
            errors["holdout_percent"] = f"must be a whole number between 0 and {MAX_HOLDOUT}"
        else:
            changes["holdout_percent"] = h
    if "window_days" in patch:
        w = _int(patch["window_days"])
        if w is None or not 1 <= w <= 90:
            errors["window_days"] = "must be a whole number of days between 1 and 90"
        else:
            changes["window_days"] = w
    if "audience" in patch:
        aud = patch["audience"]
        if not isinstance(aud, Mapping) or set(aud) - {"tier_ids", "segments"}:
            errors["audience"] = "must be an object with tier_ids and/or segments"
        else:
            tids = aud.get("tier_ids", sorted(current.tier_ids))
            segs = aud.get("segments", sorted(current.segments))
            if not isinstance(tids, list) or any(_int(t) is None or t not in tier_ids for t in tids):
                errors["audience.tier_ids"] = "must be a list of the program's tier ids"
            else:
                changes["tier_ids"] = frozenset(tids)
            if not isinstance(segs, list) or any(s not in SEGMENTS for s in segs):
                errors["audience.segments"] = f"must be a list of: {', '.join(SEGMENTS)}"
            else:
                changes["segments"] = frozenset(segs)
    if "steps" in patch:
        raw_steps = patch["steps"]
        if not isinstance(raw_steps, list) or not raw_steps or len(raw_steps) > MAX_STEPS:
            errors["steps"] = f"must be a list of 1 to {MAX_STEPS} steps"
        else:
            by_key = {s.key: s for s in current.steps}
            steps: list[Step] = []
            seen: set[str] = set()
            for i, raw in enumerate(raw_steps):
                where = f"steps[{i}]"
                key = raw.get("key") if isinstance(raw, Mapping) else None
                if not isinstance(key, str) or key not in by_key:
                    errors[f"{where}.key"] = f"must be one of this flow's steps: {', '.join(by_key)}"
                    continue
                if key in seen:
                    errors[f"{where}.key"] = "appears twice"
                    continue
                seen.add(key)
                steps.append(_patch_step(by_key[key], raw, where, current, errors, reward_ids))
            if not errors:
                offsets = [s.offset_seconds for s in steps if s.condition is None]
                if offsets != sorted(offsets) or len(set(offsets)) != len(offsets):
                    errors["steps"] = "each step must come after the one before it"
                changes["steps"] = tuple(steps)
    if errors:
        raise AutomationInvalid(errors)
    return replace(current, **changes)
