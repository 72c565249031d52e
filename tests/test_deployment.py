"""compose.yaml, the Procfile and the Dockerfile describe one deployment: the same commands, migrations before
the app, production mode, no root, the hashed runtime lockfile. scripts/smoke runs that deployment for real
(in .ci/run); these tests check the files' rules, and that each rule notices when it is broken."""

from __future__ import annotations

import importlib.util
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
FILES = ("compose.yaml", "Procfile", "Dockerfile", ".dockerignore", "app/jobs/cron_config.py")


def _smoke() -> Any:
    spec = importlib.util.spec_from_file_location("regulars_smoke", ROOT / "scripts" / "smoke.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


smoke = _smoke()


@pytest.fixture
def copy(tmp_path: Path) -> Path:
    for name in FILES:
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, tmp_path / name)
    for name in ("app", "migrations"):
        (tmp_path / name).mkdir(exist_ok=True)
    for name in ("gunicorn.conf.py", "requirements.txt"):
        (tmp_path / name).write_text("")
    return tmp_path


def _edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text, old
    path.write_text(text.replace(old, new, 1))


def test_the_deployment_files_agree():
    assert smoke.check_deployment(ROOT) == []


def test_the_procfile_has_release_web_worker_and_cron_in_production_and_the_worker_runs_rqs_scheduler():
    procfile = {name: smoke.procfile_command(line) for name, line in smoke.read_procfile(ROOT / "Procfile").items()}
    assert set(procfile) == {"release", "web", "worker", "cron"}
    assert all(assigned["REGULARS_ENV"] == "production" for assigned, _ in procfile.values())
    assert procfile["release"][1] == ["flask", "--app", "app", "db", "upgrade"]
    assert procfile["web"][1] == ["gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"]
    assert procfile["worker"][1][:3] == ["rq", "worker", "--with-scheduler"]
    assert procfile["cron"][0]["TZ"] == "UTC" and procfile["cron"][1][-1] == "app/jobs/cron_config.py"


def test_compose_starts_postgres_redis_the_migrations_and_the_three_app_processes():
    services = yaml.safe_load((ROOT / "compose.yaml").read_text())["services"]
    assert set(services) == {"postgres", "redis", "migrate", "web", "worker", "cron"}
    assert services["migrate"]["restart"] == "no"
    assert services["web"]["ports"] == ["127.0.0.1:${WEB_PORT:-8000}:8000"]


@pytest.mark.parametrize("file, old, new, complaint", [
    ("compose.yaml", "command: rq worker --with-scheduler -c app.jobs.rq_settings",
     "command: rq worker -c app.jobs.rq_settings", "worker command"),
    ("compose.yaml", "command: gunicorn -c gunicorn.conf.py 'app:create_app()'",
     "command: gunicorn 'app:create_app()'", "web command"),
    ("Procfile", "worker: env REGULARS_ENV=production rq worker --with-scheduler",
     "worker: env REGULARS_ENV=production rq worker", "scheduler"),
    ("Procfile", "web: env REGULARS_ENV=production gunicorn", "web: gunicorn", "web line does not set REGULARS_ENV"),
    ("Procfile", "TZ=UTC rq cron", "rq cron", "UTC"),
    ("Dockerfile", "    TZ=UTC \\\n", "", "TZ=UTC"),
    ("compose.yaml", "      condition: service_completed_successfully", "      condition: service_started",
     "before the migrations"),
    ("compose.yaml", "    REGULARS_ENV: production", "    REGULARS_ENV: development", "REGULARS_ENV=production"),
    ("Dockerfile", "USER 10001:10001", "USER root", "root"),
    ("Dockerfile", "FROM python:3.11-slim", "FROM python:3.11", "slim"),
    ("Dockerfile", "pip install --require-hashes -r", "pip install -r", "hashed runtime lockfile"),
    ("Dockerfile", '"app:create_app()"]', '"app:make()"]', "CMD"),
    ("Dockerfile", "COPY gunicorn.conf.py ./", "COPY gunicorn.conf.py compose.yaml ./", "leaves out"),
    (".dockerignore", "!app/", "!tests/\n!app/", "lets tests"),
])
def test_each_rule_notices_when_it_is_broken(copy, file, old, new, complaint):
    _edit(copy / file, old, new)
    problems = smoke.check_deployment(copy)
    assert any(complaint in p for p in problems), problems


def test_a_missing_web_service_or_procfile_line_is_named(copy):
    _edit(copy / "Procfile", "cron: ", "# cron: ")
    assert "Procfile has no cron line" in smoke.check_deployment(copy)


def test_compose_interpolation_requires_the_credentials_production_needs():
    with pytest.raises(smoke.SmokeFailure, match="SHOPIFY_API_KEY"):
        smoke.interpolate("${SHOPIFY_API_KEY:?set it}", {})
    with pytest.raises(smoke.SmokeFailure, match="APP_URL"):
        smoke.interpolate("${APP_URL:?set it}", {"APP_URL": ""})
    assert smoke.interpolate("${A:-x}/${B-y}/$C/$$D/${E}", {"A": "", "B": "", "C": "c", "E": "e"}) == "x//c/$D/e"


def test_every_app_service_gets_the_same_environment():
    compose = yaml.safe_load((ROOT / "compose.yaml").read_text())
    envs = [compose["services"][s]["environment"] for s in ("migrate", "web", "worker", "cron")]
    assert all(env == envs[0] for env in envs)
    assert {"SHOPIFY_API_KEY", "SHOPIFY_API_SECRET", "APP_URL", "DATABASE_URL", "REDIS_URL",
            "REGULARS_METRICS_TOKEN", "SENTRY_DSN"} <= set(envs[0])
    assert re.fullmatch(r"\$\{SHOPIFY_API_SECRET:\?.+\}", envs[0]["SHOPIFY_API_SECRET"])
