"""The short fault-injection run (about 2,000 webhooks) on every submission: nothing lost, nothing doubled."""

from __future__ import annotations

import io

import pytest

from bench.chaos.run import Options, run

pytestmark = [pytest.mark.chaos, pytest.mark.postgres, pytest.mark.redis]


def test_short_chaos_run_keeps_every_promise(chaos_services: str) -> None:
    out = io.StringIO()
    report = run(Options.short(pg_admin_url=chaos_services), out=out)
    print(out.getvalue())
    assert report.broken == [], out.getvalue()[-6000:]
