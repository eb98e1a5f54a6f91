"""The labels a run carries in the panel: REPLAY (a replay sandbox answered with a recorded
run's real images), REUSED (taken from the ledger, nothing sent), SANDBOX (procedural
pictures), so no one takes an earlier or a made-up image for a fresh run.

Example:
    >>> run_badges(result)
    '<span class="wiro-badge wiro-badge-sandbox wiro-badge-replay" title="...">REPLAY</span>'
"""

from __future__ import annotations

from ..results import Result
from .theme import esc

__all__ = ["run_badges"]


def run_badges(result: Result, *, sandbox: bool = False) -> str:
    """The badges of one run (``""`` for a fresh live run); ``sandbox``: show SANDBOX for a
    sandbox's own pictures too (the header already says so otherwise)."""
    badges = []
    if result.replayed:
        note = str(result.record.get("description") or "a recorded run")
        badges.append(_badge("REPLAY", "replay", f"{note}: the recorded run's real images, "
                             "not a fresh run"))
    elif sandbox and result.sandbox:
        badges.append(_badge("SANDBOX", "sandbox-run",
                             "A local sandbox made these images, not the model"))
    if result.reused:
        badges.append(_badge("REUSED", "reused", f"task {result.task_id} shown again from the "
                             "ledger: nothing was sent, nothing billed"))
    return " ".join(badges)


def _badge(text: str, kind: str, title: str) -> str:
    return (f'<span class="wiro-badge wiro-badge-sandbox wiro-badge-{kind}" '
            f'title="{esc(title)}">{text}</span>')
