"""Production logs are one JSON object per line at INFO, with the request's id on a web request's lines and
the delivery's ids on the lines written while a stored webhook is processed; development logs stay plain."""

from __future__ import annotations

import json
import logging
import os
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import create_app
from app.logs import JsonFormatter, delivery_context, formatter
from app.models import WebhookDelivery
from app.services.deliveries import drain, store_delivery
from app.services.topics import dispatch
from tests.conftest import TEST_KEY, TEST_SECRET, free_port, make_config

ROOT = Path(__file__).resolve().parent.parent


class _Lines(logging.Handler):
    """What the production formatter writes, line by line, parsed back."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.setFormatter(JsonFormatter())
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(self.format(record))

    def parsed(self) -> list[dict[str, Any]]:
        return [json.loads(line) for line in self.lines]


@pytest.fixture
def json_lines() -> Iterator[_Lines]:
    root = logging.getLogger()
    handler, level = _Lines(), root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield handler
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def test_a_line_is_one_json_object_with_time_level_logger_message_extras_and_the_traceback(json_lines):
    log = logging.getLogger("regulars.test")
    try:
        raise ValueError("bad\nthing")
    except ValueError:
        log.exception("it broke: %s", "here", extra={"order_id": 42})
    assert len(json_lines.lines) == 1 and "\n" not in json_lines.lines[0]
    line = json_lines.parsed()[0]
    assert line["level"] == "ERROR" and line["logger"] == "regulars.test" and line["message"] == "it broke: here"
    assert line["order_id"] == 42 and line["time"].endswith("Z")
    assert "ValueError: bad" in line["exception"] and "Traceback" in line["exception"]
    assert "request_id" not in line and "delivery_id" not in line


def test_a_request_line_carries_the_request_id_the_load_balancer_sent_or_one_made_for_the_request(json_lines):
    app = create_app(make_config(env="production", app_url="https://loyalty.example.com"))
    log = logging.getLogger("regulars.test")
    with app.test_request_context("/webhooks", method="POST",
                                  headers={"X-Request-Id": "lb-7f3a", "X-Shopify-Webhook-Id": "wh-1"}):
        log.warning("first")
        log.warning("second")
    with app.test_request_context("/api/v1/program"):
        log.warning("third")
        log.warning("fourth")
    with app.test_request_context("/x", headers={"X-Request-Id": 'has "quotes" and spaces'}):
        log.warning("fifth")
    first, second, third, fourth, fifth = json_lines.parsed()
    assert first["request_id"] == second["request_id"] == "lb-7f3a"
    assert (first["method"], first["path"], first["webhook_id"]) == ("POST", "/webhooks", "wh-1")
    assert third["request_id"] == fourth["request_id"] and len(third["request_id"]) == 32
    assert third["request_id"] != first["request_id"] and "webhook_id" not in third
    assert fifth["request_id"] != 'has "quotes" and spaces' and len(fifth["request_id"]) == 32


def test_lines_inside_a_delivery_carry_its_ids_and_only_inside(json_lines):
    log = logging.getLogger("regulars.test")
    with delivery_context(17, "wh-17", "orders/paid", "alpha.myshopify.com"):
        log.warning("inside")
    log.warning("outside")
    inside, outside = json_lines.parsed()
    assert (inside["delivery_id"], inside["webhook_id"], inside["topic"], inside["shop"]) == (
        17, "wh-17", "orders/paid", "alpha.myshopify.com")
    assert "delivery_id" not in outside


def test_development_lines_are_plain_text():
    record = logging.LogRecord("app.x", logging.INFO, __file__, 1, "hello %s", ("you",), None)
    text = formatter(production=False).format(record)
    assert text.endswith("INFO app.x: hello you") and not text.startswith("{")


@pytest.mark.postgres
def test_the_drain_writes_an_info_line_per_delivery_and_its_failures_with_the_delivery_ids(pg_app, json_lines):
    with pg_app.app_context():
        ids = []
        for topic in ("customers/create", "orders/paid"):
            new_id, _ = store_delivery(shop_domain="nobody.myshopify.com", topic=topic, webhook_id=f"wh-{topic}",
                                       event_id=str(uuid.uuid4()), triggered_at=None, api_version="2026-10",
                                       body=json.dumps({"id": 1}))
            ids.append(new_id)

        def failing_orders(delivery: WebhookDelivery) -> str:
            if delivery.topic == "orders/paid":
                logging.getLogger("app.services.orders").info("looking at the order")
                raise RuntimeError("order handler broke")
            return dispatch(delivery)

        assert drain(failing_orders, 5) == 2
    lines = json_lines.parsed()
    skipped = [ln for ln in lines if ln.get("outcome") == "skipped"]
    assert len(skipped) == 1 and skipped[0]["level"] == "INFO"
    assert (skipped[0]["delivery_id"], skipped[0]["webhook_id"], skipped[0]["topic"], skipped[0]["shop"]) == (
        ids[0], "wh-customers/create", "customers/create", "nobody.myshopify.com")
    inside = [ln for ln in lines if ln["message"] == "looking at the order"]
    assert inside and all(ln["delivery_id"] == ids[1] for ln in inside)
    failed = [ln for ln in lines if ln["level"] == "ERROR"]
    assert failed and failed[-1]["delivery_id"] == ids[1] and "order handler broke" in failed[-1]["exception"]


def _server_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("REGULARS_", "SHOPIFY_", "SENTRY_"))}
    env.update({"REGULARS_ENV": "production", "SHOPIFY_API_KEY": TEST_KEY, "SHOPIFY_API_SECRET": TEST_SECRET,
                "APP_URL": "https://loyalty.example.com", "PYTHONUNBUFFERED": "1", **extra})
    return env


def test_gunicorn_in_production_writes_only_json_lines_with_the_request_id_of_a_request_that_logs(tmp_path):
    # Nothing answers at these addresses: /metrics then logs, inside the request, that neither answered.
    port, dead = free_port(), free_port()
    env = _server_env(PORT=str(port), WEB_CONCURRENCY="1", REGULARS_METRICS_TOKEN="t" * 24,
                      DATABASE_URL=f"postgresql+psycopg://nobody@127.0.0.1:{dead}/none",
                      REDIS_URL=f"redis://127.0.0.1:{dead}/0")
    out = tmp_path / "web.log"
    with out.open("wb") as sink:
        proc = subprocess.Popen([sys.executable, "-m", "gunicorn", "-c", "gunicorn.conf.py", "app:create_app()"],
                                cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                answer = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=10,
                                   headers={"Authorization": "Bearer " + "t" * 24, "X-Request-Id": "req-abc"})
                break
            except httpx.TransportError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    pytest.fail("gunicorn did not answer: " + out.read_text()[-3000:])
                time.sleep(0.2)
        assert answer.status_code == 200
        assert 'regulars_up{source="database"} 0' in answer.text and 'regulars_up{source="redis"} 0' in answer.text
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait(timeout=30)
    text = out.read_text()
    lines = [json.loads(line) for line in text.splitlines() if line.strip()]  # each one JSON object, or this fails
    assert any(ln["logger"] == "gunicorn.error" and "Booting worker" in ln["message"] for ln in lines), text
    mine = [ln for ln in lines if ln.get("request_id") == "req-abc"]
    assert {ln["level"] for ln in mine} == {"WARNING"} and len(mine) == 2, text
    assert all(ln["path"] == "/metrics" and ln["logger"] == "app.metrics" for ln in mine)
