"""`python -m devstore`: run the Shopify stand-in as its own process."""

from __future__ import annotations

import argparse
import os

from werkzeug.serving import run_simple

from .server import create_app
from .state import DevStore


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m devstore", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--app-url", default=os.environ.get("APP_URL", "http://127.0.0.1:8000"))
    parser.add_argument("--api-key", default=os.environ.get("SHOPIFY_API_KEY", "dev-api-key"))
    parser.add_argument("--api-secret", default=os.environ.get("SHOPIFY_API_SECRET", "dev-api-secret"))
    parser.add_argument("--api-version", default=os.environ.get("SHOPIFY_API_VERSION", "2026-10"))
    parser.add_argument("--shop", action="append", default=[], help="create this shop at start (repeatable)")
    parser.add_argument("--no-rate-limit", action="store_true", help="never throttle by query cost")
    args = parser.parse_args(argv)

    store = DevStore(
        api_key=args.api_key,
        api_secret=args.api_secret,
        app_url=args.app_url,
        api_version=args.api_version,
        rate_limit=not args.no_rate_limit,
    )
    for shop in args.shop:
        store.add_shop(shop)
    print(f"devstore on http://{args.host}:{args.port} → webhooks to {args.app_url} (shops: {args.shop or 'none'})")
    run_simple(args.host, args.port, create_app(store), threaded=True, use_reloader=False)


if __name__ == "__main__":
    main()
