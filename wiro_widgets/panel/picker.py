"""The model picker a `ModelPanel` shows when no model is named: search, category, list.

It lists Wiro's catalogue through ``client.models(search=, category=)`` (``Tool/List``);
Open (or a double choice in the list) hands the slug to the panel, which builds that model's
form in place. A model that cannot be opened (an unknown name: its closest names are listed
instead; no client; no answer) is said on the picker's message line, never as a traceback.

Example:
    >>> picker = Picker(client, None, on_open=panel.open_model)
    >>> picker.search.value = "banana"; picker.refresh()
    >>> picker.list.options[0][1]
    'google/nano-banana'
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as w

from .theme import CSS, message_html

if TYPE_CHECKING:
    from ..client import WiroClient

__all__ = ["ANY_CATEGORY", "Picker"]

ANY_CATEGORY = "any category"
_LIMIT = 50


class Picker:
    """Find a model and open it.

    Args:
        client: the client that lists models (None: the picker says why it cannot).
        config_error: why there is no client, shown with how to fix it.
        on_open: called with the chosen slug; returns False when it could not be opened.

    Attributes:
        widget: the picker as one box (class ``wiro-picker``).
        search, category, list, open_button, message: its parts (classes
            ``wiro-picker-search``, ``-category``, ``-list``, ``-open``, ``-message``).
        found: the slugs listed now.
    """

    def __init__(self, client: WiroClient | None, config_error: BaseException | None, *,
                 on_open: Callable[[str], bool]) -> None:
        self.client = client
        self._on_open = on_open
        self.found: list[str] = []
        self._categories: list[str] = []
        title = w.HTML('<span class="wiro-title">Open a Wiro model</span>')
        self.search = w.Text(placeholder="search: a name, a word (e.g. banana, video)…",
                             continuous_update=False,
                             tooltip="Words to look for in the models' names and descriptions; "
                             "Enter searches", layout=w.Layout(flex="1 1 auto", width="auto"))
        self.search.add_class("wiro-picker-search")
        self.search.observe(lambda _c: self.refresh(), names="value")  # Enter, or leaving
        self.category = w.Dropdown(options=[ANY_CATEGORY], value=ANY_CATEGORY,
                                   tooltip="Only models of this category",
                                   layout=w.Layout(width="200px"))
        self.category.add_class("wiro-picker-category")
        self.category.observe(lambda _c: self.refresh(), names="value")
        self.search_button = w.Button(description="Search", icon="search",
                                      layout=w.Layout(width="auto"))
        self.search_button.add_class("wiro-picker-find")
        self.search_button.on_click(lambda _b: self.refresh())
        self.list = w.Select(options=[], rows=10, layout=w.Layout(width="100%"))
        self.list.add_class("wiro-picker-list")
        self.open_button = w.Button(description="Open", icon="folder-open",
                                    button_style="primary", disabled=True,
                                    tooltip="Build this model's form here",
                                    layout=w.Layout(width="120px"))
        self.open_button.add_class("wiro-picker-open")
        self.open_button.on_click(lambda _b: self.open_selected())
        self.list.observe(self._chosen, names="value")
        self.message = w.HTML("")
        self.message.add_class("wiro-picker-message")
        style = w.HTML(CSS, layout=w.Layout(display="none"))
        row = w.HBox([self.search, self.category, self.search_button],
                     layout=w.Layout(width="100%"))
        self.widget = w.VBox([style, title, row, self.list,
                              w.HBox([self.open_button]), self.message],
                             layout=w.Layout(width="100%"))
        self.widget.add_class("wiro-picker")
        if client is None:
            for part in (self.search, self.category, self.search_button, self.list):
                part.disabled = True
            self.say(f"No Wiro client: {config_error}. Without one no model can be listed or "
                     "opened; pass one: ModelPanel(client=WiroClient(...)) or "
                     "ModelPanel(client=sandbox.client()).")
        else:
            self.refresh()

    def refresh(self) -> list[str]:
        """List the models matching the search words and the category; returns the slugs."""
        if self.client is None:
            return []
        category = self.category.value if self.category.value != ANY_CATEGORY else None
        try:
            found = self.client.models(search=self.search.value.strip() or None,
                                       category=category, limit=_LIMIT)
        except Exception as err:  # shown, never raised into the notebook
            from .messages import explain

            self.say(f"Could not list the models: {explain(err)[0]}")
            return []
        self._learn_categories([c for m in found for c in m.categories])
        self._show([(f"{m.slug}  ·  {m.title}" if m.title else m.slug, m.slug) for m in found])
        total = getattr(found, "total", len(found))
        self.say(f"{len(found)} model{'s' if len(found) != 1 else ''}"
                 + (f" of {total}" if total > len(found) else "") + ": pick one and press Open."
                 if found else "No model matches: try other words or another category.",
                 level="info")
        return self.found

    def _learn_categories(self, categories: list[str]) -> None:
        known = sorted(set(self._categories) | {c for c in categories if c})
        if known != self._categories:
            self._categories = known
            value = self.category.value
            self.category.options = [ANY_CATEGORY, *known]
            self.category.value = value if value in self.category.options else ANY_CATEGORY

    def _show(self, options: list[tuple[str, str]]) -> None:
        self.found = [slug for _label, slug in options]
        self.list.options = options
        self.list.value = self.found[0] if self.found else None
        self.open_button.disabled = not self.found

    def _chosen(self, change: Any) -> None:
        self.open_button.disabled = change["new"] is None

    def open_selected(self) -> bool:
        """Open the model chosen in the list (or the slug typed in the search box)."""
        slug = self.list.value or self.search.value.strip()
        if not slug:
            self.say("Pick a model in the list first.")
            return False
        return self._on_open(str(slug))

    def show_problem(self, problem: BaseException | None, search: str = "") -> None:
        """Say why a model could not be opened; an unknown name lists its closest names."""
        if problem is None:
            return
        from ..errors import ModelNotFound
        from .messages import explain

        if isinstance(problem, ModelNotFound):
            closest = list(problem.closest)
            self._show([(slug, slug) for slug in closest])
            said = (f"No model {search!r} on Wiro." +
                    (f" Closest: {', '.join(closest)}." if closest else ""))
            self.say(said)
            return
        from .opening import ModelUnavailable

        self.say(str(problem) if isinstance(problem, ModelUnavailable) else explain(problem)[0])

    def say(self, text: str, level: str = "error") -> None:
        """Show ``text`` on the message line (escaped, secrets redacted)."""
        from ..redaction import redact

        self.message.value = message_html(redact(text), level) if text else ""
