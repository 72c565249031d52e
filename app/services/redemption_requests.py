"""A redemption request from outside (the public API, the UI extensions): its body checked, the one
redemption path run (app/services/redemption.redeem), and each outcome named with the status it answers."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from app.inputs import parse_id, parse_whole_number
from app.models import Member, Redemption, Shop
from app.services import redemption, rewards


@dataclass
class RedemptionRequestError(Exception):
    """Nothing was spent unless `status` is 502 (then the debit was given back). Fields name the bad inputs."""

    status: int
    code: str
    message: str
    fields: dict[str, str] | None = None


def redeem_request(shop: Shop, member: Member, body: Any, *, actor: str) -> Redemption:
    """`{"reward_id", "idempotency_key", "points"?}` → the redemption (a retry with the same key: the first one)."""
    if not isinstance(body, dict):
        raise RedemptionRequestError(422, "invalid_body", "the body must be a JSON object")
    fields: dict[str, str] = {}
    key = body.get("idempotency_key")
    if not isinstance(key, str) or not 0 < len(key) <= 200:
        fields["idempotency_key"] = "required, 1 to 200 characters"
    reward_id = parse_id(body.get("reward_id"))
    if reward_id is None:
        fields["reward_id"] = "required, a reward id"
    points = body.get("points")
    if points is not None and parse_whole_number(points, low=1, high=10**9, strings=False) is None:
        fields["points"] = "must be a whole number from 1 to 1000000000"
    if fields:
        raise RedemptionRequestError(422, "invalid", "the redemption request is not valid", fields)
    assert isinstance(key, str) and reward_id is not None
    try:
        return redemption.redeem(shop, member, reward_id, idempotency_key=key, points=points, actor=actor)
    except rewards.RewardNotFound:
        raise RedemptionRequestError(422, "invalid", "no such reward", {"reward_id": "unknown reward"}) from None
    except redemption.RedemptionRefused as exc:
        if exc.code in ("insufficient_points", "negative_balance", "idempotency_key_reused"):
            raise RedemptionRequestError(409, exc.code, exc.message) from None
        field = "points" if exc.code == "out_of_range" else "reward_id"
        raise RedemptionRequestError(422, exc.code, exc.message, {field: exc.message}) from None
    except redemption.RedemptionFailed as exc:
        raise RedemptionRequestError(502, "code_not_created", exc.message) from None
