"""The run's own processes (redis-server, gunicorn, `rq worker`) and the faults done to them."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def descendants(pid: int) -> list[int]:
    """Every process below `pid` (RQ's work horse is a forked child of the worker)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as fh:
                    ppid = int(fh.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def kill_tree(proc: subprocess.Popen[bytes], sig: int = signal.SIGKILL) -> None:
    """Kills the process and everything it forked, children first, as an OOM kill of the box would."""
    for pid in [*descendants(proc.pid), proc.pid]:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)
    with contextlib.suppress(subprocess.TimeoutExpired):
        proc.wait(timeout=10)


def stop(proc: subprocess.Popen[bytes] | None, timeout: float = 10.0) -> None:
    """Polite stop (SIGTERM to the process group the child leads), then SIGKILL of what is left."""
    if proc is None or proc.poll() is not None:
        return
    try:
        os.killpg(proc.pid, signal.SIGTERM)
    except ProcessLookupError:
        return
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        kill_tree(proc)
    for pid in descendants(proc.pid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def _spawn(args: list[str], env: Mapping[str, str], log: Path) -> subprocess.Popen[bytes]:
    fh = open(log, "ab")  # noqa: SIM115 - the child owns the handle for its whole life
    return subprocess.Popen(args, env=dict(env), cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True)


class RedisServer:
    """A redis-server of the run's own, without persistence: a restart loses every queued job and flag."""

    def __init__(self, port: int, logdir: Path) -> None:
        self.port = port
        self.logdir = logdir
        self.proc: subprocess.Popen[bytes] | None = None
        self.restarts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        self.proc = _spawn(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
             "--daemonize", "no"],
            os.environ, self.logdir / "redis.log",
        )
        self.wait_ready()

    def wait_ready(self, timeout: float = 15.0) -> None:
        from redis import Redis

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                Redis.from_url(self.url, socket_connect_timeout=0.2).ping()
                return
            except Exception:
                time.sleep(0.05)
        raise RuntimeError(f"redis-server on port {self.port} did not answer within {timeout} s")

    def restart(self, down_for: float = 1.0) -> None:
        """Crash it (SIGKILL) and bring it back empty after `down_for` seconds."""
        if self.proc is not None:
            kill_tree(self.proc)
        time.sleep(down_for)
        self.start()
        self.restarts += 1

    def close(self) -> None:
        stop(self.proc)


class Gunicorn:
    """The app as production runs it: gunicorn, several workers, threads, the app factory."""

    def __init__(self, port: int, env: Mapping[str, str], logdir: Path, workers: int = 4, threads: int = 4) -> None:
        self.port = port
        self.env = env
        self.logdir = logdir
        self.workers = workers
        self.threads = threads
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 60.0) -> None:
        self.proc = _spawn(
            [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{self.port}", "--workers", str(self.workers),
             "--worker-class", "gthread", "--threads", str(self.threads), "--timeout", "60",
             "--graceful-timeout", "5", "--backlog", "512", "app:create_app()"],
            self.env, self.logdir / "gunicorn.log",
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited with {self.proc.returncode}; see {self.logdir / 'gunicorn.log'}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.2)
        raise RuntimeError("gunicorn did not answer /healthz in time")

    def close(self) -> None:
        stop(self.proc)


class Workers:
    """N real forking `rq worker` processes; dead ones are replaced, one is SIGKILLed on demand."""

    def __init__(self, n: int, env: Mapping[str, str], redis_url: str, queues: list[str], logdir: Path) -> None:
        self.n = n
        self.env = env
        self.redis_url = redis_url
        self.queues = queues
        self.logdir = logdir
        self.procs: list[subprocess.Popen[bytes] | None] = [None] * n
        self.kills = 0
        self.restarts = 0
        self._next_victim = 0

    def _start(self, i: int) -> None:
        self.procs[i] = _spawn(
            [sys.executable, "-m", "rq.cli", "worker", "--url", self.redis_url, "--logging_level", "WARNING",
             *self.queues],
            self.env, self.logdir / f"worker{i}.log",
        )

    def start(self) -> None:
        for i in range(self.n):
            self._start(i)

    def revive(self) -> int:
        """Restarts workers that died (Redis went away under them, or a kill); returns how many."""
        revived = 0
        for i, proc in enumerate(self.procs):
            if proc is None or proc.poll() is not None:
                self._start(i)
                self.restarts += 1
                revived += 1
        return revived

    def kill_one(self) -> None:
        """SIGKILL a worker and its work horse mid-whatever, then start a fresh one in its place."""
        i = self._next_victim % self.n
        self._next_victim += 1
        proc = self.procs[i]
        if proc is not None and proc.poll() is None:
            kill_tree(proc)
            self.kills += 1
        self._start(i)
        self.restarts += 1

    def close(self) -> None:
        for proc in self.procs:
            stop(proc, timeout=5)
