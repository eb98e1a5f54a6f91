"""Form hints for a spec read from a schema: what a hand-written spec says, guessed.

A built-in spec names its sections, prompt, seed and size pair by hand (`FormHints`). A spec
read from Tool/Detail gets them from the schema and the inputs' ids: the sections are the
schema's parameter groups (``parameters[].title``; one untitled group is split into
"Settings" and "Advanced" by the items' ``advanced`` flag), the prompt is the text input
named ``prompt`` (else the first required text area), the seed the input named ``seed``, the
size pair ``width``/``height`` when both are numbers, and the caption the numbers and
choices, in form order.

Example:
    >>> guess_form(spec.params, [("", ["prompt", "steps"])]).prompt
    'prompt'
"""

from __future__ import annotations

from collections.abc import Sequence

from .form import FormHints, FormSection
from .params import ParamSpec

__all__ = ["OUTPUT_COUNT_IDS", "guess_form", "guess_output_count"]

#: Ids Wiro's models use for "how many outputs" (sdxl ``samples``, seedream ``maxImages``).
OUTPUT_COUNT_IDS = ("samples", "maxImages", "numberOfImages", "numImages", "num_outputs",
                    "numOutputs", "numberOfOutputs", "outputCount")
_CAPTION_LIMIT = 6


def guess_form(params: Sequence[ParamSpec],
               groups: Sequence[tuple[str, Sequence[str]]]) -> FormHints:
    """The form hints for ``params`` laid out in the schema's ``groups`` (title, names)."""
    by_name = {p.py_name: p for p in params}
    shown = [(title, [n for n in names if n in by_name and not by_name[n].is_files])
             for title, names in groups]
    shown = [(title, names) for title, names in shown if names]
    sections: list[FormSection] = []
    if len(shown) == 1 and not shown[0][0]:
        names = shown[0][1]
        basic = tuple(n for n in names if not by_name[n].advanced)
        advanced = tuple(n for n in names if by_name[n].advanced)
        sections = [FormSection(title, group) for title, group in
                    (("Settings", basic), ("Advanced", advanced)) if group]
    else:
        for position, (title, names) in enumerate(shown, start=1):
            sections.append(FormSection(title or f"Settings {position}", tuple(names)))
    prompt = _prompt(params)
    seed = by_name.get("seed")
    width, height = by_name.get("width"), by_name.get("height")
    size = (("width", "height") if width is not None and height is not None
            and width.is_number and height.is_number else None)
    caption = tuple(p.py_name for p in params
                    if (p.is_number or p.is_select or p.is_bool) and p is not seed)
    return FormHints(sections=tuple(sections), prompt=prompt,
                     seed=seed.py_name if seed is not None else None, size=size,
                     caption=caption[:_CAPTION_LIMIT])


def _prompt(params: Sequence[ParamSpec]) -> str | None:
    texts = [p for p in params if p.is_text]
    named = next((p for p in texts if p.name.lower() == "prompt"), None)
    if named is not None:
        return named.py_name
    areas = [p for p in texts if p.kind.value == "textarea"]
    chosen = next((p for p in areas if p.required), areas[0] if areas else None)
    return chosen.py_name if chosen is not None else None


def guess_output_count(params: Sequence[ParamSpec]) -> str | None:
    """The API id of the input that sets how many outputs a run makes, if one is known."""
    for ident in OUTPUT_COUNT_IDS:
        if any(p.name == ident and p.is_number for p in params):
            return ident
    return None
