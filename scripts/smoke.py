"""The deployment, run for real without Docker: what `docker compose up` starts, from the files the image holds.

    scripts/smoke            (installs with scripts/setup first; exit 0 = passed, 1 = failed)

1. checks the deployment files against each other (`docker compose config` too when this machine has
   Docker Compose and an engine): compose.yaml's web, worker, cron and migrate commands are the Procfile's
   web, worker, cron and release lines, the Dockerfile's default command is the web one, migrations run
   before anything else of the app starts, everything runs in production mode, as a user who is not root;
2. lays out what the image would hold (the Dockerfile's COPY lines) in a temporary folder, with a fresh
   virtualenv installed from the runtime lockfile alone (requirements.txt, hashes checked), as its RUN
   line does: no dev tools, no devstore;
3. runs there, in production mode, with real-looking secrets, on a fresh uniquely named PostgreSQL
   database and a unique RQ queue prefix, the Procfile's lines through bash as a platform would:
   release (migrations), then web (gunicorn), worker (rq worker --with-scheduler) and cron (rq cron);
4. sends a customer's customers/create and orders/paid, signed by the stand-in Shopify (devstore) as
   Shopify signs them, to the web process, and waits until the worker has processed both (the member
   has points); checks every line the processes wrote is one JSON object and that the worker's lines
   name the deliveries; reads GET /metrics with its token;
5. stops everything and drops the database, the Redis keys of its prefix and the temporary folder.

The shop is inserted as installed but without an access token (the install needs Shopify itself): with
no token nothing in the app can call Shopify, so a production-mode run never leaves this machine.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import secrets
import shlex
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get("SMOKE_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
REDIS_URL = os.environ.get("SMOKE_REDIS_URL", "redis://127.0.0.1:6379/0")
APP_SERVICES = ("web", "worker", "cron")


class SmokeFailure(Exception):
    pass


def say(message: str) -> None:
    print(f"smoke: {message}", flush=True)


# --- 1. the deployment files ----------------------------------------------------------------------------

_VAR = re.compile(r"\$(?:\$|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?P<op>:?[-?])?(?P<arg>[^}]*)\}|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))")


def interpolate(value: str, env: Mapping[str, str]) -> str:
    """Compose's (and the shell's) ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, $VAR and $$."""

    def one(m: re.Match[str]) -> str:
        if m.group(0) == "$$":
            return "$"
        name = m.group("braced") or m.group("bare")
        op, arg = m.group("op"), m.group("arg") or ""
        have = env.get(name)
        unset_or_empty = have is None or (have == "" and op is not None and op.startswith(":"))
        if op in (":-", "-") and unset_or_empty:
            return arg
        if op in (":?", "?") and unset_or_empty:
            raise SmokeFailure(f"compose.yaml requires {name}: {arg}")
        return have or ""

    return _VAR.sub(one, value)


def read_procfile(path: Path) -> dict[str, str]:
    lines: dict[str, str] = {}
    for raw in path.read_text().splitlines():
        if raw.strip() and not raw.lstrip().startswith("#"):
            name, _, command = raw.partition(":")
            lines[name.strip()] = command.strip()
    return lines


def _dockerfile(path: Path) -> list[tuple[str, str]]:
    """(instruction, arguments), continuation lines joined, comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    return out


def _argv(command: Any) -> list[str]:
    return list(command) if isinstance(command, list) else shlex.split(str(command))


def procfile_command(line: str) -> tuple[dict[str, str], list[str]]:
    """A Procfile line as (the variables its leading `env NAME=value …` sets, the command after them)."""
    argv = _argv(line)
    assigned: dict[str, str] = {}
    if argv[:1] == ["env"]:
        argv = argv[1:]
        while argv and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*=.*", argv[0]):
            name, _, value = argv.pop(0).partition("=")
            assigned[name] = value
    return assigned, argv


def check_deployment(root: Path = ROOT, env: Mapping[str, str] | None = None) -> list[str]:
    """What is wrong between compose.yaml, the Procfile and the Dockerfile (empty: nothing)."""
    problems: list[str] = []
    env = dict(env) if env is not None else {"SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s",
                                               "APP_URL": "https://loyalty.example.com"}
    procfile = read_procfile(root / "Procfile")
    for name in ("release", *APP_SERVICES):
        if name not in procfile:
            problems.append(f"Procfile has no {name} line")
    compose = yaml.safe_load((root / "compose.yaml").read_text())
    services: dict[str, Any] = compose.get("services") or {}
    for name in ("postgres", "redis", "migrate", *APP_SERVICES):
        if name not in services:
            problems.append(f"compose.yaml has no {name} service")
    if problems:
        return problems

    commands = {name: procfile_command(line) for name, line in procfile.items()}
    for name, (assigned, _) in commands.items():
        if assigned.get("REGULARS_ENV") != "production":
            problems.append(f"the Procfile's {name} line does not set REGULARS_ENV=production (env REGULARS_ENV=…)")
    if commands["cron"][0].get("TZ") != "UTC":
        problems.append("the Procfile's cron line does not run the schedule in UTC (TZ=UTC)")
    pairs = {"migrate": "release", **{s: s for s in APP_SERVICES}}
    for service, line in pairs.items():
        command = services[service].get("command")
        if command is None or _argv(interpolate(" ".join(shlex.quote(a) for a in _argv(command)), env)) \
                != commands[line][1]:
            problems.append(f"compose.yaml's {service} command {command!r} is not the Procfile's {line}: "
                            f"{procfile[line]!r}")
    if "--with-scheduler" not in commands["worker"][1]:
        problems.append("the worker does not run RQ's scheduler (--with-scheduler)")
    cron_files = [a for a in commands["cron"][1] if a.endswith(".py")]
    if not cron_files or not all((root / f).is_file() for f in cron_files):
        problems.append(f"the cron line names no existing schedule file: {procfile['cron']!r}")

    for service in ("migrate", *APP_SERVICES):
        spec = services[service]
        environment = spec.get("environment") or {}
        if isinstance(environment, list):
            environment = dict(item.split("=", 1) for item in environment)
        resolved = {k: interpolate(str(v), env) for k, v in environment.items()}
        if resolved.get("REGULARS_ENV") != "production":
            problems.append(f"compose.yaml's {service} does not set REGULARS_ENV=production")
        if resolved.get("TZ") != "UTC":
            problems.append(f"compose.yaml's {service} does not run in UTC (TZ)")
        if "@postgres:" not in resolved.get("DATABASE_URL", "") or "//redis:" not in resolved.get("REDIS_URL", ""):
            problems.append(f"compose.yaml's {service} does not use the stack's postgres and redis services")
        depends = spec.get("depends_on") or {}
        if not isinstance(depends, dict) or depends.get("postgres", {}).get("condition") != "service_healthy":
            problems.append(f"compose.yaml's {service} does not wait for a healthy postgres")
        if service != "migrate":
            if depends.get("migrate", {}).get("condition") != "service_completed_successfully":
                problems.append(f"compose.yaml's {service} may start before the migrations have run")
            if depends.get("redis", {}).get("condition") != "service_healthy":
                problems.append(f"compose.yaml's {service} does not wait for a healthy redis")
        if "build" not in spec:
            problems.append(f"compose.yaml's {service} is not built from the Dockerfile")
    for service in ("postgres", "redis"):
        if "healthcheck" not in services[service]:
            problems.append(f"compose.yaml's {service} has no healthcheck (the app services wait on it)")

    instructions = _dockerfile(root / "Dockerfile")
    first = next((args for word, args in instructions if word == "FROM"), "")
    if not re.match(r"python:3\.\d+-slim", first):
        problems.append(f"the Dockerfile's base is not a slim Python image: {first!r}")
    users = [args for word, args in instructions if word == "USER"]
    if not users or users[-1].split(":")[0] in ("root", "0"):
        problems.append("the Dockerfile's processes run as root (no USER, or USER root)")
    envs = " ".join(args for word, args in instructions if word == "ENV")
    if "REGULARS_ENV=production" not in envs:
        problems.append("the Dockerfile does not set REGULARS_ENV=production")
    if "TZ=UTC" not in envs:
        problems.append("the Dockerfile does not set TZ=UTC (the schedule's cron expressions are read in it)")
    runs = " ".join(args for word, args in instructions if word == "RUN")
    if "--require-hashes" not in runs or "requirements.txt" not in runs:
        problems.append("the Dockerfile does not install the hashed runtime lockfile (requirements.txt)")
    cmd = next((args for word, args in reversed(instructions) if word == "CMD"), "")
    try:
        cmd_argv = json.loads(cmd)
    except ValueError:
        cmd_argv = shlex.split(cmd)
    if cmd_argv != commands["web"][1]:
        problems.append(f"the Dockerfile's CMD {cmd!r} is not the Procfile's web line {procfile['web']!r}")
    ignore = [ln.strip() for ln in (root / ".dockerignore").read_text().splitlines()
              if ln.strip() and not ln.startswith("#")] if (root / ".dockerignore").exists() else []
    if ignore[:1] != ["*"]:
        problems.append(".dockerignore does not start by leaving everything out (then lets in what the image needs)")
    let_in = {ln[1:].rstrip("/") for ln in ignore if ln.startswith("!")}
    for src, _dest in copies(root):
        if not (root / src).exists():
            problems.append(f"the Dockerfile copies {src}, which does not exist")
        elif src.rstrip("/") not in let_in:
            problems.append(f"the Dockerfile copies {src}, which .dockerignore leaves out of the build context")
    for name in let_in:
        if name.split("/")[0] in ("tests", "devstore", "bench", ".venv", ".env", "instance"):
            problems.append(f".dockerignore lets {name} into the image")
    return problems


def copies(root: Path = ROOT) -> list[tuple[str, str]]:
    """The Dockerfile's COPY lines as (source, destination); requirements.txt is installed, not copied."""
    out = []
    for word, args in _dockerfile(root / "Dockerfile"):
        if word == "COPY":
            parts = [p for p in shlex.split(args) if not p.startswith("--")]
            for src in parts[:-1]:
                out.append((src, parts[-1]))
    return out


def compose_config(root: Path) -> str | None:
    """`docker compose config` when Docker Compose and an engine are there; None (with the reason) when not."""
    if shutil.which("docker") is None:
        return "no docker client"
    probe = subprocess.run(["docker", "compose", "version"], capture_output=True, text=True)
    if probe.returncode != 0:
        return "the docker client has no compose plugin"
    env = {**os.environ, "SHOPIFY_API_KEY": "k", "SHOPIFY_API_SECRET": "s", "APP_URL": "https://loyalty.example.com"}
    done = subprocess.run(["docker", "compose", "config", "--quiet"], cwd=root, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SmokeFailure(f"docker compose config: {done.stderr.strip()}")
    return None


# --- 2. what the image holds ----------------------------------------------------------------------------

def lay_out_image(root: Path, into: Path) -> Path:
    """The Dockerfile's COPY sources in `into`, and a virtualenv from the runtime lockfile: its bin folder."""
    for src, _dest in copies(root):
        if src == "requirements.txt":
            continue
        source = root / src
        if source.is_dir():
            shutil.copytree(source, into / src, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(source, into / src)
    venv = into / ".venv-runtime"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    subprocess.run([str(venv / "bin" / "python"), "-m", "pip", "install", "-qq", "--disable-pip-version-check",
                    "--require-hashes", "-r", str(root / "requirements.txt")], check=True)
    return venv / "bin"


# --- 3. the processes -----------------------------------------------------------------------------------

class Processes:
    """The Procfile's lines, each through `bash -c` in its own process group, output to a log file."""

    def __init__(self, procfile: Mapping[str, str], cwd: Path, env: Mapping[str, str], logdir: Path) -> None:
        self.procfile, self.cwd, self.env, self.logdir = procfile, cwd, dict(env), logdir
        self.running: dict[str, subprocess.Popen[bytes]] = {}

    def log(self, name: str) -> Path:
        return self.logdir / f"{name}.log"

    def start(self, name: str) -> subprocess.Popen[bytes]:
        out = self.log(name).open("ab")
        proc = subprocess.Popen(["bash", "-c", "exec " + self.procfile[name]], cwd=self.cwd, env=self.env,
                                stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)
        out.close()
        self.running[name] = proc
        return proc

    def run(self, name: str, timeout: float) -> None:
        proc = self.start(name)
        try:
            code = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(name)
            raise SmokeFailure(f"{name} did not finish within {timeout:.0f} s") from None
        self.running.pop(name)
        if code != 0:
            raise SmokeFailure(f"{name} exited with {code}")

    def check_alive(self) -> None:
        for name, proc in self.running.items():
            if proc.poll() is not None:
                raise SmokeFailure(f"{name} exited early with {proc.returncode}")

    def stop(self, name: str) -> None:
        proc = self.running.pop(name, None)
        if proc is None or proc.poll() is not None:
            return
        try:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
        except ProcessLookupError:
            pass

    def stop_all(self) -> None:
        for name in list(self.running):
            self.stop(name)

    def tails(self, lines: int = 25) -> str:
        out = []
        for path in sorted(self.logdir.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            out.append(f"--- {path.name} (last {len(text)} lines)\n" + "\n".join(text))
        return "\n".join(out)


def wait_for(what: str, check: Callable[[], Any], timeout: float, procs: Processes) -> Any:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        procs.check_alive()
        try:
            result = check()
            if result:
                return result
        except Exception as exc:
            last = exc
        time.sleep(0.25)
    raise SmokeFailure(f"timed out after {timeout:.0f} s waiting for {what}" + (f" (last error: {last})" if last else ""))


# --- the run --------------------------------------------------------------------------------------------

@contextmanager
def fresh_database() -> Iterator[str]:
    import psycopg

    name = f"regulars_smoke_{os.getpid()}_{secrets.token_hex(4)}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield PG_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def forget_redis_keys(prefix: str) -> int:
    from redis import Redis

    redis = Redis.from_url(REDIS_URL)
    keys = list(redis.scan_iter(match=f"*{prefix}*", count=500))
    if keys:
        redis.delete(*keys)
    return len(keys)


def json_lines_problems(path: Path) -> list[str]:
    bad = []
    for n, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            if not isinstance(json.loads(line), dict):
                raise ValueError
        except ValueError:
            bad.append(f"{path.name}:{n}: {line[:160]}")
    return bad


def json_lines(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text(errors="replace").splitlines():
        try:
            item = json.loads(line)
        except ValueError:
            continue
        if isinstance(item, dict):
            out.append(item)
    return out


def smoke(*, keep: bool = False) -> None:
    started = time.monotonic()
    steps = 8

    def step(n: int, text: str) -> None:
        say(f"[{n}/{steps}] {text}  (+{time.monotonic() - started:.1f} s)")

    step(1, "checking compose.yaml, the Procfile and the Dockerfile against each other")
    problems = check_deployment(ROOT)
    if problems:
        raise SmokeFailure("deployment files disagree:\n  " + "\n  ".join(problems))
    skipped = compose_config(ROOT)
    say("      `docker compose config`: " + (f"not run ({skipped}); checked by the rules above" if skipped else "ok"))

    work = Path(tempfile.mkdtemp(prefix="regulars-smoke-"))
    logdir = work / "logs"
    logdir.mkdir()
    procs: Processes | None = None
    prefix = f"smoke{secrets.token_hex(4)}-"
    try:
        step(2, f"laying out the image's files in {work} and installing requirements.txt alone (hashes checked)")
        image = work / "srv"
        image.mkdir()
        bin_dir = lay_out_image(ROOT, image)
        have = subprocess.run([str(bin_dir / "python"), "-c",
                               "import importlib.util as u; print([m for m in ('devstore', 'graphql', 'pytest')"
                               " if u.find_spec(m)])"], cwd=image, capture_output=True, text=True, check=True)
        if have.stdout.strip() != "[]":
            raise SmokeFailure(f"the runtime install has test-only packages: {have.stdout.strip()}")

        with fresh_database() as database_url:
            step(3, f"fresh database {database_url.rsplit('/', 1)[1]}, queue prefix {prefix!r}, production mode")
            secret = secrets.token_hex(32)
            token = secrets.token_urlsafe(24)
            from tests.conftest import free_port  # the suite's own way to find a free port

            port = free_port()
            shop = f"smoke-{secrets.token_hex(3)}.myshopify.com"
            env = {
                "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '/usr/bin:/bin')}",
                "HOME": str(work), "LANG": "C.UTF-8", "TZ": "UTC",
                "REGULARS_ENV": "production",
                "SHOPIFY_API_KEY": secrets.token_hex(16), "SHOPIFY_API_SECRET": secret,
                # https, as production requires; .invalid never resolves, and nothing here is served on it.
                "APP_URL": f"https://{prefix.rstrip('-')}.regulars.invalid",
                "DATABASE_URL": database_url.replace("postgresql://", "postgresql+psycopg://", 1),
                "REDIS_URL": REDIS_URL, "REGULARS_QUEUE_PREFIX": prefix, "REGULARS_METRICS_TOKEN": token,
                "PORT": str(port), "WEB_CONCURRENCY": "2", "PYTHONUNBUFFERED": "1",
            }
            procs = Processes(read_procfile(ROOT / "Procfile"), image, env, logdir)

            step(4, "release: " + procs.procfile["release"])
            procs.run("release", timeout=180)
            shop_id = _install_shop(env["DATABASE_URL"], shop)

            step(5, "starting web, worker and cron: " + "; ".join(procs.procfile[p] for p in APP_SERVICES))
            for name in APP_SERVICES:
                procs.start(name)
            base = f"http://127.0.0.1:{port}"
            wait_for("GET /healthz to answer 200", lambda: _get(base + "/healthz").status_code == 200, 90, procs)

            step(6, f"sending customers/create and orders/paid for {shop}, signed as Shopify signs them")
            customer_id, order_id = _send_webhooks(shop, env["SHOPIFY_API_KEY"], secret, base)

            step(7, "waiting for the worker to process them (the member has points)")
            points = wait_for("the worker to award the order's points",
                              lambda: _member_points(env["DATABASE_URL"], shop_id, customer_id), 120, procs)
            statuses = _statuses(env["DATABASE_URL"])
            if sorted(statuses.values()) != ["processed", "processed"]:
                raise SmokeFailure(f"deliveries are not all processed: {statuses}")
            say(f"      member {customer_id}: {points['pending']} points pending, {points['available']} available; "
                f"order {order_id}; deliveries {statuses}")

            step(8, "checking the logs (one JSON object per line, delivery ids) and GET /metrics")
            order_delivery = next(i for i, topic in _topics(env["DATABASE_URL"]).items() if topic == "orders/paid")
            wait_for("the worker's line for the orders/paid delivery",
                     lambda: any(r.get("delivery_id") == order_delivery and r.get("outcome") == "processed"
                                 for r in json_lines(procs.log("worker"))), 30, procs)
            metrics = _get(base + "/metrics", headers={"Authorization": f"Bearer {token}"})
            if metrics.status_code != 200:
                raise SmokeFailure(f"GET /metrics answered {metrics.status_code}")
            wanted = ['regulars_webhook_deliveries_processed_total{outcome="processed"} 2',
                      "regulars_webhook_deliveries_received_total 2", 'regulars_up{source="database"} 1',
                      'regulars_up{source="redis"} 1', f'regulars_rq_jobs_waiting{{queue="{prefix}webhooks"}}']
            missing = [w for w in wanted if w not in metrics.text]
            if missing:
                raise SmokeFailure(f"GET /metrics lacks {missing}:\n{metrics.text}")
            if _get(base + "/metrics").status_code != 401:
                raise SmokeFailure("GET /metrics without the token was not refused with 401")
            procs.stop_all()
            bad = [p for name in ("release", *APP_SERVICES) for p in json_lines_problems(procs.log(name))]
            if bad:
                raise SmokeFailure("lines that are not one JSON object:\n  " + "\n  ".join(bad[:20]))
    except BaseException:
        if procs is not None:
            procs.stop_all()
            print(procs.tails(), flush=True)
        raise
    finally:
        if procs is not None:
            procs.stop_all()
        removed = forget_redis_keys(prefix)
        if keep:
            say(f"kept {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
        say(f"cleaned up: database dropped, {removed} Redis keys of {prefix!r} removed"
            + ("" if keep else ", temporary folder removed"))
    say(f"passed in {time.monotonic() - started:.1f} s")


def _get(url: str, headers: Mapping[str, str] | None = None) -> Any:
    import httpx

    return httpx.get(url, headers=dict(headers or {}), timeout=5)


def _engine(url: str) -> Any:
    from sqlalchemy import create_engine

    return create_engine(url)


def _install_shop(database_url: str, domain: str) -> int:
    """The shop as an install leaves it, without the access token (so nothing can call Shopify)."""
    from sqlalchemy import insert

    from app.models import Shop, utcnow

    eng = _engine(database_url)
    try:
        with eng.begin() as conn:
            return int(conn.execute(insert(Shop.__table__).values(domain=domain, installed_at=utcnow(), settings={})
                                    .returning(Shop.__table__.c.id)).scalar_one())
    finally:
        eng.dispose()


def _send_webhooks(shop: str, api_key: str, secret: str, base: str) -> tuple[int, int]:
    from devstore import DevStore

    store = DevStore(api_key=api_key, api_secret=secret, app_url=base, rate_limit=False)
    store.add_shop(shop)
    record = store.find_shop(shop)
    assert record is not None
    record.installed = True  # the stand-in sends webhooks only for an installed app
    customer = store.create_customer(shop, "smoke@example.com", "Smoke", "Test")
    order = store.create_order(shop, customer["id"], [{"title": "Tee", "price": "40.00", "quantity": 1}])
    answers = [(d.topic, d.status) for d in store.sender.deliveries]
    if [s for _, s in answers] != [200, 200]:
        raise SmokeFailure(f"the web process did not acknowledge both webhooks with 200: {answers}")
    return int(customer["id"]), int(order["id"])


def _member_points(database_url: str, shop_id: int, customer_id: int) -> dict[str, int] | None:
    from sqlalchemy import text

    eng = _engine(database_url)
    try:
        with eng.connect() as conn:
            row = conn.execute(text("SELECT points_pending, points_available FROM members"
                                    " WHERE shop_id = :s AND customer_id = :c"), {"s": shop_id, "c": customer_id}).first()
    finally:
        eng.dispose()
    if row is None or row[0] + row[1] <= 0:
        return None
    return {"pending": int(row[0]), "available": int(row[1])}


def _statuses(database_url: str) -> dict[str, str]:
    from sqlalchemy import text

    eng = _engine(database_url)
    try:
        with eng.connect() as conn:
            return {topic: status for topic, status in conn.execute(
                text("SELECT topic, status FROM webhook_deliveries ORDER BY id"))}
    finally:
        eng.dispose()


def _topics(database_url: str) -> dict[int, str]:
    from sqlalchemy import text

    eng = _engine(database_url)
    try:
        with eng.connect() as conn:
            return {int(i): t for i, t in conn.execute(text("SELECT id, topic FROM webhook_deliveries"))}
    finally:
        eng.dispose()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--keep", action="store_true", help="keep the temporary folder (logs, the image's files)")
    parser.add_argument("--check-only", action="store_true", help="only step 1: the deployment files")
    args = parser.parse_args(argv)
    sys.path.insert(0, str(ROOT))
    try:
        if args.check_only:
            problems = check_deployment(ROOT)
            for p in problems:
                say(p)
            say("deployment files agree" if not problems else "deployment files disagree")
            return 1 if problems else 0
        smoke(keep=args.keep)
        return 0
    except SmokeFailure as exc:
        say(f"FAILED: {exc}")
        return 1
    except Exception:
        traceback.print_exc()
        say("FAILED: unexpected error (above)")
        return 1


if __name__ == "__main__":
    sys.exit(main())
