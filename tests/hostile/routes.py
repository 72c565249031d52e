"""Every public route: those the app has now, plus those contract.md promises (tested even before they exist)."""

from __future__ import annotations

import re
from functools import cache

# contract.md's public API v1 and the OpenAPI document; a route still missing must answer 404/405, never 5xx.
CONTRACT_ROUTES: tuple[tuple[str, str], ...] = (
    ("GET", "/api/openapi.json"),
    ("GET", "/api/v1/program"),
    ("PATCH", "/api/v1/program"),
    ("GET", "/api/v1/members/<int:customer_id>"),
    ("GET", "/api/v1/members/<int:customer_id>/ledger"),
    ("POST", "/api/v1/members/<int:customer_id>/adjustments"),
    ("POST", "/api/v1/members/<int:customer_id>/redemptions"),
    ("POST", "/api/v1/actions"),
    ("GET", "/api/v1/analytics/summary"),
    ("POST", "/webhooks"),
    ("POST", "/webhooks/compliance"),
    ("GET", "/auth/install"),
    ("GET", "/auth/callback"),
    ("GET", "/"),
    ("GET", "/proxy/widget"),
)
_PARAM = re.compile(r"<(?:(\w+)(?:\(([^)]*)\))?:)?(\w+)>")


@cache
def all_routes() -> tuple[tuple[str, str], ...]:
    """(method, rule) for every route the app registers (static files aside) and every contract route."""
    from app import create_app
    from tests.conftest import make_config

    app = create_app(make_config(env="production"))  # the routes a production server has
    found = {
        (method, rule.rule)
        for rule in app.url_map.iter_rules()
        if rule.endpoint != "static"
        for method in (rule.methods or set()) - {"HEAD", "OPTIONS"}
    }
    return tuple(sorted(found | set(CONTRACT_ROUTES)))


def api_routes() -> tuple[tuple[str, str], ...]:
    return tuple(r for r in all_routes() if r[1].startswith("/api/"))


def proxy_routes() -> tuple[tuple[str, str], ...]:
    return tuple(r for r in all_routes() if r[1].startswith("/proxy"))


def fill(rule: str, customer_id: int, text: str = "ABCD2345") -> str:
    """A concrete path for a rule: ints get `customer_id`, any(...) its first choice, strings `text`."""

    def one(m: re.Match[str]) -> str:
        conv, args, _name = m.group(1), m.group(2), m.group(3)
        if conv == "int":
            return str(customer_id)
        if conv == "any" and args:
            return args.split(",")[0].strip().strip("'\"")
        return text

    return _PARAM.sub(one, rule)
