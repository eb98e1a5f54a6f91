"""What the panel's helpers may use of the panel: the parts and the few calls they need.

`runs` and `actions` work on a `PanelHost`, not on `FluxPanel` itself, so the panel can import
them without an import cycle (and they can be tested on anything that has these parts).

Example:
    >>> def note(host: PanelHost) -> None:
    ...     host.status.info("hello")
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    import ipywidgets as w

    from ..client import WiroClient
    from ..results import Result
    from .form import Form
    from .gallery import Gallery
    from .references import ReferenceList
    from .request import GenerationRequest
    from .status import StatusBar

__all__ = ["PanelHost"]


class PanelHost(Protocol):
    """The parts of a panel its runs and result actions use."""

    client: WiroClient | None
    save_dir: Path
    form: Form
    references: ReferenceList
    status: StatusBar
    gallery: Gallery
    cancel_button: w.Button
    saved: dict[str, list[Path]]

    def set_busy(self, busy: bool) -> None: ...

    def add_result(self, result: Result, request: GenerationRequest | None, batch: int,
                   position: int = 0) -> None: ...

    def show_field_error(self, err: BaseException) -> None: ...

    def request_for(self, result: Result) -> GenerationRequest | None: ...

    def refresh_form(self) -> None: ...
