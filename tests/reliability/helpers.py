"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import io
import queue
import subprocess
import tempfile
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from typing import Any

import ipywidgets as w
import pytest
from PIL import Image

MODEL = "black-forest-labs/flux-2-flex"
#: A quick run: a 64x64 image in two steps.
SMALL: dict[str, Any] = {"width": 64, "height": 64, "steps": 2}


def encoded(fmt: str = "PNG", size: tuple[int, int] = (48, 32),
            color: tuple[int, int, int] = (200, 40, 40)) -> bytes:
    """A small real image, encoded."""
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, format=fmt)
    return buffer.getvalue()


class RequestCounter:
    """Counts every HTTP request a sandbox answers (its ``log`` callback), with no cap:
    ``Sandbox.requests`` keeps only the last 2000."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.count = 0
        self.lines: list[str] = []

    def __call__(self, line: str) -> None:
        with self._lock:
            self.count += 1
            if len(self.lines) < 5000:
                self.lines.append(line)


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


def wait_for(predicate: Callable[[], bool], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.02)


def upload_entry(name: str, content: Any, size: int | None = None,
                 mime: str = "image/png") -> dict[str, Any]:
    """One file as the browser's uploader sends it (what ``FileUpload.set_state`` takes)."""
    view = content if isinstance(content, memoryview) else memoryview(content)
    return {"name": name, "type": mime, "size": len(view) if size is None else size,
            "last_modified": int(time.time() * 1000), "content": view}


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


def exposed(err: BaseException, skip: str = "") -> Iterator[tuple[str, str]]:
    """(place, text) for everything a user could see of ``err``: each exception of its chain
    (``__cause__`` and ``__context__``, suppressed or not), its str, repr, args and
    attributes, and the locals of every frame its traceback carries, as
    ``traceback.TracebackException(..., capture_locals=True)`` shows them (but the frames of
    the file ``skip``: a test's own, which made the values it looks for)."""
    seen: set[int] = set()
    stack = [err]
    while stack:
        item = stack.pop()
        if id(item) in seen:
            continue
        seen.add(id(item))
        name = type(item).__name__
        yield f"{name} text", f"{item!s} {item!r} {item.args!r} {vars(item)!r}"
        summary = traceback.TracebackException(type(item), item, item.__traceback__,
                                               capture_locals=True)
        for frame in summary.stack:
            if frame.filename != skip:
                yield f"{name} frame {frame.name}", repr(frame.locals)
        stack.extend(e for e in (item.__cause__, item.__context__) if e is not None)
