"""Where a Wiro key and secret are found: arguments, environment, ``.env``, notebook secrets.

`load_credentials` looks for the key and secret in the arguments, the environment, a ``.env``
file in the working directory, and Colab's or Kaggle's secrets when running there. Each secret
is paired with the key of its own place, and every value read is registered for redaction.

Example:
    >>> creds = load_credentials()               # arguments, env, .env, Colab, Kaggle
    >>> headers = creds.headers()                # x-api-key, x-nonce, x-signature
"""

from __future__ import annotations

import importlib
import os
import sys
import threading
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .auth import Credentials
from .errors import ConfigError
from .redaction import Secret

__all__ = [
    "KEY_VARIABLE",
    "SECRET_SERVICE_TIMEOUT",
    "SECRET_VARIABLE",
    "load_credentials",
]

#: The names a key and a secret go by in every place they are looked for.
KEY_VARIABLE = "WIRO_API_KEY"
SECRET_VARIABLE = "WIRO_API_SECRET"
#: Seconds Colab's or Kaggle's secret service gets to answer before it is passed over.
SECRET_SERVICE_TIMEOUT = 10.0

_Pair = tuple[str | None, str | None]
# Values read from any place, used or not, stay registered for redaction.
_FOUND: dict[str, Secret] = {}


class _Unavailable(Exception):
    """A place that could not be read; its message says why, never with a value."""


@dataclass
class _Place:
    """One place a key and its secret may be kept; read at most once, on demand."""

    name: str
    reader: Callable[[], _Pair]
    note: str = ""
    _pair: _Pair | None = field(default=None, repr=False)

    def pair(self) -> _Pair:
        if self._pair is None:
            try:
                key, secret = self.reader()
            except _Unavailable as why:
                key, secret, self.note = None, None, str(why)
            key, secret = _clean(key), _clean(secret)
            for value in (key, secret):
                _remember(value)
            if key is None and not self.note:
                self.note = (f"{SECRET_VARIABLE} without {KEY_VARIABLE}, ignored" if secret
                             else f"no {KEY_VARIABLE}")
            self._pair = (key, secret)
        return self._pair


def _clean(value: object) -> str | None:
    text = value.strip() if isinstance(value, str) else ""
    return text or None


def _remember(value: str | None) -> None:
    if value is not None and value not in _FOUND:
        _FOUND.setdefault(value, Secret(value))


def _read_environ() -> _Pair:
    return os.environ.get(KEY_VARIABLE), os.environ.get(SECRET_VARIABLE)


def _read_dotenv(path: Path) -> _Pair:
    if not path.is_file():
        raise _Unavailable("no such file")
    from dotenv import dotenv_values

    # Read only: os.environ is left as it is. No ${VAR} expansion: a secret may hold a "$".
    try:
        values = dotenv_values(path, interpolate=False)
    except (OSError, UnicodeDecodeError) as err:
        raise _Unavailable(f"unreadable ({type(err).__name__})") from None
    return values.get(KEY_VARIABLE), values.get(SECRET_VARIABLE)


def _in_colab() -> bool:
    # Colab's kernel imports google.colab at start and sets COLAB_RELEASE_TAG: no import here.
    return "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ


def _on_kaggle() -> bool:
    return "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "kaggle_secrets" in sys.modules


def _ask_each(get: Callable[[str], Any]) -> _Pair:
    """The key and the secret from a secret service's ``get``; a name it refuses is absent."""
    found: list[str | None] = []
    for name in (KEY_VARIABLE, SECRET_VARIABLE):
        try:
            found.append(get(name))
        except Exception as err:  # not found, no access granted, service errors: all "absent"
            if name == KEY_VARIABLE:
                raise _Unavailable(f"{name}: {type(err).__name__}") from None
            found.append(None)
    return found[0], found[1]


def _with_timeout(read: Callable[[], _Pair], timeout: float) -> _Pair:
    """``read()`` in a daemon thread, so a service that never answers cannot hang the caller."""
    answer: list[_Pair] = []
    failure: list[BaseException] = []

    def run() -> None:
        try:
            answer.append(read())
        except BaseException as err:  # handed to the caller below
            failure.append(err)

    thread = threading.Thread(target=run, name="wiro-secret-lookup", daemon=True)
    thread.start()
    thread.join(timeout)
    if failure:
        if isinstance(failure[0], ImportError):
            raise _Unavailable("its module cannot be imported") from None
        raise failure[0]
    if not answer:
        raise _Unavailable(f"no answer within {timeout:g} s")
    return answer[0]


def _read_colab(timeout: float) -> _Pair:
    if not _in_colab():
        raise _Unavailable("not running in Colab")

    def read() -> _Pair:
        userdata = importlib.import_module("google.colab.userdata")
        return _ask_each(userdata.get)

    return _with_timeout(read, timeout)


def _read_kaggle(timeout: float) -> _Pair:
    if not _on_kaggle():
        raise _Unavailable("not running on Kaggle")

    def read() -> _Pair:
        secrets_module = importlib.import_module("kaggle_secrets")
        return _ask_each(secrets_module.UserSecretsClient().get_secret)

    return _with_timeout(read, timeout)


def _places(folder: Path, timeout: float) -> list[_Place]:
    dotenv = folder / ".env"
    return [
        _Place(f"the environment ({KEY_VARIABLE}, {SECRET_VARIABLE})", _read_environ),
        _Place(f"the file {dotenv}", lambda: _read_dotenv(dotenv)),
        _Place("Colab's secrets (google.colab.userdata)", lambda: _read_colab(timeout)),
        _Place("Kaggle's secrets (kaggle_secrets)", lambda: _read_kaggle(timeout)),
    ]


def _not_found(places: list[_Place]) -> str:
    looked = "; ".join(f"{place.name}: {place.note}" for place in places)
    return (
        f"No Wiro API key found. Looked in the api_key argument: not given; {looked}. "
        f"Pass api_key=..., or set {KEY_VARIABLE} (and {SECRET_VARIABLE} for a signed project) "
        "in one of these places (or start a local sandbox: `wiro-widgets sandbox`)."
    )


def load_credentials(api_key: str | None = None, api_secret: str | None = None, *,
                     folder: str | Path | None = None,
                     timeout: float = SECRET_SERVICE_TIMEOUT) -> Credentials:
    """The credentials from the first place that has a key.

    The places, in order: the arguments; the environment (``WIRO_API_KEY``,
    ``WIRO_API_SECRET``); a ``.env`` file in ``folder`` (default: the working directory), read
    without changing ``os.environ``; Colab's secrets and Kaggle's secrets, only when running
    there, each given ``timeout`` seconds. A secret belongs to the key of its own place: an
    ``api_key`` argument takes ``api_secret``, or the secret of the environment or ``.env``
    when that place holds the same key, else none (a key-only project). Every value read is
    registered for redaction.

    Raises:
        ConfigError: no key anywhere (naming every place looked in, never a value), or a
            malformed key or secret.

    Example:
        >>> creds = load_credentials()                    # finds WIRO_API_KEY in ./.env
        >>> creds = load_credentials("my-key", "my-secret")   # the arguments win
    """
    try:
        return _first_found(api_key, api_secret, Path.cwd() if folder is None else Path(folder),
                            timeout)
    except BaseException as err:
        # The finished frames below hold the key and secret as plain strings: clear their
        # locals, so a traceback formatted with them (``capture_locals=True``) cannot show
        # either. This frame's own are deleted before the error leaves.
        traceback.clear_frames(err.__traceback__)
        del api_key, api_secret
        raise


def _first_found(api_key: str | None, api_secret: str | None, folder: Path,
                 timeout: float) -> Credentials:
    places = _places(folder, timeout)
    if api_key is not None:
        if api_secret is None:
            # Only the local places: an explicit key never waits on a notebook service.
            wanted = api_key.strip()
            api_secret = next((secret for key, secret in (p.pair() for p in places[:2])
                               if key == wanted), None)
        return Credentials(api_key, api_secret)
    for place in places:
        key, secret = place.pair()
        if key is not None:
            return Credentials(key, api_secret if api_secret is not None else secret)
    raise ConfigError(_not_found(places))
