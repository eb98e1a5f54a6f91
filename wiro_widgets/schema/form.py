"""Form hints: what a generic form needs to lay out a model's inputs well.

A `ModelSpec` carries `FormHints`: the sections and their order (also the order generated
code lists parameters in), which input is the prompt, the seed and the (width, height)
pair, and which parameters a result's caption shows. The panel reads only these, so its
code names no parameter of any model.

Example:
    >>> hints = FormHints(sections=(FormSection("Prompt", ("prompt",)),), prompt="prompt")
    >>> hints.order, hints.section_of("prompt")
    (('prompt',), 'Prompt')
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FormHints", "FormSection"]


@dataclass(frozen=True)
class FormSection:
    """A titled group of inputs, in form order (Python names)."""

    title: str
    params: tuple[str, ...]


@dataclass(frozen=True)
class FormHints:
    """How a form shows a model's inputs (every name is a Python name).

    Attributes:
        sections: titled groups in order; inputs in none of them go last, untitled.
        prompt: the prompt input (placed first, with a larger text area).
        seed: the seed input (gets "random" and "lock" buttons).
        size: the (width, height) inputs (get aspect presets, swap and snapping).
        caption: the parameters a result's caption shows, in order.
    """

    sections: tuple[FormSection, ...] = ()
    prompt: str | None = None
    seed: str | None = None
    size: tuple[str, str] | None = None
    caption: tuple[str, ...] = ()

    @property
    def order(self) -> tuple[str, ...]:
        """Every input named by a section, in form order."""
        return tuple(name for section in self.sections for name in section.params)

    def section_of(self, name: str) -> str | None:
        """The title of the section holding ``name``, or None."""
        return next((s.title for s in self.sections if name in s.params), None)
