"""The demo on a replay (issue 16): ``make demo REPLAY=FILE`` / ``wiro-widgets demo --replay``
start a replay sandbox with the usual WIRO_* variables, and the notebooks run unchanged on it:
a rehearsal's runs come back labelled REPLAY."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import nbformat
from nbcheck import REPO, clean_env, demo_cmd, error_outputs

import wiro_widgets
from wiro_widgets import demo


def test_make_demo_passes_replay_on() -> None:
    done = subprocess.run(["make", "-n", "demo", "REPLAY=talk.wiropack"], cwd=REPO,
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert '-m wiro_widgets.demo  --replay "talk.wiropack"' in done.stdout


def test_backend_replays_even_with_a_real_key(tmp_path: Path) -> None:
    from wiro_widgets.sandbox import Sandbox

    with Sandbox(speed=20) as sb:
        sb.client(home=tmp_path / "rehearsal").run(
            "black-forest-labs/flux-2-flex", prompt="a fox", seed=1, steps=4, width=128,
            height=128)
    pack = wiro_widgets.pack(tmp_path / "talk.wiropack", home=tmp_path / "rehearsal").path
    base = {"WIRO_API_KEY": "real-key-for-test", "PATH": "/usr/bin"}
    options = {"replay": pack, "on_miss": "error", "replay_speed": None}
    with demo.backend(tmp_path / "home", base_env=base, replay=options) as api:
        assert api.sandbox is not None
        assert api.env["WIRO_API_KEY"] == api.sandbox.api_key != "real-key-for-test"
        assert set(api.env) >= {"WIRO_API_KEY", "WIRO_API_SECRET", "WIRO_BASE_URL",
                                "WIRO_SOCKET_URL", "WIRO_WIDGETS_HOME"}
        assert "REPLAY of talk.wiropack" in api.label
        assert "1 recorded runs" in api.label


def test_headless_demo_on_a_replay_of_its_rehearsal(tmp_path: Path) -> None:
    env = clean_env(WIRO_SANDBOX_SPEED="20")
    rehearsal = tmp_path / "rehearsal"
    done = subprocess.run(demo_cmd("--headless", "--output", str(rehearsal)), cwd=REPO,
                          capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    pack = tmp_path / "talk.wiropack"
    command = [sys.executable, "-m", "wiro_widgets.cli", "pack", str(pack), "--home",
               str(rehearsal / "wiro-home")]
    packed = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120, env=env)
    assert packed.returncode == 0, packed.stderr
    stage = tmp_path / "stage"
    done = subprocess.run(demo_cmd("--headless", "--output", str(stage), "--replay", str(pack),
                                   "--replay-speed", "20"),
                          cwd=REPO, capture_output=True, text=True, timeout=240, env=env)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert "REPLAY of talk.wiropack" in done.stdout
    executed = nbformat.read(stage / "quickstart.ipynb", as_version=4)
    assert error_outputs(executed) == []
    # The notebook, unchanged, got the rehearsal's images back, labelled.
    text = nbformat.writes(executed)
    assert "REPLAY" in text
    rehearsed = {p.read_bytes() for p in (rehearsal / "wiro-home" / "cache").rglob("*.png")}
    replayed = {p.read_bytes() for p in (stage / "wiro-home" / "cache").rglob("*.png")}
    assert rehearsed & replayed
