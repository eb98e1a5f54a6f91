"""A batch split in shards, each with its own home, then put back together: the merged home
sees the whole batch (nothing sent again), and the merged exports load as one dataset."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wiro_widgets.cli import main
from wiro_widgets.research.batch_start import parse_shard

from .conftest import MODEL

SMALL = {"width": 64, "height": 64, "steps": 2}


def _runs(sb: Any) -> int:
    return sum(1 for r in sb.requests if r.method == "POST" and "/Run/" in r.path)


def test_shards_run_apart_and_merge_into_one_batch(make_sandbox: Callable[..., Any],
                                                   tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    datasets = pytest.importorskip("datasets")
    sb = make_sandbox()
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps({"prompt": f"fox {i}", "seed": i}) + "\n"
                            for i in range(7)), encoding="utf-8")
    exports = []
    for k in range(2):
        client = sb.client(home=tmp_path / f"home-{k}")
        batch = client.batch(rows, model=MODEL, name="sharded", shard=f"{k}/2",
                             progress=False, **SMALL)
        status = batch.status()
        assert (status.done, status.to_do, status.skipped) == ((4, 0, 3) if k == 0 else
                                                                 (3, 0, 4))
        exports.append(batch.export(tmp_path / f"export-{k}").parent)
        batch.export(tmp_path / f"parquet-{k}", format="parquet")
    assert sorted(int(t.params["seed"]) for t in sb.tasks) == list(range(7))

    merged = tmp_path / "merged-home"
    assert main(["merge", "homes", str(tmp_path / "home-0"), str(tmp_path / "home-1"),
                 "--into", str(merged)]) == 0
    assert "merged 2 homes" in capsys.readouterr().out
    runs = _runs(sb)
    whole = sb.client(home=merged).batch(rows, model=MODEL, name="sharded", progress=False,
                                         **SMALL)
    assert _runs(sb) == runs  # every row already ran in one shard or the other
    assert whole.status().done == 7
    assert [r.seed for r in whole.results()] == list(range(7))
    assert whole.results().__next__().image.size == (64, 64)  # from the merged cache

    assert main(["merge", "exports", *map(str, exports), "--into",
                 str(tmp_path / "dataset")]) == 0
    loaded = datasets.load_dataset("imagefolder", data_dir=str(tmp_path / "dataset"),
                                   split="train")
    assert sorted(loaded["index"]) == list(range(7))
    assert sorted(loaded["seed"]) == list(range(7))
    assert main(["merge", "exports", str(tmp_path / "parquet-0"), str(tmp_path / "parquet-1"),
                 "--into", str(tmp_path / "parquet")]) == 0
    table = datasets.load_dataset("parquet", data_files=str(tmp_path / "parquet" /
                                                            "data.parquet"), split="train")
    assert sorted(table["index"]) == list(range(7))
    assert table[0]["image"].size == (64, 64)


def test_a_shard_is_k_of_n() -> None:
    assert parse_shard("1/4") == (1, 4)
    assert parse_shard((0, 1)) == (0, 1)
    assert parse_shard(None) is None
    for bad in ("4/4", "-1/2", "x", (2, 1)):
        with pytest.raises(ValueError, match="shard"):
            parse_shard(bad)  # type: ignore[arg-type]
