"""load_history from a ledger written through the typed events (no server needed)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from wiro_widgets.ledger import (
    ClientInfo,
    Finished,
    Ledger,
    OutputCache,
    OutputFile,
    Submitted,
)
from wiro_widgets.research import load_history, pending

from .conftest import MODEL, encode, noisy_image


def _record(ledger: Ledger, n: int, *, at: float, outcome: str | None = "succeeded",
            model: str = MODEL, path_override: str | None = None) -> str:
    """Write a submitted (and, unless outcome is None, a finished) event for task ``n``."""
    token = f"tok-{n}"
    data = encode(noisy_image(seed=n), "PNG")
    digest, path = OutputCache(ledger.home).put(data, ".png")
    ledger.write(Submitted(task_id=str(n), token=token, model=model,
                           params={"prompt": f"fox {n}", "seed": n}, estimate=0.06,
                           submitted_at=at,
                           client=ClientInfo(base_url="http://127.0.0.1:9/v1", key="abc")))
    if outcome is not None:
        output = OutputFile(name="0.png", content_type="image/png", size=len(data),
                            url=f"http://127.0.0.1:9/cdn/{digest}/0.png", sha256=digest,
                            path=path_override or str(path))
        ledger.write(Finished(task_id=str(n), token=token, model=model, outcome=outcome,
                              status="task_postprocess_end",
                              pexit="0" if outcome == "succeeded" else "1", elapsed=2.5,
                              cost=0.06 if outcome == "succeeded" else 0.0,
                              timeline={"task_queue": at, "task_postprocess_end": at + 3},
                              outputs=(output,) if outcome == "succeeded" else ()))
    return token


@pytest.fixture
def ledger() -> Ledger:
    return Ledger()


def test_newest_first_with_limit_model_and_since(ledger: Ledger) -> None:
    base = 1_764_000_000.0
    for n in range(1, 6):
        _record(ledger, n, at=base + n * 60)
    _record(ledger, 6, at=base + 400, model="someone/other-model")
    _record(ledger, 7, at=base + 500, outcome="failed")
    _record(ledger, 8, at=base + 600, outcome=None)  # still running
    results = load_history(None)
    assert [r.task_id for r in results] == ["6", "5", "4", "3", "2", "1"]
    assert [r.task_id for r in load_history(None, limit=2)] == ["6", "5"]
    assert [r.task_id for r in load_history(None, model=MODEL, limit=2)] == ["5", "4"]
    assert [r.task_id for r in load_history(None, model="other-model")] == ["6"]
    since = dt.datetime.fromtimestamp(base + 240)
    assert [r.task_id for r in load_history(None, since=since)] == ["6", "5", "4"]
    assert [r.task_id for r in load_history(None, since=base + 300)] == ["6", "5"]
    first = results[-1]
    assert first.params == {"prompt": "fox 1", "seed": 1}
    assert first.seed == 1
    assert first.cost == pytest.approx(0.06)
    assert first.timeline["task_postprocess_end"] == base + 63
    assert first.sandbox  # a loopback base URL
    assert [t.id for t in pending(None)] == ["8"]


def test_images_come_from_the_cache_not_the_url(ledger: Ledger, tmp_path: Path) -> None:
    _record(ledger, 1, at=1_764_000_000.0)
    # A stale recorded path (the cache moved): found again by its content hash.
    _record(ledger, 2, at=1_764_000_100.0, path_override=str(tmp_path / "gone" / "x.png"))
    by_id = {r.task_id: r for r in load_history(None)}
    for n in (1, 2):
        result = by_id[str(n)]
        assert result.outputs[0].url.startswith("http://127.0.0.1:9/")  # nothing listens there
        assert result.image.tobytes() == noisy_image(seed=n).tobytes()
    assert Path(by_id["2"].outputs[0].path).is_file()


def test_images_load_lazily(ledger: Ledger) -> None:
    _record(ledger, 1, at=1_764_000_000.0)
    [result] = load_history(None)
    Path(result.outputs[0].path).unlink()
    # Nothing was read while listing; the missing file shows only when the image is asked for.
    with pytest.raises(OSError):
        _ = result.images


def test_an_empty_or_torn_ledger_gives_what_it_can(ledger: Ledger) -> None:
    assert load_history(None) == []
    _record(ledger, 1, at=1_764_000_000.0)
    with open(ledger.path, "a", encoding="utf-8") as handle:
        handle.write('{"event": "submitted", "token": "tok-9", "task')  # a writer killed mid-line
    assert [r.task_id for r in load_history(None)] == ["1"]


