"""Construction, configuration, signing and thread use against a real sandbox."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from client_helpers import MODEL, SMALL, closed_port

from wiro_widgets import WiroClient
from wiro_widgets.errors import AuthError, ConfigError, NetworkError, NotFound


def test_arguments_then_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("WIRO_API_KEY", "env-key-0001")
    monkeypatch.setenv("WIRO_API_SECRET", "env-secret-0001")
    monkeypatch.setenv("WIRO_BASE_URL", "http://127.0.0.1:1/v1/")
    monkeypatch.setenv("WIRO_SOCKET_URL", "ws://127.0.0.1:2/v1")
    client = WiroClient()
    assert client.base_url == "http://127.0.0.1:1/v1"
    assert client.socket_url == "ws://127.0.0.1:2/v1"
    assert "signature" in repr(client)
    # An explicit key never borrows the environment's secret: it is key-only.
    other = WiroClient(api_key="arg-key-0002", base_url="https://example.com/v1")
    assert "key-only" in repr(other)
    assert other.base_url == "https://example.com/v1"


def test_defaults_point_at_wiro(monkeypatch: pytest.MonkeyPatch) -> None:
    client = WiroClient(api_key="k-123456")
    assert client.base_url == "https://api.wiro.ai/v1"
    assert client.socket_url == "wss://socket.wiro.ai/v1"
    assert not client.is_sandbox
    assert "key-only" in repr(client)


def test_no_key_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="WIRO_API_KEY"):
        WiroClient()


@pytest.mark.parametrize(("kwargs", "match"), [
    ({"base_url": "ftp://example.com/v1"}, "base_url"),
    ({"base_url": "example.com/v1"}, "base_url"),
    ({"base_url": "http://:80/v1"}, "base_url"),
    ({"base_url": "http://host:99999/v1"}, "port"),
    ({"socket_url": "https://socket.wiro.ai/v1"}, "socket_url"),
    ({"on_timeout": "explode"}, "on_timeout"),
    ({"budget": -1.0}, "budget"),
])
def test_malformed_settings(kwargs: dict[str, Any], match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        WiroClient(api_key="k-123456", **kwargs)


def test_repr_shows_url_and_fingerprint_only(sandbox: Any) -> None:
    client = sandbox.client()
    text = repr(client)
    assert sandbox.base_url in text
    assert client.key_fingerprint in text
    assert sandbox.api_key not in text
    assert sandbox.api_secret not in text


def test_sandbox_is_recognised(sandbox: Any) -> None:
    client = sandbox.client()
    assert client.is_sandbox  # loopback host
    assert not client._transport.saw_sandbox  # no request yet (validate reads the schema)
    with pytest.raises(NotFound):
        client.detail("999999999")
    assert client._transport.saw_sandbox  # the header was seen too


def test_a_wrong_secret_is_an_auth_error_and_secret_free(sandbox: Any) -> None:
    client = WiroClient(api_key=sandbox.api_key, api_secret="wrong-secret-abcdef",
                        base_url=sandbox.base_url, socket_url=sandbox.socket_url)
    with pytest.raises(AuthError) as info:
        client.detail("1")
    assert info.value.http_status == 401
    assert "wrong-secret-abcdef" not in str(info.value)
    assert sandbox.api_key not in str(info.value)


def test_key_only_projects(make_sandbox: Any) -> None:
    sb = make_sandbox(key_only=True)
    assert sb.api_secret is None
    client = sb.client()
    assert "key-only" in repr(client)
    result = client.run(MODEL, prompt="key only", **SMALL)
    assert result.images[0].size == (64, 64)


def test_signature_required_when_the_project_has_a_secret(sandbox: Any) -> None:
    client = WiroClient(api_key=sandbox.api_key, api_secret="",
                        base_url=sandbox.base_url, socket_url=sandbox.socket_url)
    with pytest.raises(AuthError, match="requires signature"):
        client.detail("1")


def test_one_client_from_many_threads(make_sandbox: Any) -> None:
    # Parallel signed requests: fresh nonces (the sandbox refuses a reused one with 401)
    # and one session per thread.
    sb = make_sandbox(concurrency_limit=None)
    client = sb.client()
    sessions: set[int] = set()
    lock = threading.Lock()

    def work(i: int) -> str:
        task = client.submit(MODEL, prompt=f"thread {i}", seed=i, **SMALL)
        for _ in range(5):
            client.detail(task)
        with lock:
            sessions.add(id(client._transport._session()))
        return client.wait(task, timeout=30).task_id

    with ThreadPoolExecutor(8) as pool:
        ids = list(pool.map(work, range(16)))
    assert len(set(ids)) == 16
    assert len(sb.tasks) == 16
    assert len(sessions) > 1
    assert all(r.status != 401 for r in sb.requests)


def test_unreachable_server_is_a_network_error_and_sends_nothing() -> None:
    client = WiroClient(api_key="k-123456", base_url=f"http://127.0.0.1:{closed_port()}/v1")
    with pytest.raises(NetworkError) as info:
        client.submit(MODEL, prompt="nobody home", **SMALL)
    assert info.value.task_may_exist is False
    assert "nothing was sent" in str(info.value)


def test_context_manager_closes_sessions(sandbox: Any) -> None:
    with sandbox.client() as client:
        client.detail(client.submit(MODEL, prompt="ctx", **SMALL))
    assert not client._transport._sessions


def test_each_request_is_logged_without_secrets(sandbox: Any,
                                                caplog: pytest.LogCaptureFixture) -> None:
    import logging

    client = sandbox.client()
    with caplog.at_level(logging.DEBUG, logger="wiro_widgets"):
        client.run(MODEL, prompt="logged", **SMALL)
    messages = [r.getMessage() for r in caplog.records if r.name == "wiro_widgets"]
    assert any(f"POST /Run/{MODEL} attempt 1 -> HTTP 200" in m for m in messages)
    assert any("POST /Task/Detail attempt 1 -> HTTP 200" in m for m in messages)
    assert any("GET output attempt 1 -> HTTP 200" in m for m in messages)
    text = "\n".join(messages)
    assert sandbox.api_key not in text
    assert sandbox.api_secret not in text
    assert "x-signature" not in text
    assert "x-nonce" not in text
