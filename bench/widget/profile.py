"""Profile one warm /proxy/widget request in-process against a seeded bench database.

    python -m bench.widget.profile [--db NAME] [--keep] [--repeat 200]

Seeds (unless --db names an existing seeded database), warms the app, then prints the mean in-process
time over --repeat requests and a cProfile (or pyinstrument, when installed) of one more batch.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from contextlib import ExitStack

from bench.widget.run import CUSTOMER, SECRET, SHOP, seeded_database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--members", type=int, default=100_000)
    args = ap.parse_args()
    db = args.db or f"regulars_bench_widget_prof_{os.getpid()}"
    database = ExitStack()
    try:
        url_of_db = database.enter_context(seeded_database(db, args.members, 2000,
                                                           drop=not args.keep and args.db is None))
        os.environ.update(DATABASE_URL=url_of_db,
                          SHOPIFY_API_SECRET=SECRET, REGULARS_ENV="development")
        os.environ.pop("REDIS_URL", None)
        from urllib.parse import urlencode

        from app import create_app
        from devstore.tokens import app_proxy_query

        app = create_app()
        client = app.test_client()

        def url() -> str:
            params = app_proxy_query(SHOP, "/apps/regulars", CUSTOMER, {"locale": "en"}, api_secret=SECRET)
            return f"/proxy/widget?{urlencode(params, doseq=True)}"

        u = url()
        for _ in range(50):
            assert client.get(u).status_code == 200
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            client.get(u)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"in-process: p50 {times[len(times) // 2]:.2f} ms, p95 {times[int(len(times) * .95)]:.2f} ms")
        try:
            from pyinstrument import Profiler
        except ImportError:
            prof = cProfile.Profile()
            prof.enable()
            for _ in range(args.repeat):
                client.get(u)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(45)
        else:
            p = Profiler(interval=0.0002)
            p.start()
            for _ in range(args.repeat):
                client.get(u)
            p.stop()
            print(p.output_text(unicode=False, color=False, show_all=False))
    finally:
        database.close()


if __name__ == "__main__":
    main()
