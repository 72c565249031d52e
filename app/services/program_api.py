"""The public API's program document: settings, tiers, rewards and referral offer in contract.md's shape."""

from __future__ import annotations

from typing import Any

from app.models import Shop


def program_document(shop: Shop) -> dict[str, Any]:
    raise NotImplementedError


def patch_program(shop: Shop, body: dict[str, Any], actor: str) -> dict[str, Any]:
    raise NotImplementedError
