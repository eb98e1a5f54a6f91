"""The example notebooks: where they are, and copying them into a folder of one's own.

An installed wheel holds them as package data in ``wiro_widgets/notebooks/``; a checkout (or an
editable install) has them in ``notebooks/`` beside the package. Either way `notebooks_folder`
finds them, and `copy_notebooks` copies them out without overwriting a file someone changed.

Example:
    >>> report = copy_notebooks("my-notebooks")
    >>> [path.name for path in report.written]
    ['client.ipynb', 'models.ipynb', 'presentation.ipynb', 'quickstart.ipynb', 'research.ipynb']
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["QUICKSTART", "CopyReport", "copy_notebooks", "notebook_files", "notebooks_folder"]

QUICKSTART = "quickstart.ipynb"
_PACKAGE = Path(__file__).resolve().parent


def notebooks_folder(folder: str | Path | None = None) -> Path:
    """The folder holding ``quickstart.ipynb``: ``folder`` when given, else the installed
    package's ``notebooks/``, else the checkout's ``notebooks/``, else ``./notebooks``.

    Raises:
        FileNotFoundError: when no candidate has the quickstart notebook.

    Example:
        >>> notebooks_folder().name
        'notebooks'
    """
    candidates = [Path(folder)] if folder is not None else [
        _PACKAGE / "notebooks", _PACKAGE.parent / "notebooks", Path.cwd() / "notebooks",
    ]
    for candidate in candidates:
        if (candidate / QUICKSTART).is_file():
            return candidate
    where = candidates[0] if folder is not None else "the package or ./notebooks"
    raise FileNotFoundError(
        f"{QUICKSTART} was not found in {where}; reinstall wiro-widgets, or run from a checkout"
    )


def notebook_files(source: Path) -> list[Path]:
    """The files to copy from ``source``, relative to it: each notebook, and ``assets/``.

    Example:
        >>> [str(path) for path in notebook_files(notebooks_folder())][:1]
        ['client.ipynb']
    """
    files = [path.relative_to(source) for path in sorted(source.glob("*.ipynb"))]
    assets = source / "assets"
    if assets.is_dir():
        files += [path.relative_to(source) for path in sorted(assets.rglob("*"))
                  if path.is_file()]
    return files


@dataclass
class CopyReport:
    """What `copy_notebooks` did, as paths in the target folder.

    Attributes:
        written: files written (new, or overwritten with ``force``).
        unchanged: files already there with the same content (left alone).
        refused: files already there with other content (not written, nothing was).
    """

    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    refused: list[Path] = field(default_factory=list)


def copy_notebooks(target: str | Path, *, force: bool = False,
                   source: str | Path | None = None) -> CopyReport:
    """Copy the example notebooks into ``target`` (created when missing).

    A file already in ``target`` with other content (edited there, say) is not overwritten
    unless ``force``: then nothing at all is written and the report lists it in ``refused``.

    Example:
        >>> copy_notebooks("work", force=True).written[0].name
        'client.ipynb'
    """
    origin = notebooks_folder(source)
    folder = Path(target)
    report = CopyReport()
    planned: list[tuple[Path, bytes]] = []
    for relative in notebook_files(origin):
        data = (origin / relative).read_bytes()
        destination = folder / relative
        if destination.is_file() and destination.read_bytes() == data:
            report.unchanged.append(destination)
        elif destination.exists() and not force:
            report.refused.append(destination)
        else:
            planned.append((destination, data))
    if report.refused:
        return report
    for destination, data in planned:
        destination.parent.mkdir(parents=True, exist_ok=True)
        destination.write_bytes(data)
        report.written.append(destination)
    return report
