"""Helpers for the research tests: results built from real image bytes in the output cache."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image

from wiro_widgets.ledger import OutputCache
from wiro_widgets.results import Output, Result, Task

MODEL = "black-forest-labs/flux-2-flex"


def encode(image: Image.Image, fmt: str, **options: Any) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def noisy_image(width: int = 64, height: int = 48, seed: int = 1) -> Image.Image:
    """An image with varied pixels, so a re-encode would show in the bytes."""
    data = bytes((x * 7 + y * 13 + seed * 31) % 256 for y in range(height) for x in range(width)
                 for _ in range(3))
    return Image.frombytes("RGB", (width, height), data)


@pytest.fixture
def make_result() -> Callable[..., Result]:
    """Build a finished `Result` whose outputs sit in the test's output cache."""
    counter = iter(range(1000, 10_000))

    def factory(*files: bytes, seed: int | None = 123, cost: float = 0.0629,
                created: float = 1_764_040_501.0, **params: Any) -> Result:
        cache = OutputCache()
        outputs = []
        for index, data in enumerate(files):
            kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
            suffix = ".png" if kind == "image/png" else ".jpg"
            digest, path = cache.put(data, suffix)
            outputs.append(Output(name=f"{index}{suffix}", content_type=kind, size=len(data),
                                  url=f"http://127.0.0.1:1/cdn/{digest}/{index}{suffix}",
                                  sha256=digest, path=str(path)))
        task_id = str(next(counter))
        full = {"prompt": "a red fox", "seed": seed, "guidance": 4.5, **params}
        return Result(
            task=Task(id=task_id, token=f"tok-{task_id}", model=MODEL, params=full,
                      submitted_at=created),
            outputs=tuple(outputs), params=full, seed=seed, cost=cost,
            timeline={"task_queue": created}, elapsed=3.0, sandbox=True,
        )

    return factory
