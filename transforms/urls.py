"""URL helpers shared by the readers, the fetcher and normalization."""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

_TRACKING_PARAMS = re.compile(r"^(?:utm_\w+|fbclid|gclid|mc_cid|mc_eid)$", re.IGNORECASE)


def is_http(url: object) -> bool:
    """An http(s) URL that parses: urlsplit refuses some (a broken IPv6 host, "http://[x")."""
    if not (isinstance(url, str) and url.lower().startswith(("http://", "https://"))):
        return False
    try:
        urlsplit(url)
    except ValueError:
        return False
    return True


def canonical_url(url: str) -> str:
    """Scheme and host lower-cased, fragment and tracking parameters dropped."""
    parts = urlsplit(url.strip())
    query = urlencode(
        [
            (key, value)
            for key, value in parse_qsl(parts.query, keep_blank_values=True)
            if not _TRACKING_PARAMS.match(key)
        ]
    )
    return urlunsplit((parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", query, ""))
