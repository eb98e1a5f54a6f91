"""What a finished sandbox task returns, for every kind of model in its catalogue.

- **Images** (``image/png``, ``image/jpeg``): the procedural pictures of `render`, one per
  output asked for (the model's count input, e.g. ``samples``; one for an "up to" count such
  as seedream's ``maxImages``), in the format its format input picks. The size comes from
  ``width``/``height`` when given, else from an aspect-ratio choice (``16:9``; the long side
  1024), else from the first reference image, else 1024 x 1024.
- **Video** (``video/mp4``): a short procedural H.264 sample, labelled SANDBOX in every frame
  (package data, written by ``tools/make_sandbox_video.py``: no encoder at run time).
- **Text** (``raw``, LLMs): no file and no url; ``content`` is ``{prompt, raw, thinking,
  answer}`` as tasks.md shows it, the text starts with ``[SANDBOX]``, and the same text is
  the task's ``debugoutput`` (Wiro's merged LLM output).

Example:
    >>> made = make_outputs(spec, kinds, params, refs, store, ttl=600.0,
    ...                     public_root="http://127.0.0.1:8000")
    >>> [item["contenttype"] for item in made.items]
    ['image/png']
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

from PIL import Image

from ..images import decode_image
from ..protocol import parse_number, parse_seed
from ..references import Reference
from ..schema import ModelSpec
from .files import FileStore, random_token
from .render import RenderSpec, output_size, render, snap_size

__all__ = ["SANDBOX_VIDEO", "MadeOutputs", "make_outputs", "sandbox_text", "sandbox_video"]

#: The packaged sample video (MP4, H.264).
SANDBOX_VIDEO = "sandbox-video.mp4"
_LONG_SIDE = 1024
_RATIO = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*:\s*(\d+(?:\.\d+)?)\s*$")
_MAX_IMAGES = 8


@dataclass
class MadeOutputs:
    """The output items (``_path`` keys: the stored URL paths, removed before they are
    shown), the first image's size, and the text that becomes ``debugoutput`` (LLMs)."""

    items: list[dict[str, Any]] = field(default_factory=list)
    size: tuple[int, int] | None = None
    text: str | None = None


@lru_cache(maxsize=1)
def sandbox_video() -> bytes:
    """The bytes of the packaged sample video."""
    return (resources.files(__package__) / "media" / SANDBOX_VIDEO).read_bytes()


def make_outputs(spec: ModelSpec, kinds: Mapping[str, Any], params: Mapping[str, Any],
                 refs: Sequence[Reference], store: FileStore, *, ttl: float,
                 public_root: str, user_uuid: str = "") -> MadeOutputs:
    """Make, store and describe the outputs of a successful task.

    Args:
        spec: the model's spec.
        kinds: the catalogue's ``_outputs`` for the model (``contenttype``, ``count``,
            ``format_param``/``formats``, ``count_param``, ``count_is_maximum``).
        params: the task's parameters by API id, defaults filled.
        refs: the reference images, in order.
        store: where output files are kept for ``ttl`` seconds.
        public_root: the sandbox's root URL.
        user_uuid: the owner shown in each item.
    """
    content_type = _content_type(kinds, params)
    made = MadeOutputs()
    if content_type == "raw":
        made.text = sandbox_text(spec, params)
        made.items.append({"contenttype": "raw", "content": {
            "prompt": str(params.get(spec.form.prompt or "prompt", "")), "raw": made.text,
            "thinking": [], "answer": [made.text]}})
        return made
    if content_type.startswith("video/"):
        stored = store.put_output(sandbox_video(), "0.mp4", content_type, ttl)
        made.items.append(_item("0.mp4", content_type, stored.size, stored.url_path,
                                public_root, user_uuid))
        return made
    images = [decode_image(ref.read_bytes()) for ref in refs]
    try:
        width, height = _image_size(spec, params, images)
        made.size = (width, height)
        suffix = "jpg" if content_type == "image/jpeg" else "png"
        for index in range(_image_count(kinds, params)):
            data = render(_render_spec(spec, params, (width, height), images, refs, index,
                                       "jpeg" if suffix == "jpg" else "png"))
            name = f"{index}.{suffix}"
            stored = store.put_output(data, name, content_type, ttl)
            made.items.append(_item(name, content_type, stored.size, stored.url_path,
                                    public_root, user_uuid))
    finally:
        for image in images:
            image.close()
    return made


def sandbox_text(spec: ModelSpec, params: Mapping[str, Any]) -> str:
    """The sandbox's stand-in answer of an LLM: deterministic, and labelled as such."""
    prompt = " ".join(str(params.get(spec.form.prompt or "prompt", "")).split())
    shown = prompt if len(prompt) <= 200 else prompt[:199] + "…"
    seed = params.get("seed", "")
    return (f"[SANDBOX] A stand-in answer from the local sandbox, not from {spec.slug}. "
            f"You asked: “{shown}”. The sandbox echoes the question so that a notebook, a "
            f"test or a demo can show text output without a model (seed {seed}).")


def _content_type(kinds: Mapping[str, Any], params: Mapping[str, Any]) -> str:
    fmt = kinds.get("format_param")
    formats = kinds.get("formats") or {}
    if fmt and str(params.get(fmt, "")) in formats:
        return str(formats[str(params[fmt])])
    return str(kinds.get("contenttype") or "image/png")


def _image_count(kinds: Mapping[str, Any], params: Mapping[str, Any]) -> int:
    name = kinds.get("count_param")
    if not name or kinds.get("count_is_maximum"):
        return max(1, int(kinds.get("count") or 1))
    number = parse_number(params.get(name))
    return max(1, min(_MAX_IMAGES, int(number))) if number else 1


def _image_size(spec: ModelSpec, params: Mapping[str, Any],
                images: Sequence[Image.Image]) -> tuple[int, int]:
    first = images[0].size if images else None
    width = int(parse_number(params.get("width")) or 0)
    height = int(parse_number(params.get("height")) or 0)
    if not (width or height):
        for p in spec.params:
            match = _RATIO.match(str(params.get(p.name, ""))) if p.is_select else None
            if match:
                w, h = float(match.group(1)), float(match.group(2))
                scale = _LONG_SIDE / max(w, h)
                return snap_size(int(w * scale)), snap_size(int(h * scale))
    if first is None:
        return output_size(width or _LONG_SIDE, height or _LONG_SIDE, None)
    return output_size(width, height, first)


def _render_spec(spec: ModelSpec, params: Mapping[str, Any], size: tuple[int, int],
                 images: Sequence[Image.Image], refs: Sequence[Reference], index: int,
                 fmt: str) -> RenderSpec:
    seed = parse_seed(params.get("seed")) or 0
    return RenderSpec(
        prompt=str(params.get(spec.form.prompt or "prompt", "")), seed=seed + index,
        width=size[0], height=size[1], steps=int(parse_number(params.get("steps")) or 50),
        guidance=float(parse_number(params.get("guidance")) or 4.5),
        safety_tolerance=int(parse_number(params.get("safetyTolerance")) or 0),
        output_format=fmt, references=tuple(images),
        reference_ids=tuple(r.sha256 or "" for r in refs))


def _item(name: str, content_type: str, size: int, url_path: str, public_root: str,
          user_uuid: str) -> dict[str, Any]:
    now = str(int(time.time()))
    return {
        "id": secrets.token_hex(16), "name": name, "contenttype": content_type,
        "parentid": secrets.token_hex(16), "uuid": user_uuid, "size": str(size),
        "addedtime": now, "modifiedtime": now, "accesskey": random_token(),
        "foldercount": "0", "filecount": "0", "ispublic": 0, "expiretime": None,
        "url": public_root + url_path, "_path": url_path,
    }
