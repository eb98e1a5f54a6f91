"""Fixtures for the panel tests: encoded images and FileUpload entries as the browser sends."""

from __future__ import annotations

import io
import time
from collections.abc import Callable
from typing import Any

import pytest
from PIL import Image


def encode(width: int = 64, height: int = 48, color: tuple[int, int, int] = (200, 40, 40),
           fmt: str = "PNG") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", (width, height), color).save(buffer, format=fmt)
    return buffer.getvalue()


@pytest.fixture
def make_image() -> Callable[..., bytes]:
    """Encoded image bytes: make_image(width, height, color, fmt)."""
    return encode


def upload_entry(name: str, data: bytes, mime: str = "image/png") -> dict[str, Any]:
    """One file as the frontend's uploader sends it (what `FileUpload.set_state` takes)."""
    return {"name": name, "type": mime, "size": len(data),
            "last_modified": int(time.time() * 1000), "content": memoryview(data)}


@pytest.fixture
def entry() -> Callable[..., dict[str, Any]]:
    return upload_entry
