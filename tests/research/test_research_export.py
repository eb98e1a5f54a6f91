"""Sweeps and batches exported as datasets, loaded back with Hugging Face ``datasets``: every
row's parameters checked against the ledger, the images against the cached outputs."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from wiro_widgets import read_params
from wiro_widgets.ledger import Ledger
from wiro_widgets.research import read_job

from .conftest import MODEL

datasets = pytest.importorskip("datasets")

SMALL = {"width": 64, "height": 64, "steps": 2}


def _submitted(home: Path, job: str) -> dict[str, dict[str, Any]]:
    """task id -> the parameters the ledger recorded for the job's tasks."""
    record = read_job(Ledger(home), job)
    return {cell.task_id: dict(cell.submitted.params) for cell in record.cells.values()
            if cell.submitted is not None}


def _check_row(row: dict[str, Any], params: dict[str, Any]) -> None:
    for name, value in params.items():
        got = row[f"param_{name}" if name in ("seed", "model") else name]
        if isinstance(value, (list, dict)):
            assert json.loads(got) == value, name
        elif isinstance(value, float):
            assert got == pytest.approx(value), name
        else:
            assert got == value, name


def test_a_sweep_loads_as_an_imagefolder_dataset(make_sandbox: Callable[..., Any],
                                                 wiro_home: Path, tmp_path: Path,
                                                 png_file: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    sweep = client.sweep(MODEL, prompt="image 1 as a fox", seed=[1, 2], guidance=[2.5, 5],
                         input_images=[png_file], name="export me", progress=False, **SMALL)
    folder = tmp_path / "dataset"
    summary = sweep.export(folder)
    assert summary.name == "sweep.json"
    loaded = datasets.load_dataset("imagefolder", data_dir=str(folder), split="train")
    ledger_params = _submitted(wiro_home, "export me")
    assert len(loaded) == 4
    assert sorted(loaded["task_id"]) == sorted(ledger_params)
    for row in loaded:
        params = ledger_params[row["task_id"]]
        _check_row(row, params)
        assert row["seed"] == params["seed"]
        assert row["model"] == MODEL
        assert row["job"] == "export me"
        assert row["cost"] > 0
        assert row["submitted_at"] <= row["finished_at"] + 1  # the server stamps whole seconds
        assert isinstance(row["guidance"], float)  # 2.5 and 5: one column type
        [ref] = json.loads(row["input_images"])
        assert ref["sha256"] == hashlib.sha256(png_file.read_bytes()).hexdigest()
        result = next(r for r in sweep.results if r.task_id == row["task_id"])
        assert row["image"].tobytes() == result.image.tobytes()
    # Every image file still carries its recipe.
    meta = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
    assert read_params(folder / meta[0]["file_name"])["task_id"] == meta[0]["task_id"]
    assert (folder / "grid.png").is_file()


def test_a_batch_loads_from_one_parquet_file(make_sandbox: Callable[..., Any],
                                             wiro_home: Path, tmp_path: Path) -> None:
    sb = make_sandbox()
    client = sb.client()
    rows = [{"prompt": f"a fox, take {i}", "seed": i, "safety_tolerance": i % 3}
            for i in range(5)]
    rows[2]["prompt"] = "a fail-me fox"
    batch = client.batch(rows, model=MODEL, name="parquet", progress=False, **SMALL)
    path = batch.export(tmp_path / "out", format="parquet")
    assert path.name == "data.parquet"
    loaded = datasets.load_dataset("parquet", data_files=str(path), split="train")
    assert isinstance(loaded.features["image"], datasets.Image)
    ledger_params = _submitted(wiro_home, "parquet")
    assert sorted(loaded["index"]) == [0, 1, 3, 4]  # the failed row is not in the dataset
    assert loaded["line"] == [i + 1 for i in loaded["index"]]
    for row in loaded:
        _check_row(row, ledger_params[row["task_id"]])
        assert isinstance(row["image"], Image.Image)
        assert row["image"].size == (64, 64)
    again = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "folder"),
                                  split="train") if batch.export(tmp_path / "folder") else None
    assert again is not None
    assert sorted(again["task_id"]) == sorted(loaded["task_id"])
