"""What arrives over HTTP, parsed strictly at the edge, and the one error shape every refusal answers with.

- Query and form values, and every string of a JSON body, are cleaned of the characters text may not hold
  (app.loyalty.text) as the request parses them: one request class instead of a check per route.
- JSON bodies: too deeply nested is malformed (400), never a RecursionError.
- Ids and whole numbers: ASCII digits only (`'²'.isdigit()` is True and `int('²')` raises) and within what a
  PostgreSQL bigint holds, so an id nobody could have is "not found" and a number too large is "invalid".
- Every 4xx of every route is `{"error": {"code", "message", "fields"?}}` (contract.md); a value the
  database cannot hold answers 400 instead of a 5xx, with the transaction rolled back.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any

from flask import Flask, Request, Response, jsonify
from flask.json.provider import DefaultJSONProvider
from sqlalchemy.exc import DataError
from werkzeug.datastructures import ImmutableMultiDict
from werkzeug.exceptions import HTTPException

from app.extensions import db
from app.loyalty.text import clean_json, clean_text, json_text_may_need_cleaning

log = logging.getLogger(__name__)

BIGINT_MAX = 2**63 - 1
_DIGITS = re.compile(r"[0-9]{1,19}")
_SIGNED = re.compile(r"[+-]?[0-9]{1,19}")


class InputError(Exception):
    """A request that is not what its route expects: answered with `status` and the contract's error shape."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.fields = fields


def error_response(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Response:
    body: dict[str, Any] = {"code": code, "message": message}
    if fields:
        body["fields"] = fields
    resp = jsonify({"error": body})
    resp.status_code = status
    return resp


# --- values ------------------------------------------------------------------------------------------


def parse_id(raw: object) -> int | None:
    """A record or Shopify id (int, or a string of ASCII digits) between 1 and 2^63 − 1; None otherwise."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif isinstance(raw, str) and _DIGITS.fullmatch(raw.strip()):
        value = int(raw.strip())
    else:
        return None
    return value if 0 < value <= BIGINT_MAX else None


def parse_whole_number(raw: object, *, low: int = -BIGINT_MAX, high: int = BIGINT_MAX,
                       strings: bool = True) -> int | None:
    """An integer (or, with `strings`, ASCII digits with an optional sign) within [low, high]; None otherwise."""
    if isinstance(raw, bool):
        return None
    if isinstance(raw, int):
        value = raw
    elif strings and isinstance(raw, str) and _SIGNED.fullmatch(raw.strip()):
        value = int(raw.strip())
    else:
        return None
    return value if low <= value <= high else None


def parse_json(raw: bytes | str) -> Any:
    """JSON text as Python values with every string cleaned; ValueError when it is not JSON (too deep included)."""
    try:
        text = raw.decode("utf-8") if isinstance(raw, bytes) else raw
        value = json.loads(text)
        return clean_json(value) if json_text_may_need_cleaning(text) else value
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None


def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON object: 400 when the body is not JSON at all, 422 when it is JSON but not an object."""
    if not request.is_json:
        raise InputError(422, "invalid_body", "the body must be a JSON object (Content-Type: application/json)")
    try:
        data = parse_json(request.get_data(cache=True))
    except ValueError:
        raise InputError(400, "invalid_json", "the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise InputError(422, "invalid_body", "the body must be a JSON object")
    return data


# --- the request class and JSON provider -------------------------------------------------------------


def _clean_pairs(data: Mapping[Any, Any] | Iterable[tuple[Any, Any]] | None) -> list[tuple[Any, Any]]:
    if data is None:
        return []
    if isinstance(data, ImmutableMultiDict):
        items: Iterable[tuple[Any, Any]] = data.items(multi=True)
    elif isinstance(data, Mapping):
        items = data.items()
    else:
        items = data
    return [(clean_text(k) if isinstance(k, str) else k, clean_text(v) if isinstance(v, str) else v)
            for k, v in items]


class CleanMultiDict(ImmutableMultiDict[str, str]):
    """Query and form values as werkzeug parses them, cleaned (app.loyalty.text)."""

    def __init__(self, mapping: Any = None) -> None:
        super().__init__(_clean_pairs(mapping))


class CleanRequest(Request):
    parameter_storage_class = CleanMultiDict


class CleanJSONProvider(DefaultJSONProvider):
    """request.get_json(): strings cleaned, too deep nesting a ValueError (werkzeug answers 400 for it)."""

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return parse_json(s)


# --- the error shape ---------------------------------------------------------------------------------


def http_error(exc: HTTPException) -> Any:
    if exc.code is None or exc.code < 400:
        return exc  # redirects (a missing trailing slash) stay what they are
    name = (exc.name or "error").lower().replace(" ", "_")
    resp = error_response(exc.code, name, exc.description or exc.name or "error")
    original = exc.get_response()
    for header in ("Allow", "Retry-After", "WWW-Authenticate"):
        if header in original.headers:
            resp.headers[header] = original.headers[header]
    return resp


def _input_error(exc: InputError) -> Response:

    db.session.rollback()
    return error_response(exc.status, exc.code, exc.message, exc.fields)


def _too_deep(_exc: RecursionError) -> Response:
    return error_response(400, "invalid_body", "the request is nested too deeply")


def _unstorable(exc: DataError | OverflowError) -> Response:
    # A value that reached the database although it cannot be stored (PostgreSQL's DataError; SQLite's driver
    # raises OverflowError for an integer beyond 64 bits): the parsers above should have refused it, so this is
    # logged as the gap it is, and answered as the bad input it is.

    db.session.rollback()
    log.error("a request value the database cannot hold got through: %s", exc, exc_info=True)
    return error_response(400, "invalid_value", "a value in the request is out of range")


def init_app(app: Flask) -> None:
    app.request_class = CleanRequest
    app.json = CleanJSONProvider(app)
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(InputError, _input_error)
    app.register_error_handler(RecursionError, _too_deep)
    app.register_error_handler(DataError, _unstorable)
    app.register_error_handler(OverflowError, _unstorable)
