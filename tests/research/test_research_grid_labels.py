"""A sweep's axis labels stay readable on a projector: on a contact sheet they grow with the
cells, and the HTML grid's are large and bold."""

from __future__ import annotations

from typing import Any

from .conftest import MODEL


def test_labels_grow_with_the_cells(client: Any) -> None:
    sweep = client.sweep(MODEL, prompt="a fox", seed=[1, 2], width=128, height=128, steps=2)
    # One axis: a row of labels over one row of cells; what is not cells is labels and pads.
    small = sweep.grid_image(cell_size=128, title="")
    large = sweep.grid_image(cell_size=512, title="")
    small_band = small.height - 128
    large_band = large.height - 512
    # Shown at the same width on a projector, the labels keep their size against the images.
    assert large_band >= 3 * small_band
    assert sweep.grid_image(cell_size=512, font_size=14, title="").height - 512 < large_band

    page = sweep._repr_html_()
    assert page.count("font-size:1.25em;font-weight:600") >= 3  # two columns and a row label
