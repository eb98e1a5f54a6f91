"""Reuse instead of paying twice (issue 16): ``reuse=True`` answers a request already run
from the ledger with no Run sent, and sends one whenever anything differs or the seed was
not chosen; sweeps reuse through a client made with ``reuse=True``; the panel offers it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from wiro_widgets.ledger import OutputCache

MODEL = "black-forest-labs/flux-2-flex"
BASE = {"prompt": "a red fox in fresh snow", "seed": 7, "steps": 6, "width": 256,
        "height": 256}


def runs_sent(sb: Any) -> int:
    return sum(1 for r in sb.requests if r.method == "POST" and r.path.startswith("/v1/Run/"))


@pytest.fixture
def refs(tmp_path: Path) -> tuple[Path, Path]:
    first, second = tmp_path / "a.png", tmp_path / "b.png"
    Image.new("RGB", (64, 64), (200, 30, 30)).save(first)
    Image.new("RGB", (64, 64), (30, 200, 30)).save(second)
    return first, second


def test_an_identical_request_sends_no_run(sandbox: Any, refs: tuple[Path, Path],
                                           tmp_path: Path) -> None:
    client = sandbox.client()
    first = client.run(MODEL, input_images=[refs[0]], **BASE)
    before = runs_sent(sandbox)
    # The same picture under another name is the same reference (by hash).
    copy = tmp_path / "renamed.png"
    copy.write_bytes(refs[0].read_bytes())
    again = client.run(MODEL, input_images=[copy], reuse=True, **BASE)
    assert runs_sent(sandbox) == before
    assert again.reused
    assert again.cost == 0.0
    assert first.cost > 0
    assert again.task_id == first.task_id
    assert [o.sha256 for o in again.outputs] == [o.sha256 for o in first.outputs]
    assert again.images[0].size == first.images[0].size
    assert "reused=True" in repr(again)
    assert "REUSED" in again._repr_html_()
    assert client.spent == pytest.approx(first.cost)  # nothing billed twice


@pytest.mark.parametrize("change", [{"steps": 7}, {"prompt": "a red fox in snow"},
                                    {"seed": 8}, {"guidance": 5.0}, "reference",
                                    "no_reference", "no_seed"])
def test_any_difference_sends_a_run(sandbox: Any, refs: tuple[Path, Path],
                                    change: Any) -> None:
    client = sandbox.client()
    client.run(MODEL, input_images=[refs[0]], **BASE)
    params: dict[str, Any] = {**BASE, "input_images": [refs[0]]}
    if change == "reference":
        params["input_images"] = [refs[1]]
    elif change == "no_reference":
        del params["input_images"]
    elif change == "no_seed":
        # Not chosen: even when the default (the seed that ran) travels, it runs again.
        client.run(MODEL, **{k: v for k, v in params.items() if k != "seed"})
        params.pop("seed")
    else:
        params.update(change)
    before = runs_sent(sandbox)
    result = client.run(MODEL, reuse=True, **params)
    assert runs_sent(sandbox) == before + 1
    assert not result.reused


def test_the_client_default_and_an_output_gone_from_the_cache(sandbox: Any) -> None:
    client = sandbox.client(reuse=True)
    first = client.run(MODEL, **BASE)
    before = runs_sent(sandbox)
    assert client.run(MODEL, **BASE).reused
    assert runs_sent(sandbox) == before
    assert not client.run(MODEL, reuse=False, **BASE).reused  # per call: run it
    assert runs_sent(sandbox) == before + 1
    # Once every copy of the output has left the cache there is nothing to show: it runs.
    for result in client.history(model=MODEL):
        for output in result.outputs:
            Path(output.path).unlink(missing_ok=True)
    Path(OutputCache().path_for(first.outputs[0].sha256, ".png")).unlink(missing_ok=True)
    again = client.run(MODEL, **BASE)
    assert not again.reused
    assert runs_sent(sandbox) == before + 2


def test_a_sweep_reuses_the_cells_already_run(sandbox: Any) -> None:
    client = sandbox.client(reuse=True)
    done = client.run(MODEL, **BASE)
    before = runs_sent(sandbox)
    sweep = client.sweep(MODEL, **{**BASE, "seed": [7, 8]}, progress=False)
    assert runs_sent(sandbox) == before + 1  # only seed 8 ran
    by_seed = {r.seed: r for r in sweep.results}
    assert by_seed[7].reused
    assert by_seed[7].task_id == done.task_id
    assert not by_seed[8].reused
    # Without reuse, the same sweep is refused before anything is sent (the older rule).
    from wiro_widgets import AlreadyRun

    with pytest.raises(AlreadyRun):
        sandbox.client().sweep(MODEL, **{**BASE, "seed": [7, 9]}, progress=False)


def test_the_panel_offers_to_show_the_run_again(sandbox: Any, tmp_path: Path) -> None:
    from wiro_widgets.panel import FluxPanel

    panel = FluxPanel(sandbox.client(), save_dir=tmp_path / "saved", history=0)
    form = panel.form
    assert form.prompt is not None
    assert form.seed is not None
    form.prompt.value = "a red fox in fresh snow"
    form.controls["steps"].value = 6
    form.randomize.value = False
    form.seed.value = 7
    offer = panel.reuse_offer
    assert offer.widget.layout.display == "none"
    assert panel.generate()
    assert panel.wait(60)
    assert panel.status.state == "done"
    # The form still describes that run: the offer says which.
    assert offer.widget.layout.display == ""
    assert "#1" in offer.text.value
    assert offer.entry is not None
    before = runs_sent(sandbox)
    assert offer.show()
    assert runs_sent(sandbox) == before
    assert panel.gallery.selected is panel.result
    form.prompt.value = "a red fox in deep snow"  # another request: no offer
    assert offer.widget.layout.display == "none"
    form.prompt.value = "a red fox in fresh snow"
    assert offer.widget.layout.display == ""
    form.randomize.value = True  # a random seed is a new run every time
    panel.refresh_form()
    assert offer.widget.layout.display == "none"
    form.randomize.value = False
    panel.refresh_form()
    assert offer.run_again()
    assert panel.wait(60)
    assert runs_sent(sandbox) == before + 1
    assert len(panel.history) == 2


def test_a_batch_reuses_rows_already_run(sandbox: Any, tmp_path: Path) -> None:
    client = sandbox.client(reuse=True)
    done = client.run(MODEL, **BASE)
    before = runs_sent(sandbox)
    rows = [dict(BASE), {**BASE, "seed": 9}, {k: v for k, v in BASE.items() if k != "seed"}]
    batch = client.batch(rows, model=MODEL, progress=False)
    assert runs_sent(sandbox) == before + 2  # the row with seed 7 was answered from the ledger
    results = list(batch.results())
    assert len(results) == 3  # every row, the reused one included
    assert [r.task_id for r in results if r.reused] == [done.task_id]
    exported = batch.export(tmp_path / "dataset")
    assert len(exported.read_text().splitlines()) == 3
