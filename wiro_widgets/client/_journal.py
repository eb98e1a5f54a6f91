"""The client's side of the ledger: typed events, and the check that they can be written.

Before a Run is sent, `Journal.check_writable` proves the ledger can take its events (a
read-only or full home refuses the run with a `ConfigError` before anything is billed).
After that, a failed write (the disk filled up mid-run) is logged and the run goes on: a
finished task must not turn into an error.

Example:
    >>> journal = Journal(Ledger())
    >>> journal.check_writable()
    >>> journal.write(Detached(task_id="12", token="abc", reason="timeout"))
"""

from __future__ import annotations

from ..ledger import Detached, Finished, JobStarted, Ledger, NotSent, RunUnknown, Sending, Submitted
from ..redaction import get_logger

__all__ = ["Journal"]

log = get_logger("wiro_widgets")


class Journal:
    """Writes the client's ledger events (nothing when the ledger is off).

    Args:
        ledger: the ledger, or None when the client keeps none (``ledger=False``).
    """

    def __init__(self, ledger: Ledger | None) -> None:
        self.ledger = ledger

    def check_writable(self) -> None:
        """Raise `ConfigError` (naming the folder and what failed) unless the ledger can be
        written now; nothing to check without a ledger."""
        if self.ledger is not None:
            self.ledger.check_writable()

    def must_write(self, event: Sending | JobStarted) -> None:
        """Write an event that must be on disk before going on (a job cell's `Sending`);
        an error propagates. Nothing to write without a ledger.

        Raises:
            OSError: the line could not be written.
        """
        if self.ledger is not None:
            self.ledger.write(event)

    def write(self, event: Submitted | Finished | RunUnknown | Detached | NotSent) -> None:
        if self.ledger is None:
            return
        try:
            self.ledger.write(event)
        except OSError as err:
            log.warning("could not write the ledger (%s): %s", self.ledger.path, err)
