"""Images that carry their recipe: save outputs with the parameters embedded, read them back.

PNG files get an ``iTXt`` chunk keyed ``wiro_widgets``; JPEG files get COM comments and the
EXIF ``UserComment`` and ``ImageDescription`` tags; every file can also get a ``.json`` sidecar.
All hold the same JSON: model, parameters (reference images as descriptors), seed, task id, cost,
creation time and the package version. The original output bytes are kept: the metadata is
spliced into the file, the pixels are never re-encoded.

Example:
    >>> paths = result.save("renders/")          # 20261125-031501_flux-2-flex_seed123_0.png
    >>> meta = read_params(paths[0])
    >>> client.run(meta["model"], **{k: v for k, v in meta["params"].items()
    ...                             if k != "input_images"})
"""

from __future__ import annotations

import datetime as dt
import io
import json
import re
import struct
import zlib
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

from PIL import Image, PngImagePlugin

from ._version import __version__
from .errors import WiroError
from .images import sniff_image_type
from .protocol import parse_number
from .redaction import get_logger, redact

__all__ = ["FORMAT", "KEY", "NoParamsFound", "SavedOutput", "SavedResult", "embed",
           "metadata_for", "read_params", "save_result"]

log = get_logger(__name__)

#: The PNG text keyword and the JPEG comment prefix.
KEY = "wiro_widgets"
#: Written into every record so readers can tell ours from other JSON.
FORMAT = "wiro-widgets/1"

_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
_PNG_TEXT_CHUNKS = (b"tEXt", b"zTXt", b"iTXt")
_COM_PREFIX = KEY.encode("ascii") + b"\x00"
# A JPEG segment's length field counts itself, so its payload is at most 65533 bytes.
_SEGMENT_MAX = 65533
_TAG_IMAGE_DESCRIPTION = 0x010E
_IFD_EXIF = 0x8769
_TAG_USER_COMMENT = 0x9286
_USER_COMMENT_ASCII = b"ASCII\x00\x00\x00"
_EXTENSIONS = {"image/png": ".png", "image/jpeg": ".jpg", "image/webp": ".webp",
               "image/gif": ".gif"}


class NoParamsFound(WiroError, ValueError):
    """The file carries no wiro_widgets parameters (no text chunk, comment, EXIF or sidecar)."""


class SavedOutput(Protocol):
    """An output as the codec reads it (`results.Output`)."""

    @property
    def name(self) -> str: ...

    @property
    def content_type(self) -> str: ...


class SavedResult(Protocol):
    """What the codec reads of a result (`results.Result`); it never imports the class."""

    @property
    def model(self) -> str: ...

    @property
    def task_id(self) -> str: ...

    @property
    def submitted_at(self) -> float: ...

    @property
    def params(self) -> Mapping[str, Any]: ...

    @property
    def seed(self) -> int | None: ...

    @property
    def cost(self) -> float: ...

    @property
    def sandbox(self) -> bool: ...

    @property
    def timeline(self) -> Mapping[str, float]: ...

    @property
    def record(self) -> Mapping[str, Any]: ...

    @property
    def outputs(self) -> Sequence[SavedOutput]: ...

    def image_files(self) -> Iterator[tuple[Any, bytes]]: ...


def metadata_for(result: SavedResult, index: int = 0,
                 output: SavedOutput | None = None) -> dict[str, Any]:
    """The JSON-ready record embedded into image ``index`` of ``result``.

    Example:
        >>> metadata_for(result)["seed"]
        123
    """
    created = _created_time(result)
    if output is None and index < len(result.outputs):
        output = result.outputs[index]
    record: dict[str, Any] = {
        "format": FORMAT,
        "generator": f"wiro_widgets {__version__}",
        "model": result.model,
        "params": dict(result.params),
        "seed": result.seed,
        "task_id": result.task_id,
        "cost": result.cost,
        "created": dt.datetime.fromtimestamp(created, dt.timezone.utc).isoformat()
        if created else None,
        "created_unix": created or None,
        "output_index": index,
        "output_name": output.name if output else None,
        "sandbox": result.sandbox,
        # A replay's images are a recorded run's, a reused result's an earlier run's:
        # said in the file, so no one takes either for a fresh run.
        "replayed": bool(getattr(result, "replayed", False)),
        "reused": bool(getattr(result, "reused", False)),
    }
    return record


def save_result(result: SavedResult, directory: str | Path, *,
                sidecar: bool = True) -> list[Path]:
    """Write each output image of ``result`` into ``directory`` with its parameters embedded.

    Names carry the date and the seed (``20261125-031501_flux-2-flex_seed123_0.png``); an
    existing file is never overwritten (``..._0-1.png`` is used instead).

    Args:
        result: a finished result whose outputs are downloaded.
        directory: created when missing.
        sidecar: also write ``<name>.json`` next to each image.

    Returns:
        The image paths written, in output order (sidecars not included).

    Example:
        >>> save_result(result, "renders/")
        [PosixPath('renders/20261125-031501_flux-2-flex_seed123_0.png')]
    """
    folder = Path(directory).expanduser()
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for index, (output, data) in enumerate(result.image_files()):
        meta = metadata_for(result, index, output)
        kind = sniff_image_type(data[:16]) or output.content_type
        try:
            payload = embed(data, meta)
        except ValueError as err:
            # A file we cannot splice into is still worth keeping; the sidecar carries its recipe.
            log.warning("could not embed parameters into %s (%s); writing a sidecar", output.name,
                        err)
            payload, write_sidecar = data, True
        else:
            write_sidecar = sidecar or kind not in ("image/png", "image/jpeg")
        stem = _file_stem(result, index)
        suffix = _EXTENSIONS.get(kind, Path(output.name).suffix or ".bin")
        sidecar_text = _to_json(meta, indent=2) if write_sidecar else None
        written.append(_write_new(folder, stem, suffix, payload, sidecar_text))
    return written


def embed(data: bytes, meta: dict[str, Any]) -> bytes:
    """``data`` (a PNG or JPEG file) with ``meta`` spliced in, pixels untouched.

    Other formats come back unchanged. A previous wiro_widgets record is replaced.

    Raises:
        ValueError: when the file is not a well-formed PNG or JPEG.

    Example:
        >>> tagged = embed(png_bytes, {"format": FORMAT, "seed": 1})
    """
    kind = sniff_image_type(data[:16])
    if kind == "image/png":
        return _embed_png(data, _to_json(meta))
    if kind == "image/jpeg":
        return _embed_jpeg(data, meta)
    return data


def read_params(path: str | Path) -> dict[str, Any]:
    """The parameters a saved image was made with, from the file itself or its sidecar.

    Looks in the PNG text chunk, the JPEG comment, the EXIF user comment and description, then
    ``<name>.json`` beside the file. A ``.json`` path is read as a sidecar.

    Raises:
        NoParamsFound: when none of these carries a wiro_widgets record.
        FileNotFoundError: when ``path`` does not exist.

    Example:
        >>> read_params("renders/20261125-031501_flux-2-flex_seed123_0.png")["seed"]
        123
    """
    file = Path(path).expanduser()
    if file.suffix.lower() == ".json":
        found = _parse_record(file.read_text(encoding="utf-8"))
        if found is None:
            raise NoParamsFound(f"{file} is not a wiro_widgets sidecar (no {FORMAT!r} record)")
        return found
    data = file.read_bytes()
    kind = sniff_image_type(data[:16])
    for text in _embedded_texts(data, kind):
        found = _parse_record(text)
        if found is not None:
            return found
    side = file.with_suffix(".json")
    if side.is_file():
        found = _parse_record(side.read_text(encoding="utf-8"))
        if found is not None:
            return found
    what = {"image/png": "PNG text chunk", "image/jpeg": "JPEG comment or EXIF"}.get(
        kind or "", "embedded record")
    raise NoParamsFound(
        f"{file.name} carries no wiro_widgets parameters: no {what} keyed {KEY!r} and no "
        f"sidecar {side.name}. Files saved with Result.save() have them."
    )


# --- writing ------------------------------------------------------------------------------

def _created_time(result: SavedResult) -> float:
    for key in ("task_queue", "create", "created"):
        if result.timeline.get(key):
            return float(result.timeline[key])
    raw = parse_number(result.record.get("createtime"))
    if raw is not None and raw > 0:
        return raw
    return float(result.submitted_at or 0.0)


def _file_stem(result: SavedResult, index: int) -> str:
    created = _created_time(result) or dt.datetime.now().timestamp()
    stamp = dt.datetime.fromtimestamp(created).strftime("%Y%m%d-%H%M%S")
    model = re.sub(r"[^A-Za-z0-9._-]+", "-", result.model.rsplit("/", 1)[-1]) or "output"
    seed = f"seed{result.seed}" if result.seed is not None else "noseed"
    return f"{stamp}_{model}_{seed}_{index}"


def _write_new(folder: Path, stem: str, suffix: str, payload: bytes,
               sidecar_text: str | None) -> Path:
    for attempt in range(10_000):
        name = stem if attempt == 0 else f"{stem}-{attempt}"
        image_path = folder / f"{name}{suffix}"
        side_path = image_path.with_suffix(".json")
        if sidecar_text is not None and side_path.exists():
            continue
        try:
            # Exclusive creation, so two savers racing for one name never overwrite each other.
            with open(image_path, "xb") as handle:
                handle.write(payload)
        except FileExistsError:
            continue
        if sidecar_text is not None:
            try:
                with open(side_path, "x", encoding="utf-8") as text_handle:
                    text_handle.write(sidecar_text + "\n")
            except FileExistsError:
                image_path.unlink()
                continue
        return image_path
    raise FileExistsError(f"no free file name for {stem}{suffix} in {folder}")


def _to_json(meta: dict[str, Any], *, indent: int | None = None, ascii_only: bool = False) -> str:
    text = json.dumps(meta, ensure_ascii=ascii_only, indent=indent, sort_keys=True,
                      default=str)
    return redact(text)


def _png_chunk(kind: bytes, body: bytes) -> bytes:
    crc = zlib.crc32(kind + body) & 0xFFFFFFFF
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)


def _png_chunks(data: bytes) -> Iterator[tuple[bytes, bytes, bytes]]:
    """(type, body, raw chunk) for each chunk of a PNG file."""
    if not data.startswith(_PNG_SIGNATURE):
        raise ValueError("not a PNG file")
    pos = len(_PNG_SIGNATURE)
    while pos + 12 <= len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        end = pos + 12 + length
        if end > len(data):
            raise ValueError("truncated PNG chunk")
        yield data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length], data[pos:end]
        pos = end
    if pos != len(data):
        raise ValueError("trailing bytes after the last PNG chunk")


def _is_our_png_text(kind: bytes, body: bytes) -> bool:
    return kind in _PNG_TEXT_CHUNKS and body.split(b"\x00", 1)[0] == KEY.encode("latin-1")


def _embed_png(data: bytes, text: str) -> bytes:
    # Pillow builds the iTXt body (keyword, flags, compressed UTF-8 text); we place the chunk.
    info = PngImagePlugin.PngInfo()
    info.add_itxt(KEY, text, zip=len(text) > 1024)
    kind, body = info.chunks[0][0], info.chunks[0][1]
    out = [_PNG_SIGNATURE]
    placed = False
    for chunk_type, chunk_body, raw in _png_chunks(data):
        if _is_our_png_text(chunk_type, chunk_body):
            continue
        # Text before the first IDAT is seen by every reader, including ones that stop early.
        if chunk_type == b"IDAT" and not placed:
            out.append(_png_chunk(kind, body))
            placed = True
        out.append(raw)
    if not placed:
        raise ValueError("PNG has no image data")
    return b"".join(out)


def _jpeg_segments(data: bytes) -> tuple[list[tuple[int, bytes]], bytes]:
    """The marker segments before the scan as (marker, payload), and the rest from SOS on."""
    if not data.startswith(b"\xff\xd8"):
        raise ValueError("not a JPEG file")
    pos = 2
    segments: list[tuple[int, bytes]] = []
    while pos + 4 <= len(data):
        if data[pos] != 0xFF:
            raise ValueError("bad JPEG marker")
        marker = data[pos + 1]
        if marker == 0xFF:  # fill byte
            pos += 1
            continue
        if marker == 0xDA:  # start of scan: the rest is entropy-coded data
            return segments, data[pos:]
        (length,) = struct.unpack(">H", data[pos + 2:pos + 4])
        if length < 2 or pos + 2 + length > len(data):
            raise ValueError("truncated JPEG segment")
        segments.append((marker, data[pos + 4:pos + 2 + length]))
        pos += 2 + length
    raise ValueError("JPEG has no image data")


def _jpeg_segment(marker: int, payload: bytes) -> bytes:
    return bytes((0xFF, marker)) + struct.pack(">H", len(payload) + 2) + payload


def _exif_payload(existing: bytes | None, text: str) -> bytes | None:
    exif = Image.Exif()
    if existing is not None:
        exif.load(existing)
    for describe in (True, False):
        if describe:
            exif[_TAG_IMAGE_DESCRIPTION] = text
        elif _TAG_IMAGE_DESCRIPTION in exif:
            del exif[_TAG_IMAGE_DESCRIPTION]
        exif.get_ifd(_IFD_EXIF)[_TAG_USER_COMMENT] = _USER_COMMENT_ASCII + text.encode("ascii")
        payload = exif.tobytes()
        if len(payload) <= _SEGMENT_MAX:
            return payload
    return existing


def _embed_jpeg(data: bytes, meta: dict[str, Any]) -> bytes:
    segments, scan = _jpeg_segments(data)
    # EXIF text is ASCII by the standard, so it gets the escaped form of the same JSON.
    ascii_text = _to_json(meta, ascii_only=True)
    head: list[bytes] = []
    rest: list[bytes] = []
    existing_exif: bytes | None = None
    for marker, payload in segments:
        if marker == 0xE1 and payload.startswith(b"Exif\x00\x00"):
            existing_exif = payload
        elif marker == 0xFE and payload.startswith(_COM_PREFIX):
            continue
        elif marker == 0xE0 and not rest:
            head.append(_jpeg_segment(marker, payload))  # JFIF/JFXX stays first
        else:
            rest.append(_jpeg_segment(marker, payload))
    exif = _exif_payload(existing_exif, ascii_text)
    if exif is not None:
        head.append(_jpeg_segment(0xE1, exif))
    text = _to_json(meta).encode("utf-8")
    step = _SEGMENT_MAX - len(_COM_PREFIX)
    comments = [_jpeg_segment(0xFE, _COM_PREFIX + text[i:i + step])
                for i in range(0, len(text), step)]
    return b"".join([b"\xff\xd8", *head, *rest, *comments, scan])


# --- reading ------------------------------------------------------------------------------

def _embedded_texts(data: bytes, kind: str | None) -> Iterator[str]:
    if kind not in ("image/png", "image/jpeg"):
        return
    try:
        image = Image.open(io.BytesIO(data))
    except Exception:  # Pillow raises many types for bad data
        return
    with image:
        if kind == "image/png":
            yield from _png_texts(image)
        else:
            yield from _jpeg_texts(image)


def _png_texts(image: Image.Image) -> Iterator[str]:
    texts: dict[str, Any] = getattr(image, "text", {}) or {}
    if KEY in texts:
        yield str(texts[KEY])


def _jpeg_texts(image: Image.Image) -> Iterator[str]:
    applist: list[tuple[str, bytes]] = getattr(image, "applist", [])
    pieces = [p[len(_COM_PREFIX):] for name, p in applist
              if name == "COM" and p.startswith(_COM_PREFIX)]
    if pieces:
        yield b"".join(pieces).decode("utf-8", errors="replace")
    exif = image.getexif()
    comment = exif.get_ifd(_IFD_EXIF).get(_TAG_USER_COMMENT)
    if isinstance(comment, bytes):
        yield comment[8:].decode("utf-8", errors="replace").rstrip("\x00 ")
    elif isinstance(comment, str):
        yield comment
    description = exif.get(_TAG_IMAGE_DESCRIPTION)
    if isinstance(description, str):
        yield description


def _parse_record(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, TypeError):
        return None
    if isinstance(value, dict) and value.get("format") == FORMAT:
        return value
    return None
