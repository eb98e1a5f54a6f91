"""The replay sandbox as a server: what its records say, gates, Kill, and which recorded runs it
can serve."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path
from typing import Any

import pytest

import wiro_widgets
from wiro_widgets.errors import TaskCancelled
from wiro_widgets.packfile import write_pack
from wiro_widgets.sandbox import Sandbox

MODEL = "black-forest-labs/flux-2-flex"
FOX = {"prompt": "a red fox", "seed": 5, "steps": 10, "width": 128, "height": 128}


@pytest.fixture
def pack(sandbox: Any, tmp_path: Path) -> Path:
    sandbox.client().run(MODEL, **FOX)
    return wiro_widgets.pack(tmp_path / "t.wiropack").path


def test_a_replayed_record_is_wiro_shaped_and_labelled(pack: Path, tmp_path: Path) -> None:
    with Sandbox(speed=20, replay=pack, replay_speed=50) as sb:
        assert sb.replay is not None
        assert len(sb.replay) == 1
        client = sb.client(home=tmp_path / "stage")
        result = client.run(MODEL, **FOX)
        record = client.detail(result.task)
        assert record["status"] == "task_postprocess_end"
        assert record["pexit"] == "0"
        assert record["description"].startswith("wiro-widgets replay of task ")
        assert record["description"].endswith("from t.wiropack")
        assert isinstance(record["totalcost"], str)
        assert float(record["totalcost"]) > 0
        assert record["outputs"][0]["url"].startswith(sb.base_url.rsplit("/v1", 1)[0])
        # A fresh sandbox run beside it carries no label.
        other = client.run(MODEL, **{**FOX, "prompt": "a grey wolf"})
        assert client.detail(other.task)["description"] == ""
        assert not other.replayed


def test_a_replayed_task_can_be_held_and_killed(pack: Path, tmp_path: Path) -> None:
    with Sandbox(speed=20, replay=pack, replay_speed=50) as sb:
        client = sb.client(home=tmp_path / "stage")
        with sb.gate("task_output", step=3) as gate:
            task = client.submit(MODEL, **FOX)
            gate.wait_reached(task.id, timeout=30)
            assert client.detail(task)["status"] == "task_output"
            client.cancel(task)  # a Kill: it is generating
        with pytest.raises(TaskCancelled):
            client.wait(task, timeout=30)
        assert sb.tasks[0].status == "task_cancel"
        assert sb.tasks[0].outputs == []


def test_a_run_of_a_model_the_sandbox_lacks_is_skipped(pack: Path, tmp_path: Path,
                                                       caplog: pytest.LogCaptureFixture) -> None:
    with zipfile.ZipFile(pack) as archive:
        lines = [json.loads(line) for line in
                 archive.read("ledger.jsonl").decode().splitlines()]
        files = {n: archive.read(n) for n in archive.namelist() if n.startswith("outputs/")}
    for line in lines:
        line["model"] = "nobody/unknown-model"
    other = write_pack(tmp_path / "other.wiropack", lines, files)
    with Sandbox(speed=20, replay=other) as sb:
        assert sb.replay is not None
        assert len(sb.replay) == 0
    assert "does not serve" in caplog.text
