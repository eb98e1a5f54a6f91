"""Redirects, followed by the client itself so that credentials never reach another host.

requests follows redirects with every header it was given except ``Authorization``, so the
``x-api-key``, ``x-nonce`` and ``x-signature`` of a Run or a Task/Detail would go to any host
a 307 names. The transport asks requests not to follow and hands each answer to `Redirects`:

- a signed request (every API call) follows a redirect only to its own origin (scheme, host
  and port), signed afresh; a redirect to another origin is refused with an `ApiError`;
- a download carries no credentials, so it follows redirects anywhere over http(s) (output
  files may live behind a CDN).

Refuse rather than follow without the credentials: every API endpoint needs them, so the
other host could only answer 401, or, for a Run, receive a prompt and reference images it has
no business with; an error naming the host and pointing to ``base_url`` is what a user can
act on. The API only takes POST, so a followed redirect repeats the same POST.

Example:
    >>> answer = Redirects(url, signed=True, what="/Task/Detail").follow(send)
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, TypeVar
from urllib.parse import urljoin, urlsplit

from ..errors import ApiError
from ..redaction import get_logger

__all__ = ["MAX_REDIRECTS", "REDIRECT_STATUSES", "Redirects", "origin"]

log = get_logger("wiro_widgets")

#: Redirects followed for one request at most.
MAX_REDIRECTS = 5
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_DEFAULT_PORTS = {"http": 80, "https": 443}


class HasStatus(Protocol):
    """What `Redirects` reads of an answer."""

    @property
    def status(self) -> int: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


_A = TypeVar("_A", bound=HasStatus)


def origin(url: str) -> tuple[str, str, int | None]:
    """(scheme, host, port) of ``url``, default ports filled in.

    Example:
        >>> origin("https://API.wiro.ai/v1/Run")
        ('https', 'api.wiro.ai', 443)
    """
    parts = urlsplit(url)
    scheme = parts.scheme.lower()
    try:
        port = parts.port
    except ValueError:
        port = None
    return scheme, (parts.hostname or "").lower(), port or _DEFAULT_PORTS.get(scheme)


class Redirects:
    """The redirects of one request.

    Args:
        url: where the request goes first.
        signed: it carries credentials (then only same-origin redirects are followed).
        what: the endpoint or ``download``, for errors.
    """

    def __init__(self, url: str, *, signed: bool, what: str) -> None:
        self.url = url
        self.signed = signed
        self.what = what

    def follow(self, send: Callable[[str], _A]) -> _A:
        """Send to ``url`` and follow what may be followed; the final answer.

        Raises:
            ApiError: a redirect to another origin with credentials, to a scheme other
                than http(s), or too many of them.
        """
        url = self.url
        for _ in range(MAX_REDIRECTS + 1):
            answer = send(url)
            location = answer.headers.get("Location")
            if answer.status not in REDIRECT_STATUSES or not location:
                return answer
            target = urljoin(url, location.strip())
            self._check(answer.status, target)
            log.debug("%s: HTTP %d, following to %s", self.what, answer.status,
                      "the same origin" if self.signed else origin(target)[1])
            url = target
        raise ApiError(f"more than {MAX_REDIRECTS} redirects; not followed further",
                       endpoint=self.what)

    def _check(self, status: int, target: str) -> None:
        there = origin(target)
        if there[0] not in _DEFAULT_PORTS or not there[1]:
            raise ApiError(f"HTTP {status} redirects to a URL that is not http(s); not "
                           "followed", http_status=status, endpoint=self.what)
        if self.signed and there != origin(self.url):
            raise ApiError(
                f"the API redirected this request to another host ({there[0]}://{there[1]}"
                f"{'' if there[2] == _DEFAULT_PORTS[there[0]] else f':{there[2]}'}); not "
                "followed, so the API key and signature never reach it. If the API has "
                "moved, set base_url (or WIRO_BASE_URL) to its new address",
                http_status=status, endpoint=self.what)
