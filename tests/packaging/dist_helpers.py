"""Building the distributions and reading what is inside them."""

from __future__ import annotations

import email.message
import email.parser
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CORE_ONLY = ("jupyterlab", "ipykernel", "nbclient", "nbformat", "notebook", "pytest",
             "playwright", "pyarrow")


def build(outdir: Path, *, isolated: bool = True, project: Path = REPO) -> tuple[Path, Path]:
    """``python -m build`` of ``project`` (the checkout) into ``outdir``; returns (wheel, sdist).

    ``isolated=False`` builds with the hatchling of this environment (no download).
    """
    cmd = [sys.executable, "-m", "build", "--outdir", str(outdir), str(project)]
    if not isolated:
        cmd.insert(3, "--no-isolation")
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    wheels = sorted(outdir.glob("*.whl"))
    sdists = sorted(outdir.glob("*.tar.gz"))
    assert len(wheels) == 1, wheels
    assert len(sdists) == 1, sdists
    return wheels[0], sdists[0]


def twine_check(*paths: Path) -> subprocess.CompletedProcess[str]:
    """``twine check --strict`` on the distributions (warnings count as failures)."""
    return subprocess.run([sys.executable, "-m", "twine", "check", "--strict", *map(str, paths)],
                          capture_output=True, text=True, timeout=300)


def wheel_names(wheel: Path) -> set[str]:
    with zipfile.ZipFile(wheel) as archive:
        return set(archive.namelist())


def wheel_bytes(wheel: Path, name: str) -> bytes:
    with zipfile.ZipFile(wheel) as archive:
        return archive.read(name)


def wheel_metadata(wheel: Path) -> email.message.Message:
    metadata = next(name for name in wheel_names(wheel) if name.endswith(".dist-info/METADATA"))
    return email.parser.Parser().parsestr(wheel_bytes(wheel, metadata).decode())


def sdist_names(sdist: Path) -> set[str]:
    """Paths inside the sdist, without its top folder."""
    with tarfile.open(sdist) as archive:
        return {name.split("/", 1)[1] for name in archive.getnames() if "/" in name}


def repo_notebooks() -> list[Path]:
    return sorted((REPO / "notebooks").glob("*.ipynb"))


def tracked_files() -> list[str]:
    """The checkout's files under version control, relative to it."""
    done = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                          timeout=60, check=True)
    return [line for line in done.stdout.splitlines() if (REPO / line).is_file()]
