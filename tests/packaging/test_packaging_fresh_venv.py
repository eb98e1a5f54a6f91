"""The wheel as a user gets it: built, installed into a fresh virtual environment outside the
checkout, first alone (the light core), then with the ``demo`` extra, and used from there.

Slow (a minute or two: pip installs JupyterLab), so it runs only when ``WIRO_FRESH_VENV=1``:
``make wheel-test`` sets it, and ``.ci/run`` calls that after ``make test``. The tests share one
environment and run in file order: the core-only ones before the extra is installed.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import venv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest
from dist_helpers import CORE_ONLY, REPO, build, repo_notebooks, twine_check
from PIL import Image

from wiro_widgets import __version__

pytestmark = [
    pytest.mark.slow,
    pytest.mark.timeout(1200),
    pytest.mark.skipif(os.environ.get("WIRO_FRESH_VENV") != "1",
                       reason="installs the wheel into a fresh venv: `make wheel-test` "
                              "(WIRO_FRESH_VENV=1), which .ci/run runs"),
]

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@dataclass
class FreshVenv:
    """A virtual environment in a temporary folder, and a clean environment to run it with."""

    root: Path
    work: Path
    env: Mapping[str, str]

    @property
    def bin(self) -> Path:
        return self.root / "bin"

    def run(self, *cmd: str, timeout: float = 600, **extra_env: str,
            ) -> subprocess.CompletedProcess[str]:
        """Run ``cmd`` (its first word from the venv's bin) in the work folder."""
        return subprocess.run([str(self.bin / cmd[0]), *cmd[1:]], cwd=self.work,
                              env={**self.env, **extra_env}, capture_output=True, text=True,
                              timeout=timeout)

    def pip_install(self, requirement: str) -> None:
        done = self.run("python", "-m", "pip", "install", "--quiet", requirement, timeout=1000)
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]

    def installed(self) -> set[str]:
        done = self.run("python", "-m", "pip", "list", "--format=json")
        assert done.returncode == 0, done.stderr
        return {entry["name"].lower() for entry in json.loads(done.stdout)}


def clean_env(venv_root: Path, scratch: Path) -> dict[str, str]:
    """This process's environment without anything pointing into the checkout or its .venv,
    and with Jupyter's and IPython's per-user folders in ``scratch``. pip's settings stay: an
    index or proxy the machine needs is needed here too."""
    env = {name: value for name, value in os.environ.items()
           if not name.startswith(("WIRO_", "PYTHON", "VIRTUAL_ENV", "JUPYTER"))
           and name not in ("IPYTHONDIR", "MPLBACKEND")}
    path = [part for part in env.get("PATH", "").split(os.pathsep)
            if part and not Path(part).resolve().is_relative_to(REPO)]
    env["PATH"] = os.pathsep.join([str(venv_root / "bin"), *path])
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    for name, folder in (("JUPYTER_CONFIG_DIR", "jupyter-config"),
                         ("JUPYTER_DATA_DIR", "jupyter-data"),
                         ("JUPYTER_RUNTIME_DIR", "jupyter-runtime"), ("IPYTHONDIR", "ipython")):
        env[name] = str(scratch / folder)
    return env


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    # The standard build: an isolated environment with hatchling from the index.
    return build(tmp_path_factory.mktemp("dist"))


@pytest.fixture(scope="module")
def fresh(tmp_path_factory: pytest.TempPathFactory,
          dists: tuple[Path, Path]) -> Iterator[FreshVenv]:
    """The wheel alone (no extra) in a new venv outside the checkout; the venv (~300 MB with
    the extra) is deleted afterwards, the work folder (demo output, logs) kept."""
    base = tmp_path_factory.mktemp("fresh")
    assert not base.resolve().is_relative_to(REPO)
    root, work = base / "venv", base / "work"
    work.mkdir()
    venv.EnvBuilder(with_pip=True).create(root)
    env = FreshVenv(root, work, clean_env(root, base))
    env.pip_install(str(dists[0]))
    yield env
    shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="module")
def with_demo(fresh: FreshVenv, dists: tuple[Path, Path]) -> FreshVenv:
    """The same venv after ``pip install "wiro_widgets-...whl[demo]"``."""
    fresh.pip_install(f"{dists[0]}[demo]")
    return fresh


def test_twine_check_on_the_standard_build(dists: tuple[Path, Path]) -> None:
    done = twine_check(*dists)
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_core_install_is_light_and_imports_from_the_venv(fresh: FreshVenv) -> None:
    installed = fresh.installed()
    assert "wiro-widgets" in installed
    assert not installed & set(CORE_ONLY), installed & set(CORE_ONLY)
    done = fresh.run("python", "-c", "import wiro_widgets, sys; "
                     "print(wiro_widgets.__file__); print(wiro_widgets.__version__)")
    assert done.returncode == 0, done.stderr
    where, version = done.stdout.split()
    assert Path(where).is_relative_to(fresh.root), where
    assert version == __version__


def test_notebooks_command_from_the_wheel(fresh: FreshVenv) -> None:
    done = fresh.run("wiro-widgets", "notebooks", "my-notebooks")
    assert done.returncode == 0, done.stdout + done.stderr
    for notebook in repo_notebooks():
        copied = fresh.work / "my-notebooks" / notebook.name
        assert copied.read_bytes() == notebook.read_bytes()
        assert str(Path("my-notebooks") / notebook.name) in done.stdout


def test_demo_without_the_extra_names_it(fresh: FreshVenv) -> None:
    done = fresh.run("wiro-widgets", "demo", "--headless", "--output", "no-demo")
    assert done.returncode == 1
    assert 'pip install "wiro-widgets[demo]"' in done.stderr
    assert "Traceback" not in done.stdout + done.stderr
    assert not (fresh.work / "no-demo").exists()


def test_headless_demo_from_the_wheel_writes_a_png(with_demo: FreshVenv) -> None:
    assert {"jupyterlab", "ipykernel", "nbclient", "nbformat"} <= with_demo.installed()
    done = with_demo.run("wiro-widgets", "demo", "--headless", "--output", "demo-out",
                         timeout=900, WIRO_SANDBOX_SPEED="20")
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    images = sorted((with_demo.work / "demo-out" / "images").glob("*.png"))
    assert images, done.stdout
    for path in images:
        assert path.read_bytes()[:8] == PNG_MAGIC
        with Image.open(path) as image:
            image.verify()
            assert image.format == "PNG"
        with Image.open(path) as image:
            assert min(image.size) >= 64
        assert str(path) in done.stdout
