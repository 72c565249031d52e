"""GET and PUT /api/admin/texts: the merchant's words for shoppers per language (session token only, as the
rest of /api/admin); thin over app/services/texts.py."""

from __future__ import annotations

from typing import Any

from flask import g

from app.api import ApiError, api_auth, bp, json_body
from app.services import texts

session_only = api_auth(allow_api_key=False)


@bp.get("/admin/texts")
@session_only
def admin_texts() -> Any:
    return texts.texts_document(g.shop)


@bp.put("/admin/texts")
@session_only
def admin_texts_update() -> Any:
    try:
        return texts.update_texts(g.shop, json_body(), g.actor)
    except texts.TextsRefused as exc:
        raise ApiError(exc.status, exc.code, exc.message, exc.fields or None) from None
