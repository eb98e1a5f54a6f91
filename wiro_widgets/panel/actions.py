"""What the result buttons do: reuse a run's settings, use its image as a reference, save
it next to the notebook, download it to the browser's computer.

They work the same on runs of this session and on runs of earlier sessions restored from the
ledger: the images load from the output cache, and reference images come back from the
uploads folder by their SHA-256 (or as the URLs they were).

Example:
    >>> reuse_settings(panel, result)        # the form now holds the run's settings
    >>> save_result(panel, result)           # [PosixPath('wiro-images/2026..._seed7_0.png')]
"""

from __future__ import annotations

import base64
import contextlib
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .theme import esc

if TYPE_CHECKING:
    from ..references import Reference
    from ..results import Result
    from .host import PanelHost

__all__ = ["DOWNLOAD_SECONDS", "download", "references_of", "reuse_settings", "save_result",
           "use_as_reference"]

#: How long a download link keeps the image's bytes (then only its name stays).
DOWNLOAD_SECONDS = 30.0

# Started by the link's hidden image: turn the data URL into a blob and click it once.
_AUTO_CLICK = (
    "var a=this.previousElementSibling;if(!a||a.dataset.clicked){return;}"
    "a.dataset.clicked='1';fetch(a.href).then(function(r){return r.blob();})"
    ".then(function(b){var u=URL.createObjectURL(b),x=document.createElement('a');"
    "x.href=u;x.download=a.download;document.body.appendChild(x);x.click();x.remove();"
    "setTimeout(function(){URL.revokeObjectURL(u);},60000);})"
    ".catch(function(){a.click();});"
)


def references_of(panel: PanelHost, result: Result) -> list[Reference]:
    """The reference images ``result`` was made with, as far as they can be found: what this
    panel sent, else the uploads folder's files (by SHA-256) and the URLs."""
    from ..references import Reference

    request = panel.request_for(result)
    if request is not None:
        return list(request.references)
    files = result.file_param
    found: list[Reference] = []
    for item in (result.params.get(files) if files else None) or []:
        if not isinstance(item, Mapping):
            continue
        if item.get("url") and item.get("source") == "url":
            found.append(Reference.from_url(str(item["url"])))
            continue
        path = panel.references.store.find(item.get("sha256")) if panel.references.store \
            else None
        if path is not None:
            found.append(Reference(name=str(item.get("name") or path.name), path=path,
                                   sha256=item.get("sha256"), size=item.get("size"),
                                   content_type=item.get("content_type"), source="upload"))
    return found


def reuse_settings(panel: PanelHost, result: Result) -> None:
    """Load ``result``'s settings into the form: seed and reference images included."""
    loaded = panel.form.load(result.params)
    refs = references_of(panel, result)
    files = result.file_param
    wanted = len((result.params.get(files) if files else None) or [])
    if refs:
        panel.references.clear()
        for ref in refs:
            panel.references.add(ref)
    note = f"Loaded the settings of seed {result.seed}"
    seed_name = panel.form.hints.seed
    if panel.form.lock.value and panel.form.seed is not None and seed_name in result.params:
        note += f" (the seed is locked: kept {panel.form.seed.value})"
    if refs:
        note += f", with {len(refs)} reference image{'s' if len(refs) != 1 else ''}"
        if len(refs) < wanted:
            note += f" ({wanted - len(refs)} could not be found again)"
    elif wanted:
        note += f"; its {wanted} reference image(s) could not be found again"
    elif len(panel.references):
        # Not cleared: uploads are tedious to redo, so say plainly what differs instead.
        note += (f"; your {len(panel.references)} reference image(s) stay, though that run "
                 "had none")
    panel.status.info(note + "." if loaded else "Nothing to load from that run.")
    panel.refresh_form()


def use_as_reference(panel: PanelHost, result: Result) -> Reference | None:
    """Add ``result``'s first output image as the next reference image."""
    output = next((o for o in result.outputs if o.content_type.startswith("image/")), None)
    if output is None or not output.path:
        panel.status.error("That run has no image file to use as a reference.")
        return None
    entry = panel.gallery.entry_of(result)
    number = entry.number if entry is not None else 0
    name = f"run{number}-{Path(output.name).name}" if number else Path(output.name).name
    try:
        return panel.references.add_image(name, Path(output.path).read_bytes())
    except (OSError, ValueError) as err:
        panel.status.error(f"Could not add it as a reference: {err}")
        return None


def save_result(panel: PanelHost, result: Result) -> list[Path]:
    """Write ``result``'s images (parameters embedded) under the panel's ``save_dir``, once:
    a second press says where they already are."""
    from .messages import explain

    before = panel.saved.get(result.task_id)
    if before and all(p.is_file() for p in before):
        names = ", ".join(p.name for p in before)
        panel.status.info(f"Already saved in {panel.save_dir}: {names}")
        return list(before)
    try:
        paths = result.save(panel.save_dir)
    except Exception as err:
        message, hint = explain(err)
        panel.status.error(f"Could not save: {message}", hint)
        return []
    panel.saved[result.task_id] = list(paths)
    names = ", ".join(p.name for p in paths)
    panel.status.info(f"Saved to {panel.save_dir}: {names}")
    return list(paths)


def download(panel: PanelHost, result: Result) -> str:
    """Send ``result``'s first image (parameters embedded) to the browser as a download.

    The bytes travel over the widget connection, so it works from a remote Jupyter server;
    the link holds them for `DOWNLOAD_SECONDS`, then only its name stays.
    """
    from ..metadata import embed, metadata_for

    try:
        output, data = next(iter(result.image_files()))
    except (StopIteration, OSError) as err:
        panel.status.error(f"Could not download: {err or 'no image file'}")
        return ""
    # A file we cannot splice into still downloads as it is.
    with contextlib.suppress(ValueError):
        data = embed(data, metadata_for(result, 0, output))
    suffix = Path(output.name).suffix or ".png"
    name = f"{result.model.rsplit('/', 1)[-1]}_seed{result.seed}_{result.task_id}{suffix}"
    href = f"data:{output.content_type};base64,{base64.b64encode(data).decode('ascii')}"
    link = panel.gallery.download_link
    link.value = (f'<a class="wiro-download-anchor" download="{esc(name)}" href="{href}">'
                  f"{esc(name)}</a>"
                  f'<img alt="" src="data:," style="display:none" onerror="{esc(_AUTO_CLICK)}">')
    timer = threading.Timer(DOWNLOAD_SECONDS, _expire, args=(link, name))
    timer.daemon = True
    timer.start()
    panel.status.info(f"Downloading {name} ({len(data) / 1e6:.1f} MB): your browser saves it "
                      "in its downloads folder.")
    return name


def _expire(link: Any, name: str) -> None:
    if name in link.value:
        link.value = f'<span title="The download link expired">{esc(name)}</span>'
