"""Automations: each shop's flow settings, who entered which flow (holdout or not), and each step run."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, SmallInteger, String, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column

from app.extensions import db
from app.models.types import JsonDoc, PrimaryKey, ShopifyId, UTCDateTime, utcnow


class Automation(db.Model):  # type: ignore[name-defined,misc]
    """A shop's settings of one flow; a flow without a row runs on app.loyalty.automations' defaults (off)."""

    __tablename__ = "automations"
    __table_args__ = (UniqueConstraint("shop_id", "key"),)

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    key: Mapped[str] = mapped_column(String(32))
    enabled: Mapped[bool] = mapped_column(Boolean, default=False)
    holdout_percent: Mapped[int] = mapped_column(Integer, default=10)
    # The flow as app.loyalty.automations.to_document writes it (steps, audience, window).
    config: Mapped[dict[str, Any]] = mapped_column(JsonDoc, default=dict)
    last_run_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class AutomationEnrollment(db.Model):  # type: ignore[name-defined,misc]
    """A member's entry into a flow for one trigger (an order, a date, a tier change…)."""

    __tablename__ = "automation_enrollments"
    __table_args__ = (
        UniqueConstraint("shop_id", "flow", "member_id", "entry_key"),
        # A member is in a flow at most once at a time.
        Index("uq_automation_enrollments_active", "shop_id", "flow", "member_id", unique=True,
              postgresql_where=text("exited_at IS NULL"), sqlite_where=text("exited_at IS NULL")),
        Index("ix_automation_enrollments_flow_active", "shop_id", "flow", "position",
              postgresql_where=text("exited_at IS NULL"), sqlite_where=text("exited_at IS NULL")),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    flow: Mapped[str] = mapped_column(String(32))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    customer_id: Mapped[int] = mapped_column(ShopifyId)
    entry_key: Mapped[str] = mapped_column(String(64))
    # What the step timings count from (the order, the date, the tier change).
    trigger_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # Trigger detail a step may be conditioned on (tier_change: "up" or "down").
    detail: Mapped[str | None] = mapped_column(String(16))
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    # A/B split of incentive levels: "a" or "b".
    variant: Mapped[str] = mapped_column(String(1), default="a")
    # Index (1-based) of the last step reached; 0 = none yet.
    position: Mapped[int] = mapped_column(SmallInteger, default=0)
    entered_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    exited_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # converted (the goal: an order) | completed (no step left) | superseded
    exit_reason: Mapped[str | None] = mapped_column(String(16))


class AutomationStepRun(db.Model):  # type: ignore[name-defined,misc]
    """One step reached by one enrollment: fired (event and incentive) or, for the holdout, only counted."""

    __tablename__ = "automation_step_runs"
    __table_args__ = (
        # Each step fires at most once per member and entry.
        UniqueConstraint("enrollment_id", "step_key"),
        Index("ix_automation_step_runs_results", "shop_id", "flow", "step_key", "due_at"),
        Index("ix_automation_step_runs_due", "shop_id", "status", postgresql_where=text("status = 'due'"),
              sqlite_where=text("status = 'due'")),
    )

    id: Mapped[int] = mapped_column(PrimaryKey, primary_key=True)
    shop_id: Mapped[int] = mapped_column(ForeignKey("shops.id", ondelete="CASCADE"))
    enrollment_id: Mapped[int] = mapped_column(ForeignKey("automation_enrollments.id", ondelete="CASCADE"))
    member_id: Mapped[int] = mapped_column(ForeignKey("members.id", ondelete="CASCADE"))
    flow: Mapped[str] = mapped_column(String(32))
    step_key: Mapped[str] = mapped_column(String(32))
    position: Mapped[int] = mapped_column(SmallInteger)
    holdout: Mapped[bool] = mapped_column(Boolean, default=False)
    variant: Mapped[str] = mapped_column(String(1), default="a")
    # due (to fire) | fired | holdout (counted, nothing sent) | failed (the incentive could not be given)
    status: Mapped[str] = mapped_column(String(16), default="due")
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    fired_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    incentive_points: Mapped[int] = mapped_column(Integer, default=0)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id", ondelete="SET NULL"))
    error: Mapped[str | None] = mapped_column(String(512))
