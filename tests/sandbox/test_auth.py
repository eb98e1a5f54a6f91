"""Auth exactly as documented: x-api-key, x-nonce, x-signature = hex HMAC-SHA256 keyed by the
API key over secret + nonce; 401 envelopes with Wiro's messages; repeated nonces accepted
(as Wiro's own clients need) unless the sandbox is strict; key-only projects."""

from __future__ import annotations

import hashlib
import hmac
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import requests

from wiro_widgets.auth import next_nonce

from .wire import MODEL, Api, assert_envelope

DETAIL = "/Task/Detail"


def _raw(sb: Any, headers: dict[str, str]) -> requests.Response:
    return requests.post(sb.base_url + DETAIL, headers=headers, json={}, timeout=10)


def _documented_signature(key: str, secret: str, nonce: str) -> str:
    # Written out from the reference, independent of wiro_widgets.auth.sign.
    return hmac.new(key.encode(), (secret + nonce).encode(), hashlib.sha256).hexdigest()


def test_documented_signature_passes_auth(sandbox: Any) -> None:
    nonce = str(int(time.time()))          # seconds, as the docs' samples use
    headers = {"x-api-key": sandbox.api_key, "x-nonce": nonce,
               "x-signature": _documented_signature(sandbox.api_key, sandbox.api_secret, nonce)}
    # Past auth: the body's missing identifiers are a business error on HTTP 200.
    assert_envelope(_raw(sandbox, headers), 200, 0, "taskid or socketaccesstoken is required")


def test_missing_or_unknown_key_is_401_not_founded(sandbox: Any) -> None:
    assert_envelope(_raw(sandbox, {}), 401, 0, "Project authorization is not founded.")
    nonce = next_nonce()
    headers = {"x-api-key": "nope", "x-nonce": nonce,
               "x-signature": _documented_signature("nope", sandbox.api_secret, nonce)}
    assert_envelope(_raw(sandbox, headers), 401, 0, "Project authorization is not founded.")


def test_signature_project_refuses_key_only_requests(sandbox: Any) -> None:
    error = assert_envelope(_raw(sandbox, {"x-api-key": sandbox.api_key}), 401, 0)
    assert error["message"] == (
        "Project requires signature authentication. x-signature and x-nonce headers are "
        "required."
    )
    only_nonce = {"x-api-key": sandbox.api_key, "x-nonce": next_nonce()}
    assert_envelope(_raw(sandbox, only_nonce), 401, 0, "requires signature authentication")


def test_wrong_signatures_are_401_not_valid(sandbox: Any) -> None:
    key, secret = sandbox.api_key, sandbox.api_secret
    cases = []
    nonce = next_nonce()
    cases.append((nonce, _documented_signature(key, "wrong-secret", nonce)))
    nonce = next_nonce()
    cases.append((nonce, _documented_signature(key, secret, nonce).upper()))  # not lowercase
    nonce = next_nonce()
    cases.append((nonce, _documented_signature(secret, key, nonce)))          # roles swapped
    nonce = next_nonce()
    cases.append((nonce, hashlib.sha256((secret + nonce).encode()).hexdigest()))  # no HMAC
    cases.append(("abc", _documented_signature(key, secret, "abc")))          # not an integer
    for nonce, signature in cases:
        headers = {"x-api-key": key, "x-nonce": nonce, "x-signature": signature}
        error = assert_envelope(_raw(sandbox, headers), 401, 0)
        assert error["message"] == "Project authorization is not valid."


def _signed(sb: Any, nonce: str) -> dict[str, str]:
    return {"x-api-key": sb.api_key, "x-nonce": nonce,
            "x-signature": _documented_signature(sb.api_key, sb.api_secret, nonce)}


def test_repeated_nonces_are_accepted(sandbox: Any) -> None:
    # Wiro-MCP, Kotlin, Dart and Swift send wall-clock milliseconds, the docs' samples and
    # n8n seconds: parallel calls repeat a nonce, and the docs never ask for uniqueness.
    headers = _signed(sandbox, str(int(time.time())))
    assert_envelope(_raw(sandbox, headers), 200, 0, "taskid or socketaccesstoken is required")
    assert_envelope(_raw(sandbox, headers), 200, 0, "taskid or socketaccesstoken is required")


def test_parallel_calls_with_one_millisecond_nonce_all_pass(sandbox: Any) -> None:
    headers = _signed(sandbox, str(int(time.time() * 1000)))
    with ThreadPoolExecutor(8) as pool:
        answers = list(pool.map(lambda _: _raw(sandbox, headers), range(8)))
    assert [a.status_code for a in answers] == [200] * 8
    for answer in answers:
        assert_envelope(answer, 200, 0, "taskid or socketaccesstoken is required")


def test_a_run_with_a_repeated_nonce_is_accepted(sandbox: Any) -> None:
    headers = _signed(sandbox, str(int(time.time())))
    body = {"prompt": "same second", "steps": 1, "width": 64, "height": 64}
    for _ in range(2):
        answer = requests.post(f"{sandbox.base_url}/Run/{MODEL}", headers=headers, json=body,
                               timeout=10).json()
        assert answer["result"] is True, answer


def test_reused_nonce_is_refused_in_strict_mode(make_sandbox: Any) -> None:
    sb = make_sandbox(strict_nonces=True)
    headers = _signed(sb, next_nonce())
    assert_envelope(_raw(sb, headers), 200, 0)
    assert_envelope(_raw(sb, headers), 401, 0, "Nonce was already used")


def test_failed_signature_does_not_burn_the_nonce(make_sandbox: Any) -> None:
    sb = make_sandbox(strict_nonces=True)
    nonce = next_nonce()
    bad = {"x-api-key": sb.api_key, "x-nonce": nonce, "x-signature": "0" * 64}
    assert_envelope(_raw(sb, bad), 401, 0, "Project authorization is not valid.")
    good = dict(bad, **{"x-signature": _documented_signature(sb.api_key, sb.api_secret,
                                                               nonce)})
    assert_envelope(_raw(sb, good), 200, 0)


def test_key_only_project(make_sandbox: Any) -> None:
    sb = make_sandbox(key_only=True, api_key="my-local-key")
    assert sb.api_key == "my-local-key"
    assert sb.api_secret is None
    assert_envelope(_raw(sb, {"x-api-key": "my-local-key"}), 200, 0)
    assert_envelope(_raw(sb, {"x-api-key": "other"}), 401, 0, "not founded")
    assert_envelope(_raw(sb, {}), 401, 0, "not founded")
    api = Api(sb)
    assert api.run_ok()["taskid"]


def test_given_credentials_are_used(make_sandbox: Any) -> None:
    sb = make_sandbox(api_key="k-123", api_secret="s-456")
    nonce = next_nonce()
    headers = {"x-api-key": "k-123", "x-nonce": nonce,
               "x-signature": _documented_signature("k-123", "s-456", nonce)}
    assert_envelope(_raw(sb, headers), 200, 0)
