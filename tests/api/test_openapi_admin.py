"""The OpenAPI document lists every /api route, and a schema-driven fuzz run finds no 5xx."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings

from app import create_app
from tests.admin.support import auth, install_shop
from tests.conftest import make_config, truncate_all


def test_document_covers_every_api_route(client: Any) -> None:
    doc = client.get("/api/openapi.json").get_json()
    assert doc["openapi"].startswith("3.1")
    assert {"/api/admin/members", "/api/admin/tiers/preview", "/api/v1/analytics/summary",
            "/api/admin/api-keys/{key_id}"} <= set(doc["paths"])
    rules = {r.rule for r in client.application.url_map.iter_rules() if r.rule.startswith("/api/")}
    assert len(doc["paths"]) == len(rules) - 1  # all but the document itself


def test_dev_sign_in_exists_only_in_development(pg_url: str) -> None:
    prod = create_app(make_config(database_url=pg_url, env="production"))
    assert prod.test_client().get("/dev/login?shop=alpha.myshopify.com").status_code == 404
    assert prod.test_client().get("/dev/token?shop=alpha.myshopify.com").status_code == 404
    dev = create_app(make_config(database_url=pg_url, env="development")).test_client()
    page = dev.get("/dev/login?shop=alpha.myshopify.com")
    assert page.status_code == 200 and b"idToken" in page.data and b"cdn.shopify.com" not in page.data
    token = dev.get("/dev/token?shop=alpha.myshopify.com").get_data(as_text=True)
    assert token.count(".") == 2


@pytest.fixture(scope="module")
def fuzz_app(pg_url: str) -> Any:
    app = create_app(make_config(database_url=pg_url))
    with app.app_context():
        install_shop()
    yield app
    with app.app_context():
        from app.extensions import db

        db.session.remove()
        db.engine.dispose()
    truncate_all(pg_url)


def test_fuzz_finds_no_server_errors(fuzz_app: Any) -> None:
    schema = schemathesis.openapi.from_wsgi("/api/openapi.json", fuzz_app)
    failures: list[str] = []
    for operation in schema.get_all_operations():
        op = operation.ok()
        @settings(max_examples=8, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        @given(case=op.as_strategy())
        def run(case: Any) -> None:
            response = case.call(headers=auth())
            if response.status_code >= 500:
                failures.append(f"{case.method} {case.formatted_path} {case.body!r} → {response.status_code}")

        run()
    assert not failures, failures[:5]
