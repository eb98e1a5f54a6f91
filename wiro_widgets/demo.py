"""The demo behind ``make demo``: the panel in JupyterLab, on the local sandbox, in one command.

``python -m wiro_widgets.demo`` starts a `Sandbox` in this process (unless ``WIRO_API_KEY`` is
set: then the real API is used, and billed) and JupyterLab on 127.0.0.1 opened on
``quickstart.ipynb``, prints the URL with its token, and stops both on Ctrl-C.

``python -m wiro_widgets.demo --headless`` executes the quickstart notebook in a kernel instead,
presses Generate as a person would, and writes the executed notebook and the PNG images to the
output folder (``demo-output/`` by default).

The notebooks (shipped in the package, or the checkout's ``notebooks/``) are copied into
``<output>/notebooks`` first, so the demo never writes outputs into the clean copies. Without
the ``demo`` extra (JupyterLab, ipykernel, nbclient, nbformat) it says how to install it.

Example:
    $ python -m wiro_widgets.demo --no-browser --port 8899
    $ WIRO_SANDBOX_SPEED=20 python -m wiro_widgets.demo --headless --output /tmp/demo
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import importlib.util
import os
import signal
import sys
import threading
import webbrowser
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING, Any

from .errors import WiroError
from .examples import QUICKSTART, copy_notebooks
from .examples import notebooks_folder as find_notebooks
from .lab import Lab

if TYPE_CHECKING:
    from .sandbox import Sandbox

__all__ = [
    "DEMO_EXTRA_INSTALL",
    "HEADLESS_TAG",
    "Lab",
    "add_arguments",
    "add_headless_cell",
    "backend",
    "find_notebooks",
    "headless_generate",
    "main",
    "missing_demo_packages",
    "run",
]

DEFAULT_OUTPUT = "demo-output"
#: Tag of the cell the headless run appends; it presses Generate and saves the images.
HEADLESS_TAG = "wiro-demo-headless"
#: The command that installs what the demo needs beyond the core package.
DEMO_EXTRA_INSTALL = 'pip install "wiro-widgets[demo]"'
# The `demo` extra's packages, by import name: JupyterLab, the kernel, the notebook runner.
_DEMO_MODULES = ("jupyterlab", "ipykernel", "nbclient", "nbformat")
_WIRO_VARS = ("WIRO_API_KEY", "WIRO_API_SECRET", "WIRO_BASE_URL", "WIRO_SOCKET_URL")


# --------------------------------------------------------------------------------------------
# Where things are, and what is installed


def missing_demo_packages() -> list[str]:
    """The packages of the ``demo`` extra that cannot be imported here (found, not imported).

    Example:
        >>> missing_demo_packages()        # in a core-only install
        ['jupyterlab', 'ipykernel', 'nbclient', 'nbformat']
    """
    return [name for name in _DEMO_MODULES if importlib.util.find_spec(name) is None]


def _copy_notebooks(source: Path, target: Path) -> Path:
    # Fresh copies each run: the demo's scratch notebooks, never the committed ones.
    copy_notebooks(target, force=True, source=source)
    return target


def _untyped(module: str) -> Any:
    # nbformat and IPython.display have no annotations; go through Any once, here.
    return importlib.import_module(module)


# --------------------------------------------------------------------------------------------
# The API the kernels talk to: a sandbox in this process, or the real one


@dataclass
class Backend:
    """What the kernels are pointed at.

    Attributes:
        env: the environment for Jupyter and its kernels (WIRO_* variables included).
        sandbox: the running sandbox, or None when the real API is used.
    """

    env: dict[str, str]
    sandbox: Sandbox | None = None

    @property
    def label(self) -> str:
        if self.sandbox is None:
            return "the real Wiro API (WIRO_API_KEY is set; runs are billed)"
        if self.sandbox.replay is not None:
            return (f"a local REPLAY of {self.sandbox.replay.name} at {self.sandbox.base_url} "
                    f"({len(self.sandbox.replay)} recorded runs; others: "
                    f"{self.sandbox.replay.on_miss})")
        return f"the local SANDBOX at {self.sandbox.base_url} (no account, no cost)"


def _speed(default: float) -> float:
    raw = os.environ.get("WIRO_SANDBOX_SPEED", "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SystemExit(f"WIRO_SANDBOX_SPEED must be a number, not {raw!r}") from None
    if value <= 0:
        raise SystemExit(f"WIRO_SANDBOX_SPEED must be above 0, not {raw!r}")
    return value


@contextlib.contextmanager
def backend(home: Path, *, force_sandbox: bool = False, speed: float = 1.0,
            base_env: Mapping[str, str] | None = None,
            replay: Mapping[str, Any] | None = None) -> Iterator[Backend]:
    """Start a sandbox (unless a real key is set) and yield the environment for kernels.

    Args:
        home: the ``WIRO_WIDGETS_HOME`` for the demo's ledger and cache.
        force_sandbox: use the sandbox even when ``WIRO_API_KEY`` is set.
        speed: the sandbox's speed (1.0: a run takes as long as a real one, roughly).
        base_env: the environment to start from (default: this process's).
        replay: ``Sandbox`` keywords of a replay (``replay``, ``on_miss``,
            ``replay_speed``): a replay sandbox, even when a key is set.
    """
    env = dict(os.environ if base_env is None else base_env)
    real = bool(env.get("WIRO_API_KEY")) and not force_sandbox and not replay
    if real:
        env.setdefault("WIRO_WIDGETS_HOME", str(home))
        yield Backend(env=env)
        return
    from .sandbox import Sandbox

    for name in _WIRO_VARS:
        env.pop(name, None)
    env["WIRO_WIDGETS_HOME"] = str(home)
    sandbox = Sandbox(speed=speed, **(replay or {}))
    sandbox.start()
    try:
        env.update(sandbox.env())
        yield Backend(env=env, sandbox=sandbox)
    finally:
        sandbox.stop()


# --------------------------------------------------------------------------------------------
# Headless: execute the quickstart notebook and keep its images


def add_headless_cell(notebook: Any, image_dir: str | Path, *, timeout: float = 600.0) -> Any:
    """Append the cell that presses Generate on the notebook's panel and saves the images.

    The committed quickstart stays a clean three-cell notebook for people; this cell exists only
    in the executed copy. Returns the same notebook.
    """
    nbformat = _untyped("nbformat")
    source = (
        "# Added by the headless demo: press Generate as a person would, then keep the images.\n"
        "from wiro_widgets.demo import headless_generate\n"
        f"saved_images = headless_generate(globals(), {str(image_dir)!r}, timeout={timeout!r})"
    )
    cell = nbformat.v4.new_code_cell(source, metadata={"tags": [HEADLESS_TAG]})
    notebook.cells.append(cell)
    return notebook


def _find_panels(namespace: Mapping[str, Any]) -> list[Any]:
    from .panel import FluxPanel

    return [value for key, value in namespace.items()
            if not key.startswith("_") and isinstance(value, FluxPanel)]


def _find_widget(root: Any, css_class: str) -> Any:
    """The first widget under ``root`` carrying ``css_class`` (the panel's stable test hooks)."""
    seen: set[int] = set()
    stack = [root]
    while stack:
        widget = stack.pop()
        if id(widget) in seen:
            continue
        seen.add(id(widget))
        if css_class in getattr(widget, "_dom_classes", ()):
            return widget
        children = getattr(widget, "children", None)
        if isinstance(children, (list, tuple)):
            stack.extend(reversed(children))
    return None


def headless_generate(namespace: Mapping[str, Any], image_dir: str | Path, *,
                      timeout: float = 600.0) -> list[Path]:
    """Press Generate on the last `FluxPanel` in ``namespace``, wait, save its images as PNG.

    Shows a small thumbnail of each image as the cell's output. Returns the files written.

    Raises:
        RuntimeError: when there is no panel, or the run did not produce an image.
    """
    ipd = _untyped("IPython.display")
    from .images import thumbnail_bytes

    panels = _find_panels(namespace)
    if not panels:
        raise RuntimeError("the notebook made no FluxPanel to press Generate on")
    panel = panels[-1]
    button = _find_widget(panel, "wiro-generate")
    if button is None:
        raise RuntimeError("the panel has no Generate button (CSS class wiro-generate)")
    before = panel.result
    button.click()
    panel.wait(timeout)
    result = panel.result
    if result is None or result is before or not panel.images:
        status = _find_widget(panel, "wiro-status")
        said = getattr(status, "value", "") if status is not None else ""
        raise RuntimeError(f"Generate made no image; the panel says: {_plain(str(said))}")
    folder = Path(image_dir)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for index, image in enumerate(panel.images):
        path = folder / f"quickstart-task{result.task_id}-{index}.png"
        image.save(path, format="PNG")
        written.append(path)
        ipd.display(ipd.Image(data=thumbnail_bytes(image, 384), format="jpeg"))
    print("saved:", ", ".join(p.name for p in written))
    return written


def _plain(html_text: str) -> str:
    import html
    import re

    return html.unescape(re.sub(r"<[^>]+>", " ", html_text)).strip()


def run_headless(output: Path, *, force_sandbox: bool = False, timeout: float = 600.0,
                 notebooks: Path | None = None,
                 replay: Mapping[str, Any] | None = None) -> int:
    """Execute the quickstart notebook; write it and its PNG images to ``output``."""
    nbformat = _untyped("nbformat")
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    output = output.resolve()
    workdir = _copy_notebooks(find_notebooks(notebooks), output / "notebooks")
    image_dir = output / "images"
    # Only this run's images count (and are listed): earlier runs' are cleared first.
    for stale in image_dir.glob("quickstart-*.png") if image_dir.is_dir() else []:
        stale.unlink()
    notebook = nbformat.read(workdir / QUICKSTART, as_version=4)
    add_headless_cell(notebook, image_dir, timeout=timeout)
    with backend(output / "wiro-home", force_sandbox=force_sandbox,
                 speed=_speed(5.0), replay=replay) as api:
        print(f"Running {QUICKSTART} headless against {api.label} ...", flush=True)
        client = NotebookClient(notebook, timeout=int(timeout) + 60, kernel_name="python3",
                                resources={"metadata": {"path": str(workdir)}})
        failure: str | None = None
        kernel_log = output / "kernel.log"
        try:
            # The kernel's own chatter (transport warnings) goes to a log, not the terminal.
            with open(kernel_log, "wb") as log:
                client.execute(env=api.env, cwd=str(workdir), stdout=log, stderr=log)
        except CellExecutionError as err:
            failure = str(err).strip().splitlines()[-1] if str(err).strip() else repr(err)
        except Exception as err:  # kernel death, timeouts: report, keep the partial notebook
            failure = f"{type(err).__name__}: {err}"
    executed = output / QUICKSTART
    nbformat.write(notebook, executed)
    images = sorted(image_dir.glob("quickstart-*.png")) if image_dir.is_dir() else []
    if failure is not None or not images:
        print(f"The headless demo failed: {failure or 'no image was written'}", file=sys.stderr)
        print(f"The executed notebook is at {executed}; the kernel's log at {kernel_log}",
              file=sys.stderr)
        return 1
    lines = [f"Executed notebook: {executed}", f"Images ({len(images)}):"]
    lines += [f"  {path}" for path in images]
    print(_box(["wiro_widgets headless demo: done", "", *lines]), flush=True)
    return 0


# --------------------------------------------------------------------------------------------
# Interactive: JupyterLab on the quickstart notebook


def _can_open_browser() -> bool:
    # On a Linux box with no display, webbrowser may pick a text browser that takes over the
    # terminal; the printed URL is the better answer there.
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def _box(lines: list[str]) -> str:
    try:
        "┌─┐│└┘".encode(sys.stdout.encoding or "ascii")
        tl, hz, tr, vt, bl, br = "┌", "─", "┐", "│", "└", "┘"
    except (UnicodeEncodeError, LookupError):
        tl, hz, tr, vt, bl, br = "+", "-", "+", "|", "+", "+"
    width = max(len(line) for line in lines) + 2
    body = [f"{vt} {line.ljust(width - 2)} {vt}" for line in lines]
    return "\n".join([tl + hz * width + tr, *body, bl + hz * width + br])


def run_interactive(output: Path, *, port: int = 0, open_browser: bool = True,
                    force_sandbox: bool = False, notebooks: Path | None = None,
                    replay: Mapping[str, Any] | None = None) -> int:
    """JupyterLab on the quickstart notebook until Ctrl-C or SIGTERM; 0 on a clean stop."""
    output = output.resolve()
    workdir = _copy_notebooks(find_notebooks(notebooks), output / "notebooks")
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        with backend(output / "wiro-home", force_sandbox=force_sandbox,
                     speed=_speed(1.0), replay=replay) as api:
            lab = Lab(workdir, output / ".jupyter", api.env, port)
            print(f"Starting JupyterLab against {api.label} ...", flush=True)
            try:
                lab.start(cancel=stop)
                if stop.is_set():
                    return 0
                url = lab.url()
                print(_box([
                    "wiro_widgets demo: JupyterLab is ready",
                    "",
                    f"  {url}",
                    "",
                    f"API:       {api.label}",
                    f"Notebooks: {workdir}  (scratch copies)",
                    f"Lab log:   {lab.log_path}",
                    "Press Ctrl-C to stop JupyterLab and the sandbox.",
                ]), flush=True)
                if open_browser and _can_open_browser():
                    webbrowser.open(url)
                while not stop.wait(0.5):
                    if lab.process is not None and lab.process.poll() is not None:
                        print(f"JupyterLab exited on its own (code {lab.process.returncode}); "
                              f"see {lab.log_path}", file=sys.stderr)
                        return 1
                print("Stopping JupyterLab ...", flush=True)
            finally:
                lab.stop()
            if api.sandbox is not None:
                print("Stopping the sandbox ...", flush=True)
        print("Stopped.", flush=True)
        return 0
    except RuntimeError as err:
        print(f"The demo could not start: {err}", file=sys.stderr)
        return 1
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


# --------------------------------------------------------------------------------------------


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the demo's options to ``parser`` (this module's and ``wiro-widgets demo``'s).

    Example:
        >>> parser = argparse.ArgumentParser()
        >>> add_arguments(parser)
        >>> parser.parse_args(["--headless"]).headless
        True
    """
    parser.add_argument("--headless", action="store_true",
                        help="execute the quickstart notebook without a browser and write the "
                             "executed notebook and its PNG images to the output folder")
    parser.add_argument("--port", type=int, default=0,
                        help="JupyterLab's port on 127.0.0.1 (default: a free one)")
    parser.add_argument("--no-browser", action="store_true",
                        help="print the URL but do not open a browser")
    parser.add_argument("--output", type=Path, default=Path(DEFAULT_OUTPUT),
                        help=f"where the demo writes its files (default: ./{DEFAULT_OUTPUT})")
    parser.add_argument("--sandbox", action="store_true",
                        help="use the local sandbox even when WIRO_API_KEY is set")
    parser.add_argument("--notebooks", type=Path, default=None,
                        help="the folder of notebooks to copy and open (default: the package's)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="headless: seconds to wait for the images (default: 600)")
    add_replay_arguments(parser)


def add_replay_arguments(parser: argparse.ArgumentParser) -> None:
    """``--replay FILE``, ``--on-miss`` and ``--replay-speed`` (the sandbox and the demo)."""
    parser.add_argument("--replay", type=Path, default=None, metavar="FILE",
                        help="answer Runs that match a recorded run of this pack (made by "
                        "`wiro-widgets pack`) with its real images, labelled REPLAY")
    parser.add_argument("--on-miss", choices=("sandbox", "error"), default="sandbox",
                        help="with --replay, a Run matching no recorded run: a procedural "
                        "picture (sandbox, the default) or an error naming the closest "
                        "recorded prompt")
    parser.add_argument("--replay-speed", type=float, default=None, metavar="X",
                        help="with --replay, divide the recorded times by X (default: real "
                        "time, at most 10 s a task)")


def _replay_options(args: argparse.Namespace) -> dict[str, Any] | None:
    """The replay sandbox's keywords from ``--replay`` (None without it)."""
    if getattr(args, "replay", None) is None:
        return None
    return {"replay": args.replay, "on_miss": getattr(args, "on_miss", "sandbox"),
            "replay_speed": getattr(args, "replay_speed", None)}


def main(argv: list[str] | None = None) -> int:
    """Run the demo with command-line options; returns the process exit code.

    Example:
        >>> main(["--headless", "--output", "/tmp/demo"])
        0
    """
    parser = argparse.ArgumentParser(
        prog="python -m wiro_widgets.demo",
        description="The wiro_widgets panel in JupyterLab, on the local sandbox "
                    "(or the real API when WIRO_API_KEY is set).",
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Run the demo with parsed options (see `add_arguments`); returns the exit code.

    Example:
        >>> run(argparse.Namespace(headless=True, port=0, no_browser=True, output=Path("out"),
        ...                        sandbox=True, notebooks=None, timeout=600.0))
        0
    """
    if args.port < 0 or args.port > 65535:
        print(f"--port must be 0..65535, not {args.port}", file=sys.stderr)
        return 2
    missing = missing_demo_packages()
    if missing:
        print(f"The demo needs the package's `demo` extra (JupyterLab and a notebook runner); "
              f"missing here: {', '.join(missing)}.\nInstall it with:  {DEMO_EXTRA_INSTALL}",
              file=sys.stderr)
        return 1
    replay = _replay_options(args)
    try:
        if args.headless:
            return run_headless(args.output, force_sandbox=args.sandbox, timeout=args.timeout,
                                notebooks=args.notebooks, replay=replay)
        return run_interactive(args.output, port=args.port, open_browser=not args.no_browser,
                               force_sandbox=args.sandbox, notebooks=args.notebooks,
                               replay=replay)
    except (FileNotFoundError, WiroError) as err:
        print(err, file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        # Ctrl-C before the handlers were installed, or during the headless run.
        print("Interrupted.", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
