"""Fault-injection run of the whole pipeline (store → gunicorn → PostgreSQL → RQ workers), checked by an oracle."""
