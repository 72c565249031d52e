"""Links entered by staff (a custom action's "do it here" link): what may become an `href` in a shopper's page.

Only `https:` URLs to a named host (and, in development only, `http:`), without credentials, control
characters or spaces. Anything else (`javascript:`, `data:`, protocol-relative `//host`, a bare path) is
refused on input and never rendered as a link if an older row holds it.
"""

from __future__ import annotations

from urllib.parse import urlsplit

MAX_LINK_LENGTH = 512


def link_problem(value: object, *, allow_http: bool = False) -> str | None:
    """None when `value` is a link staff may give shoppers; otherwise why not, in a few words."""
    if not isinstance(value, str):
        return "must be text (a URL)"
    if not value or len(value) > MAX_LINK_LENGTH:
        return f"must be a URL of 1 to {MAX_LINK_LENGTH} characters"
    if any(ch.isspace() or ord(ch) < 0x20 or ord(ch) == 0x7F for ch in value):
        return "must not contain spaces or control characters"
    try:
        parts = urlsplit(value)
        host = parts.hostname
        parts.port  # noqa: B018  (raises ValueError for a port that is not a number)
    except ValueError:
        return "is not a valid URL"
    schemes = ("https", "http") if allow_http else ("https",)
    if parts.scheme.lower() not in schemes:
        return "must start with https://" if not allow_http else "must start with https:// or http://"
    if not host or parts.username is not None or parts.password is not None or "\\" in value:
        return "must name a host, without a user name or password"
    return None


def safe_link(value: object, *, allow_http: bool = False) -> str | None:
    """The link itself when it may be rendered as an `href`, else None (so a bad stored value shows no link)."""
    return value if isinstance(value, str) and link_problem(value, allow_http=allow_http) is None else None
