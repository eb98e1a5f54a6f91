"""The reliability suite's summary: a table of what it tried and found (its sections and rows
are in `report`), printed at the end of the test run, and written to ``RELIABILITY.md`` when
``WIRO_WRITE_RELIABILITY=1`` (so an ordinary ``make test`` leaves the tree clean)."""

from __future__ import annotations

import datetime as dt
import os
import platform
from pathlib import Path
from typing import Any

import pytest

from . import tally
from .report import DEFECTS, LIMITS, SECTIONS, Section

_HERE = "tests/reliability"


def _sections(here: Path) -> list[Section]:
    """The sections whose test files are in this folder (the totals always)."""
    return [s for s in SECTIONS if not s.files or any((here / f).exists() for f in s.files)]


def _rows(section: Section, counts: dict[str, int]) -> list[tuple[str, int, str]]:
    """(label, count, meaning) for each row of ``section``; a ``": *"`` row gives one line
    per counter under its prefix."""
    rows = []
    for row in section.rows:
        if len(row.counters) == 1 and row.counters[0].endswith(": *"):
            prefix = row.counters[0][:-1]
            rows += [(row.label.format(name[len(prefix):]), count, row.meaning)
                     for name, count in sorted(counts.items()) if name.startswith(prefix)]
            continue
        meaning = f"{row.meaning}; must be 0" if row.zero else row.meaning
        rows.append((row.label, sum(counts.get(n, 0) for n in row.counters), meaning))
    return rows


def _outcomes(reporter: Any) -> tuple[int, int, int, float]:
    passed = failed = skipped = 0
    seconds = 0.0
    for reports in reporter.stats.values():
        for report in reports:
            nodeid = getattr(report, "nodeid", "")
            if not nodeid.startswith(_HERE):
                continue
            seconds += float(getattr(report, "duration", 0.0) or 0.0)
            when = getattr(report, "when", "")
            if report.skipped:
                skipped += 1
            elif report.failed:
                failed += 1
            elif when == "call" and report.passed:
                passed += 1
    return passed, failed, skipped, seconds


def _markdown(sections: list[Section], counts: dict[str, int], notes: dict[str, str],
              outcome: tuple[int, int, int, float]) -> str:
    passed, failed, skipped, seconds = outcome
    seed = notes.get("fault seed", "?")
    lines = [
        "# Reliability and security",
        "",
        "Results of the suite in `tests/reliability/` (issues 8 and 12), from a real run on "
        f"{dt.date.today().isoformat()} (Python {platform.python_version()}, "
        f"{platform.system()}): {passed} tests passed, {failed} failed, {skipped} skipped, in "
        f"{seconds:.0f} s of test time. Fault seed: `{seed}`.",
        "",
        "| what | count | meaning |",
        "|---|---:|---|",
    ]
    for section in sections:
        lines.append(f"| **{section.title}** | | |")
        lines += [f"| {label.strip()} | {count} | {meaning} |"
                  for label, count, meaning in _rows(section, counts)]
    lines += ["", "## What the suite checks", ""]
    lines += [f"- **{s.title}** ({', '.join(f'`{f}`' for f in s.files)}): {s.checks}"
              for s in sections if s.files]
    lines += [
        "",
        "## Defects it found (fixed)",
        "",
        *[f"- `{commits}`: {text}" for commits, text in DEFECTS],
        "",
        "## Limits",
        "",
        *[f"- {text}" for text in LIMITS],
        "",
        "## Re-running",
        "",
        "```sh",
        ".venv/bin/pytest tests/reliability                              # table in the summary",
        "WIRO_WRITE_RELIABILITY=1 .venv/bin/pytest tests/reliability     # also rewrites this file",
        f"WIRO_RELIABILITY_SEED={seed} .venv/bin/pytest tests/reliability/test_faults.py  "
        "# replay the fault pattern",
        "```",
        "",
    ]
    return "\n".join(lines)


@pytest.hookimpl(trylast=True)
def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config
                            ) -> None:
    counts, notes = tally.snapshot()
    if not counts:
        return
    sections = _sections(Path(__file__).parent)
    terminalreporter.section("reliability")
    for section in sections:
        rows = _rows(section, counts)
        terminalreporter.write_line(f"-- {section.title}")
        for label, count, _meaning in rows:
            terminalreporter.write_line(f"{label:<52}  {count:>6}")
    if notes:
        terminalreporter.write_line("; ".join(f"{k}: {v}" for k, v in notes.items()))
    if os.environ.get("WIRO_WRITE_RELIABILITY") == "1":
        path = Path(config.rootpath) / "RELIABILITY.md"
        text = _markdown(sections, counts, notes, _outcomes(terminalreporter))
        path.write_text(text, encoding="utf-8")
        terminalreporter.write_line(f"written to {path}")
