"""`WiroClient`: the synchronous client the panel, the research helpers and notebooks drive.

It validates parameters against the model's spec before anything is sent, streams reference
images, submits without ever paying twice by accident, follows the task live (WebSocket with a
polling fallback), downloads the outputs at once into a local cache, and records every task in
a ledger so it can be listed and resumed after a restart.

The class is a facade: each job lives in its own module of this package (`_prepare`,
`_budget`, `_submit` with `_reconcile`, `_follow`, `_wait`, `_stop`, `_conclude`,
`_lookup`, `_transport`) and the methods below only hand over to them.

Example:
    >>> from wiro_widgets import WiroClient
    >>> client = WiroClient()                     # WIRO_API_KEY / WIRO_API_SECRET
    >>> result = client.run("black-forest-labs/flux-2-flex", prompt="a lighthouse at dusk",
    ...                     input_images=["beach.jpg"], steps=28, on_update=print)
    >>> result.images[0].size, result.seed, result.cost
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..backoff import READ_RETRY, RetryPolicy
from ..credentials import load_credentials
from ..ledger import Ledger, OutputCache, home_dir
from ..protocol import is_loopback_url
from ..redaction import get_logger
from ..results import Result, Task, TaskUpdate
from ..schema import ModelSpec
from ._budget import Budget, run_estimate
from ._catalog import ModelList, list_models
from ._conclude import Concluder
from ._config import (
    base_url_from,
    check_on_timeout,
    client_info,
    socket_url_from,
)
from ._follow import FollowConfig, emit
from ._hub import Hub
from ._jobruns import DEFAULT_SETTLE
from ._journal import Journal
from ._lookup import TaskLookup
from ._prepare import Prepared, check_model, prepare
from ._reconcile import TASK_LIST_QUERY, KnownTasks, Reconciler
from ._research_api import ResearchMethods
from ._reuse import find_reusable
from ._specs import DEFAULT_SPEC_TTL, SpecSource
from ._stop import Stopper
from ._submit import RunSettings, Submitter
from ._transport import DEFAULT_TIMEOUT, Transport
from ._wait import Waiter, WaitSettings

__all__ = ["WiroClient"]

log = get_logger("wiro_widgets")
#: How long ``history()`` and ``resume()`` try to read Task/List for lost Runs: a server
#: that is down must not hold up reading the local history.
_ADOPT_RETRY = RetryPolicy(budget=2.0, base=0.1, cap=0.5)

UpdateCallback = Callable[[TaskUpdate], None]
#: Reading a model's schema is retried briefly: without it the client falls back to the
#: cache or the built-in spec, so a long wait would only delay that.
_SPEC_RETRY = RetryPolicy(budget=2.0)


class WiroClient(ResearchMethods):
    """A synchronous client for the Wiro API; safe to share between threads.

    Args:
        api_key: the project's API key (default: ``WIRO_API_KEY``).
        api_secret: its secret; leave out for key-only projects (default:
            ``WIRO_API_SECRET``, read only when the key also comes from the environment).
        base_url: the API root (default: ``WIRO_BASE_URL`` or ``https://api.wiro.ai/v1``).
        socket_url: the WebSocket URL (default: ``WIRO_SOCKET_URL`` or
            ``wss://socket.wiro.ai/v1``).
        timeout: (connect, read) seconds for each HTTP request.
        wait_timeout: the default overall wait for a task, in seconds (None: no limit).
        on_timeout: ``"cancel"`` (stop the remote task) or ``"detach"`` (leave it running)
            when a wait runs out.
        use_socket: follow tasks on the WebSocket (False: poll only).
        home: folder for the ledger and output cache (default: ``WIRO_WIDGETS_HOME``).
        ledger: write the run ledger.
        budget: USD; a submit that could pass it is refused with `BudgetExceeded`.
        busy_timeout: seconds a Run keeps retrying the concurrency limit (code 96).
        retry: how reads are retried.
        follow_config: timings of live following (poll intervals, grace periods).
        spec_ttl: seconds a model's schema, once fetched from Tool/Detail, is used from the
            disk cache before it is fetched again (default: a day).
        reuse: the default of ``run(reuse=)`` (and of sweeps and batches): answer a request
            already run (same model, parameters, references by hash, an explicit seed) from
            the ledger, with no request and ``cost`` 0.

    Raises:
        ConfigError: no API key, or a malformed URL.

    Example:
        >>> client = WiroClient(api_key="...", api_secret="...", budget=2.0)
        >>> task = client.submit("black-forest-labs/flux-2-flex", prompt="a fox", seed=7)
        >>> result = client.wait(task, on_update=lambda u: print(u.label))
    """

    def __init__(
        self,
        api_key: str | None = None,
        api_secret: str | None = None,
        base_url: str | None = None,
        socket_url: str | None = None,
        *,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        wait_timeout: float | None = 600.0,
        on_timeout: str = "cancel",
        use_socket: bool = True,
        home: str | Path | None = None,
        ledger: bool = True,
        budget: float | None = None,
        busy_timeout: float = 30.0,
        retry: RetryPolicy | None = None,
        follow_config: FollowConfig | None = None,
        spec_ttl: float = DEFAULT_SPEC_TTL,
        reuse: bool = False,
    ) -> None:
        try:
            self._credentials = load_credentials(api_key, api_secret)
        finally:
            # From here on only the masked `Credentials` hold them: no frame of a later
            # error's traceback (a bad URL, say) shows the key among its locals.
            del api_key, api_secret
        self._base_url = base_url_from(base_url)
        self._socket_url = socket_url_from(socket_url)
        self.on_timeout = check_on_timeout(on_timeout)
        self._budget = Budget(budget)
        self.timeout = (float(timeout[0]), float(timeout[1]))
        self.wait_timeout = wait_timeout
        self.use_socket = use_socket
        self.busy_timeout = float(busy_timeout)
        self.retry = retry or READ_RETRY
        self.follow_config = follow_config or FollowConfig()
        #: Seconds over which an ambiguous Run failure is reconciled before a re-send.
        self.reconcile_window = 2.0
        #: Seconds after which a job's Run cut short by a crash, not listed by the server,
        #: is taken to have made no task (see `recover_job`).
        self.unknown_settle = DEFAULT_SETTLE
        #: Whether `run`, sweeps and batches answer a request already run from the ledger.
        self.reuse = bool(reuse)
        self._home = home
        self._ledger = Ledger(home) if ledger else None
        self._cache: OutputCache | None = None
        self._build_jobs()
        self._specs = SpecSource(
            lambda path, body: self._transport.post(path, body, retry=_SPEC_RETRY),
            lambda: self.home, spec_ttl)

    def _build_jobs(self) -> None:
        self._transport = Transport(self._credentials, self._base_url, timeout=self.timeout)
        known = KnownTasks()
        journal = Journal(self._ledger)
        self._lookup = TaskLookup(self._transport, self._ledger, known)
        self._reconciler = Reconciler(
            lambda retry: self._transport.post("/Task/List", dict(TASK_LIST_QUERY),
                                               retry=retry),
            known, self._ledger)
        self._submitter = Submitter(self._transport, self._reconciler, self._budget, journal,
                                    lambda: client_info(self._base_url, self._credentials,
                                                        sandbox=self.is_sandbox))
        self._stopper = Stopper(self._transport, self._lookup)
        self._journal = journal
        self._concluder = Concluder(self._transport, lambda: self.cache, journal, self._budget,
                                    lambda: self.is_sandbox)
        self._waiter = Waiter(self._transport, self._lookup, self._stopper, self._concluder,
                              journal, self._budget)
        self._hub: Hub | None = None

    # -- configuration --------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        return self._base_url

    @property
    def socket_url(self) -> str:
        return self._socket_url

    @property
    def is_sandbox(self) -> bool:
        """True for a local server (loopback host) or one that said so (``x-wiro-sandbox``)."""
        return is_loopback_url(self._base_url) or self._transport.saw_sandbox

    @property
    def spent(self) -> float:
        """USD of this client's finished tasks (their ``totalcost``)."""
        return self._budget.spent

    @property
    def reserved(self) -> float:
        """USD estimated for tasks that may still bill (running, detached, or a Run whose
        outcome is unknown); they count against the budget until they end."""
        return self._budget.reserved

    @property
    def budget(self) -> float | None:
        return self._budget.limit

    @budget.setter
    def budget(self, value: float | None) -> None:
        self._budget.limit = value

    @property
    def home(self) -> Path:
        """The folder holding the ledger and the output cache."""
        return self._ledger.home if self._ledger is not None else home_dir(self._home)

    @property
    def ledger(self) -> Ledger | None:
        """The run ledger (None when disabled)."""
        return self._ledger

    @property
    def cache(self) -> OutputCache:
        """Where output files are kept."""
        if self._cache is None:
            self._cache = OutputCache(self._home)
        return self._cache

    @property
    def key_fingerprint(self) -> str:
        return self._credentials.fingerprint()

    def __repr__(self) -> str:
        if not hasattr(self, "_transport"):
            # Half built (its constructor raised): a traceback formatted with its frames'
            # locals shows this object too.
            return "WiroClient(<not configured>)"
        mode = "signature" if self._credentials.signed else "key-only"
        sandbox = ", sandbox" if self.is_sandbox else ""
        return (f"WiroClient(base_url={self._base_url!r}, "
                f"key={self._credentials.fingerprint()}, {mode}{sandbox})")

    def __enter__(self) -> WiroClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close pooled connections (the client stays usable: new ones open on demand)."""
        self._transport.close()

    # -- parameters ----------------------------------------------------------------------
    def spec(self, model: str) -> ModelSpec | None:
        """The model's spec, read from its live schema (``Tool/Detail``, cached on disk for
        ``spec_ttl`` seconds); offline, the cached schema (even expired) or the built-in
        spec, with a warning. None when nothing describes the model (its parameters then go
        unchecked).

        Raises:
            ModelNotFound: the API does not know the model (``closest`` names the nearest).

        Example:
            >>> client.spec("google/nano-banana-pro").param("resolution").option_values
            ('1K', '2K', '4K')
        """
        return self._specs.spec(model)

    @property
    def spec_ttl(self) -> float:
        """Seconds a fetched schema is used before it is fetched again."""
        return self._specs.ttl

    @spec_ttl.setter
    def spec_ttl(self, value: float) -> None:
        self._specs.ttl = float(value)

    def validate(self, model: str, **params: Any) -> dict[str, Any]:
        """Check parameters and reference images locally (nothing of them is sent; the
        model's schema may be read once).

        Args:
            **params: Python names (``safety_tolerance``) or API ids (``safetyTolerance``).

        Returns:
            The Python-named parameters with defaults filled; reference images as
            descriptors (name, sha256, size, source, url, content type).

        Raises:
            ValidationError: naming the field, the value and the rule.

        Example:
            >>> client.validate("black-forest-labs/flux-2-flex", prompt="a fox")["steps"]
            50
        """
        return dict(self._prepare(model, params).params)

    def estimate_cost(self, model: str, **params: Any) -> float | None:
        """A USD estimate for one run, from the model's price rules (``dynamicprice``; see
        `wiro_widgets.schema.pricing` for the methods computed); None when it cannot be
        known before the run.

        Example:
            >>> client.estimate_cost("black-forest-labs/flux-2-flex", prompt="a", width=512,
            ...                      height=512)
            0.015729
        """
        return run_estimate(self._prepare(model, params))

    def tool_detail(self, model: str) -> dict[str, Any]:
        """The model's live description from ``Tool/Detail`` (parameters, price rules).

        Raises:
            ModelNotFound: the API does not know the model.

        Example:
            >>> client.tool_detail("black-forest-labs/flux-2-flex")["parameters"][0]["items"]
        """
        return self._specs.tool(model)

    def models(self, search: str | None = None, category: str | None = None, *,
               owner: str | None = None, limit: int = 50) -> ModelList:
        """Models from ``Tool/List`` (see `wiro_widgets.models`).

        Example:
            >>> client.models(search="flux", category="text-to-image")
        """
        return list_models(self._transport.post, search=search, category=category,
                           owner=owner, limit=limit, retry=self.retry)

    def _prepare(self, model: str, params: dict[str, Any]) -> Prepared:
        return prepare(model, params, self.spec(check_model(model)))

    # -- running ---------------------------------------------------------------------------
    def submit(self, model: str, *, busy_timeout: float | None = None, **params: Any) -> Task:
        """Validate, check the budget and start a task; returns its handle at once.

        Args:
            model: ``owner/model``.
            busy_timeout: seconds to keep retrying the concurrency limit (code 96); 0
                raises `ConcurrencyLimit` at once. Default: the client's.
            **params: the model's parameters by Python name (``input_images``,
                ``safety_tolerance``, ...).

        Raises:
            ValidationError: a parameter breaks the model's rules (nothing was sent).
            BudgetExceeded: the run could pass the budget (nothing was sent).
            ConcurrencyLimit: still busy after ``busy_timeout``.
            RunOutcomeUnknown: the Run's answer was lost and no task could be found; one
                may exist.
            ApiError, NetworkError: the API refused, or could not be reached.

        Example:
            >>> task = client.submit("black-forest-labs/flux-2-flex", prompt="a fox")
            >>> task.id, task.token
        """
        settings = RunSettings(
            timeout=self.timeout, retry=self.retry, reconcile_window=self.reconcile_window,
            busy_timeout=self.busy_timeout if busy_timeout is None else float(busy_timeout))
        return self._submitter.submit(self._prepare(model, params), settings)

    def run(self, model: str, *, on_update: UpdateCallback | None = None,
            timeout: float | None = None, on_timeout: str | None = None,
            cancel_event: threading.Event | None = None, detach_on_interrupt: bool = False,
            busy_timeout: float | None = None, reuse: bool | None = None,
            **params: Any) -> Result:
        """Submit and wait: returns the `Result` with its images downloaded.

        ``reuse`` (default: the client's): a request already run, with an explicit seed,
        returns that run's `Result` from the ledger without sending anything (``cost`` 0,
        ``reused`` True; see `reusable`).

        Example:
            >>> result = client.run("black-forest-labs/flux-2-flex", prompt="a fox",
            ...                     on_update=lambda u: print(u.label))
            >>> result.images[0]
        """
        if self.reuse if reuse is None else reuse:
            found = self.reusable(model, **params)
            if found is not None:
                emit(on_update, TaskUpdate(status="reused", label=f"reused task {found.task_id}",
                                           elapsed=0.0, task_id=found.task_id))
                return found
        emit(on_update, TaskUpdate(status="submitting", label="submitting", elapsed=0.0))
        task = self.submit(model, busy_timeout=busy_timeout, **params)
        return self.wait(task, on_update=on_update, timeout=timeout, on_timeout=on_timeout,
                         cancel_event=cancel_event, detach_on_interrupt=detach_on_interrupt)

    def reusable(self, model: str, **params: Any) -> Result | None:
        """The `Result` of a succeeded earlier run of this very request, or None: same
        model, same parameters (defaults filled), same reference images by SHA-256, a seed
        given explicitly, the same kind of server, outputs still in the cache. Nothing is
        sent; the result has ``cost`` 0 and ``reused`` True.

        Raises:
            ValidationError: a parameter breaks the model's rules.

        Example:
            >>> client.reusable("black-forest-labs/flux-2-flex", prompt="a fox", seed=7)
            Result(task='5012', ..., cost=0.0, reused=True)
        """
        prepared = self._prepare(model, dict(params))
        return find_reusable(self._ledger, self.cache, prepared, params,
                             sandbox=self.is_sandbox)

    def wait(self, task: Task | str, *, on_update: UpdateCallback | None = None,
             timeout: float | None = None, on_timeout: str | None = None,
             cancel_event: threading.Event | None = None,
             detach_on_interrupt: bool = False,
             detach_event: threading.Event | None = None) -> Result:
        """Follow a task to its end and return its `Result` (outputs downloaded).

        Args:
            task: a `Task`, a task token, or a task id (all digits).
            on_update: called on this thread with each `TaskUpdate`.
            timeout: seconds for the whole wait (default: the client's ``wait_timeout``).
            on_timeout: ``"cancel"`` or ``"detach"`` (default: the client's).
            cancel_event: set it (from any thread) to cancel the task; seen within 100 ms.
            detach_on_interrupt: on Ctrl-C leave the task running instead of cancelling it.
            detach_event: set it (from any thread) to stop waiting and leave the task
                running (e.g. the server cannot be reached); raises `TaskTimeout` with
                ``detached=True`` and keeps the task pending for ``resume()``.

        Raises:
            TaskFailed: the task ended with a non-zero exit code (``debugerror`` attached),
                or the API marked it ``task_error``.
            Moderated: moderation refused the prompt, a reference or the output.
            TaskCancelled: it was cancelled (here, elsewhere, or by ``cancel_event``).
            TaskTimeout: the wait ran out (``detached`` tells if the task still runs).
            KeyboardInterrupt: re-raised after cancelling the task (or detaching).

        Example:
            >>> result = client.wait(task.token, timeout=120, on_timeout="detach")
        """
        policy = on_timeout or self.on_timeout
        if policy not in ("cancel", "detach"):
            raise ValueError(f"on_timeout must be 'cancel' or 'detach', not {policy!r}")
        handle = self._lookup.task_for(task, self.retry)
        settings = WaitSettings(self.retry, self._socket_url if self.use_socket else None,
                                self.follow_config)
        return self._waiter.wait(
            handle, settings, limit=self.wait_timeout if timeout is None else timeout,
            policy=policy, on_update=on_update, cancel_event=cancel_event,
            detach_on_interrupt=detach_on_interrupt, detach_event=detach_event)

    # -- reading, cancelling -------------------------------------------------------------
    def detail(self, task: Task | str) -> dict[str, Any]:
        """The task's raw Task/Detail record.

        Args:
            task: a `Task`, a token, or an id (all digits).

        Raises:
            NotFound: no such task.

        Example:
            >>> client.detail(task)["status"]
            'task_output'
        """
        return self._lookup.detail(task, self.retry)

    def cancel(self, task: Task | str) -> dict[str, Any]:
        """Stop a task: Cancel while it is queued, Kill once it runs; returns the final
        record (``task_cancel``, or the terminal state it reached first).

        Example:
            >>> client.cancel(task)["status"]
            'task_cancel'
        """
        return self._stopper.cancel(self._lookup.task_for(task, self.retry), self.retry)

    def kill(self, task: Task | str) -> dict[str, Any]:
        """Kill a running task and confirm; returns the final record."""
        return self._stopper.kill(self._lookup.task_for(task, self.retry), self.retry)
