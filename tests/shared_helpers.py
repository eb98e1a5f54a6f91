"""Test helpers shared by more than one test folder (``tests/`` is on ``sys.path`` through
the root conftest): a small encoded image, a child process signalled on a printed line, a wait
for a condition, and every widget of a panel."""

from __future__ import annotations

import io
import queue
import subprocess
import tempfile
import threading
import time
from collections.abc import Callable, Iterator

import ipywidgets as w
import pytest
from PIL import Image

__all__ = ["encoded", "signal_on_line", "wait_for", "widgets_of"]


def encoded(fmt: str = "PNG", size: tuple[int, int] = (48, 32),
            color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A small real image, encoded."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


def signal_on_line(args: list[str], env: dict[str, str], line: str, sig: int,
                   timeout: float = 60.0) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    """Run ``args``; send ``sig`` once it prints ``line``; its output and every line printed.

    Lines are read by a thread, never with select() on a buffered pipe: a child that prints
    two lines at once and then waits (held by a gate) would leave the second unseen.
    """
    with tempfile.TemporaryFile() as errors:
        proc = subprocess.Popen(args, env=env, text=True, stdout=subprocess.PIPE,
                                stderr=errors)
        printed: queue.Queue[str | None] = queue.Queue()

        def pump() -> None:
            assert proc.stdout is not None
            for text in proc.stdout:
                printed.put(text.strip())
            printed.put(None)

        reader = threading.Thread(target=pump, daemon=True)
        reader.start()
        lines: list[str] = []
        try:
            deadline = time.monotonic() + timeout
            while line not in lines:
                try:
                    got = printed.get(timeout=max(0.0, deadline - time.monotonic()))
                except queue.Empty:
                    got = None
                if got is None:
                    errors.seek(0)
                    pytest.fail(f"never saw {line}: {lines} {errors.read().decode()[-2000:]}")
                lines.append(got)
            proc.send_signal(sig)
            proc.wait(timeout)
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
        reader.join(timeout)
        after: list[str] = []
        while (got := printed.get(timeout=timeout)) is not None:
            after.append(got)
        errors.seek(0)
        err = errors.read().decode()
    out = "\n".join(after)
    return subprocess.CompletedProcess(args, proc.returncode, out, err), lines + after


def widgets_of(root: w.Widget) -> Iterator[w.Widget]:
    """Every widget reachable from ``root`` (children, layouts and styles included)."""
    seen: set[str] = set()
    stack = [root]
    while stack:
        widget = stack.pop()
        if widget.model_id in seen:
            continue
        seen.add(widget.model_id)
        yield widget
        for name in widget.keys:
            value = getattr(widget, name)
            items = value if isinstance(value, (list, tuple)) else [value]
            stack.extend(v for v in items if isinstance(v, w.Widget))


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> float:
    """Seconds until ``predicate()`` held; fails the test after ``timeout`` seconds."""
    started = time.monotonic()
    while not predicate():
        assert time.monotonic() - started < timeout, "condition not met in time"
        time.sleep(0.02)
    return time.monotonic() - started
