"""The package version, in a leaf module so any module can name it without importing the
package's public namespace (which, for type checkers, imports everything)."""

from __future__ import annotations

__all__ = ["__version__"]

__version__ = "0.1.0"
