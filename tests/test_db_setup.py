"""SQLite as the embedded default: a transaction that reads, then writes after another connection committed,
waits for the write lock instead of failing with "database is locked"; writers are serialised; reads before
a transaction's first write take no lock at all."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from flask_migrate import upgrade
from sqlalchemy import select, text

from app import create_app
from app.extensions import db
from app.models import Shop, utcnow
from tests.conftest import make_config


def _lite(tmp_path: Path) -> Any:
    app = create_app(make_config(database_url=f"sqlite:///{tmp_path}/lite.db"))
    with app.app_context():
        upgrade()
        db.session.add(Shop(domain="alpha.myshopify.com", settings={}, installed_at=utcnow(), access_token="t",
                            name="before"))
        db.session.commit()
    return app


def test_read_then_write_after_another_commit_does_not_fail(tmp_path: Path) -> None:
    """The pattern of every request: read (a shop, a member), then write. Under SQLite's deferred
    transactions the write after another connection's commit fails at once (SQLITE_BUSY_SNAPSHOT), whatever
    the busy timeout; here it simply goes ahead."""
    app = _lite(tmp_path)
    read_done, other_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def reader_then_writer() -> None:
        try:
            with app.app_context():
                shop = db.session.execute(select(Shop)).scalar_one()
                read_done.set()
                other_done.wait(10)
                shop.name = "from the first request"
                db.session.commit()
        except BaseException as exc:  # noqa: BLE001  (reported below)
            errors.append(exc)

    def other_writer() -> None:
        read_done.wait(10)
        with app.app_context():
            db.session.execute(text("UPDATE shops SET money_format = 'x'"))
            db.session.commit()
        other_done.set()

    threads = [threading.Thread(target=reader_then_writer), threading.Thread(target=other_writer)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    with app.app_context():
        shop = db.session.execute(select(Shop)).scalar_one()
        assert (shop.name, shop.money_format) == ("from the first request", "x")
        db.session.remove()
        db.engine.dispose()


def test_a_writer_waits_for_the_other_and_a_reader_never_waits(tmp_path: Path) -> None:
    app = _lite(tmp_path)
    holding = threading.Event()
    release = threading.Event()

    def long_writer() -> None:
        with app.app_context():
            db.session.execute(text("UPDATE shops SET name = 'held'"))
            holding.set()
            release.wait(10)
            db.session.commit()

    t = threading.Thread(target=long_writer)
    t.start()
    assert holding.wait(10)
    with app.app_context():
        # A read while the write lock is held: no lock taken, the last committed state is seen.
        assert db.session.execute(select(Shop.name)).scalar_one() == "before"
        db.session.rollback()
        timer = threading.Timer(0.5, release.set)
        timer.start()
        # A second writer waits for the first (busy timeout) instead of failing, and then sees its commit.
        db.session.execute(text("UPDATE shops SET name = name || ' then second'"))
        db.session.commit()
        assert db.session.execute(select(Shop.name)).scalar_one() == "held then second"
        db.session.remove()
        db.engine.dispose()
    t.join(10)
    timer.join(5)
    time.sleep(0)
