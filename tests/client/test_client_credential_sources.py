"""`WiroClient()` signs real requests with keys found in .env and in Colab's secrets."""

from __future__ import annotations

import sys
import types
from pathlib import Path
from typing import Any

import pytest

from wiro_widgets import WiroClient
from wiro_widgets.errors import AuthError, ConfigError, NotFound


def test_keys_from_a_dotenv_file(make_sandbox: Any, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sb = make_sandbox()
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"WIRO_API_KEY={sb.api_key}\nWIRO_API_SECRET={sb.api_secret}\n")
    client = WiroClient(base_url=sb.base_url, socket_url=sb.socket_url)
    assert "signature" in repr(client)
    with pytest.raises(NotFound):  # signed and accepted: the task just does not exist
        client.detail("999999999")
    # The same file with a wrong secret: the sandbox refuses the signature.
    (tmp_path / ".env").write_text(f"WIRO_API_KEY={sb.api_key}\nWIRO_API_SECRET=wrong-secret-1\n")
    with pytest.raises(AuthError):
        WiroClient(base_url=sb.base_url, socket_url=sb.socket_url).detail("999999999")


def test_keys_from_colab_secrets(make_sandbox: Any, tmp_path: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    sb = make_sandbox()
    monkeypatch.chdir(tmp_path)
    secrets = {"WIRO_API_KEY": sb.api_key, "WIRO_API_SECRET": sb.api_secret}
    userdata = types.ModuleType("google.colab.userdata")
    userdata.get = secrets.__getitem__  # type: ignore[attr-defined]
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)
    client = WiroClient(base_url=sb.base_url, socket_url=sb.socket_url)
    with pytest.raises(NotFound):
        client.detail("999999999")
    assert sb.api_secret not in repr(client)


def test_no_key_anywhere_names_the_places(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(ConfigError) as info:
        WiroClient()
    for place in ("environment", str(tmp_path / ".env"), "Colab", "Kaggle"):
        assert place in str(info.value)
