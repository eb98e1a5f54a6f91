"""How a `Sweep` looks: an HTML grid of thumbnails for notebooks, a PIL contact sheet for papers.

Columns are the last axis; rows are the product of the other axes, so any number of axes fits
one table. This module draws anything shaped like a sweep (`GridSource`); it does not import
the runner, which calls it.

Example:
    >>> grid_image(sweep, cell_size=320).save("grid.png")
"""

from __future__ import annotations

import html
import itertools
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol, TypeAlias

from PIL import Image, ImageDraw, ImageFont

from ..images import thumbnail_data_uri
from ..results import Result

__all__ = ["GridCell", "GridSource", "grid_html", "grid_image", "value_label"]

_THUMB = 128
#: Axis labels of the HTML grid: large and bold enough to read from the back of a room.
_AXIS_STYLE = "padding:2px 6px;font-size:1.25em;font-weight:600"
#: A contact sheet's labels are this fraction of a cell's side high (1/14).
_LABEL_SHARE = 14
_SANDBOX_BADGE = (' <span style="background:#b45309;color:#fff;padding:0 4px;'
                  'border-radius:3px">SANDBOX</span>')

Font: TypeAlias = "ImageFont.ImageFont | ImageFont.FreeTypeFont"


class GridCell(Protocol):
    """One point of a sweep, as the grid reads it (`cells.Cell`)."""

    @property
    def index(self) -> tuple[int, ...]: ...

    @property
    def label(self) -> str: ...


class GridSource(Protocol):
    """A sweep, as the grid reads it (`sweep.Sweep`)."""

    @property
    def model(self) -> str: ...

    @property
    def axes(self) -> Mapping[str, list[Any]]: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    @property
    def file_param(self) -> str | None: ...

    @property
    def errors(self) -> Mapping[Any, BaseException]: ...

    @property
    def not_run(self) -> Sequence[Any]: ...

    @property
    def cells(self) -> Sequence[GridCell]: ...

    @property
    def by_cell(self) -> Mapping[Any, Result]: ...

    @property
    def results(self) -> list[Result]: ...

    @property
    def done(self) -> bool: ...

    def caption(self) -> str: ...


def value_label(name: str, value: Any, limit: int = 40, *, files: bool = False) -> str:
    """A short label for an axis value: numbers as they are, references by file name
    (``files``: the value is a list of images for a file input).

    Example:
        >>> value_label("input_images", ["a/cat.png", "dog.png"], files=True)
        '2 refs: cat.png, dog.png'
    """
    if name == "model" and isinstance(value, str):
        text = value.rsplit("/", 1)[-1]
    elif files and isinstance(value, (list, tuple)):
        names = [_ref_label(v) for v in value]
        text = names[0] if len(names) == 1 else f"{len(names)} refs: {', '.join(names)}"
    elif isinstance(value, (Path, bytes, Image.Image, Mapping)):
        text = _ref_label(value)
    else:
        text = str(value)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def grid_html(sweep: GridSource) -> str:
    """The sweep as a labelled HTML table of small JPEG thumbnails.

    Example:
        >>> IPython.display.HTML(grid_html(sweep))
    """
    names = list(sweep.axes)
    rows, columns = _layout(sweep)
    col_name = names[-1] if names else ""
    corner = " · ".join(names[:-1])
    corner = f"{corner} \\ {col_name}" if corner else col_name
    head = "".join(f'<th style="{_AXIS_STYLE}">{html.escape(_col_label(sweep, col_name, v))}'
                   "</th>" for v in columns) or "<th></th>"
    by_cell = sweep.by_cell
    body = []
    for row in rows:
        cells = "".join(
            f'<td style="padding:2px;vertical-align:top;text-align:center" '
            f'title="{html.escape(cell.label)}">{_cell_html(sweep, cell, by_cell)}</td>'
            for cell in _row_cells(sweep, row))
        body.append(f'<tr><th style="{_AXIS_STYLE};text-align:right">'
                    f'{html.escape(_row_label(sweep, row))}</th>{cells}</tr>')
    badge = _SANDBOX_BADGE if any(r.sandbox for r in by_cell.values()) else ""
    return ('<div class="wiro-sweep">'
            f'<div style="font-size:90%;margin-bottom:4px">{html.escape(sweep.caption())}'
            f'{badge}</div><table style="border-collapse:collapse">'
            f'<thead><tr><th style="{_AXIS_STYLE};font-weight:normal">{html.escape(corner)}</th>'
            f'{head}</tr></thead><tbody>{"".join(body)}</tbody></table></div>')


def grid_image(sweep: GridSource, *, cell_size: int = 256, font_size: int | None = None,
               title: str | None = None) -> Image.Image:
    """One contact sheet with axis labels (see `Sweep.grid_image`).

    The labels grow with the cells (a 14th of a cell's side, at least 12 px), so they stay
    readable when the sheet is shown smaller, as on a projector.

    Example:
        >>> grid_image(sweep, cell_size=192, title="guidance against seed").save("grid.png")
    """
    if font_size is None:
        font_size = max(12, round(cell_size / _LABEL_SHARE))
    font = _font(font_size)
    names = list(sweep.axes)
    rows, columns = _layout(sweep)
    col_name = names[-1] if names else ""
    row_labels = [_row_label(sweep, row) for row in rows]
    pad = max(4, font_size // 2)
    line = font_size + pad
    left = max((_text_width(font, t) for t in row_labels), default=0)
    left = left + 2 * pad if left else pad
    title = _title(sweep) if title is None else title
    top = (line if title else 0) + (line if col_name else 0) + pad
    n_cols = max(1, len(columns))
    sheet = Image.new("RGB", (left + n_cols * (cell_size + pad) + pad,
                              top + len(rows) * (cell_size + pad) + pad), "white")
    draw = ImageDraw.Draw(sheet)
    if title:
        draw.text((pad, pad // 2), _fit(font, title, sheet.width - 2 * pad), fill="black",
                  font=font)
    for c, value in enumerate(columns):
        text = _fit(font, _col_label(sweep, col_name, value), cell_size)
        x = left + c * (cell_size + pad) + (cell_size - _text_width(font, text)) // 2
        draw.text((x, (line if title else 0) + pad // 2), text, fill="black", font=font)
    by_cell = sweep.by_cell
    for r, row in enumerate(rows):
        y = top + r * (cell_size + pad)
        if row_labels[r]:
            draw.text((pad, y + cell_size // 2 - font_size // 2),
                      _fit(font, row_labels[r], left - 2 * pad), fill="black", font=font)
        for c, cell in enumerate(_row_cells(sweep, row)):
            _draw_cell(sweep, sheet, draw, font, cell, by_cell,
                       (left + c * (cell_size + pad), y), cell_size)
    return sheet


def _layout(sweep: GridSource) -> tuple[list[tuple[int, ...]], list[Any]]:
    names = list(sweep.axes)
    if not names:
        return [()], []
    rows = list(itertools.product(*(range(len(sweep.axes[k])) for k in names[:-1])))
    return rows, sweep.axes[names[-1]]


def _row_cells(sweep: GridSource, row: tuple[int, ...]) -> list[GridCell]:
    if not sweep.axes:
        return list(sweep.cells[:1])
    at = {cell.index: cell for cell in sweep.cells}
    last = list(sweep.axes.values())[-1]
    return [at[key] for key in [(*row, c) for c in range(len(last))]]


def _row_label(sweep: GridSource, row: tuple[int, ...]) -> str:
    names = list(sweep.axes)[:-1]
    return " · ".join(f"{k}={value_label(k, sweep.axes[k][i], files=k == sweep.file_param)}"
                      for k, i in zip(names, row, strict=True))


def _col_label(sweep: GridSource, name: str, value: Any) -> str:
    return f"{name}={value_label(name, value, files=name == sweep.file_param)}"


def _title(sweep: GridSource) -> str:
    parts = [sweep.model.rsplit("/", 1)[-1]]
    prompt = sweep.params.get("prompt")
    if isinstance(prompt, str):
        parts.append(f'"{prompt}"')
    if any(r.sandbox for r in sweep.results):
        parts.append("SANDBOX")
    return " · ".join(parts)


def _cell_state(sweep: GridSource, cell: GridCell) -> str:
    if cell in sweep.not_run:
        return "not run"
    return "—" if sweep.done else "running…"


def _cell_html(sweep: GridSource, cell: GridCell, by_cell: Mapping[Any, Result]) -> str:
    if cell in by_cell:
        try:
            uri = thumbnail_data_uri(by_cell[cell].image, _THUMB)
        except (LookupError, OSError):
            return _other_output_html(by_cell[cell])
        return (f'<img src="{uri}" alt="{html.escape(cell.label)}" '
                'style="border-radius:3px;display:block;margin:auto">')
    if cell in sweep.errors:
        err = sweep.errors[cell]
        return (f'<div class="wiro-sweep-error" style="width:{_THUMB}px;color:#b91c1c;'
                f'font-size:80%">{html.escape(type(err).__name__)}: '
                f'{html.escape(str(err)[:160])}</div>')
    return (f'<div style="width:{_THUMB}px;color:#999;font-size:80%">'
            f"{_cell_state(sweep, cell)}</div>")


def _other_output_html(result: Result) -> str:
    """A cell whose result is no image: the start of its text, or its files' kinds."""
    style = f'style="width:{_THUMB}px;font-size:80%;text-align:left"'
    if result.text:
        return f'<div class="wiro-sweep-text" {style}>{html.escape(result.text[:240])}</div>'
    kinds = ", ".join(sorted({o.kind for o in result.outputs})) or "no output"
    return f'<div style="color:#666" {style}>{html.escape(kinds)}</div>'


def _draw_cell(sweep: GridSource, sheet: Image.Image, draw: ImageDraw.ImageDraw, font: Font,
               cell: GridCell, by_cell: Mapping[Any, Result], origin: tuple[int, int],
               size: int) -> None:
    x, y = origin
    image = None
    if cell in by_cell:
        try:
            image = by_cell[cell].image.copy()
        except (LookupError, OSError):
            image = None
    if image is not None:
        image.thumbnail((size, size))
        if image.mode != "RGB":
            image = image.convert("RGB")
        sheet.paste(image, (x + (size - image.width) // 2, y + (size - image.height) // 2))
        return
    failed = cell in sweep.errors
    draw.rectangle((x, y, x + size - 1, y + size - 1),
                   fill="#fde8e8" if failed else "#f1f1f1", outline="#cccccc")
    text = type(sweep.errors[cell]).__name__ if failed else _cell_state(sweep, cell)
    draw.text((x + 6, y + 6), _fit(font, text, size - 12),
              fill="#b91c1c" if failed else "#777777", font=font)


def _ref_label(ref: Any) -> str:
    if isinstance(ref, Path):
        return ref.name
    if isinstance(ref, str):
        return ref.rsplit("/", 1)[-1]
    if isinstance(ref, bytes):
        return f"<{len(ref)} bytes>"
    if isinstance(ref, Image.Image):
        return f"image {ref.width}x{ref.height}"
    if isinstance(ref, Mapping):
        return str(ref.get("name") or str(ref.get("sha256", "?"))[:12])
    return type(ref).__name__


def _font(size: int) -> Font:
    try:
        return ImageFont.load_default(size=size)
    except (TypeError, OSError):  # Pillow without FreeType: the fixed bitmap font
        return ImageFont.load_default()


def _text_width(font: Font, text: str) -> int:
    left, _, right, _ = font.getbbox(text)
    return int(right - left)


def _fit(font: Font, text: str, width: int) -> str:
    if _text_width(font, text) <= width:
        return text
    while text and _text_width(font, text + "…") > width:
        text = text[:-1]
    return text + "…"
