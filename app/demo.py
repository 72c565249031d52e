"""`flask --app app regulars demo`: a local store, driven through the real webhook endpoint."""

from __future__ import annotations

import click
from flask.cli import AppGroup


def register(group: AppGroup) -> None:
    @group.command("demo")
    @click.option("--host", default="127.0.0.1")
    @click.option("--port", default=8000, type=int)
    @click.option("--store-port", default=8765, type=int)
    @click.option("--no-serve", is_flag=True, help="Seed and exit instead of serving.")
    def demo_cmd(host: str, port: int, store_port: int, no_serve: bool) -> None:
        """Start the app and the stand-in store, seed a demo shop through webhooks, print the URLs."""
        from app.demo_runner import run_demo

        run_demo(host=host, port=port, store_port=store_port, serve=not no_serve)
