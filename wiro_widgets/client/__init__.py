"""The Wiro client: `WiroClient`, a facade over one private module per job.

Jobs, and the module that owns each: configuration (`_config`), preparing parameters into a
Run body (`_prepare`, `_body`), the budget (`_budget`), submitting the idempotent Run
(`_submit`) and reconciling a lost one (`_reconcile`), following a task live (`_follow`,
`_channels`), waiting and its endings (`_wait`), stopping (`_stop`), concluding: outcome,
downloads, `Result` (`_conclude`), reading tasks (`_lookup`), the ledger writer
(`_journal`) and HTTP (`_transport`).

Example:
    >>> from wiro_widgets.client import WiroClient, RetryPolicy
    >>> client = WiroClient(retry=RetryPolicy(budget=60.0))
"""

from __future__ import annotations

from ..backoff import RetryPolicy
from ._config import DEFAULT_BASE_URL, DEFAULT_SOCKET_URL
from ._facade import WiroClient
from ._follow import FollowConfig

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_SOCKET_URL", "FollowConfig", "RetryPolicy", "WiroClient"]
