"""Keeping keys and secrets out of every text: the secret registry, `redact`, and the
redacting filter on the package's loggers.

A `Secret` registers its value while it lives; `redact` replaces every registered value in a
text with ``***`` and drops the user and password of every URL in it
(``https://user:pass@host/x.png`` becomes ``https://host/x.png``). Errors
(`errors.WiroError`), log records, the ledger and saved metadata all pass through `redact`, so
no message built by this package can carry a key or a password. This module imports nothing
of the package, so every other module may use it.

Example:
    >>> secret = Secret("sk-live-1234")
    >>> redact("the key sk-live-1234 was refused by https://me:pw@example.com/a.png")
    'the key *** was refused by https://example.com/a.png'
    >>> log = get_logger("wiro_widgets.mine")      # records pass through `redact`
"""

from __future__ import annotations

import logging
import re
import threading
import weakref
from typing import Any

__all__ = ["MASK", "RedactingFilter", "Secret", "get_logger", "redact", "redact_data",
           "strip_userinfo"]

#: What a secret is replaced with.
MASK = "***"

_SECRETS: weakref.WeakSet[Secret] = weakref.WeakSet()
_SECRETS_LOCK = threading.Lock()
# scheme://user:password@ (up to the last "@" before the path). Quotes and backslashes end
# it, so a URL inside JSON or a repr is stripped without touching the text around it.
_USERINFO = re.compile(r"\b([A-Za-z][A-Za-z0-9+.-]*://)[^\s/?#\"<>\\]*@")


class Secret:
    """Holds one secret string; registered for redaction while alive, never shown by repr.

    Example:
        >>> Secret("abcd1234")
        ***
    """

    __slots__ = ("__weakref__", "value")

    def __init__(self, value: str) -> None:
        self.value = value
        with _SECRETS_LOCK:
            _SECRETS.add(self)

    def __repr__(self) -> str:
        return MASK


def redact(text: str) -> str:
    """Replace every known key and secret in ``text`` with ``***``, and drop the user and
    password of every URL in it.

    Example:
        >>> redact(f"bad key {creds.api_key}")
        'bad key ***'
    """
    if not text:
        return text
    if "@" in text and "://" in text:
        text = _USERINFO.sub(r"\1", text)
    with _SECRETS_LOCK:
        values = sorted({s.value for s in _SECRETS if len(s.value) >= 4}, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, MASK)
    return text


def redact_data(value: Any) -> Any:
    """``value`` with `redact` applied to every string inside it (dicts, lists, tuples);
    other values are kept as they are.

    Example:
        >>> redact_data({"debugerror": "bad key sk-live-1234", "pexit": 1})
        {'debugerror': 'bad key ***', 'pexit': 1}
    """
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, dict):
        return {k: redact_data(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(redact_data(v) for v in value)
    return value


def strip_userinfo(url: str) -> str:
    """``url`` without the user and password it may carry; the rest is unchanged.

    Example:
        >>> strip_userinfo("https://me:pw@example.com/a.png")
        'https://example.com/a.png'
    """
    return _USERINFO.sub(r"\1", url) if "@" in url else url


class RedactingFilter(logging.Filter):
    """A logging filter that removes keys and secrets from records: the message, and the
    traceback and stack text (installed on every logger of the package, see `get_logger`)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            # Formatters reuse exc_text when set, so the traceback is written redacted.
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


def get_logger(name: str = "wiro_widgets") -> logging.Logger:
    """The package logger ``name`` with the redacting filter on it, and on each of its
    parents inside the package.

    A logger's filters do not apply to records of its child loggers, so each module's
    logger (``wiro_widgets.research.history``, ``wiro_widgets.sandbox``, ...) needs its own,
    and so do the parents between it and ``wiro_widgets`` (``wiro_widgets.research``),
    which would otherwise be created later without one.

    Example:
        >>> get_logger("wiro_widgets.research.sweep").info("sweep: %s", message)
    """
    parts = name.split(".")
    for depth in range(1, len(parts) + 1):
        each = ".".join(parts[:depth])
        if each == name or parts[0] == "wiro_widgets":
            logger = logging.getLogger(each)
            if not any(isinstance(f, RedactingFilter) for f in logger.filters):
                logger.addFilter(RedactingFilter())
    return logging.getLogger(name)


get_logger()
