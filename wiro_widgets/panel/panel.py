"""`ModelPanel`: the notebook panel for any Wiro model (`FluxPanel` is its flux-2-flex preset).

It assembles the form (from ``client.spec(model)``: the live schema, cached), the file inputs,
the status bar, the gallery (every output kind), the code box and the presentation view, and
wires Generate (1 to 8 runs) and Cancel to a worker thread (`runs.Runs`), so the kernel never
blocks and Cancel always works. With no model it shows a picker; opening a model builds its
form in place. Everything but ipywidgets loads when the first panel is built.

Example:
    >>> from wiro_widgets import ModelPanel
    >>> panel = ModelPanel("google/nano-banana-pro")   # ModelPanel() shows a picker
    >>> panel                        # as a cell's last line: shows the panel
    >>> panel.generate(); panel.wait(120); panel.images[0].size
    (1024, 1024)
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .opening import config_hint, resolve_client

if TYPE_CHECKING:
    from PIL import Image

    from ..client import WiroClient
    from ..references import Reference
    from ..results import Result
    from ..schema import ModelSpec
    from .codebox import CodeBox
    from .form import Form
    from .gallery import Gallery
    from .layout import Parts
    from .picker import Picker
    from .present import PresentView
    from .references import ReferenceList
    from .request import GenerationRequest
    from .runs import Runs
    from .shim import Channel
    from .status import StatusBar

__all__ = ["ModelPanel"]

class ModelPanel(w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Any model's inputs, Generate/Cancel, live status, its outputs of every kind, history.

    Args:
        model: ``owner/model``; its form is built from ``client.spec(model)`` (the live
            schema, cached; the built-in spec offline). None shows a model picker.
        client: a `WiroClient`; None builds one from the environment. When that fails (no
            key), the panel still shows, with the reason and how to fix it.
        save_dir: where "save" writes image files (with their parameters embedded).
        uploads_dir: where uploaded files are kept (generated code names them there).
        history: how many earlier runs of the model to show from the ledger (0: none).
        spec: a `ModelSpec` to use as is (no schema is fetched).

    Attributes:
        images: the last run's images (full resolution PIL images).
        result: the last run's `Result`, or None.
        history: every successful run of this panel, oldest first.
        picker: the model picker (None once a model is open and no picker was shown).
        problem: why no model could be opened (an unknown name, no client...), or None.

    Example:
        >>> panel = ModelPanel("klingai/kling-v3", sandbox.client())
        >>> panel.form.prompt.value = "a paper boat on a river"
        >>> panel.generate(); panel.wait(60); panel.result.videos
        [PosixPath('.../output.mp4')]
    """

    spec: ModelSpec
    client: WiroClient | None
    runs: Runs
    form: Form
    references: ReferenceList
    inputs: dict[str, ReferenceList]
    status: StatusBar
    gallery: Gallery
    codebox: CodeBox
    code: w.Textarea
    channel: Channel
    presenter: PresentView
    generate_button: w.Button
    cancel_button: w.Button
    count: w.Dropdown
    code_button: w.Button
    present_toggle: w.ToggleButton
    fullscreen_toggle: w.ToggleButton
    badge: w.HTML
    _body: w.HBox
    _parts: Parts

    def __init__(self, model: str | None = None, client: WiroClient | None = None, *,
                 save_dir: str | Path = "wiro-images", uploads_dir: str | Path = "wiro-uploads",
                 history: int = 24, spec: ModelSpec | None = None) -> None:
        super().__init__()
        from .runs import Runs

        self.save_dir = Path(save_dir)
        self._uploads_dir = Path(uploads_dir)
        self._history_limit = history
        self.client, self._config_error = resolve_client(client)
        self._built_client = client is None and self.client is not None
        self._history: list[Result] = []
        self._requests: dict[int, GenerationRequest] = {}
        self.saved: dict[str, list[Path]] = {}
        self._history_lock = threading.Lock()
        self.runs = Runs(self)
        self.model_slug: str | None = None
        self.picker: Picker | None = None
        self.problem: BaseException | None = None
        self.add_class("wiro-panel")
        if spec is not None:
            self._open_spec(spec)
        elif model is not None:
            self.open_model(model)
        else:
            self.show_picker()

    @property
    def opened(self) -> bool:
        """True once a model's form is built."""
        return self.model_slug is not None

    def open_model(self, model: str) -> bool:
        """Build the form of ``model`` in place (from ``client.spec``); False when it cannot
        be opened: the picker shows why (an unknown name with the closest ones, no client).

        Example:
            >>> panel.open_model("google/nano-banana-pro")
            True
        """
        from .opening import resolve_spec

        if self.opened:
            return False
        spec, problem = resolve_spec(self.client, model, self._config_error)
        if spec is None:
            self.problem = problem
            self.show_picker(problem=problem, search=model)
            return False
        self._open_spec(spec)
        return True

    def show_picker(self, *, problem: BaseException | None = None, search: str = "") -> None:
        """Show the model picker (search, category, list); its Open builds the form here."""
        from .picker import Picker

        if self.picker is None:
            self.picker = Picker(self.client, self._config_error, on_open=self.open_model)
        self.picker.show_problem(problem, search)
        self.children = (self.picker.widget,)

    def change_model(self) -> bool:
        """Back to the picker (False while a run is in flight, or without a picker)."""
        if self.runs.running or self.picker is None:
            return False
        self.model_slug = None
        with self._history_lock:
            self._history, self._requests = [], {}
        self.show_picker()
        return True

    def _open_spec(self, spec: ModelSpec) -> None:
        self.spec = spec
        self.model_slug = spec.slug
        self.problem = None
        self._restored = threading.Event()
        self._build(self._uploads_dir)
        change = self._parts.change_button
        if self.picker is not None and change is not None:
            change.layout.display = ""
            change.on_click(lambda _b: self.change_model())
        self._start_restore(self._history_limit)
        if self._config_error is not None:
            self.status.finish("failed", "not connected")
            self.status.error(f"No Wiro client: {self._config_error}", config_hint())
            self.generate_button.disabled = True
        if spec.notes and self._config_error is None:  # what was odd in the schema
            self.status.info("About this model's schema: " + " ".join(spec.notes),
                             kind="schema")

    # -- layout ----------------------------------------------------------------------------
    def _build(self, uploads_dir: Path) -> None:
        from .layout import build_parts
        from .reuse_offer import ReuseOffer

        parts = build_parts(self.spec, self.client, uploads_dir)
        for name in ("form", "references", "inputs", "status", "gallery", "codebox", "channel",
                     "presenter", "generate_button", "cancel_button", "count", "code_button",
                     "present_toggle", "fullscreen_toggle", "badge"):
            setattr(self, name, getattr(parts, name))
        self.code = parts.codebox.text
        self._body = parts.body
        self._parts = parts
        self.children = parts.children
        self.reuse_offer = ReuseOffer(self).attach(parts)  # "same as run #N: show it / ..."
        self._wire()

    def _wire(self) -> None:
        self.generate_button.on_click(lambda _b: self._generate_clicked())
        self.cancel_button.on_click(lambda _b: self._cancel_clicked())
        self.code_button.on_click(lambda _b: self.show_code())
        self.present_toggle.observe(lambda change: self._set_present(bool(change["new"])),
                                    names="value")
        self.fullscreen_toggle.observe(
            lambda change: self._set_fullscreen(bool(change["new"])), names="value")
        self.status.on_check_again(self.check_again)
        self.channel.on("copied", self.codebox.on_copied)
        self.channel.on("refused",
                        lambda m: self.references.refused_early(m.get("files") or []))
        self.channel.on("fullscreen", self._browser_message)
        self.gallery.on_action("reuse", self.reuse_settings)
        self.gallery.on_action("reference", self.use_as_reference)
        self.gallery.on_action("save", self.save_result)
        self.gallery.on_action("download", self.download)
        self.gallery.on_select(self._selected)
        self.form.on_change(self.refresh_form)
        self.references.on_change(self.refresh_form)
        for files in self.inputs.values():
            files.on_change(self.refresh_form)
        self.refresh_form()

    def _start_restore(self, limit: int) -> None:
        client = self.client
        if client is None or limit <= 0 or getattr(client, "ledger", None) is None:
            self._restored.set()
            return

        def restore() -> None:
            try:
                earlier = client.history(limit=limit, model=self.model_slug)
                self.gallery.restore(earlier[::-1])
                self.reuse_offer.refresh()
            except Exception as err:  # a broken ledger must not break the panel
                self.status.info(f"Could not show earlier runs: {err}")
            finally:
                self._restored.set()

        threading.Thread(target=restore, name="wiro-history", daemon=True).start()

    # -- public API --------------------------------------------------------------------------
    @property
    def result(self) -> Result | None:
        """The last successful run's `Result`, or None."""
        with self._history_lock:
            return self._history[-1] if self._history else None

    @property
    def images(self) -> list[Image.Image]:
        """The last run's images at full resolution (empty before the first run); loaded
        from the local cache on demand."""
        result = self.result
        return result.images if result is not None else []

    @property
    def history(self) -> list[Result]:
        """Every successful run of this panel, oldest first."""
        with self._history_lock:
            return list(self._history)

    @property
    def running(self) -> bool:
        """True while a run is in flight."""
        return self.runs.running

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run in flight ends; True when none is left.

        Example:
            >>> panel.generate_button.click(); panel.wait(60)
            True
        """
        return self.runs.job.join(timeout)

    def wait_history(self, timeout: float | None = None) -> bool:
        """Block until earlier runs from the ledger are shown; True when done."""
        return self._restored.wait(timeout)

    def generate(self) -> bool:
        """Press Generate from code; False when refused (running, invalid, no client)."""
        return self._generate_clicked()

    def cancel(self) -> bool:
        """Press Cancel from code; False when nothing runs."""
        return self.runs.cancel()

    def check_again(self) -> bool:
        """Press "Check again": collect tasks whose fate was not known; sends nothing."""
        return self.runs.check_again()

    def present(self, on: bool = True) -> ModelPanel:
        """Switch the presentation view on (or off); returns the panel, to display it.

        Example:
            >>> panel.present()      # the selected image large, prompt as caption
        """
        self.present_toggle.value = on
        return self

    def snapshot(self, *, for_run: bool = False) -> GenerationRequest:
        """The request the form describes now. With ``for_run`` a random seed is drawn when
        "random" is on (and shown in the seed box)."""
        from .request import GenerationRequest

        if for_run:
            self.form.seed_for_run()
        first = self.spec.file_param
        return GenerationRequest(self.spec.slug, self.form.values(), self.references.items,
                                 first.py_name if first is not None else None,
                                 {name: refs.items for name, refs in self.inputs.items()})

    def show_code(self) -> str:
        """Fill and show the code box with the ``client.run(...)`` call for the form."""
        text = self._refresh_code()
        self.codebox.show()
        return text

    def copy_code(self) -> str:
        """Put the code in a new cell below the one running this (IPython's
        ``set_next_input``), as "Copy as code" does with the clipboard; returns it.

        Example:
            >>> panel.copy_code()     # in a cell: the next cell holds the client.run(...) call
        """
        from .codebox import to_next_cell

        text = self._refresh_code()
        to_next_cell(text)
        return text

    def reuse_settings(self, result: Result) -> None:
        """Load ``result``'s settings into the form: seed and reference images included."""
        from . import actions

        actions.reuse_settings(self, result)

    def use_as_reference(self, result: Result) -> Reference | None:
        """Add ``result``'s first output image as the next reference image."""
        from . import actions

        return actions.use_as_reference(self, result)

    def save_result(self, result: Result) -> list[Path]:
        """Write ``result``'s images (parameters embedded) under ``save_dir``; a second
        press for the same run says where they are instead of writing copies."""
        from . import actions

        return actions.save_result(self, result)

    def download(self, result: Result) -> str:
        """Offer ``result``'s first image as a download to the browser's computer (it works
        with a remote Jupyter server); returns the file name."""
        from . import actions

        return actions.download(self, result)

    # -- called by the runs (worker threads: trait assignments only) --------------------------
    def set_busy(self, busy: bool) -> None:
        """Generate off and Cancel on while a run is in flight, and back."""
        self.generate_button.disabled = busy or self.client is None
        self.cancel_button.disabled = not busy
        self.count.disabled = busy

    def add_result(self, result: Result, request: GenerationRequest | None, batch: int,
                   position: int = 0) -> None:
        """A run succeeded: keep it, show it beside the rest of its batch."""
        from .theme import esc

        self._restored.wait(10)  # earlier runs first, so the numbers follow time
        with self._history_lock:
            self._history.append(result)
            if request is not None:
                self._requests[id(result)] = request
        entry = self.gallery.add(result, batch, position)
        seeds = sorted(e.result.seed for e in self.gallery.entries
                       if e.batch == batch and e.result.seed is not None)
        used = (f"seed used: {seeds[0]}" if len(seeds) == 1 else
                f"seeds used: {', '.join(map(str, seeds))}")
        self.form.seed_used.value = esc(used)
        if self.present_toggle.value:
            self.presenter.show(entry)
        self.reuse_offer.refresh()

    def on_error(self, err: BaseException) -> None:
        """Show ``err`` as a run's end: plain words (secrets redacted, escaped), a fix, and
        the field it names highlighted. Safe from any thread (trait assignments only).

        Example:
            >>> panel.on_error(TaskFailed("Generation failed: out of memory"))
        """
        from .messages import explain

        message, hint = explain(err)
        self.status.finish("failed", "failed")
        self.status.error(message, hint)
        self.show_field_error(err)

    def show_field_error(self, err: BaseException) -> None:
        """Highlight the field a `ValidationError` names."""
        from ..errors import ValidationError

        if not isinstance(err, ValidationError):
            return
        files = self.spec.file_param
        extra = next((refs for name, refs in self.inputs.items()
                      if err.field.startswith(name)), None)
        if extra is not None:
            extra.say([f"{err.rule}"])
        elif files is not None and err.field.startswith(files.py_name):
            self.references.say([f"{err.rule}"])
        else:
            self.form.show_error(err.field, f"{err.rule}.")

    def request_for(self, result: Result) -> GenerationRequest | None:
        """What this panel sent for ``result`` (None for runs of earlier sessions)."""
        with self._history_lock:
            return self._requests.get(id(result))

    # -- handlers (main thread, return at once) ---------------------------------------------
    def _generate_clicked(self) -> bool:
        if not self.opened:
            return False
        if self.runs.running:
            self.status.info("A run is already in progress: wait for it, or press Cancel.")
            return False
        if self.client is None:
            self.status.error(f"No Wiro client: {self._config_error}", config_hint())
            return False
        self.form.require_prompt = True
        problems = self.form.check()
        self.form.show(problems)
        errors = [text for text, level in problems.values() if level == "error"]
        if errors:
            self.status.error("Not sent: " + " ".join(errors), kind="validation")
            return False
        count = int(self.count.value)
        seeds = self.form.seeds_for_run(count)
        base = self.snapshot()
        seed_name = self.form.hints.seed
        requests = [base.with_param(seed_name, seed) if seed_name and seed is not None
                    else base for seed in seeds]
        if not self.runs.start(requests):
            self.status.info("A run is already in progress: wait for it, or press Cancel.")
            return False
        return True

    def _cancel_clicked(self) -> bool:
        return self.runs.cancel()

    def refresh_form(self) -> None:
        """Check the form again, show what is wrong, drop stale complaints, update the code."""
        self.form.reference_count = len(self.references)
        problems = self.form.check()
        self.form.show(problems)
        if not any(level == "error" for _text, level in problems.values()):
            self.status.clear_alert("validation")  # fixed: the old complaint is stale
        self._refresh_code()
        self.reuse_offer.refresh()

    def _refresh_code(self) -> str:
        from .codegen import request_code

        text = request_code(self.snapshot(), build_client=self._built_client,
                            order=self.spec.form_hints().order)
        self.codebox.set(text)
        return text

    def _set_present(self, on: bool) -> None:
        self._parts.present(on)
        if on:
            self.presenter.show(self.gallery.selected_entry)
        self.presenter.widget.layout.display = "" if on else "none"
        self._body.layout.display = "none" if on else ""
        self.present_toggle.icon = "compress" if on else "desktop"
        self.present_toggle.description = "Exit presentation" if on else "Present"

    def _set_fullscreen(self, on: bool) -> None:
        if on:
            self.add_class("wiro-fullwindow")
        else:
            self.remove_class("wiro-fullwindow")
        self.fullscreen_toggle.description = "Exit full screen" if on else "Full screen"
        self.fullscreen_toggle.icon = "compress" if on else "expand"

    def _browser_message(self, message: Mapping[str, Any]) -> None:
        if message.get("event") == "fullscreen" and not message.get("on"):
            self.fullscreen_toggle.value = False

    def _selected(self) -> None:
        if self.present_toggle.value:
            self.presenter.show(self.gallery.selected_entry)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(model={self.model_slug!r}, runs={len(self._history)})"
