"""The Wiro client: `WiroClient`, a facade over one private module per job.

Jobs, and the module that owns each: configuration (`_config`), model specs from the live
schema, cached (`_specs`), finding models (`_catalog`, `_find`), preparing parameters into a
Run body (`_prepare`, `_body`), the budget (`_budget`), submitting the idempotent Run
(`_submit`) and reconciling a lost one (`_reconcile`), following a task live (`_follow`,
`_channels`), waiting and its endings (`_wait`), stopping (`_stop`), concluding: outcome,
downloads, `Result` (`_conclude`, `_outputs`), reading tasks (`_lookup`), the ledger writer
(`_journal`) and HTTP (`_transport`).

Example:
    >>> from wiro_widgets.client import WiroClient, RetryPolicy
    >>> client = WiroClient(retry=RetryPolicy(budget=60.0))
"""

from __future__ import annotations

from ..backoff import RetryPolicy
from ._catalog import ModelInfo, ModelList
from ._config import DEFAULT_BASE_URL, DEFAULT_SOCKET_URL
from ._facade import WiroClient
from ._find import models
from ._follow import FollowConfig
from ._specs import DEFAULT_SPEC_TTL

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_SOCKET_URL",
    "DEFAULT_SPEC_TTL",
    "FollowConfig",
    "ModelInfo",
    "ModelList",
    "RetryPolicy",
    "WiroClient",
    "models",
]
