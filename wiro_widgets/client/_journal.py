"""The client's side of the ledger: typed events written without ever failing a run.

A full disk or a read-only home must not turn a finished task into an error, so a failed
write is logged and the run goes on.

Example:
    >>> journal = Journal(Ledger())
    >>> journal.write(Detached(task_id="12", token="abc", reason="timeout"))
"""

from __future__ import annotations

from ..ledger import Detached, Finished, Ledger, RunUnknown, Submitted
from ..redaction import get_logger

__all__ = ["Journal"]

log = get_logger("wiro_widgets")


class Journal:
    """Writes the client's ledger events (nothing when the ledger is off).

    Args:
        ledger: the ledger, or None when the client keeps none.
    """

    def __init__(self, ledger: Ledger | None) -> None:
        self.ledger = ledger

    def write(self, event: Submitted | Finished | RunUnknown | Detached) -> None:
        if self.ledger is None:
            return
        try:
            self.ledger.write(event)
        except OSError as err:
            log.warning("could not write the ledger (%s): %s", self.ledger.path, err)
