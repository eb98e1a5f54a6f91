"""What a model's run looks like from outside: the pace of its stages, the progress messages
it reports and the warnings it prints on stderr.

Example:
    >>> DELAYS["step"]                 # seconds per step at speed 1.0
    0.07
    >>> progress(6, 10, 5.0, 0.5)["percentage"]
    '60'
"""

from __future__ import annotations

__all__ = ["DELAYS", "PER_REFERENCE", "STDERR_WARNINGS", "progress"]

#: Seconds at speed 1.0, chosen so a default 50-step run shows each stage for a moment.
DELAYS = {
    "task_accept": 0.25,
    "task_preprocess_start": 0.1,
    "task_preprocess_end": 0.25,
    "task_assign": 0.15,
    "task_start": 0.2,
    "step": 0.07,
    "task_output_full": 0.05,
    "task_end": 0.05,
    "task_postprocess_start": 0.05,
    "task_postprocess_end": 0.2,
}
#: Extra preprocessing seconds per reference image.
PER_REFERENCE = 0.05

#: Harmless stderr lines a model prints while it runs fine (interim ``task_error`` frames).
#: The first is the docs' own example of a ``task_error`` message (websocket.md).
STDERR_WARNINGS = (
    "UserWarning: Some weights were not initialized from the model checkpoint and are newly "
    "initialized (sandbox)",
    "FutureWarning: `torch_dtype` is deprecated! Use `dtype` instead! (sandbox)",
    "UserWarning: xFormers not available, falling back to SDPA attention (sandbox)",
)


def progress(current: int, steps: int, elapsed: float, step_seconds: float) -> dict[str, str]:
    """A ``progressGenerate`` message, as a model reports step ``current`` of ``steps``.

    Example:
        >>> progress(1, 4, 0.5, 0.5)["stepCurrent"], progress(1, 4, 0.5, 0.5)["stepTotal"]
        ('1', '4')
    """
    return {
        "type": "progressGenerate",
        "task": "Generate",
        "percentage": str(current * 100 // steps),
        "stepCurrent": str(current),
        "stepTotal": str(steps),
        "speed": f"{1 / step_seconds:.2f}",
        "speedType": "it/s",
        "elapsedTime": f"{elapsed:.0f}s",
        "remainingTime": f"{(steps - current) * step_seconds:.0f}s",
    }
