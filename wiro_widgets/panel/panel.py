"""`FluxPanel`: the notebook panel that generates, shows and iterates on images.

It assembles the form, the reference list, the status bar, the gallery and the presentation
view, and wires Generate and Cancel to a worker thread (`worker.generate`), so the kernel
never blocks and Cancel always works.

Example:
    >>> from wiro_widgets import FluxPanel
    >>> panel = FluxPanel()          # WiroClient() from WIRO_API_KEY / WIRO_API_SECRET
    >>> panel                        # as a cell's last line: shows the panel
    >>> panel.wait(120); panel.images[0].size
    (1024, 1024)
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import ipywidgets as w
from PIL import Image

from ..client import WiroClient
from ..errors import ConfigError, TaskCancelled, ValidationError
from ..references import Reference
from ..results import Result, Task, TaskUpdate
from ..specs import FLUX_2_FLEX, get_spec
from .codegen import request_code
from .form import Form
from .gallery import Gallery
from .messages import CONFIG_HINT, explain
from .present import PresentView
from .references import ReferenceList
from .request import GenerationRequest
from .status import StatusBar
from .theme import CSS, badge, esc
from .worker import Job, generate

__all__ = ["FluxPanel"]


class FluxPanel(w.VBox):  # type: ignore[misc]  # ipywidgets is untyped
    """Prompt, settings, reference images, Generate/Cancel, live status, results, history.

    Args:
        client: a `WiroClient`; None builds one from the environment. When that fails (no
            key), the panel still shows, with the reason and how to fix it.
        model: the model whose spec builds the form.
        save_dir: where "save" writes image files (with their parameters embedded).

    Attributes:
        images: the last run's images (full resolution PIL images).
        result: the last run's `Result`, or None.
        history: every successful run of this panel, oldest first.

    Example:
        >>> panel = FluxPanel(sandbox.client())
        >>> panel.form.prompt.value = "a red fox in snow"
        >>> panel.generate_button.click(); panel.wait(60)
        True
    """

    def __init__(self, client: WiroClient | None = None, *, model: str = FLUX_2_FLEX.slug,
                 save_dir: str | Path = "wiro-images") -> None:
        super().__init__()
        spec = get_spec(model)
        if spec is None:
            raise ValueError(f"FluxPanel has no form for {model!r}; known: {FLUX_2_FLEX.slug}")
        self.spec = spec
        self.model_slug = spec.slug
        self.save_dir = Path(save_dir)
        self._client, self._config_error = _resolve_client(client)
        self._job = Job()
        self._history: list[Result] = []
        self._requests: dict[int, GenerationRequest] = {}
        self._history_lock = threading.Lock()

        self.form = Form(spec)
        limit = spec.file_param.max_files if spec.file_param and spec.file_param.max_files \
            else 10
        self.references = ReferenceList(limit=limit)
        self.status = StatusBar()
        self.gallery = Gallery(self.reuse_settings, self.use_as_reference, self.save_result)
        self.presenter = PresentView()
        self._build()
        self.form.on_change(self._revalidate)
        self.references.on_change(self._references_changed)
        self._references_changed()
        if self._config_error is not None:
            self.status.finish("failed", "not connected")
            self.status.error(f"No Wiro client: {self._config_error}", CONFIG_HINT)
            self.generate_button.disabled = True

    # -- layout ----------------------------------------------------------------------------
    def _build(self) -> None:
        self.generate_button = w.Button(description="Generate", icon="play",
                                        button_style="primary",
                                        tooltip="Start a run with the settings on the left",
                                        layout=w.Layout(width="130px"))
        self.generate_button.add_class("wiro-generate")
        self.cancel_button = w.Button(description="Cancel", icon="stop", disabled=True,
                                      tooltip="Stop the run: the task is cancelled on the server",
                                      layout=w.Layout(width="100px"))
        self.cancel_button.add_class("wiro-cancel")
        self.code_button = w.Button(description="Copy as code", icon="code",
                                    tooltip="Show the client.run(...) call for these settings",
                                    layout=w.Layout(width="auto"))
        self.code_button.add_class("wiro-code-button")
        self.code = w.Textarea(value="", rows=14,
                               tooltip="Paste into a cell; `client` is your WiroClient.",
                               layout=w.Layout(width="100%", display="none"))
        self.code.add_class("wiro-code")
        self.present_toggle = w.ToggleButton(value=False, description="Present", icon="desktop",
                                             tooltip="Show the last image large, controls "
                                             "tucked away", layout=w.Layout(width="auto"))
        self.present_toggle.add_class("wiro-present-toggle")
        self.generate_button.on_click(lambda _b: self._generate_clicked())
        self.cancel_button.on_click(lambda _b: self._cancel_clicked())
        self.code_button.on_click(lambda _b: self.show_code())
        self.code.observe(self._keep_code, names="value")
        self.present_toggle.observe(lambda change: self._set_present(bool(change["new"])),
                                    names="value")

        title = w.HTML(f'<span class="wiro-title">{esc(self.spec.title)}'
                       f'<span class="wiro-model">{esc(self.model_slug)}</span></span>')
        self.badge = w.HTML(self._badge_html())
        self.badge.add_class("wiro-badge-box")
        header = w.HBox([title, self.badge, w.HBox(layout=w.Layout(flex="1 1 auto")),
                         self.code_button, self.present_toggle],
                        layout=w.Layout(width="100%"))
        header.add_class("wiro-header")

        refs_title = w.HTML("Reference images")
        refs_title.add_class("wiro-section")
        left = w.VBox([self.form.prompt_box, refs_title, self.references.widget,
                       self.form.settings_box])
        left.add_class("wiro-form")
        actions = w.HBox([self.generate_button, self.cancel_button],
                         layout=w.Layout(width="100%"))
        actions.add_class("wiro-actions")
        right = w.VBox([actions, self.status.widget, self.code, self.gallery.widget])
        right.add_class("wiro-main")
        self._body = w.HBox([left, right], layout=w.Layout(width="100%"))
        self._body.add_class("wiro-body")
        self.children = (w.HTML(CSS, layout=w.Layout(display="none")), header, self._body,
                         self.presenter.widget)
        self.add_class("wiro-panel")

    def _badge_html(self) -> str:
        if self._client is None:
            return badge("NOT CONNECTED", "sandbox")
        if self._client.is_sandbox:
            return ('<span title="A local sandbox made these images, not the model">'
                    f'{badge("SANDBOX", "sandbox")}</span>')
        return badge("LIVE", "live")

    # -- public API --------------------------------------------------------------------------
    @property
    def result(self) -> Result | None:
        """The last successful run's `Result`, or None."""
        with self._history_lock:
            return self._history[-1] if self._history else None

    @property
    def images(self) -> list[Image.Image]:
        """The last run's images at full resolution (empty before the first run)."""
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
        return self._job.running

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the run in flight ends; True when none is left.

        Example:
            >>> panel.generate_button.click(); panel.wait(60)
            True
        """
        return self._job.join(timeout)

    def generate(self) -> bool:
        """Press Generate from code; False when refused (running, invalid, no client)."""
        return self._generate_clicked()

    def cancel(self) -> bool:
        """Press Cancel from code; False when nothing runs."""
        return self._cancel_clicked()

    def present(self, on: bool = True) -> FluxPanel:
        """Switch the presentation view on (or off); returns the panel, to display it.

        Example:
            >>> panel.present()      # last image large, prompt as caption
        """
        self.present_toggle.value = on
        return self

    def snapshot(self, *, for_run: bool = False) -> GenerationRequest:
        """The request the form describes now. With ``for_run`` a random seed is drawn when
        "random" is on (and shown in the seed box)."""
        if for_run:
            self.form.seed_for_run()
        return GenerationRequest(self.model_slug, self.form.values(), self.references.items)

    def show_code(self) -> str:
        """Fill the code box with the ``client.run(...)`` call for the form; returns it."""
        text = request_code(self.snapshot())
        self._code_text = text
        self.code.value = text
        self.code.layout.display = ""
        return text

    def reuse_settings(self, result: Result) -> None:
        """Load ``result``'s settings into the form: seed and reference images included."""
        loaded = self.form.load(result.params)
        request = self._requests.get(id(result))
        refs = request.references if request is not None else ()
        if refs:
            self.references.clear()
            for ref in refs:
                self.references.add(ref)
        note = f"Loaded the settings of seed {result.seed}"
        seed_name = self.form.hints.seed
        if self.form.lock.value and self.form.seed is not None and seed_name in result.params:
            note += f" (the seed is locked: kept {self.form.seed.value})"
        if refs:
            note += f", with {len(refs)} reference image{'s' if len(refs) != 1 else ''}"
        elif len(self.references):
            # Not cleared: uploads are tedious to redo, so say plainly what differs instead.
            note += (f"; your {len(self.references)} reference image(s) stay, though that run "
                     "had none")
        self.status.info(note + "." if loaded else "Nothing to load from that run.")
        self._revalidate()

    def use_as_reference(self, result: Result) -> Reference | None:
        """Add ``result``'s first output image as the next reference image."""
        output = next((o for o in result.outputs if o.content_type.startswith("image/")), None)
        if output is None or not output.path:
            self.status.error("That run has no image file to use as a reference.")
            return None
        number = next((e.number for e in self.gallery.entries if e.result is result), 0)
        name = f"run{number}-{Path(output.name).name}" if number else Path(output.name).name
        try:
            return self.references.add_image(name, Path(output.path).read_bytes())
        except (OSError, ValueError) as err:
            self.status.error(f"Could not add it as a reference: {err}")
            return None

    def save_result(self, result: Result) -> list[Path]:
        """Write ``result``'s images (parameters embedded) under ``save_dir``."""
        try:
            paths = result.save(self.save_dir)
        except Exception as err:
            message, hint = explain(err)
            self.status.error(f"Could not save: {message}", hint)
            return []
        names = ", ".join(p.name for p in paths)
        self.status.info(f"Saved to {self.save_dir}: {names}")
        return list(paths)

    # -- handlers (main thread, return at once) ---------------------------------------------
    def _generate_clicked(self) -> bool:
        if self._job.running:
            self.status.info("A run is already in progress: wait for it, or press Cancel.")
            return False
        if self._client is None:
            self.status.error(f"No Wiro client: {self._config_error}", CONFIG_HINT)
            return False
        self.form.require_prompt = True
        problems = self.form.check()
        self.form.show(problems)
        errors = [text for text, level in problems.values() if level == "error"]
        if errors:
            self.status.error("Not sent: " + " ".join(errors))
            return False
        request = self.snapshot(for_run=True)
        self.generate_button.disabled = True
        self.cancel_button.disabled = False
        self.status.begin()
        client = self._client
        if not self._job.start(lambda cancel: generate(client, request, cancel, self)):
            self.generate_button.disabled = False
            self.cancel_button.disabled = True
            self.status.info("A run is already in progress: wait for it, or press Cancel.")
            return False
        return True

    def _cancel_clicked(self) -> bool:
        if not self._job.cancel():
            return False
        self.cancel_button.disabled = True
        self.status.note("cancelling…")
        return True

    def _revalidate(self) -> None:
        self.form.reference_count = len(self.references)
        self.form.show(self.form.check())
        if self.code.layout.display != "none":
            self.show_code()

    def _references_changed(self) -> None:
        self._revalidate()

    def _keep_code(self, change: dict[str, Any]) -> None:
        # The box is read-only in spirit: an edit in the browser is put back.
        expected = getattr(self, "_code_text", "")
        if change["new"] != expected and expected:
            self.code.value = expected

    def _set_present(self, on: bool) -> None:
        if on:
            self.presenter.show(self.result)
        self.presenter.widget.layout.display = "" if on else "none"
        self._body.layout.display = "none" if on else ""
        self.present_toggle.icon = "compress" if on else "desktop"
        self.present_toggle.description = "Exit presentation" if on else "Present"

    # -- RunView: called on the worker thread; only trait assignments ------------------------
    def on_task(self, task: Task) -> None:
        """The task exists on the server: show its id."""
        self.status.set_task(task.id)

    def on_update(self, update: TaskUpdate) -> None:
        """A status change or step progress from the client."""
        self.status.update(update)

    def on_tick(self, seconds: float) -> None:
        """The clock: elapsed seconds while the run is in flight."""
        if self.status.state == "running":
            self.status.tick(seconds)

    def on_result(self, result: Result, request: GenerationRequest) -> None:
        """The run succeeded: keep it, show it, mark the status done."""
        with self._history_lock:
            self._history.append(result)
            self._requests[id(result)] = request
        self.gallery.add(result)
        self.form.seed_used.value = esc(f"seed used: {result.seed}")
        if self.present_toggle.value:
            self.presenter.show(result)
        took = result.wall_time or result.elapsed
        if took:
            self.status.tick(took)
        self.status.finish("done", "done")

    def on_cancelled(self, err: TaskCancelled | None) -> None:
        """The run was cancelled (``err`` is None when nothing had been sent yet)."""
        self.status.finish("cancelled", "cancelled")
        where = f" (task {err.task_id})" if err is not None and err.task_id else ""
        self.status.info(f"Cancelled{where}: the task was stopped on the server. "
                         "Your settings are kept." if err is not None else
                         "Cancelled before anything was sent.")

    def on_error(self, err: BaseException) -> None:
        """The run failed: plain words in the panel, the field highlighted if one is named."""
        message, hint = explain(err)
        self.status.finish("failed", "failed")
        self.status.error(message, hint)
        if isinstance(err, ValidationError):
            files = self.spec.file_param
            if files is not None and err.field.startswith(files.py_name):
                self.references.say([f"{err.rule}"])
            else:
                self.form.show_error(err.field, f"{err.rule}.")

    def on_finished(self) -> None:
        """Always last (the worker's ``finally``): Generate back on, Cancel off."""
        self.cancel_button.disabled = True
        self.generate_button.disabled = self._client is None

    def __repr__(self) -> str:
        return f"FluxPanel(model={self.model_slug!r}, runs={len(self._history)})"


def _resolve_client(client: WiroClient | None) -> tuple[WiroClient | None, ConfigError | None]:
    if client is not None:
        return client, None

    try:
        return WiroClient(), None
    except ConfigError as err:
        return None, err
