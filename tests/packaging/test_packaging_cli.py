"""`wiro-widgets notebooks DIR`, and `wiro-widgets demo` without the `demo` extra.

In-process, against the checkout's notebooks; test_packaging_fresh_venv.py runs the same
commands from an installed wheel.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from dist_helpers import repo_notebooks

from wiro_widgets import cli, demo


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    out, err = capsys.readouterr()
    return code, out, err


def test_notebooks_are_copied_and_listed(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "mine"
    code, out, err = run(["notebooks", str(target)], capsys)
    assert code == 0, err
    for notebook in repo_notebooks():
        copied = target / notebook.name
        assert copied.read_bytes() == notebook.read_bytes()
        assert f"wrote     {copied}" in out
    assert f"{len(repo_notebooks())} written" in out


def test_a_second_copy_changes_nothing(tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["notebooks", str(tmp_path)], capsys)[0] == 0
    code, out, _err = run(["notebooks", str(tmp_path)], capsys)
    assert code == 0
    assert "wrote" not in out
    assert out.count("unchanged ") == len(repo_notebooks())


def test_a_changed_notebook_is_not_overwritten_without_force(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    first, second, *_ = repo_notebooks()
    edited = tmp_path / first.name
    edited.write_text('{"my": "own work"}')
    code, out, err = run(["notebooks", str(tmp_path)], capsys)
    assert code == 1
    assert str(edited) in err
    assert "--force" in err
    assert edited.read_text() == '{"my": "own work"}'
    assert not (tmp_path / second.name).exists(), "nothing is written when one is refused"
    assert "wrote" not in out

    code, out, err = run(["notebooks", str(tmp_path), "--force"], capsys)
    assert code == 0, err
    assert edited.read_bytes() == first.read_bytes()
    assert f"wrote     {edited}" in out
    assert (tmp_path / second.name).read_bytes() == second.read_bytes()


def test_a_target_that_cannot_be_written_is_a_message(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    code, _out, err = run(["notebooks", str(blocker)], capsys)
    assert code == 1
    assert err.startswith("wiro-widgets notebooks: ")
    assert "Traceback" not in err


def test_demo_without_its_extra_says_which_to_install(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    assert demo.missing_demo_packages() == []  # the dev environment has the extra
    # As in a core-only install: these cannot be imported (None in sys.modules).
    for name in ("jupyterlab", "nbclient"):
        monkeypatch.setitem(sys.modules, name, None)
    assert demo.missing_demo_packages() == ["jupyterlab", "nbclient"]
    for argv in (["demo", "--headless", "--output", str(tmp_path)], ["demo"]):
        code, out, err = run(argv, capsys)
        assert code == 1
        assert 'pip install "wiro-widgets[demo]"' in err
        assert "jupyterlab, nbclient" in err
        assert "Traceback" not in err + out
    assert not list(tmp_path.iterdir()), "nothing was started"
