"""The Python API of `Sandbox` (start/stop, URLs, env, snapshots, repr) and the
``wiro-widgets sandbox`` command."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
import requests

from wiro_widgets.cli import build_parser, main
from wiro_widgets.sandbox import Sandbox

from .wire import Api, assert_envelope


def test_context_manager_free_ports_and_idempotent_stop(tmp_path: Path) -> None:
    with Sandbox(speed=50.0) as first, Sandbox(speed=50.0, data_dir=tmp_path / "d") as second:
        assert first.base_url != second.base_url
        assert first.base_url.startswith("http://127.0.0.1:")
        assert first.base_url.endswith("/v1")
        port = int(first.base_url.rsplit(":", 1)[1].split("/")[0])
        socket_port = int(first.socket_url.rsplit(":", 1)[1].split("/")[0])
        assert port != socket_port
        temp_dir = first.data_dir
        assert temp_dir is not None
        assert temp_dir.is_dir()
        assert Api(first).run_ok(steps=1)["taskid"]
        assert first.wait_idle(5.0)
    first.stop()                                   # a second stop is harmless
    assert not temp_dir.exists()                   # its own temporary folder is removed
    assert (tmp_path / "d").is_dir()               # a folder it was given is kept
    with pytest.raises(requests.ConnectionError):
        requests.post(first.base_url + "/Task/Detail", json={}, timeout=2)
    with pytest.raises(RuntimeError):
        first.start()


def test_unstarted_sandbox(tmp_path: Path) -> None:
    sb = Sandbox()
    with pytest.raises(RuntimeError, match="not started"):
        _ = sb.base_url
    assert sb.tasks == []
    assert sb.requests == []
    assert sb.wait_idle(0.1)
    sb.stop()


def test_env_and_repr_keep_the_secret_out_of_sight(sandbox: Any) -> None:
    env = sandbox.env()
    assert env == {"WIRO_API_KEY": sandbox.api_key, "WIRO_API_SECRET": sandbox.api_secret,
                   "WIRO_BASE_URL": sandbox.base_url, "WIRO_SOCKET_URL": sandbox.socket_url}
    text = repr(sandbox)
    assert sandbox.api_secret not in text
    assert sandbox.api_key not in text
    assert "127.0.0.1" in text


def test_key_only_env(make_sandbox: Any) -> None:
    assert make_sandbox(key_only=True).env()["WIRO_API_SECRET"] == ""


def test_requests_are_recorded_without_auth_headers(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    api.run_ok(prompt="recorded", steps=1)
    api.post("/Task/Detail", files={"taskid": (None, "123")})
    run, detail = sb.requests[-2:]
    assert (run.method, run.path, run.status) == ("POST",
                                                  "/v1/Run/black-forest-labs/flux-2-flex", 200)
    assert run.content_type == "application/json"
    assert run.json == {"prompt": "recorded", "steps": 1}
    assert detail.parts == [("taskid", None, None, 3)]
    assert detail.json is None
    assert sb.api_secret not in repr(sb.requests)
    assert sb.api_key not in repr(sb.requests)


def test_request_log_callback(make_sandbox: Any) -> None:
    lines: list[str] = []
    sb = make_sandbox(log=lines.append)
    Api(sb).post("/Task/Detail", json={})
    assert lines == ["POST /v1/Task/Detail -> 200"]


@pytest.mark.skipif(importlib.util.find_spec("wiro_widgets.client") is None,
                    reason="wiro_widgets.client is not there yet")
def test_client_is_configured_for_the_sandbox(sandbox: Any) -> None:
    client = sandbox.client()
    try:
        assert client.base_url == sandbox.base_url
        assert client.socket_url == sandbox.socket_url
    finally:
        client.close()


def test_cli_parser_has_the_sandbox_command() -> None:
    args = build_parser().parse_args(["sandbox", "--port", "0", "--speed", "3", "--key-only",
                                      "--concurrency-limit", "2", "--output-ttl", "5",
                                      "--error-rate", "0.1", "--latency", "0.2", "--seed", "9"])
    assert (args.command, args.speed, args.key_only, args.concurrency_limit) == (
        "sandbox", 3.0, True, 2)
    assert (args.error_rate, args.latency, args.seed, args.output_ttl) == (0.1, 0.2, 9, 5.0)
    assert main([]) == 2


def test_cli_rejects_bad_fault_settings(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["sandbox", "--error-rate", "3"]) == 2
    assert "error_rate" in capsys.readouterr().err


def test_cli_prints_env_serves_and_stops_on_ctrl_c() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "wiro_widgets.cli", "sandbox", "--speed", "50"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )
    try:
        assert process.stdout is not None
        env: dict[str, str] = {}
        deadline = time.monotonic() + 20
        for line in process.stdout:
            if line.startswith("export "):
                name, value = line[len("export "):].strip().split("=", 1)
                env[name] = value
            if line.startswith("# http://") or time.monotonic() > deadline:
                break
        assert set(env) == {"WIRO_API_KEY", "WIRO_API_SECRET", "WIRO_BASE_URL",
                            "WIRO_SOCKET_URL"}

        class Fake:
            api_key, api_secret, base_url = (env["WIRO_API_KEY"], env["WIRO_API_SECRET"],
                                             env["WIRO_BASE_URL"])

        assert_envelope(Api(Fake()).post("/Task/Detail", json={}), 200, 0, "required")
        process.send_signal(signal.SIGINT)
        out, err = process.communicate(timeout=15)
        assert process.returncode == 0, err
        assert "# sandbox stopped" in out
        assert "POST /v1/Task/Detail -> 200" in err
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
