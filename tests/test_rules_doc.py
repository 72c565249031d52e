"""docs/rules.md names only what exists: every `module:function` home imports and every test it names is
defined in its file (so a rename or a removal cannot leave the rule table pointing at nothing)."""

from __future__ import annotations

import ast
import importlib
import re
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOC = ROOT / "docs" / "rules.md"
HOME = re.compile(r"`(app(?:\.\w+)+):([A-Za-z_][\w.]*)`")
TEST = re.compile(r"`(tests/[\w/]+\.py)::(\w+)`")


def _rows() -> list[str]:
    return [line for line in DOC.read_text(encoding="utf-8").splitlines()
            if line.startswith("| ") and not line.startswith("| Rule ")]


@cache
def _tests_in(path: str) -> frozenset[str]:
    tree = ast.parse((ROOT / path).read_text(encoding="utf-8"))
    return frozenset(node.name for node in ast.walk(tree)
                     if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and node.name.startswith("test_"))


def test_the_table_has_a_row_for_each_section_of_the_rules() -> None:
    sections = {row.split(" — ")[0].strip("| ").rsplit(" ", 1)[0] for row in _rows()}
    assert sections == {"The ledger", "Earning from orders", "Earning from actions", "VIP tiers",
                        "Rewards and redemption", "Referrals", "Expiry", "Writing back to Shopify", "Privacy",
                        "Store credit", "Automations", "Imports"}


def test_every_home_named_exists() -> None:
    missing = []
    homes = [m for row in _rows() for m in HOME.findall(row)]
    assert len(homes) > 40
    for module_name, attr_path in homes:
        target: object = importlib.import_module(module_name)
        for part in attr_path.split("."):
            if not hasattr(target, part):
                missing.append(f"{module_name}:{attr_path}")
                break
            target = getattr(target, part)
    assert missing == []


def test_every_test_named_exists() -> None:
    named = [m for row in _rows() for m in TEST.findall(row)]
    assert len(named) > 40
    missing = [f"{path}::{name}" for path, name in named
               if not (ROOT / path).is_file() or name not in _tests_in(path)]
    assert missing == []


def test_each_row_names_a_home() -> None:
    assert [row[:60] for row in _rows() if not HOME.search(row) and "not built yet" not in row] == []
