"""The points of a sweep: which parameters are axes, and one `Cell` per combination.

List-valued parameters are the axes (``seed=[1, 2, 3]``); the others are fixed. A model's
file input takes one list of images, so it is swept only when marked with `sweep_over`.

Example:
    >>> axes, fixed = split_axes({"prompt": "a fox", "seed": [1, 2]})
    >>> axes, fixed
    ({'seed': [1, 2]}, {'prompt': 'a fox'})
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ..schema import ModelSpec
from .sweep_grid import value_label

__all__ = ["Cell", "SweepOver", "split_axes", "sweep_over"]


@dataclass(frozen=True)
class SweepOver:
    """Marks a parameter's values as a sweep axis when a list would be one value.

    Use `sweep_over` to build it.
    """

    values: tuple[Any, ...]


def sweep_over(values: Iterable[Any]) -> SweepOver:
    """Sweep a parameter over ``values`` even where a list is a single value (references).

    Example:
        >>> client.sweep(MODEL, prompt="image 1 as a watercolour", seed=[1, 2],
        ...              input_images=sweep_over([["cat.png"], ["cat.png", "dog.png"]]))
    """
    return SweepOver(tuple(values))


@dataclass(frozen=True)
class Cell:
    """One point of the sweep: its position on each axis and the values there.

    Cells compare and hash by position, so they work as dictionary keys even when a value is a
    list (swept references).

    Attributes:
        index: the position on each axis, in axis order.
        values: the axis name -> value at this point.
        files: the axes that are file inputs (their values are labelled by file name).
    """

    index: tuple[int, ...]
    values: Mapping[str, Any] = field(compare=False, hash=False)
    files: frozenset[str] = field(default=frozenset(), compare=False, hash=False, repr=False)

    @property
    def label(self) -> str:
        """``seed=1 · guidance=4.5``."""
        return " · ".join(self._labels()) or "run"

    def __getitem__(self, name: str) -> Any:
        return self.values[name]

    def __repr__(self) -> str:
        return f"Cell({', '.join(self._labels())})"

    def _labels(self) -> list[str]:
        return [f"{k}={value_label(k, v, files=k in self.files)}"
                for k, v in self.values.items()]


def split_axes(params: Mapping[str, Any],
               spec: ModelSpec | Iterable[ModelSpec | None] | None = None
               ) -> tuple[dict[str, list[Any]], dict[str, Any]]:
    """Split parameters into the swept ones (name -> values) and the fixed ones.

    The model's file inputs (of any of the ``spec``s given) are axes only through
    `sweep_over`.

    Raises:
        ValueError: an axis without values.

    Example:
        >>> split_axes({"prompt": "a fox", "seed": [1, 2]})
        ({'seed': [1, 2]}, {'prompt': 'a fox'})
    """
    specs = [spec] if spec is None or isinstance(spec, ModelSpec) else list(spec)
    files = {name for one in specs if one is not None
             for p in one.file_params for name in (p.py_name, p.name)}
    axes: dict[str, list[Any]] = {}
    fixed: dict[str, Any] = {}
    for name, value in params.items():
        if isinstance(value, SweepOver):
            axes[name] = list(value.values)
        elif name not in files and isinstance(value, (list, tuple, range)):
            axes[name] = list(value)
        else:
            fixed[name] = value
        if name in axes and not axes[name]:
            raise ValueError(f"{name} has no values to sweep over")
    return axes, fixed
