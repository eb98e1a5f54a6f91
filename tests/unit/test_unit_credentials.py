"""Where credentials come from: arguments, environment, .env, Colab's and Kaggle's secrets.

Colab's ``google.colab.userdata`` and Kaggle's ``kaggle_secrets`` exist only on those services,
so they are faked here through ``sys.modules``; every other source is real.
"""

from __future__ import annotations

import os
import sys
import threading
import time
import types
from collections.abc import Callable
from pathlib import Path

import pytest

from wiro_widgets.auth import Credentials, sign
from wiro_widgets.credentials import load_credentials
from wiro_widgets.errors import ConfigError
from wiro_widgets.redaction import redact

KEY, SECRET = "WIRO_API_KEY", "WIRO_API_SECRET"


class SecretNotFoundError(Exception):
    """What both services raise, in spirit, for a name they do not hold."""


def secret_getter(values: dict[str, str], calls: list[str] | None = None,
                  ) -> Callable[[str], str]:
    def get(name: str) -> str:
        if calls is not None:
            calls.append(name)
        if name not in values:
            raise SecretNotFoundError(name)
        return values[name]

    return get


def fake_colab(monkeypatch: pytest.MonkeyPatch, get: Callable[[str], str]) -> None:
    """Colab as its kernel looks: google.colab imported, userdata.get answering."""
    userdata = types.ModuleType("google.colab.userdata")
    userdata.get = get  # type: ignore[attr-defined]
    colab = types.ModuleType("google.colab")
    colab.userdata = userdata  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "google.colab", colab)
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)


def fake_kaggle(monkeypatch: pytest.MonkeyPatch, get: Callable[[str], str]) -> None:
    """Kaggle as its kernel looks: KAGGLE_KERNEL_RUN_TYPE set, kaggle_secrets importable."""

    class UserSecretsClient:
        def get_secret(self, label: str) -> str:
            return get(label)

    module = types.ModuleType("kaggle_secrets")
    module.UserSecretsClient = UserSecretsClient  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "kaggle_secrets", module)
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Interactive")


def signed_with(creds: Credentials, key: str, secret: str) -> bool:
    """True when ``creds`` sign with exactly this key and secret."""
    headers = creds.headers()
    return (headers["x-api-key"] == key
            and headers.get("x-signature") == sign(key, secret, headers["x-nonce"]))


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "work"
    folder.mkdir()
    monkeypatch.chdir(folder)
    return folder


# -- each source ----------------------------------------------------------------------------


def test_arguments_come_first(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "env-key-0001")
    monkeypatch.setenv(SECRET, "env-secret-0001")
    (workdir / ".env").write_text(f"{KEY}=file-key-0001\n{SECRET}=file-secret-0001\n")
    creds = load_credentials("arg-key-0001", "arg-secret-0001")
    assert signed_with(creds, "arg-key-0001", "arg-secret-0001")


def test_environment_before_the_dotenv_file(workdir: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "env-key-0002")
    monkeypatch.setenv(SECRET, "env-secret-0002")
    (workdir / ".env").write_text(f"{KEY}=file-key-0002\n{SECRET}=file-secret-0002\n")
    assert signed_with(load_credentials(), "env-key-0002", "env-secret-0002")


def test_dotenv_file_in_the_working_directory(workdir: Path) -> None:
    (workdir / ".env").write_text(
        f"# the project's keys\nexport {KEY}=file-key-0003\n{SECRET}=\"file-${{HOME}}-0003\"\n")
    creds = load_credentials()
    # Read literally (no ${VAR} expansion) and without touching the process environment.
    assert signed_with(creds, "file-key-0003", "file-${HOME}-0003")
    assert KEY not in os.environ
    assert SECRET not in os.environ


def test_dotenv_elsewhere_is_not_read(workdir: Path, tmp_path: Path) -> None:
    (tmp_path / ".env").write_text(f"{KEY}=parent-key-0004\n")
    with pytest.raises(ConfigError):
        load_credentials()
    assert load_credentials(folder=tmp_path).api_key == "parent-key-0004"


def test_colab_secrets_when_running_in_colab(workdir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    fake_colab(monkeypatch, secret_getter({KEY: "colab-key-0005", SECRET: "colab-secret-0005"}))
    assert signed_with(load_credentials(), "colab-key-0005", "colab-secret-0005")


def test_kaggle_secrets_when_running_on_kaggle(workdir: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    fake_kaggle(monkeypatch, secret_getter({KEY: "kaggle-key-0006", SECRET: "kaggle-secret-06"}))
    assert signed_with(load_credentials(), "kaggle-key-0006", "kaggle-secret-06")


def test_key_only_from_a_notebook_service(workdir: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    fake_colab(monkeypatch, secret_getter({KEY: "colab-key-0007"}))
    creds = load_credentials()
    assert creds.api_key == "colab-key-0007"
    assert not creds.signed


def test_colab_before_kaggle_and_local_places_before_both(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    colab_calls: list[str] = []
    kaggle_calls: list[str] = []
    fake_colab(monkeypatch, secret_getter({KEY: "colab-key-0008"}, colab_calls))
    fake_kaggle(monkeypatch, secret_getter({KEY: "kaggle-key-0008"}, kaggle_calls))
    assert load_credentials().api_key == "colab-key-0008"
    assert kaggle_calls == []
    # A key in .env means neither service is asked at all.
    colab_calls.clear()
    (workdir / ".env").write_text(f"{KEY}=file-key-0008\n")
    assert load_credentials().api_key == "file-key-0008"
    assert colab_calls == []


def test_services_are_not_asked_outside_colab_and_kaggle(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    userdata = types.ModuleType("google.colab.userdata")
    userdata.get = secret_getter({KEY: "colab-key-0009"}, calls)  # type: ignore[attr-defined]
    # Importable, but this kernel is not Colab's (google.colab was never imported here).
    monkeypatch.setitem(sys.modules, "google.colab.userdata", userdata)
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    with pytest.raises(ConfigError, match="not running in Colab"):
        load_credentials()
    assert calls == []


# -- pairing: a secret belongs to the key of its own place ----------------------------------


def test_a_secret_never_joins_a_key_from_another_place(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "env-key-0010")  # key-only in the environment
    (workdir / ".env").write_text(f"{KEY}=file-key-0010\n{SECRET}=file-secret-0010\n")
    creds = load_credentials()
    assert creds.api_key == "env-key-0010"
    assert not creds.signed


def test_a_secret_without_its_key_is_ignored(workdir: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET, "env-secret-0011")  # no WIRO_API_KEY beside it
    fake_colab(monkeypatch, secret_getter({KEY: "colab-key-0011", SECRET: "colab-secret-11"}))
    assert signed_with(load_credentials(), "colab-key-0011", "colab-secret-11")


def test_a_key_argument_takes_the_secret_of_the_place_holding_that_key(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "env-key-0012")
    monkeypatch.setenv(SECRET, "env-secret-0012")
    (workdir / ".env").write_text(f"{KEY}=file-key-0012\n{SECRET}=file-secret-0012\n")
    assert signed_with(load_credentials("file-key-0012"), "file-key-0012", "file-secret-0012")
    assert signed_with(load_credentials(" env-key-0012 "), "env-key-0012", "env-secret-0012")
    assert not load_credentials("other-key-0012").signed
    # A secret argument joins the key found in the first place that has one.
    assert signed_with(load_credentials(api_secret="arg-secret-0012"), "env-key-0012",
                       "arg-secret-0012")


def test_a_key_argument_never_waits_on_a_notebook_service(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    fake_colab(monkeypatch, secret_getter({KEY: "colab-key-0013", SECRET: "s-0013"}, calls))
    assert not load_credentials("colab-key-0013").signed
    assert calls == []


# -- failures -------------------------------------------------------------------------------


def test_config_error_names_every_place_and_no_value(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(SECRET, "lonely-env-secret-14")
    (workdir / ".env").write_text(f"{SECRET}=lonely-file-secret-14\nOTHER=unrelated-value-14\n")
    fake_kaggle(monkeypatch, secret_getter({SECRET: "lonely-kaggle-secret-14"}))
    with pytest.raises(ConfigError) as info:
        load_credentials()
    message = str(info.value)
    for name in ("api_key argument", "the environment", str(workdir / ".env"),
                 "Colab", "not running in Colab", "Kaggle", "SecretNotFoundError", KEY,
                 f"{SECRET} without {KEY}", "wiro-widgets sandbox"):
        assert name in message, name
    for value in ("lonely-env-secret-14", "lonely-file-secret-14", "unrelated-value-14",
                  "lonely-kaggle-secret-14"):
        assert value not in message


def test_a_service_that_never_answers_is_passed_over(
        workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    release = threading.Event()

    def hang(name: str) -> str:
        release.wait(30)
        raise SecretNotFoundError(name)

    fake_colab(monkeypatch, hang)
    fake_kaggle(monkeypatch, secret_getter({KEY: "kaggle-key-0015"}))
    started = time.monotonic()
    try:
        creds = load_credentials(timeout=0.3)
    finally:
        release.set()
    assert time.monotonic() - started < 3
    assert creds.api_key == "kaggle-key-0015"
    fake_kaggle(monkeypatch, secret_getter({}))
    release.clear()
    try:
        with pytest.raises(ConfigError, match=r"no answer within 0\.3 s"):
            load_credentials(timeout=0.3)
    finally:
        release.set()


def test_a_service_module_that_cannot_be_imported(workdir: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAGGLE_KERNEL_RUN_TYPE", "Batch")
    monkeypatch.setitem(sys.modules, "kaggle_secrets", None)  # import raises ImportError
    with pytest.raises(ConfigError, match="cannot be imported"):
        load_credentials()


def test_blank_values_count_as_absent(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "   ")
    (workdir / ".env").write_text(f"{KEY}=file-key-0017\n")
    assert load_credentials().api_key == "file-key-0017"


def test_malformed_key_from_a_file_is_a_config_error(workdir: Path) -> None:
    (workdir / ".env").write_text(f'{KEY}="two words"\n')
    with pytest.raises(ConfigError, match="spaces"):
        load_credentials()


# -- redaction ------------------------------------------------------------------------------


def test_every_value_found_is_redacted(workdir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(KEY, "env-key-redact-18")
    (workdir / ".env").write_text(f"{KEY}=file-key-redact-18\n{SECRET}=file-secret-redact-18\n")
    fake_colab(monkeypatch, secret_getter({KEY: "colab-key-redact-18"}))
    # An explicit key looks for its secret in the environment and .env: both are read, and
    # the environment's key, found but not used, is registered as well.
    creds = load_credentials("file-key-redact-18")
    assert creds.signed
    text = "k=file-key-redact-18 s=file-secret-redact-18 e=env-key-redact-18"
    assert redact(text) == "k=*** s=*** e=***"
    # Colab was found (and used) later; its key is registered too.
    monkeypatch.delenv(KEY)
    (workdir / ".env").unlink()
    assert load_credentials().api_key == "colab-key-redact-18"
    assert redact("colab-key-redact-18") == "***"
