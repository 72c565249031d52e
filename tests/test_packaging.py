"""What ships is the app alone: the built wheel holds app/ (templates, static files and locales included) and
no test-only code, its requirements name no test-only package, the lockfiles pin everything pyproject.toml
asks for with hashes, and the app runs with the test-only packages absent."""

from __future__ import annotations

import ast
import email
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parent.parent
PYPROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())
# Used by the tests, the stand-in Shopify, the benches and the scripts only.
TEST_ONLY = ("devstore", "pytest", "hypothesis", "playwright", "schemathesis", "graphql-core", "PyJWT", "pyinstrument")
# (jwt, PyJWT's module, is not among them: Shopify's libraries import it. app/ itself never does.)
TEST_ONLY_MODULES = ("devstore", "tests", "bench", "pytest", "hypothesis", "playwright", "schemathesis", "graphql",
                     "pyinstrument")


def _pins(lockfile: str) -> dict[str, tuple[str, int]]:
    """name -> (version, number of hashes) of a pip-compile lockfile."""
    pins: dict[str, tuple[str, int]] = {}
    current = None
    for line in (ROOT / lockfile).read_text().splitlines():
        m = re.match(r"^([A-Za-z0-9._-]+)==([^\s\\]+)", line)
        if m:
            current = canonicalize_name(m.group(1))
            pins[current] = (m.group(2), 0)
        elif current and line.strip().startswith("--hash=sha256:"):
            version, hashes = pins[current]
            pins[current] = (version, hashes + 1)
    return pins


def test_pyproject_asks_for_no_test_only_package_at_run_time():
    runtime = {canonicalize_name(Requirement(r).name) for r in PYPROJECT["project"]["dependencies"]}
    assert not runtime & {canonicalize_name(n) for n in TEST_ONLY}
    assert PYPROJECT["tool"]["setuptools"]["packages"]["find"]["include"] == ["app*"]


@pytest.mark.parametrize("lockfile, groups", [("requirements.txt", ("runtime",)),
                                               ("requirements-dev.txt", ("runtime", "dev"))])
def test_the_lockfiles_pin_every_requirement_of_pyproject_with_hashes(lockfile, groups):
    pins = _pins(lockfile)
    wanted = list(PYPROJECT["project"]["dependencies"]) if "runtime" in groups else []
    if "dev" in groups:
        wanted += PYPROJECT["project"]["optional-dependencies"]["dev"]
    for raw in wanted:
        req = Requirement(raw)
        name = canonicalize_name(req.name)
        assert name in pins, f"{req.name} is not in {lockfile}: run scripts/lock"
        assert req.specifier.contains(pins[name][0], prereleases=True), f"{lockfile} pins {name}=={pins[name][0]}, not {req}"
    assert all(hashes > 0 for _, hashes in pins.values()), "every pin carries its hashes"


def test_the_runtime_lock_has_no_test_only_package_and_agrees_with_the_dev_lock():
    runtime, dev = _pins("requirements.txt"), _pins("requirements-dev.txt")
    # PyJWT stays: Shopify's own libraries (ShopifyAPI, shopifyapp) require it; the app itself never imports it.
    for name in ("pytest", "hypothesis", "playwright", "schemathesis", "graphql-core", "pyinstrument", "pip-tools"):
        assert canonicalize_name(name) not in runtime
    assert {n: v for n, (v, _) in runtime.items()} == {n: dev[n][0] for n in runtime}


def test_scripts_setup_installs_the_dev_lockfile_then_the_project_without_dependencies():
    setup = (ROOT / "scripts" / "setup").read_text()
    assert "--require-hashes -r requirements-dev.txt" in setup and "--no-deps -e ." in setup
    assert "'.[dev]'" not in setup


def test_the_app_imports_no_test_only_package_at_module_level():
    offenders = []
    for path in (ROOT / "app").rglob("*.py"):
        tree = ast.parse(path.read_text(), str(path))
        for node in tree.body:  # module level only: the demo may import devstore when it runs
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in TEST_ONLY_MODULES]
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names
                          if n.split(".")[0] in ("graphql", "jwt", "pytest", "tests", "bench")]
    assert offenders == []


def test_the_app_serves_with_every_test_only_package_unimportable(tmp_path):
    """Every module of app/ imports, and the production app answers, with the test-only packages blocked."""
    code = f"""
import importlib, importlib.abc, os, pkgutil, sys
BLOCKED = {TEST_ONLY_MODULES!r}
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked)", name=name)
sys.meta_path.insert(0, Block())
import app
for info in pkgutil.walk_packages(app.__path__, "app."):
    if info.name == "app.jobs.rq_settings":  # RQ's settings: they need REDIS_URL, and only RQ reads them
        os.environ["REDIS_URL"] = "redis://127.0.0.1:1/0"
        importlib.import_module(info.name)
        del os.environ["REDIS_URL"]
        continue
    importlib.import_module(info.name)
from app import create_app
client = create_app().test_client()
assert client.get("/healthz").status_code == 200, client.get("/healthz").data
assert client.get("/api/openapi.json").status_code == 200
assert client.post("/webhooks", data=b"{{}}").status_code == 401
print("ok")
"""
    env = {"PATH": "/usr/bin:/bin", "REGULARS_ENV": "production", "SHOPIFY_API_KEY": "k" * 32,
           "SHOPIFY_API_SECRET": "s" * 32, "APP_URL": "https://loyalty.example.com",
           "DATABASE_URL": f"sqlite:///{tmp_path}/r.db"}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip().endswith("ok"), done.stderr[-3000:]


def test_the_demo_without_devstore_says_what_is_missing(monkeypatch):
    from app import create_app
    from tests.conftest import make_config

    monkeypatch.setitem(sys.modules, "devstore", None)  # as in an install without the source tree
    result = create_app(make_config(env="development")).test_cli_runner().invoke(args=["regulars", "demo", "--no-serve"])
    assert result.exit_code == 1
    assert "the demo needs devstore/" in result.output and "checkout" in result.output


def test_the_built_wheel_holds_the_app_alone_and_requires_no_test_only_package(tmp_path):
    src = tmp_path / "src"
    src.mkdir()
    shutil.copytree(ROOT / "app", src / "app", ignore=shutil.ignore_patterns("__pycache__"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, src / name)
    (src / "devstore").mkdir()  # what the repository has beside app/: must not be picked up
    (src / "devstore" / "__init__.py").write_text("")
    done = subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                           "-w", str(tmp_path / "dist"), str(src)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    (wheel,) = (tmp_path / "dist").glob("regulars-*.whl")
    with zipfile.ZipFile(wheel) as zf:
        names = zf.namelist()
        meta = email.message_from_string(zf.read(next(n for n in names if n.endswith("/METADATA"))).decode())
    tops = {n.split("/")[0] for n in names if not n.split("/")[0].endswith(".dist-info")}
    assert tops == {"app"}
    assert "app/templates/admin/home.html" in names
    assert any(n.startswith("app/static/") for n in names) and any(n.startswith("app/translations/") and n.endswith("/LC_MESSAGES/messages.po") for n in names)
    runtime = [Requirement(r) for r in meta.get_all("Requires-Dist") or []]
    always = {canonicalize_name(r.name) for r in runtime if r.marker is None}
    assert not always & {canonicalize_name(n) for n in TEST_ONLY}
    assert {"pytest", "pyjwt", "graphql-core"} <= {canonicalize_name(r.name) for r in runtime if r.marker is not None}
