"""Profile warm GET /ext/v1/member requests in-process against a seeded bench database.

    python -m bench.ext.profile [--db NAME] [--keep] [--repeat 200]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import time
from contextlib import ExitStack

from bench.ext.run import API_KEY
from bench.widget.run import CUSTOMER, SECRET, SHOP, seeded_database


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--db", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--repeat", type=int, default=200)
    ap.add_argument("--members", type=int, default=100_000)
    args = ap.parse_args()
    db = args.db or f"regulars_bench_ext_prof_{os.getpid()}"
    database = ExitStack()
    try:
        url_of_db = database.enter_context(seeded_database(db, args.members, 2000,
                                                           drop=not args.keep and args.db is None))
        os.environ.update(DATABASE_URL=url_of_db,
                          SHOPIFY_API_KEY=API_KEY, SHOPIFY_API_SECRET=SECRET, REGULARS_ENV="development")
        os.environ.pop("REDIS_URL", None)
        from app import create_app
        from devstore.tokens import mint_extension_token

        client = create_app().test_client()
        headers = {"Authorization": f"Bearer {mint_extension_token(SHOP, API_KEY, SECRET, customer_id=CUSTOMER)}"}
        for _ in range(50):
            assert client.get("/ext/v1/member", headers=headers).status_code == 200
        times = []
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            client.get("/ext/v1/member", headers=headers)
            times.append((time.perf_counter() - t0) * 1000)
        times.sort()
        print(f"in-process: p50 {times[len(times) // 2]:.2f} ms, p95 {times[int(len(times) * .95)]:.2f} ms")
        prof = cProfile.Profile()
        prof.enable()
        for _ in range(args.repeat):
            client.get("/ext/v1/member", headers=headers)
        prof.disable()
        pstats.Stats(prof).sort_stats("cumulative").print_stats(40)
    finally:
        database.close()


if __name__ == "__main__":
    main()
