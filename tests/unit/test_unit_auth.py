"""Signing, nonces, redaction and the secrecy of credentials."""

from __future__ import annotations

import hashlib
import hmac
import logging
import pickle
import threading

import pytest

from wiro_widgets.auth import Credentials, next_nonce, sign
from wiro_widgets.errors import ConfigError
from wiro_widgets.redaction import redact


def test_signature_matches_the_documented_formula() -> None:
    # hex(HMAC-SHA256(key=api_key, msg=secret + nonce)), as the model page's openssl line.
    expected = hmac.new(b"my-key", b"my-secret1700000000", hashlib.sha256).hexdigest()
    assert sign("my-key", "my-secret", "1700000000") == expected
    assert len(expected) == 64
    assert expected == expected.lower()


def test_headers_in_signature_mode_verify() -> None:
    creds = Credentials("key-abc", "secret-xyz")
    headers = creds.headers()
    assert set(headers) == {"x-api-key", "x-nonce", "x-signature"}
    assert headers["x-signature"] == sign("key-abc", "secret-xyz", headers["x-nonce"])
    assert creds.signed


def test_key_only_mode_sends_only_the_key() -> None:
    creds = Credentials("key-abc", None)
    assert creds.headers() == {"x-api-key": "key-abc"}
    assert not creds.signed
    assert Credentials("key-abc", "").headers() == {"x-api-key": "key-abc"}


def test_nonces_strictly_increase_across_threads() -> None:
    seen: list[int] = []
    lock = threading.Lock()

    def grab() -> None:
        local = [int(next_nonce()) for _ in range(500)]
        assert local == sorted(local)
        assert len(set(local)) == len(local)
        with lock:
            seen.extend(local)

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(seen) == len(set(seen)) == 4000


def test_two_requests_in_one_millisecond_get_different_nonces() -> None:
    creds = Credentials("key-abc", "secret-xyz")
    first, second = creds.headers(), creds.headers()
    assert first["x-nonce"] != second["x-nonce"]
    assert first["x-signature"] != second["x-signature"]


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_key_is_a_config_error(key: str | None) -> None:
    with pytest.raises(ConfigError, match="WIRO_API_KEY"):
        Credentials(key)


@pytest.mark.parametrize(("key", "secret"), [("a b", None), ("abc\n", "x\x00"), ("k", "s e")])
def test_malformed_credentials_are_refused(key: str, secret: str | None) -> None:
    with pytest.raises(ConfigError):
        Credentials(key, secret)


def test_repr_and_pickle_never_show_the_secret() -> None:
    creds = Credentials("visible-key-123", "hidden-secret-456")
    text = repr(creds)
    assert "hidden-secret-456" not in text
    assert "visible-key-123" not in text
    assert creds.fingerprint() in text
    with pytest.raises(TypeError):
        pickle.dumps(creds)


def test_redact_removes_keys_and_secrets_from_text_and_logs(
        caplog: pytest.LogCaptureFixture) -> None:
    creds = Credentials("redact-key-777", "redact-secret-888")
    assert redact("key=redact-key-777 secret=redact-secret-888") == "key=*** secret=***"
    with caplog.at_level(logging.DEBUG, logger="wiro_widgets"):
        logging.getLogger("wiro_widgets").warning("oops %s", creds.api_key)
    assert "redact-key-777" not in caplog.text
    assert "***" in caplog.text
