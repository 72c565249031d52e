"""One catalogue cache: the widget's load serves the order path, and a tier written anywhere is seen by both."""

from __future__ import annotations

import pytest

from app.extensions import db
from app.services import catalogue, program
from tests.services.engine_fixtures import SHOP

pytestmark = pytest.mark.postgres


def test_the_widget_and_the_order_path_share_one_entry_and_see_an_edit_alike(engine_app):
    eng = engine_app
    catalogue.clear()
    shop, digest = catalogue.find_shop(SHOP)
    assert shop is not None and digest is not None
    seen_by_widget = catalogue.catalogue_for(shop, digest)
    assert program.catalogue(shop) is seen_by_widget  # the order path reads the entry the widget loaded
    assert seen_by_widget.ladder == ()

    gold = eng.add_tier("Gold", "500", "1.5")  # an ORM write from outside the tier service
    db.session.expire_all()
    shop, new_digest = catalogue.find_shop(SHOP)
    assert shop is not None and new_digest != digest
    engine_view = program.catalogue(shop)
    assert [(t.id, t.multiplier) for t in engine_view.ladder] == [(gold.id, gold.multiplier)]
    widget_view = catalogue.catalogue_for(shop, new_digest)
    assert [(t.id, t.name) for t in widget_view.tiers] == [(gold.id, "Gold")]
    assert widget_view.tier(gold.id) == engine_view.tier(gold.id)
