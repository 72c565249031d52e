"""The loyalty domain: pure rules for points, orders, tiers, rewards, referrals and metrics (no I/O)."""
