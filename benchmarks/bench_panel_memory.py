"""Figure 8, the panel's memory over a long session: how much a kernel's resident memory grows
per Generate once it is warm, for the panel against a notebook loop that keeps its results.

Each variant runs in its own real kernel (nbclient), where one cell generates image after
image and notes the kernel's RSS after each; the sandbox runs in its own process. RSS is what
the operating system holds for the kernel, decoded images included (Pillow allocates those
outside Python's allocator, where ``tracemalloc`` does not see them).
"""

from __future__ import annotations

import itertools
import json
import os
import statistics
from collections.abc import Callable
from pathlib import Path
from typing import Any

from common import MODEL, Context, RemoteSandbox, Row, Section, ratio

GOAL_MB = 0.3
STEPS = 4
SIZE = 1024

SETUP = {
    "panel": (
        "from wiro_widgets import FluxPanel\n"
        "panel = FluxPanel()\n"
        "panel.form.prompt.value = 'a lighthouse at dusk'\n"
        f"panel.form.controls['steps'].value = {STEPS}\n"
        f"panel.form.set_size({SIZE}, {SIZE})\n"
        "panel"
    ),
    "loop": (
        "from wiro_widgets import WiroClient\n"
        "client = WiroClient()\n"
        "kept = []"
    ),
}

ONE_RUN = {
    "panel": ("    assert panel.generate(), panel.status.alert.value\n"
              "    assert panel.wait(120) and panel.status.state == 'done'\n"),
    "loop": (f"    result = client.run({MODEL!r}, prompt='a lighthouse at dusk', steps={STEPS}, "
             f"width={SIZE}, height={SIZE}, seed=k)\n"
             "    result.images  # looked at, as a notebook does\n"
             "    kept.append(result)\n"),
}


def measure_cell(variant: str, runs: int) -> str:
    """The cell that generates ``runs`` images and prints the RSS (MB) after each."""
    return ("import gc, json, psutil\n"
            "process = psutil.Process()\n"
            "sizes = []\n"
            f"for k in range({runs}):\n"
            f"{ONE_RUN[variant]}"
            "    gc.collect()\n"
            "    sizes.append(process.memory_info().rss / 1e6)\n"
            "print(json.dumps(sizes))")


def measure(variant: str, runs: int, env: dict[str, str], workdir: Path) -> list[float]:
    """RSS of a fresh kernel (MB) after each of ``runs`` runs of ``variant``."""
    import nbformat
    from nbclient import NotebookClient

    new_notebook: Callable[[], Any] = nbformat.v4.new_notebook
    new_cell: Callable[[str], Any] = nbformat.v4.new_code_cell
    nb = new_notebook()
    nb.cells = [new_cell(SETUP[variant]), new_cell(measure_cell(variant, runs))]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    client = NotebookClient(nb, timeout=900, kernel_name="python3",
                            resources={"metadata": {"path": str(workdir)}})
    client.execute(env=env)
    text = "".join(o.get("text", "") for o in nb.cells[1].outputs)
    return [float(v) for v in json.loads(text.strip().splitlines()[-1])]


def slope(sizes: list[float], warm: int) -> float:
    """MB per run from run ``warm`` to the last (a least-squares line, so one step of the
    allocator does not decide it)."""
    ys = sizes[warm:]
    xs = list(range(len(ys)))
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    num = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True))
    den = sum((x - mean_x) ** 2 for x in xs) or 1.0
    return num / den


def run(ctx: Context) -> Section:
    warm, measured = ctx.reps(20, 8), ctx.reps(80, 8)
    runs = warm + measured
    sizes: dict[str, list[float]] = {}
    with RemoteSandbox(speed=20.0, concurrency_limit=None) as sb:
        for variant in ("panel", "loop"):
            workdir = ctx.workdir / variant
            workdir.mkdir()
            env = {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(ctx.home(variant))}
            sizes[variant] = measure(variant, runs, env, workdir)
            ctx.log(f"  {variant}: " + " ".join(f"{v:.0f}" for v in sizes[variant]))
    ours, base = slope(sizes["panel"], warm), slope(sizes["loop"], warm)
    early = (sizes["panel"][warm] - sizes["panel"][0]) / warm
    steps = [b - a for a, b in itertools.pairwise(sizes["panel"][warm:])]
    median = statistics.median(steps) if steps else 0.0
    biggest = max(steps, default=0.0)
    section = Section("panel_memory", "Panel memory over a session")
    section.rows.append(Row(
        f"8. Kernel memory per Generate after {warm} warm-up runs (1024x1024 PNG; slope over "
        f"{measured} runs)", f"{ours:.2f} MB", f"{base:.2f} MB (a loop keeping its results)",
        ratio(ours, base), f"< {GOAL_MB} MB", ours < GOAL_MB))
    section.notes = f"""\
**Defined as**: the growth of the kernel's resident memory (RSS, as `psutil` reads it from
inside the kernel after a `gc.collect()`) per run, as the slope of a least-squares line through
runs {warm + 1}..{runs}, after {warm} warm-up runs. Each variant runs in its own fresh kernel
(nbclient) against a sandbox in its own process (`speed=20`, {STEPS} steps, {SIZE}x{SIZE} PNG).
**Ours**: a `FluxPanel` pressing Generate once per run: it keeps each run's JPEG previews
(at most 100,000 bytes each) and a 160 px thumbnail, and lets the full image go once they are
made (it loads again from the output cache when an action needs it). **Baseline**: a loop of
`client.run(...)` that keeps every `Result` and looks at its `.images` (each holds its
decoded image: 3 MB at 1024x1024), as a notebook that collects its results does. RSS after
each run (MB): ours {" ".join(f"{v:.0f}" for v in sizes["panel"])}; baseline
{" ".join(f"{v:.0f}" for v in sizes["loop"])}.
RSS moves in steps (the C allocator takes and gives back memory in blocks of megabytes; the
largest step here was {biggest:.0f} MB) and is flat in between: the median change from one run to
the next is {median:.2f} MB. So the slope over the whole stretch is the figure, not a step.
**Warm-up**: the first runs grow by {early:.1f} MB each on average: imports, connection
pools, the worker threads and the C allocator's arenas, which Pillow's decoder fills once and
then reuses. The panel runs its tasks on four long-lived worker threads for that reason: with
a new thread per run, each decoding thread could take a new arena, and the growth went on
for ~20 runs before it levelled off."""
    return section
