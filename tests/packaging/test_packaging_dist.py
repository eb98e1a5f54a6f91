"""The wheel and the sdist: twine-clean, one version, the notebooks and py.typed inside, a light
core. Built once per run with this environment's hatchling (no download); the fresh-venv test
(test_packaging_fresh_venv.py) builds them the standard, isolated way and installs them."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest
from dist_helpers import (
    CORE_ONLY,
    REPO,
    build,
    repo_notebooks,
    sdist_names,
    tracked_files,
    twine_check,
    wheel_bytes,
    wheel_metadata,
    wheel_names,
)
from packaging.requirements import Requirement

from wiro_widgets import __version__

pytestmark = pytest.mark.timeout(600)


@pytest.fixture(scope="module")
def dists(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return build(tmp_path_factory.mktemp("dist"), isolated=False)


@pytest.fixture(scope="module")
def wheel(dists: tuple[Path, Path]) -> Path:
    return dists[0]


@pytest.fixture(scope="module")
def requirements(wheel: Path) -> list[Requirement]:
    return [Requirement(line) for line in wheel_metadata(wheel).get_all("Requires-Dist") or []]


def test_twine_check_is_clean(dists: tuple[Path, Path]) -> None:
    done = twine_check(*dists)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("PASSED") == 2, done.stdout
    assert "WARNING" not in done.stdout + done.stderr


def test_one_version_everywhere(dists: tuple[Path, Path]) -> None:
    wheel, sdist = dists
    assert wheel.name == f"wiro_widgets-{__version__}-py3-none-any.whl"
    assert sdist.name == f"wiro_widgets-{__version__}.tar.gz"
    assert wheel_metadata(wheel)["Version"] == __version__
    # Written once: the package's __init__ and pyproject.toml read _version.py.
    assert 'dynamic = ["version"]' in (REPO / "pyproject.toml").read_text()
    assert __version__ in (REPO / "CHANGELOG.md").read_text()


def test_wheel_holds_the_notebooks_py_typed_and_every_package_file(wheel: Path) -> None:
    names = wheel_names(wheel)
    notebooks = repo_notebooks()
    assert len(notebooks) >= 4
    for notebook in notebooks:
        inside = f"wiro_widgets/notebooks/{notebook.name}"
        assert inside in names
        assert wheel_bytes(wheel, inside) == notebook.read_bytes()
    assert "wiro_widgets/py.typed" in names
    # Modules and data files alike (the sandbox's catalogue is JSON read through
    # importlib.resources): everything under version control in the package.
    package_files = {name for name in tracked_files() if name.startswith("wiro_widgets/")}
    assert any(name.endswith(".py") for name in package_files)
    assert package_files <= names, package_files - names
    assert not [name for name in names if name.startswith(("tests/", "benchmarks/", "notebooks/"))
                or ".ipynb_checkpoints" in name or "__pycache__" in name]


def test_console_script(wheel: Path) -> None:
    entry = next(n for n in wheel_names(wheel) if n.endswith(".dist-info/entry_points.txt"))
    assert "wiro-widgets = wiro_widgets.cli:main" in wheel_bytes(wheel, entry).decode()


def test_core_install_is_light(requirements: list[Requirement]) -> None:
    core = {req.name for req in requirements if req.marker is None}
    assert {"requests", "pillow", "ipywidgets", "websockets", "werkzeug", "tqdm",
            "python-dotenv"} <= core
    assert not core & set(CORE_ONLY), core & set(CORE_ONLY)


def test_demo_and_parquet_extras(requirements: list[Requirement]) -> None:
    def extra(name: str) -> dict[str, Requirement]:
        return {req.name: req for req in requirements
                if req.marker is not None and req.marker.evaluate({"extra": name})}

    demo = extra("demo")
    assert {"jupyterlab", "ipykernel", "nbclient", "nbformat"} <= set(demo)
    # ipykernel 7.0.0 and 7.0.1 broke widget updates from threads.
    assert not demo["ipykernel"].specifier.contains("7.0.0")
    assert not demo["ipykernel"].specifier.contains("7.0.1")
    assert demo["ipykernel"].specifier.contains("7.1.0")
    assert set(extra("parquet")) == {"pyarrow"}


def test_classifiers_name_jupyter_and_the_python_tested(wheel: Path) -> None:
    classifiers = wheel_metadata(wheel).get_all("Classifier") or []
    assert "Framework :: Jupyter" in classifiers
    assert "Typing :: Typed" in classifiers
    running = f"Programming Language :: Python :: {sys.version_info[0]}.{sys.version_info[1]}"
    assert running in classifiers


def test_sdist_holds_what_the_wheel_is_built_from(dists: tuple[Path, Path]) -> None:
    names = sdist_names(dists[1])
    for needed in ("pyproject.toml", "README.md", "CHANGELOG.md", "wiro_widgets/_version.py",
                   "wiro_widgets/py.typed"):
        assert needed in names
    assert {f"notebooks/{path.name}" for path in repo_notebooks()} <= names
    assert not [name for name in names if name.startswith((".venv/", "demo-output/", "dist/"))]


def test_a_dotenv_file_is_never_packed(tmp_path: Path) -> None:
    # A copy of the checkout's files with .env files where users keep them, and a .gitignore
    # that does not list them: pyproject.toml alone must keep them out.
    tree = tmp_path / "tree"
    for relative in tracked_files():
        (tree / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / relative, tree / relative)
    ignore = tree / ".gitignore"
    ignore.write_text("\n".join(line for line in ignore.read_text().splitlines()
                                if not line.startswith(".env")))
    for where in (tree, tree / "notebooks"):
        (where / ".env").write_text("WIRO_API_KEY=never-packed-key\n")
        (where / ".env.local").write_text("WIRO_API_SECRET=never-packed-secret\n")
    wheel, sdist = build(tmp_path / "dist", isolated=False, project=tree)
    packed = wheel_names(wheel) | sdist_names(sdist)
    assert "notebooks/quickstart.ipynb" in packed  # the copy did build
    assert not [name for name in packed if Path(name).name.startswith(".env")]
