"""``callbackUrl``: when a task ends, its record is POSTed there as JSON, to loopback hosts only
(the sandbox never reaches outside the machine).

Example:
    >>> post_callback("http://127.0.0.1:8765/hook", record)
    {'url': 'http://127.0.0.1:8765/hook', 'status': 200, 'error': None, 'skipped': None}
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import requests

from ..protocol import is_loopback_url

__all__ = ["post_callback"]


def post_callback(url: str, record: dict[str, Any]) -> dict[str, Any]:
    """POST ``record`` to ``url``; what happened: ``url, status, error, skipped``."""
    entry: dict[str, Any] = {"url": url, "status": None, "error": None, "skipped": None}
    if urlsplit(url).scheme not in ("http", "https") or not is_loopback_url(url):
        entry["skipped"] = "only loopback callback URLs are contacted by the sandbox"
        return entry
    try:
        response = requests.post(url, json=record, timeout=5)
        entry["status"] = response.status_code
    except requests.RequestException as err:
        entry["error"] = f"{type(err).__name__}: {err}"
    return entry
