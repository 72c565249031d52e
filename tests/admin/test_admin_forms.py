"""Form errors a merchant reads: keyed by the form's own paths, in plain words, under one top message; and the
admin blueprints stay thin (no queries, no commits, imports at the top)."""

from __future__ import annotations

import ast
import re
from pathlib import Path
from typing import Any

import pytest

from app.api import hash_api_key
from app.api.admin_forms import plain_message
from app.services import api_keys
from tests.admin.support import api

pytestmark = pytest.mark.postgres
API = Path(__file__).resolve().parents[2] / "app" / "api"
# An internal key or the domain's terse wording: what a merchant must never read.
_INTERNAL = re.compile(r"[a-z]+_[a-z]+|must be|^\d+\.")


def _assert_plain(fields: dict[str, str]) -> None:
    for path, message in fields.items():
        assert message[:1].isupper() and not _INTERNAL.search(message), (path, message)


def test_settings_errors(client: Any, shop: Any) -> None:
    r = api(client, "PATCH", "/api/admin/settings", json={
        "points_per_currency_unit": "ten", "signup_points": 1.5, "enabled": "yes", "tier_metric": "vibes",
        "expiry_days": 0, "point_value": 0, "bogus": 1})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["code"] == "invalid" and error["message"] == "Check the highlighted fields"
    assert error["fields"] == {
        "points_per_currency_unit": "Enter a number such as 1.5",
        "signup_points": "Enter a whole number of points, such as 100",
        "enabled": "Choose on or off",
        "tier_metric": "Choose one of the options",
        "expiry_days": "Enter a whole number of days, 1 or more",
        "point_value": "Enter a number above 0, such as 1.5",
        "bogus": "This field is not part of the form",
    }
    _assert_plain(error["fields"])


def test_tier_errors_are_keyed_by_the_form_path(client: Any, shop: Any) -> None:
    tiers = [{"name": "Bronze", "threshold": "0", "multiplier": "1"},
             {"name": "Silver", "threshold": "-5", "multiplier": "fast", "entry_bonus": -1},
             {"name": "Gold", "threshold": "0", "multiplier": "2"}]
    for method, path in (("PUT", "/api/admin/tiers"), ("POST", "/api/admin/tiers/preview")):
        r = api(client, method, path, json={"tiers": tiers})
        assert r.status_code == 422
        error = r.get_json()["error"]
        assert error["message"] == "Check the highlighted fields"
        assert error["fields"] == {"tiers.1.threshold": "Enter 0 or more",
                                   "tiers.1.multiplier": "Enter a number such as 1.5",
                                   "tiers.1.entry_bonus": "Enter a whole number of points, 0 or more"}
    # The ladder's own rule (two tiers from the same value) comes from the service, under the same paths.
    tiers[1] = {"name": "Silver", "threshold": "500", "multiplier": "1.25"}
    r = api(client, "PUT", "/api/admin/tiers", json={"tiers": tiers})
    assert r.status_code == 422
    fields = r.get_json()["error"]["fields"]
    assert fields == {"tiers.2.threshold": "Two tiers cannot start at the same value"}
    assert api(client, "PUT", "/api/admin/tiers", json={"tiers": []}).get_json()["error"]["fields"] == {
        "tiers": "Add between 1 and 20 tiers"}


def test_custom_action_and_campaign_errors(client: Any, shop: Any) -> None:
    r = api(client, "POST", "/api/admin/custom-actions", json={"key": "", "name": "", "points": -1, "limit": "hourly"})
    assert r.status_code == 422
    error = r.get_json()["error"]
    assert error["message"] == "Check the highlighted fields" and set(error["fields"]) == {"key", "name", "points",
                                                                                           "limit"}
    _assert_plain(error["fields"])
    r = api(client, "POST", "/api/admin/campaigns", json={"name": "", "kind": "bonus", "value": "1.5",
                                                          "starts_at": "soon", "ends_at": "later"})
    error = r.get_json()["error"]
    assert r.status_code == 422 and set(error["fields"]) == {"name", "starts_at", "ends_at"}
    _assert_plain(error["fields"])


def test_plain_message_rewords_the_domains_forms() -> None:
    assert plain_message("tiers.0.multiplier", "must be a number") == "Enter a number such as 1.5"
    assert plain_message("points_cost", "must be a whole number, at least 1") == \
        "Enter a whole number of points, 1 or more"
    assert plain_message("pending_days", "must be between 0 and 365") == "Enter a whole number of days from 0 to 365"
    assert plain_message("x", "must be one of allow_negative, forgive") == "Choose one of the options"
    assert plain_message("x", "Already plain.") == "Already plain."


def test_the_key_service_hashes_as_the_api_checks() -> None:
    assert api_keys.hash_key("rgl_abc\udc80") == hash_api_key("rgl_abc\udc80")


def test_admin_blueprints_hold_no_queries_commits_or_late_imports() -> None:
    for path in sorted([*API.glob("admin*.py"), API / "keys.py"]):
        source = path.read_text()
        assert "db.session.commit" not in source and "db.session.execute" not in source, path.name
        assert "select(" not in source and "from sqlalchemy" not in source, path.name
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.FunctionDef):
                late = [n for n in ast.walk(node) if isinstance(n, ast.Import | ast.ImportFrom)]
                assert not late, f"{path.name}: import inside {node.name}"
        assert len(source.splitlines()) <= 320, f"{path.name} is past ~300 lines: split it along its seams"
