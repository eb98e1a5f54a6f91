"""compare(): side by side, differing parameters marked."""

from __future__ import annotations

import re
from collections.abc import Callable

import wiro_widgets
from wiro_widgets.research import compare
from wiro_widgets.results import Result

from .conftest import encode, noisy_image


def test_differing_params_are_marked(make_result: Callable[..., Result]) -> None:
    png = encode(noisy_image(), "PNG")
    refs = [{"name": "cat.png", "sha256": "ab" * 32, "size": 10}]
    a = make_result(png, guidance=3.0, input_images=refs)
    b = make_result(png, guidance=6.0, input_images=refs)
    c = make_result(png, guidance=6.0, seed=7, input_images=refs)
    view = wiro_widgets.compare([a, b, c])
    assert view.differing == ["seed", "guidance"]
    rows = {row.name: row for row in view.rows()}
    assert rows["guidance"].values == (3.0, 6.0, 6.0)
    assert rows["input_images"].values == (["cat.png"],) * 3
    assert not rows["prompt"].differs
    assert not rows["model"].differs
    page = view._repr_html_()
    marked = re.findall(r'<tr class="wiro-differs"[^>]*><td[^>]*>([^<]+)</td>', page)
    assert marked == ["seed", "guidance"]
    assert page.count("<img ") == 3
    assert f"task {a.task_id}" in page


def test_a_param_missing_from_one_result_differs(make_result: Callable[..., Result]) -> None:
    png = encode(noisy_image(), "PNG")
    view = compare([make_result(png), make_result(png, steps=20)])
    assert view.differing == ["steps"]
    assert dict((r.name, r.values) for r in view.rows())["steps"] == (None, 20)
    assert "—" in view._repr_html_()


def test_identical_results_mark_nothing(make_result: Callable[..., Result]) -> None:
    png = encode(noisy_image(), "PNG")
    view = compare(iter([make_result(png), make_result(png)]))
    assert view.differing == []
    assert "wiro-differs" not in view._repr_html_()
    assert "nothing to compare" in compare([])._repr_html_()
