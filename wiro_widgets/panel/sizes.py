"""Image-size arithmetic for the panel's size controls: presets, snapping, megapixels.

Pure functions, so the rules are tested without widgets.

Example:
    >>> preset_size("16:9", megapixels=1.0)
    (1360, 768)
    >>> snap(1000)
    1008
"""

from __future__ import annotations

import math

__all__ = ["ASPECT_PRESETS", "aspect_of", "megapixels", "preset_size", "snap"]

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


def snap(value: float, multiple: int = 16, low: int = 64, high: int = 2048) -> int:
    """The nearest multiple of ``multiple`` inside ``low..high``.

    Example:
        >>> snap(1000), snap(10), snap(5000)
        (1008, 64, 2048)
    """
    # Half rounds up (not to even) so 1000 -> 1008, as a user dragging upwards expects.
    snapped = math.floor(value / multiple + 0.5) * multiple
    return max(low, min(high, snapped))


def megapixels(width: int, height: int) -> float:
    """Output size in megapixels (10^6 pixels), as the price is counted.

    Example:
        >>> megapixels(1024, 1024)
        1.048576
    """
    return width * height / 1_000_000


def preset_size(label: str, megapixels: float = 1.05, multiple: int = 16,
                low: int = 64, high: int = 2048) -> tuple[int, int]:
    """Width and height for an aspect preset at about ``megapixels``, snapped to the grid.

    The long side is capped at ``high`` so extreme ratios stay valid.

    Example:
        >>> preset_size("1:1")
        (1024, 1024)
    """
    parts = {name: (w, h) for name, w, h in ASPECT_PRESETS}
    if label not in parts:
        raise KeyError(f"unknown aspect preset {label!r}; presets: {', '.join(parts)}")
    wp, hp = parts[label]
    scale = math.sqrt(max(megapixels, 0.004) * 1_000_000 / (wp * hp))
    scale = min(scale, high / max(wp, hp))
    return snap(wp * scale, multiple, low, high), snap(hp * scale, multiple, low, high)


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
