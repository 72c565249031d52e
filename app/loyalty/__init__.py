"""The loyalty domain: pure rules for points, orders, tiers, rewards, referrals and metrics (no I/O).

Modules: settings (ProgramSettings), money, orders (order knowledge → target points), ledger (kinds,
balances, reversal policy, idempotency keys), tiers, campaigns, actions (custom actions, birthdays,
anniversaries), rewards, referrals, expiry, analytics, dates. Nothing here touches Flask, the database,
Shopify, RQ or the clock: ``now`` is always a parameter.
"""
