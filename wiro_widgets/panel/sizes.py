"""Image-size arithmetic for the panel's size controls: presets, snapping, megapixels.

Pure functions, so the rules are tested without widgets. The grid and the range come from
the model's size input (`SizeRule.of`), never from this module.

Example:
    >>> rule = SizeRule.of(spec.param("width"))          # multiples of 16 in 64..2048
    >>> preset_size("16:9", rule, megapixels=1.0)
    (1360, 768)
    >>> snap(1000, rule)
    1008
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..schema import ParamSpec

__all__ = ["ASPECT_PRESETS", "SizeRule", "aspect_of", "megapixels", "preset_size", "snap"]


@dataclass(frozen=True)
class SizeRule:
    """Which sizes an input takes: multiples of ``multiple`` from ``low`` to ``high``."""

    multiple: int = 1
    low: int = 1
    high: int = 2**31 - 1

    @classmethod
    def of(cls, param: ParamSpec) -> SizeRule:
        """The rule of a size input, from its spec (``multiple_of``, range)."""
        return cls(multiple=param.multiple_of or 1,
                   low=int(param.minimum) if param.minimum is not None else 1,
                   high=int(param.maximum) if param.maximum is not None else 2**31 - 1)

#: The aspect ratios offered as presets, as (label, width part, height part).
ASPECT_PRESETS: tuple[tuple[str, int, int], ...] = (
    ("1:1", 1, 1),
    ("4:3", 4, 3),
    ("3:4", 3, 4),
    ("16:9", 16, 9),
    ("9:16", 9, 16),
    ("3:2", 3, 2),
    ("2:3", 2, 3),
    ("21:9", 21, 9),
)


def snap(value: float, rule: SizeRule) -> int:
    """The nearest size the rule allows.

    Example:
        >>> snap(1000, rule), snap(10, rule), snap(5000, rule)
        (1008, 64, 2048)
    """
    # Half rounds up (not to even) so 1000 -> 1008, as a user dragging upwards expects.
    snapped = math.floor(value / rule.multiple + 0.5) * rule.multiple
    return max(rule.low, min(rule.high, snapped))


def megapixels(width: int, height: int) -> float:
    """Output size in megapixels (10^6 pixels), as the price is counted.

    Example:
        >>> megapixels(1024, 1024)
        1.048576
    """
    return width * height / 1_000_000


def preset_size(label: str, rule: SizeRule, megapixels: float = 1.05) -> tuple[int, int]:
    """Width and height for an aspect preset at about ``megapixels``, snapped to the rule.

    The long side is capped at the rule's ``high`` so extreme ratios stay valid.

    Example:
        >>> preset_size("1:1", rule)
        (1024, 1024)
    """
    parts = {name: (w, h) for name, w, h in ASPECT_PRESETS}
    if label not in parts:
        raise KeyError(f"unknown aspect preset {label!r}; presets: {', '.join(parts)}")
    wp, hp = parts[label]
    scale = math.sqrt(max(megapixels, 0.004) * 1_000_000 / (wp * hp))
    scale = min(scale, rule.high / max(wp, hp))
    return snap(wp * scale, rule), snap(hp * scale, rule)


def aspect_of(width: int, height: int, tolerance: float = 0.01) -> str | None:
    """The preset whose ratio matches ``width:height`` within ``tolerance``, else None.

    Example:
        >>> aspect_of(1360, 768)
        '16:9'
    """
    if width <= 0 or height <= 0:
        return None
    ratio = width / height
    for name, wp, hp in ASPECT_PRESETS:
        if abs(ratio - wp / hp) / (wp / hp) <= tolerance:
            return name
    return None
