"""Write-back to Shopify: points, tier and referral link as customer metafields and a tier tag, coalesced."""

from __future__ import annotations


def sync_due() -> int:
    return 0
