"""README command (a): scripts/demo sets up, seeds a shop through the webhook endpoint and serves the URLs it prints."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from pathlib import Path

import httpx

from tests.conftest import free_port

ROOT = Path(__file__).resolve().parent.parent


def test_demo_serves_the_urls_it_prints(tmp_path):
    port, store_port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if k not in ("REDIS_URL", "SHOPIFY_API_ORIGIN", "APP_URL")}
    env.update(PORT=str(port), STORE_PORT=str(store_port), DATABASE_URL=f"sqlite:///{tmp_path}/demo.db")
    proc = subprocess.Popen([str(ROOT / "scripts" / "demo")], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    lines: list[str] = []
    try:
        deadline = time.time() + 240
        while time.time() < deadline:
            line = proc.stdout.readline() if proc.stdout else ""
            if not line and proc.poll() is not None:
                break
            lines.append(line)
            if line.startswith("Serving"):
                break
        output = "".join(lines)
        assert "Serving" in output, output[-3000:]
        seeded = re.search(r"Seeded (\d+) members and (\d+) orders; (\d+) webhook deliveries processed", output)
        assert seeded and int(seeded.group(1)) > 0 and int(seeded.group(2)) > 0, output[-2000:]
        urls = dict(re.findall(r"^[ ]+([A-Z][^:\n]+?):[ ]+(http\S+)$", output, re.M))
        assert {"Admin (dev sign-in)", "Widget, signed-in member", "Health"} <= set(urls), urls
        with httpx.Client(timeout=20, follow_redirects=True) as client:
            assert client.get(urls["Health"]).json()["ok"] is True
            admin = client.get(urls["Admin (dev sign-in)"])
            assert admin.status_code == 200 and "regulars-demo.myshopify.com" in admin.text
            # The storefront is the shop's own origin (http://{handle}.localhost:<port>, which browsers resolve
            # to this machine; this resolver may not): connect to the port, name the host.
            shopfront = httpx.URL(urls["Widget, signed-in member"])
            local = shopfront.copy_with(host="127.0.0.1")
            host = {"Host": f"{shopfront.host}:{shopfront.port}"}
            account = client.get(local, headers=host)
            assert account.status_code == 200
            # The account page loads the widget through the stand-in app proxy, signed as Shopify signs it.
            cookies = {"devstore_customer": shopfront.params["as"]}
            widget = client.get(local.copy_with(path="/apps/regulars/widget", query=b"locale=en"), headers=host,
                                cookies=cookies)
            assert widget.status_code == 200 and "points" in widget.text.lower()
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait(timeout=20)
