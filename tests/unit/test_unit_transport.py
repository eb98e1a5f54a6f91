"""Envelope parsing, the error mapping and retry timing (pure logic)."""

from __future__ import annotations

import email.utils
import json
import time

import pytest

from wiro_widgets.backoff import RetryPolicy, backoff_delay
from wiro_widgets.client._transport import Transient, check_envelope, parse_retry_after
from wiro_widgets.errors import (
    ApiError,
    AuthError,
    ConcurrencyLimit,
    InsufficientBalance,
    NotFound,
)


def body(result: bool, code: int | str | None = None, message: str = "") -> bytes:
    errors = [] if code is None else [{"code": code, "message": message}]
    return json.dumps({"result": result, "errors": errors, "taskid": "7"}).encode()


def test_success_returns_the_envelope() -> None:
    assert check_envelope(200, body(True), "/Run/a/b")["taskid"] == "7"


@pytest.mark.parametrize(("status", "code", "kind"), [
    (200, 1, NotFound), (200, "1", NotFound), (200, 97, InsufficientBalance),
    (200, 99, AuthError), (401, 0, AuthError), (200, 0, ApiError), (200, 98, ApiError),
    (404, 0, ApiError), (403, 0, AuthError),
])
def test_codes_map_to_the_hierarchy(status: int, code: int | str, kind: type) -> None:
    with pytest.raises(ApiError) as info:
        check_envelope(status, body(False, code, "nope"), "/Task/Detail")
    assert type(info.value) is kind
    assert info.value.code == int(code)
    assert info.value.http_status == status
    assert info.value.endpoint == "/Task/Detail"


def test_401_without_a_body_is_still_an_auth_error() -> None:
    with pytest.raises(AuthError):
        check_envelope(401, b"", "/Run/a/b")


@pytest.mark.parametrize(("status", "raw", "kind", "text"), [
    (403, b'{"message":"Forbidden"}', AuthError, "Forbidden"),
    (401, b"<html><head><title>401 Authorization Required</title></head></html>", AuthError,
     "401 Authorization Required"),
    (400, b"<html><body><h1>400 Bad Request</h1>\n<p>bad  header</p></body></html>", ApiError,
     "HTTP 400: 400 Bad Request bad header"),
    (422, b'{"detail": "prompt: field required"}', ApiError,
     "HTTP 422: prompt: field required"),
    (413, b"<html><head><title>413 Request Entity Too Large</title></head></html>", ApiError,
     "HTTP 413: 413 Request Entity Too Large"),
    (404, b"not here", ApiError, "HTTP 404: not here"),
    (418, b"", ApiError, "HTTP 418"),
])
def test_a_4xx_without_the_envelope_is_a_refusal_not_a_lost_answer(
        status: int, raw: bytes, kind: type, text: str) -> None:
    with pytest.raises(ApiError) as info:
        check_envelope(status, raw, "/Task/Detail")
    assert type(info.value) is kind
    assert info.value.http_status == status
    assert text in str(info.value)


def test_the_excerpt_of_a_page_is_short_and_redacted() -> None:
    from wiro_widgets.auth import Credentials

    creds = Credentials("page-echo-key-4242", "page-secret-4242")
    page = f"<html><body>{'x' * 500} {creds.api_key}</body></html>".encode()
    with pytest.raises(ApiError) as info:
        check_envelope(400, page, "/Run/a/b")
    assert len(str(info.value)) < 260
    with pytest.raises(AuthError) as auth:
        check_envelope(403, f'{{"message": "no {creds.api_key}"}}'.encode(), "/Run/a/b")
    assert "page-echo-key-4242" not in str(auth.value)
    assert "no ***" in str(auth.value)


@pytest.mark.parametrize("status", [408, 429])
def test_408_and_429_without_the_envelope_keep_their_retry_meaning(status: int) -> None:
    with pytest.raises(Transient):
        check_envelope(status, b'{"message": "slow down"}', "/Task/Detail")


def test_code_96_is_transient_and_carries_concurrency_limit() -> None:
    with pytest.raises(Transient) as info:
        check_envelope(200, body(False, 96, "limit"), "/Run/a/b", retry_after=3.0)
    assert isinstance(info.value.error, ConcurrencyLimit)
    assert info.value.retry_after == 3.0
    assert info.value.error.retry_after == 3.0


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_retryable_statuses(status: int) -> None:
    with pytest.raises(Transient) as info:
        check_envelope(status, b"<html>busy</html>", "/Task/Detail", retry_after=2.0)
    assert info.value.http_status == status
    assert info.value.retry_after == 2.0
    assert info.value.sent


@pytest.mark.parametrize("raw", [b"", b"{", b'{"result": tr', b"[1, 2]", b'"text"',
                                 b'{"no": "result"}', b"\xff\xfe"])
def test_garbled_bodies_are_transient(raw: bytes) -> None:
    with pytest.raises(Transient, match="garbled"):
        check_envelope(200, raw, "/Task/Detail")


def test_server_text_is_redacted() -> None:
    from wiro_widgets.auth import Credentials

    creds = Credentials("server-echo-key-42", "s3cr3t-value-42")
    with pytest.raises(ApiError) as info:
        check_envelope(200, body(False, 0, f"bad key {creds.api_key}"), "/Run/a/b")
    assert "server-echo-key-42" not in str(info.value)


def test_backoff_has_full_jitter_under_a_growing_cap() -> None:
    policy = RetryPolicy(base=0.5, cap=4.0)
    assert backoff_delay(1, policy, rng=lambda lo, hi: hi) == 0.5
    assert backoff_delay(3, policy, rng=lambda lo, hi: hi) == 2.0
    assert backoff_delay(10, policy, rng=lambda lo, hi: hi) == 4.0
    assert backoff_delay(10, policy, rng=lambda lo, hi: lo) == 0.0
    samples = {round(backoff_delay(4, policy), 3) for _ in range(50)}
    assert len(samples) > 10
    assert all(0 <= s <= 4.0 for s in samples)


def test_retry_after_wins_and_is_capped() -> None:
    policy = RetryPolicy(retry_after_cap=5.0)
    assert backoff_delay(1, policy, retry_after=2.0) == 2.0
    assert backoff_delay(1, policy, retry_after=600.0) == 5.0


def test_parse_retry_after_seconds_and_dates() -> None:
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 1.5 ") == 1.5
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    now = time.time()
    date = email.utils.formatdate(now + 30, usegmt=True)
    assert 28 <= (parse_retry_after(date, now=now) or 0) <= 31
    assert parse_retry_after(email.utils.formatdate(now - 100, usegmt=True), now=now) == 0.0
