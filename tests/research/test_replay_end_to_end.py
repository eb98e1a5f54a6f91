"""Rehearse, pack, replay (issue 16): runs recorded on one sandbox (the real API's stand-in)
are packed, that sandbox is stopped, and a replay sandbox started from the pack in another
process (``wiro-widgets sandbox --replay``) answers the same requests, through the client
and the panel, with byte-identical images and the recorded timeline."""

from __future__ import annotations

import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

import wiro_widgets
from wiro_widgets import WiroClient
from wiro_widgets.errors import ApiError
from wiro_widgets.packfile import read_pack
from wiro_widgets.protocol import STATUS_ORDER
from wiro_widgets.results import Result, TaskUpdate
from wiro_widgets.sandbox import Sandbox

MODEL = "black-forest-labs/flux-2-flex"


def digest(result: Result) -> list[str]:
    return [hashlib.sha256(Path(o.path).read_bytes()).hexdigest() for o in result.outputs]


@pytest.fixture(scope="module")
def recorded(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Three runs recorded at real pace (their timelines span whole seconds), then packed."""
    root = tmp_path_factory.mktemp("rehearsal")
    home = root / "home"
    reference = root / "beach.png"
    Image.new("RGB", (96, 64), (20, 120, 200)).save(reference)
    with Sandbox(speed=1.0) as sb:
        client = sb.client(home=home)
        runs = {
            "edit": client.run(MODEL, prompt="the beach at dusk, oil painting", seed=7,
                               steps=20, width=256, height=256, input_images=[reference]),
            "fox": client.run(MODEL, prompt="a red fox in fresh snow", seed=11, steps=8,
                              width=256, height=256),
        }
        client.close()
    pack_path = root / "talk.wiropack"
    old = os.environ.get("WIRO_WIDGETS_HOME")
    report = wiro_widgets.pack(pack_path, home=home)
    assert old == os.environ.get("WIRO_WIDGETS_HOME")
    return {"runs": runs, "pack": pack_path, "report": report, "reference": reference,
            "digests": {k: digest(r) for k, r in runs.items()}}


def start_replay(pack: Path, *extra: str) -> tuple[subprocess.Popen[str], dict[str, str]]:
    """``wiro-widgets sandbox --replay PACK`` in another process; its printed environment."""
    process = subprocess.Popen(
        [sys.executable, "-m", "wiro_widgets.cli", "sandbox", "--replay", str(pack), "--quiet",
         "--speed", "20", *extra],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
        env={**os.environ, "PYTHONUNBUFFERED": "1"})
    assert process.stdout is not None
    env: dict[str, str] = {}
    lines = []
    deadline = time.monotonic() + 60
    for line in process.stdout:
        lines.append(line)
        if line.startswith("export "):
            name, value = line[len("export "):].strip().split("=", 1)
            env[name] = value.strip("'")
        if line.startswith("# http://") or time.monotonic() > deadline:
            break
    assert "WIRO_BASE_URL" in env, "".join(lines) + (process.stderr.read()
                                                     if process.poll() is not None else "")
    assert any("replaying 2 recorded runs" in line for line in lines), lines
    return process, env


@pytest.fixture
def replay_env(recorded: dict[str, Any]) -> Iterator[dict[str, str]]:
    process, env = start_replay(recorded["pack"])
    try:
        yield env
    finally:
        process.send_signal(signal.SIGINT)
        try:
            process.communicate(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()


def client_for(env: dict[str, str], home: Path) -> WiroClient:
    return WiroClient(api_key=env["WIRO_API_KEY"], api_secret=env["WIRO_API_SECRET"] or None,
                      base_url=env["WIRO_BASE_URL"], socket_url=env["WIRO_SOCKET_URL"],
                      home=home)


def offsets(timeline: dict[str, float]) -> dict[str, float]:
    start = timeline["task_queue"]
    return {status: at - start for status, at in timeline.items()}


def test_the_pack_holds_the_runs_and_their_images(recorded: dict[str, Any]) -> None:
    report = recorded["report"]
    assert sorted(report.packed) == sorted(r.task_id for r in recorded["runs"].values())
    assert report.skipped == []
    pack = read_pack(recorded["pack"])
    assert {run.prompt for run in pack.runs} == {r.prompt for r in recorded["runs"].values()}
    held = {hashlib.sha256(data).hexdigest() for name, data in pack.members.items()
            if name.startswith("outputs/")}
    assert held == {d for ds in recorded["digests"].values() for d in ds}
    reference = hashlib.sha256(recorded["reference"].read_bytes()).hexdigest()
    assert report.missing_references == [reference]  # the client keeps no copy: hash only


def test_the_client_gets_the_recorded_images_and_timeline(
        recorded: dict[str, Any], replay_env: dict[str, str], tmp_path: Path) -> None:
    client = client_for(replay_env, tmp_path / "stage")
    original = recorded["runs"]["edit"]
    updates: list[TaskUpdate] = []
    # The same request: the reference image goes again (its bytes, so its hash, match).
    result = client.run(MODEL, prompt="the beach at dusk, oil painting", seed=7, steps=20,
                        width=256, height=256, input_images=[recorded["reference"]],
                        on_update=updates.append)
    assert digest(result) == recorded["digests"]["edit"]
    assert result.replayed
    assert "REPLAY" in result._repr_html_()
    assert f"task {original.task_id}" in result.record["description"]
    # The recorded status order and gaps (whole seconds on both servers: within a second).
    assert [s for s in STATUS_ORDER if s in result.timeline] == [
        s for s in STATUS_ORDER if s in original.timeline]
    want, got = offsets(original.timeline), offsets(result.timeline)
    assert want["task_postprocess_end"] >= 1.0  # the recording spans seconds
    for status, gap in want.items():
        assert abs(got[status] - gap) <= 1.0, (status, got, want)
    # Step progress, as the recorded run reported it.
    steps = sorted({u.step for u in updates if u.step is not None})
    assert steps
    assert steps[-1] == 20
    assert all(u.total_steps == 20 for u in updates if u.step)
    # Saved images say REPLAY too.
    saved = result.save(tmp_path / "saved")
    assert wiro_widgets.read_params(saved[0])["replayed"] is True
    client.close()


def test_a_random_seed_matches_the_recorded_prompt(
        recorded: dict[str, Any], replay_env: dict[str, str], tmp_path: Path) -> None:
    client = client_for(replay_env, tmp_path / "stage")
    # No seed given: the default travels; no recorded run has it, so the seed is ignored.
    result = client.run(MODEL, prompt="a red fox in fresh snow", steps=8, width=256,
                        height=256)
    assert digest(result) == recorded["digests"]["fox"]
    assert result.replayed
    assert result.seed == 11
    assert result.params["seed"] == 11
    assert str(result.record["parameters"]["seed"]) == "11"
    client.close()


def test_a_miss_is_a_sandbox_picture_by_default(
        recorded: dict[str, Any], replay_env: dict[str, str], tmp_path: Path) -> None:
    client = client_for(replay_env, tmp_path / "stage")
    result = client.run(MODEL, prompt="a lighthouse in a storm", seed=11, steps=8,
                        width=256, height=256)
    assert not result.replayed
    assert result.sandbox
    assert result.record["description"] == ""
    assert "SANDBOX" in result._repr_html_()
    assert "REPLAY" not in result._repr_html_()
    assert digest(result)[0] not in {d for ds in recorded["digests"].values() for d in ds}
    client.close()


def test_the_panel_replays_too(recorded: dict[str, Any], replay_env: dict[str, str],
                               tmp_path: Path) -> None:
    from wiro_widgets.panel import FluxPanel

    client = client_for(replay_env, tmp_path / "stage")
    panel = FluxPanel(client, save_dir=tmp_path / "saved", history=0)
    form = panel.form
    assert form.prompt is not None
    assert form.seed is not None
    form.prompt.value = "a red fox in fresh snow"
    form.controls["steps"].value = 8
    form.set_size(256, 256)
    form.randomize.value = True  # the panel's random seed: the recorded run still answers
    assert panel.generate(), panel.status.alert.value
    assert panel.wait(60)
    assert panel.status.state == "done", panel.status.alert.value
    result = panel.result
    assert result is not None
    assert result.replayed
    assert digest(result) == recorded["digests"]["fox"]
    assert result.seed == 11
    assert "REPLAY" in panel.gallery.caption.value
    client.close()


def test_on_miss_error_names_the_closest_recorded_prompt(recorded: dict[str, Any],
                                                         tmp_path: Path) -> None:
    with Sandbox(speed=20, replay=recorded["pack"], on_miss="error") as sb:
        client = sb.client(home=tmp_path / "stage")
        with pytest.raises(ApiError, match="closest recorded prompt is 'a red fox in fresh "
                                           "snow'"):
            client.run(MODEL, prompt="a red fox in snow", seed=11, steps=9)
        assert sb.tasks == []  # refused before a task was made
        # A hit still replays, quickly with a replay speed.
        client.close()


def test_replay_speed_shortens_the_recorded_time(recorded: dict[str, Any],
                                                 tmp_path: Path) -> None:
    original = recorded["runs"]["edit"]
    with Sandbox(speed=20, replay=recorded["pack"], replay_speed=100.0) as sb:
        client = sb.client(home=tmp_path / "stage")
        started = time.monotonic()
        result = client.run(MODEL, prompt="the beach at dusk, oil painting", seed=7, steps=20,
                            width=256, height=256, input_images=[recorded["reference"]])
        assert time.monotonic() - started < offsets(original.timeline)[
            "task_postprocess_end"]
        assert digest(result) == recorded["digests"]["edit"]
        statuses = [s for s, _ in sb.tasks[0].history]
        assert statuses.count("task_output") == 20
        assert [s for s in dict.fromkeys(statuses)] == list(STATUS_ORDER)
        client.close()
