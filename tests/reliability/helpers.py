"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import threading
import time
import traceback
from collections.abc import Iterator
from typing import Any

MODEL = "black-forest-labs/flux-2-flex"
#: A quick run: a 64x64 image in two steps.
SMALL: dict[str, Any] = {"width": 64, "height": 64, "steps": 2}


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




def upload_entry(name: str, content: Any, size: int | None = None,
                 mime: str = "image/png") -> dict[str, Any]:
    """One file as the browser's uploader sends it (what ``FileUpload.set_state`` takes)."""
    view = content if isinstance(content, memoryview) else memoryview(content)
    return {"name": name, "type": mime, "size": len(view) if size is None else size,
            "last_modified": int(time.time() * 1000), "content": view}


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
