"""The package's version, in one place: hatch reads it for the wheel, `wiro_widgets` exports it."""

__all__ = ["__version__"]

__version__ = "0.1.0"
