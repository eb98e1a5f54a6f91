"""Figure 4, notebook weight: the bytes a generated 1024x1024 image adds to a saved ``.ipynb``.

Three notebooks run in a real kernel (nbclient) against a sandbox: the panel (`FluxPanel`,
images shown as widgets, saved with widget state as nbclient stores it), a `Result` shown as a
cell's value (its HTML gallery), and the baseline, ``display(pil_image)`` of the same image.
Each notebook holds all its cells from the start, so the sources weigh the same at every
measurement; after each cell runs, the widget state is stored and the notebook serialised.
"""

from __future__ import annotations

import base64
import io
import os
import random
from collections.abc import Callable
from itertools import pairwise
from pathlib import Path
from typing import Any

from common import MODEL, Context, RemoteSandbox, Row, Section, ratio

GOAL_KB = 150.0
KB = 1000  # notebook bytes are reported in kB (1000 bytes), as file sizes are
STEPS = 8
RUN_ARGS = f"prompt='a lighthouse at dusk', steps={STEPS}, width=1024, height=1024, " \
           "output_format='png'"

SETUP = {
    "panel": "from wiro_widgets import FluxPanel\npanel = FluxPanel()\npanel",
    "result": "from wiro_widgets import WiroClient\nclient = WiroClient()",
    "pil": "from wiro_widgets import WiroClient\nclient = WiroClient()",
}


def image_cell(variant: str, k: int) -> str:
    """The cell that makes image number ``k`` (seed ``k``) and shows it the variant's way."""
    if variant == "panel":
        return ("panel.form.prompt.value = 'a lighthouse at dusk'\n"
                f"panel.form.seed.value = {k}\n"
                f"panel.form.controls['steps'].value = {STEPS}\n"
                "panel.form.set_size(1024, 1024)\n"
                "panel.generate_button.click()\n"
                "finished = panel.wait(120)\n"
                f"assert finished and len(panel.history) == {k}, panel.status.state")
    if variant == "result":
        return f"client.run({MODEL!r}, seed={k}, {RUN_ARGS})"
    return f"display(client.run({MODEL!r}, seed={k}, {RUN_ARGS}).image)"


def measure(variant: str, images: int, env: dict[str, str], workdir: Path) -> list[int]:
    """Sizes of the saved notebook after its setup cell and after each image cell."""
    import nbformat
    from nbclient import NotebookClient

    # nbformat is untyped; name its functions once with a type.
    new_notebook: Callable[[], Any] = nbformat.v4.new_notebook
    new_cell: Callable[[str], Any] = nbformat.v4.new_code_cell
    writes: Callable[[Any], str] = nbformat.writes
    nb = new_notebook()
    nb.cells = [new_cell(SETUP[variant])]
    nb.cells += [new_cell(image_cell(variant, k)) for k in range(1, images + 1)]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    client = NotebookClient(nb, timeout=180, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.reset_execution_trackers()
    sizes = []
    with client.setup_kernel(env=env):
        for index, cell in enumerate(nb.cells):
            client.execute_cell(cell, index, execution_count=index + 1)
            client.set_widgets_metadata()
            sizes.append(len(writes(nb).encode("utf-8")))
    (workdir / f"{variant}.ipynb").write_text(writes(nb), encoding="utf-8")
    return sizes


def widget_count(path: Path) -> int:
    """How many widget models a saved notebook stores."""
    import json

    meta = json.loads(path.read_text(encoding="utf-8"))["metadata"]
    state = meta.get("widgets", {}).get("application/vnd.jupyter.widget-state+json", {})
    return len(state.get("state", {}))


def photo_like(side: int = 1024, seed: int = 1) -> Any:
    """A picture with a photograph's statistics (detail at every scale, no flat areas): its
    PNG is ~1.9 MB, where the sandbox's drawings are ~0.1 MB."""
    from PIL import Image

    rnd = random.Random(seed)
    layers = []
    for cells in (4, 16, 64, 256, 1024):
        noise = Image.frombytes("RGB", (cells, cells), rnd.randbytes(cells * cells * 3))
        layers.append(noise.resize((side, side), Image.Resampling.BICUBIC))
    image = layers[0]
    for layer, alpha in zip(layers[1:], (0.45, 0.3, 0.15, 0.06), strict=True):
        image = Image.blend(image, layer, alpha)
    return image


def encoded_weights(image: Any) -> dict[str, float]:
    """The base64 bytes each display path puts in a notebook for ``image`` (no kernel)."""
    from wiro_widgets.images import thumbnail_bytes, thumbnail_data_uri
    from wiro_widgets.panel.present import PRESENT_SIDE
    from wiro_widgets.panel.previews import THUMB_SIDE, preview_bytes

    def b64(data: bytes) -> int:
        return len(base64.b64encode(data))

    png = image._repr_png_()  # what IPython's display(pil_image) stores
    preview = b64(preview_bytes(image))
    strip = b64(thumbnail_bytes(image, THUMB_SIDE))
    return {"panel_first": preview + strip, "panel_next": strip,
            "present": b64(preview_bytes(image, PRESENT_SIDE)),
            "result": len(thumbnail_data_uri(image, 256)), "pil": b64(png),
            "png_file": len(_png(image))}


def _preview_quality(image: Any) -> str:
    """The size `preview_bytes` settled on for ``image`` (it steps down to fit its budget)."""
    from PIL import Image

    from wiro_widgets.panel.previews import preview_bytes

    data = preview_bytes(image)
    with Image.open(io.BytesIO(data)) as shown:
        return f"{max(shown.size)} px, {len(data) / KB:.0f} kB of JPEG"


def _png(image: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return buffer.getvalue()


def run(ctx: Context) -> Section:
    images = ctx.reps(3, 2)
    sizes: dict[str, list[int]] = {}
    with RemoteSandbox(speed=5.0, concurrency_limit=None) as sb:
        env = {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(ctx.home("notebook"))}
        for variant in ("panel", "result", "pil"):
            sizes[variant] = measure(variant, images, env, ctx.workdir)
            ctx.log(f"  {variant}: {sizes[variant]}")

    def per_image(variant: str) -> float:
        s = sizes[variant]
        return (s[-1] - s[0]) / images / KB

    def increments(variant: str) -> str:
        s = sizes[variant]
        return ", ".join(f"{(b - a) / KB:.1f}" for a, b in pairwise(s))

    panel, result, pil = per_image("panel"), per_image("result"), per_image("pil")

    def worst(variant: str) -> float:
        return max(b - a for a, b in pairwise(sizes[variant])) / KB

    widgets = widget_count(ctx.workdir / "panel.ipynb")
    image = photo_like()
    photo = {k: v / KB for k, v in encoded_weights(image).items()}
    settled = _preview_quality(image)
    section = Section("notebook_weight", "Notebook weight")
    section.rows.append(Row(
        f"4. Notebook weight per 1024x1024 image: panel (mean of {images}; largest)",
        f"{panel:.1f} kB; {worst('panel'):.1f} kB", f"{pil:.1f} kB (`display(pil_image)`)",
        ratio(panel, pil), f"< {GOAL_KB:.0f} kB each", worst("panel") < GOAL_KB))
    section.rows.append(Row(
        f"4. Notebook weight per image: `Result` as a cell's value (mean of {images}; largest)",
        f"{result:.1f} kB; {worst('result'):.1f} kB", f"{pil:.1f} kB (`display(pil_image)`)",
        ratio(result, pil), f"< {GOAL_KB:.0f} kB each", worst("result") < GOAL_KB))
    section.rows.append(Row(
        "4. … photo-like content (encoder bytes, no kernel): panel first image / each later / "
        "presentation view; `Result`",
        f"{photo['panel_first']:.0f} / {photo['panel_next']:.0f} / {photo['present']:.0f} kB; "
        f"{photo['result']:.0f} kB", f"{photo['pil']:.0f} kB",
        ratio(photo["panel_first"], photo["pil"]), f"< {GOAL_KB:.0f} kB each",
        max(photo["panel_first"], photo["present"], photo["result"]) < GOAL_KB))
    if max(photo["panel_first"], photo["present"]) >= GOAL_KB:
        missed = f"""
**Missed on photo-like content**: the panel's first image carries its JPEG preview, which for
this detailed picture is {photo["panel_first"] - photo["panel_next"]:.0f} kB in base64, so the
first image adds {photo["panel_first"]:.0f} kB. `panel/previews.py`'s `PREVIEW_BUDGET` bounds
it."""
    else:
        missed = ""
    section.notes = f"""\
**Defined as**: the growth of the saved `.ipynb` (`nbformat.writes`, UTF-8 bytes; kB = 1000
bytes) per generated 1024x1024 PNG, over {images} images: the mean, (size after the last image −
size after the setup cell) ÷ {images}, and the largest single increment, on which the goal is
judged (each image must stay under it). Each notebook runs in a real kernel with nbclient
against a sandbox (own process); all its cells exist from the start, so cell sources weigh the
same at every measurement, and the widget state is stored after every cell as nbclient stores it
at the end of a run (`store_widget_state`, binary buffers as base64). **Ours**: the panel
(`FluxPanel`; each image cell sets the seed and clicks Generate, then `panel.wait()`): the
viewer holds one JPEG preview (≤ 768 px, reused from run to run) and the history strip one 160
px thumbnail per run; and a `Result` as a cell's value (its HTML: a 256 px JPEG thumbnail).
**Baseline**: `display(result.image)`, i.e. IPython's PNG of the PIL image, base64. Per-image
increments (kB): panel {increments("panel")}; `Result` {increments("result")}; baseline
{increments("pil")}. The panel's first image carries the preview; later ones add a thumbnail,
the preview being replaced (a batch shows one preview per image of the batch). Saved
notebooks with {images} images: panel
{sizes["panel"][-1] / KB:.0f} kB, `Result` {sizes["result"][-1] / KB:.0f} kB, baseline
{sizes["pil"][-1] / KB:.0f} kB. The panel itself, before any image, weighs
{sizes["panel"][0] / KB:.0f} kB in the saved notebook, a one-time cost, not per image (the
saved panel notebook holds {widgets} widget models, most of them ipywidgets' `Layout` and style
models).
**Content matters**: the sandbox draws flat shapes, whose PNG is ~0.1 MB; a model's photograph
is 1–2 MB as PNG. The third row takes a photo-like 1024x1024 picture (detail at every scale;
{photo["png_file"] / 1000:.1f} MB as PNG) through the same encoders the three paths use
(`preview_bytes`, the 160 px thumbnail, the presentation view's image, `thumbnail_data_uri`,
`PIL.Image._repr_png_`) and counts their base64 bytes, without a kernel: the panel's first image
{photo["panel_first"]:.0f} kB, each later one {photo["panel_next"]:.0f} kB, the presentation
view's image {photo["present"]:.0f} kB, a `Result` {photo["result"]:.0f} kB,
`display(pil_image)` {photo["pil"]:.0f} kB. A preview is a JPEG of at most 768 px (1024 px in
the presentation view) at quality 80, stepping down by 10 to 50 and then shrinking until it
fits 100,000 bytes (133 kB in base64); this picture settled at {settled}.{missed}"""
    return section
