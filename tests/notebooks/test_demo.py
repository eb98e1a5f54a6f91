"""`python -m wiro_widgets.demo`: its pieces, the headless run end to end, and a clean stop."""

from __future__ import annotations

import json
import signal
import subprocess
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from nbcheck import REPO, DemoProcess, clean_env, demo_cmd, error_outputs, image_outputs
from PIL import Image

from wiro_widgets import demo


def test_backend_uses_the_real_api_when_a_key_is_set(tmp_path: Path) -> None:
    base = {"WIRO_API_KEY": "real-key-for-test", "PATH": "/usr/bin"}
    with demo.backend(tmp_path / "home", base_env=base) as api:
        assert api.sandbox is None
        assert api.env["WIRO_API_KEY"] == "real-key-for-test"
        assert api.env["WIRO_WIDGETS_HOME"] == str(tmp_path / "home")
        assert "real Wiro API" in api.label


def test_backend_starts_a_sandbox_and_hides_other_keys(tmp_path: Path) -> None:
    base = {"WIRO_API_KEY": "real-key-for-test", "WIRO_BASE_URL": "https://example.invalid/v1"}
    with demo.backend(tmp_path / "home", force_sandbox=True, speed=20.0,
                      base_env=base) as api:
        sandbox = api.sandbox
        assert sandbox is not None
        assert api.env["WIRO_API_KEY"] == sandbox.api_key != "real-key-for-test"
        assert api.env["WIRO_BASE_URL"] == sandbox.base_url
        assert answers(sandbox.base_url.rsplit("/v1", 1)[0] + "/cdn/none/0.png")
    # Stopped on leaving: the port no longer answers.
    assert not answers(sandbox.base_url.rsplit("/v1", 1)[0] + "/cdn/none/0.png")


def answers(url: str) -> bool:
    """True when an HTTP server answers at ``url`` (with any status)."""
    try:
        with urllib.request.urlopen(url, timeout=5):
            return True
    except urllib.error.HTTPError:
        return True
    except OSError:
        return False


def test_lab_command_is_isolated_and_loopback_only(tmp_path: Path) -> None:
    lab = demo.Lab(tmp_path / "root", tmp_path / "state", {"A": "1"}, port=0)
    cmd = lab.command()
    assert "--ip=127.0.0.1" in cmd
    assert "--no-browser" in cmd
    assert f"--port={lab.port}" in cmd
    assert lab.port > 0
    assert f"--IdentityProvider.token={lab.token}" in cmd
    assert len(lab.token) == 32
    assert f"--LabApp.user_settings_dir={tmp_path / 'state' / 'settings'}" in cmd
    assert lab.url().endswith(f"/lab/tree/quickstart.ipynb?token={lab.token}")
    env = lab._prepare()
    assert env["JUPYTER_CONFIG_DIR"].startswith(str(tmp_path))
    assert env["JUPYTER_RUNTIME_DIR"].startswith(str(tmp_path))
    config = json.loads((Path(env["JUPYTER_CONFIG_DIR"]) / "jupyter_server_config.json")
                        .read_text())
    assert config["ServerApp"]["tornado_settings"]["websocket_max_message_size"] > 10 * 2**20
    news = (tmp_path / "state" / "settings" / "@jupyterlab" / "apputils-extension"
            / "notification.jupyterlab-settings")
    assert json.loads(news.read_text()) == {"fetchNews": "false"}


def test_headless_cell_is_tagged_and_names_the_folder(tmp_path: Path) -> None:
    notebook = nbformat.v4.new_notebook()
    demo.add_headless_cell(notebook, tmp_path / "imgs", timeout=30)
    cell = notebook.cells[-1]
    assert cell.metadata["tags"] == [demo.HEADLESS_TAG]
    assert repr(str(tmp_path / "imgs")) in cell.source
    compile(cell.source, "<cell>", "exec")


def test_missing_notebooks_folder_is_a_clear_error(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code = demo.main(["--headless", "--notebooks", str(tmp_path), "--output",
                      str(tmp_path / "out")])
    assert code == 1
    assert "quickstart.ipynb was not found" in capsys.readouterr().err


@pytest.mark.notebook
def test_headless_demo_writes_images(tmp_path: Path) -> None:
    out = tmp_path / "demo-out"
    stale = out / "images" / "quickstart-task1-0.png"
    stale.parent.mkdir(parents=True)
    stale.write_bytes(b"an earlier run's image")
    done = subprocess.run(
        demo_cmd("--headless", "--output", str(out)), cwd=REPO, capture_output=True,
        text=True, timeout=240, env=clean_env(WIRO_SANDBOX_SPEED="20"),
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    assert not stale.exists(), "an earlier run's image is listed as this run's"
    images = sorted((out / "images").glob("*.png"))
    assert images
    for path in images:
        with Image.open(path) as image:
            assert image.format == "PNG"
            assert image.width >= 64
        assert str(path) in done.stdout
    executed = nbformat.read(out / "quickstart.ipynb", as_version=4)
    assert error_outputs(executed) == []
    assert image_outputs(executed)
    assert str(out / "quickstart.ipynb") in done.stdout
    # The committed notebook was not touched: the demo ran a copy.
    assert (out / "notebooks" / "quickstart.ipynb").is_file()


@pytest.mark.notebook
def test_headless_demo_fails_loudly(tmp_path: Path) -> None:
    broken = tmp_path / "nbs"
    broken.mkdir()
    notebook = nbformat.v4.new_notebook()
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                       "language": "python"}
    notebook.cells.append(nbformat.v4.new_code_cell("x = 1  # no panel here"))
    nbformat.write(notebook, broken / "quickstart.ipynb")
    out = tmp_path / "out"
    # An earlier run's image must not pass for this run's.
    (out / "images").mkdir(parents=True)
    (out / "images" / "quickstart-task1-0.png").write_bytes(b"old")
    done = subprocess.run(
        demo_cmd("--headless", "--notebooks", str(broken), "--output", str(out)),
        cwd=REPO, capture_output=True, text=True, timeout=180,
        env=clean_env(WIRO_SANDBOX_SPEED="20"),
    )
    assert done.returncode != 0
    assert "made no FluxPanel" in done.stderr
    assert (out / "quickstart.ipynb").is_file(), "the partial notebook is kept for reading"


@pytest.mark.notebook
def test_interactive_demo_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    psutil = pytest.importorskip("psutil")
    with DemoProcess(tmp_path) as running:
        port, token = running.wait_for_url()
        with urllib.request.urlopen(
                f"http://127.0.0.1:{port}/api/status?token={token}", timeout=10) as answer:
            assert answer.status == 200
        children = psutil.Process(running.process.pid).children(recursive=True)
        assert children, "jupyter lab is not a child of the demo"
        running.process.send_signal(signal.SIGTERM)
        assert running.process.wait(60) == 0, running.text()
        _gone, alive = psutil.wait_procs(children, timeout=20)
        assert not alive, f"left running: {[p.pid for p in alive]}"
        assert "Stopped." in running.text()
        assert not answers(f"http://127.0.0.1:{port}/api/status")
