"""Run the benchmarks and write BENCHMARKS.md (``make bench``).

Each figure is measured side by side with its baseline in the same run, repetitions
interleaved, and reported as the median with min–max, the ratio ours ÷ baseline, the goal
from issue 7 and a plain met/missed.

Usage:
    python benchmarks/run.py                  # every figure; writes BENCHMARKS.md
    python benchmarks/run.py --quick          # fewer repetitions (smoke run); prints only
    python benchmarks/run.py --only notice    # one figure (repeatable); prints only
    python benchmarks/run.py --quick --output /tmp/b.md   # write elsewhere

A quick or partial run does not overwrite BENCHMARKS.md unless ``--output`` says so, so the
committed figures always come from a full run.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
import traceback
from datetime import datetime, timezone
from pathlib import Path

# The folder is not a package: its modules import each other by plain name.
sys.path.insert(0, str(Path(__file__).resolve().parent))

from common import (
    ROOT,
    Context,
    Row,
    Section,
    load_average,
    machine_info,
    render_table,
)

#: name -> module, in the order of issue 7 (then issue 14's panel memory and issue 17's batch).
FIGURES = {
    "notice": "bench_notice",
    "overhead": "bench_overhead",
    "upload_memory": "bench_upload_memory",
    "notebook_weight": "bench_notebook_weight",
    "sweep": "bench_sweep",
    "import": "bench_import",
    "cancel": "bench_cancel",
    "panel_memory": "bench_panel_memory",
    "batch": "bench_batch",
}


def _log(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def render(sections: list[Section], *, quick: bool, started: datetime, seconds: float,
           load_before: str, load_after: str, info: dict[str, str]) -> str:
    out = ["# Benchmarks", "",
           "Produced by `make bench` (`benchmarks/run.py`); the goals are those of issue 7 "
           "(figure 8: issue 14; figure 9: issue 17). Each "
           "figure and its baseline were measured in the same run with their repetitions "
           "interleaved, so the ratios hold on a busy machine even where absolute times "
           "drift. Cells give the median, then min–max and the number of repetitions. "
           "Benchmarks never fail the build: a goal that is missed is said so here.", ""]
    if quick:
        out += ["**Quick run** (`--quick`): few repetitions; a smoke test, not the figures.", ""]
    out += [render_table(sections), ""]
    broken = [s.name for s in sections if any(row.failed for row in s.rows)]
    if broken:
        out += ["**Failed to run**: " + ", ".join(broken) + " (the error is in its note).", ""]
    missed = [row for s in sections for row in s.rows if row.met is False]
    if missed:
        out += ["Missed: " + "; ".join(row.figure for row in missed) +
                ". What limits each is in its note below.", ""]
    out += ["## Method, figure by figure", ""]
    for section in sections:
        out += [f"### {section.title}", "", section.notes.strip(), "",
                f"*Measured in {section.seconds:.0f} s.*", ""]
    out += ["## Machine", ""]
    out += [f"- **{key}**: {value}" for key, value in info.items()]
    out += [f"- **load average (1/5/15 min)**: {load_before} at the start, {load_after} at the "
            "end (other jobs were running on this machine)",
            f"- **run**: {started:%Y-%m-%d %H:%M} UTC, {seconds / 60:.1f} min in all", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repetitions (smoke run)")
    parser.add_argument("--only", action="append", choices=sorted(FIGURES), metavar="NAME",
                        help=f"run only this figure (repeatable): {', '.join(FIGURES)}")
    parser.add_argument("--output", type=Path, default=None,
                        help="where to write the markdown (default: BENCHMARKS.md on a full "
                             "run, nothing on a quick or partial one)")
    args = parser.parse_args(argv)
    names = [n for n in FIGURES if not args.only or n in args.only]
    output = args.output
    if output is None and not args.quick and not args.only:
        output = ROOT / "BENCHMARKS.md"

    started = datetime.now(timezone.utc)
    load_before = load_average()
    info = machine_info()  # at the start: the code measured is the code of this moment
    t0 = time.perf_counter()
    sections: list[Section] = []
    with tempfile.TemporaryDirectory(prefix="wiro-bench-") as tmp:
        # Clients in this process and in the notebooks keep their ledger and cache here.
        os.environ["WIRO_WIDGETS_HOME"] = str(Path(tmp) / "home")
        for name in names:
            _log(f"== {name}")
            workdir = Path(tmp) / name
            workdir.mkdir()
            ctx = Context(quick=args.quick, workdir=workdir, log=_log)
            begun = time.perf_counter()
            try:
                module = importlib.import_module(FIGURES[name])
                section = module.run(ctx)
            except Exception as err:  # one broken figure must not lose the others
                traceback.print_exc()
                section = Section(name, name,
                                  [Row(name, "no figure", "—", "—", "—", None, failed=True)],
                                  f"The benchmark failed: `{type(err).__name__}: {err}`.")
            section.seconds = time.perf_counter() - begun
            _log(f"== {name}: {section.seconds:.0f} s")
            sections.append(section)
    seconds = time.perf_counter() - t0
    text = render(sections, quick=args.quick, started=started, seconds=seconds,
                  load_before=load_before, load_after=load_average(), info=info)
    print(text)
    if output is not None:
        output.write_text(text, encoding="utf-8")
        _log(f"wrote {output}")
    else:
        _log("not written (quick or partial run); pass --output PATH to keep it")
    failed = [s.name for s in sections if any(row.failed for row in s.rows)]
    if failed:
        _log(f"failed to run: {', '.join(failed)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
