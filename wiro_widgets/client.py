"""`WiroClient`: the synchronous client the panel, the research helpers and notebooks drive.

It validates parameters against the model's spec before anything is sent, streams reference
images, submits without ever paying twice by accident, follows the task live (WebSocket with a
polling fallback), downloads the outputs at once into a local cache, and records every task in
a ledger so it can be listed and resumed after a restart.

Example:
    >>> from wiro_widgets import WiroClient
    >>> client = WiroClient()                     # WIRO_API_KEY / WIRO_API_SECRET
    >>> result = client.run("black-forest-labs/flux-2-flex", prompt="a lighthouse at dusk",
    ...                     input_images=["beach.jpg"], steps=28, on_update=print)
    >>> result.images[0].size, result.seed, result.cost
"""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import platform
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from . import __version__
from .auth import get_logger, load_credentials, redact
from .errors import (
    ApiError,
    BudgetExceeded,
    ConcurrencyLimit,
    ConfigError,
    Moderated,
    NetworkError,
    NotFound,
    RunOutcomeUnknown,
    TaskCancelled,
    TaskFailed,
    TaskTimeout,
    ValidationError,
)
from .images import IMAGE_TYPES, sniff_image_type
from .inputs import Reference, RequestBody, build_body, is_reference_like, normalize_references
from .ledger import Ledger, OutputCache
from .live import FollowConfig, FollowStopped, UnknownStatus, emit, follow, is_loopback_url
from .results import STATUS_ORDER, TERMINAL_STATUSES, Output, Result, Task, TaskUpdate
from .schema import ModelSpec
from .specs import get_spec
from .transport import (
    DEFAULT_TIMEOUT,
    READ_RETRY,
    RetryPolicy,
    Transient,
    Transport,
    backoff_delay,
)

if TYPE_CHECKING:
    from .sweep import Sweep

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_SOCKET_URL", "WiroClient"]

log = get_logger("wiro_widgets")

DEFAULT_BASE_URL = "https://api.wiro.ai/v1"
DEFAULT_SOCKET_URL = "wss://socket.wiro.ai/v1"

UpdateCallback = Callable[[TaskUpdate], None]

_MODEL = re.compile(r"[A-Za-z0-9][\w.-]*/[A-Za-z0-9][\w.-]*")
_QUEUED = frozenset(STATUS_ORDER[: STATUS_ORDER.index("task_assign")])
_TIMESTAMPS = (
    ("createtime", "task_queue"),
    ("accepttime", "task_accept"),
    ("preprocessstarttime", "task_preprocess_start"),
    ("preprocessendtime", "task_preprocess_end"),
    ("assigntime", "task_assign"),
    ("starttime", "task_start"),
    ("endtime", "task_end"),
    ("postprocessstarttime", "task_postprocess_start"),
    ("postprocessendtime", "task_postprocess_end"),
    ("canceltime", "task_cancel"),
)
#: Run is re-sent after a connection that was refused before anything was sent, at most
#: this many times.
_REFUSED_RESENDS = 3
#: After an ambiguous Run failure that reconciliation proved harmless, at most this many
#: more Runs are sent.
_AMBIGUOUS_RESENDS = 2
#: Server clocks may differ from ours; tasks created this long before the submit still match.
_CLOCK_SKEW = 2.0


@dataclass
class _Prepared:
    """A validated submission: what goes on the wire and what the ledger keeps."""

    model: str
    body: RequestBody
    params: dict[str, Any]
    estimate: float | None
    file_fields: frozenset[str] = field(default_factory=frozenset)


class WiroClient:
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
    ) -> None:
        self._credentials = load_credentials(api_key, api_secret)
        self._base_url = _check_url(base_url or os.environ.get("WIRO_BASE_URL")
                                    or DEFAULT_BASE_URL, ("http", "https"), "base_url")
        self._socket_url = _check_url(socket_url or os.environ.get("WIRO_SOCKET_URL")
                                      or DEFAULT_SOCKET_URL, ("ws", "wss"), "socket_url")
        if on_timeout not in ("cancel", "detach"):
            raise ConfigError(f"on_timeout must be 'cancel' or 'detach', not {on_timeout!r}")
        if budget is not None and (not math.isfinite(budget) or budget < 0):
            raise ConfigError(f"budget must be a non-negative number of USD, not {budget!r}")
        self.timeout = (float(timeout[0]), float(timeout[1]))
        self.wait_timeout = wait_timeout
        self.on_timeout = on_timeout
        self.use_socket = use_socket
        self.busy_timeout = float(busy_timeout)
        self.retry = retry or READ_RETRY
        self.follow_config = follow_config or FollowConfig()
        #: Seconds over which an ambiguous Run failure is reconciled before a re-send.
        self.reconcile_window = 2.0
        self._transport = Transport(self._credentials, self._base_url, timeout=self.timeout)
        self._home = home
        self._ledger = Ledger(home) if ledger else None
        self._cache: OutputCache | None = None
        self._budget = budget
        self._lock = threading.Lock()
        self._spent = 0.0
        self._running: dict[object, float] = {}
        self._known_ids: set[str] = set()

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
        with self._lock:
            return round(self._spent, 9)

    @property
    def budget(self) -> float | None:
        return self._budget

    @budget.setter
    def budget(self, value: float | None) -> None:
        if value is not None and (not math.isfinite(value) or value < 0):
            raise ConfigError(f"budget must be a non-negative number of USD, not {value!r}")
        self._budget = value

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
        """The model's spec, or None when this package does not know it.

        Example:
            >>> client.spec("black-forest-labs/flux-2-flex").param("steps").maximum
            50
        """
        return get_spec(model)

    def validate(self, model: str, **params: Any) -> dict[str, Any]:
        """Check parameters and reference images locally (no network).

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
        """A USD estimate for one run (None for models without a price).

        Example:
            >>> client.estimate_cost("black-forest-labs/flux-2-flex", prompt="a", width=512,
            ...                      height=512)
            0.015729
        """
        spec = get_spec(model)
        if spec is None:
            return None
        return spec.estimate_cost(spec.validate(params))

    def tool_detail(self, model: str) -> dict[str, Any]:
        """The model's live description from ``Tool/Detail`` (parameters, price rules).

        Raises:
            NotFound: the API does not know the model.

        Example:
            >>> client.tool_detail("black-forest-labs/flux-2-flex")["parameters"][0]["items"]
        """
        owner, _, project = model.strip().strip("/").partition("/")
        envelope = self._transport.post("/Tool/Detail", {"slugowner": owner,
                                                         "slugproject": project},
                                        retry=self.retry)
        tools = envelope.get("tool")
        if not isinstance(tools, list) or not tools or not isinstance(tools[0], dict):
            raise NotFound(f"no tool {model!r}", code=1, endpoint="/Tool/Detail")
        return dict(tools[0])

    def _prepare(self, model: str, params: Mapping[str, Any]) -> _Prepared:
        model = model.strip().strip("/") if isinstance(model, str) else model
        if not isinstance(model, str) or not _MODEL.fullmatch(model):
            raise ValidationError("model", model, "must be 'owner/model', e.g. "
                                  "'black-forest-labs/flux-2-flex'")
        params = dict(params)
        callback = _check_callback(params.pop("callback_url", None))
        spec = get_spec(model)
        if spec is None:
            prepared = _prepare_unknown(model, params)
            if callback:
                prepared.body = build_body({**prepared.body.fields, "callbackUrl": callback},
                                           prepared.body.files)
                prepared.params["callback_url"] = callback
            return prepared
        py = spec.validate(params)
        file_param = spec.file_param
        files: dict[str, list[Reference]] = {}
        shown = dict(py)
        if file_param is not None:
            refs = normalize_references(py.pop(file_param.py_name, []), file_param.py_name)
            if refs:
                files[file_param.name] = refs
            shown[file_param.py_name] = [r.descriptor() for r in refs]
        wire = spec.to_wire(py)
        if callback:
            # A Run option of every model rather than a model input: Wiro POSTs the task there.
            wire["callbackUrl"] = callback
            shown["callback_url"] = callback
        body = build_body(wire, files)
        return _Prepared(model=model, body=body, params=shown,
                         estimate=spec.estimate_cost(shown),
                         file_fields=frozenset({file_param.name} if file_param else ()))

    # -- submitting ----------------------------------------------------------------------
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
        prepared = self._prepare(model, params)
        reservation = self._reserve(prepared.estimate)
        try:
            envelope, started, adopted = self._send_run(
                prepared, self.busy_timeout if busy_timeout is None else float(busy_timeout))
        except RunOutcomeUnknown:
            # A task may exist and bill: its estimate keeps counting against the budget.
            raise
        except BaseException:
            self._release(reservation)
            raise
        task_id = str(envelope.get("taskid") or "")
        token = str(envelope.get("socketaccesstoken") or "")
        if not task_id or not token:
            self._release(reservation)
            raise ApiError("Run answered without a task id or token",
                           endpoint=f"/Run/{prepared.model}")
        with self._lock:
            self._known_ids.add(task_id)
            self._running[token] = self._running.pop(reservation, 0.0)
        task = Task(id=task_id, token=token, model=prepared.model, params=prepared.params,
                    submitted_at=started)
        self._write("submitted", task_id=task_id, token=token, model=prepared.model,
                    params=prepared.params, estimate=prepared.estimate, adopted=adopted,
                    submitted_at=started, client=self._client_info())
        log.debug("submitted task %s (%s)%s", task_id, prepared.model,
                  " (adopted after a lost answer)" if adopted else "")
        return task

    def _reserve(self, estimate: float | None) -> object:
        key = object()
        with self._lock:
            if self._budget is not None:
                running = sum(self._running.values())
                cost = estimate or 0.0
                if self._spent + running + cost > self._budget + 1e-9:
                    raise BudgetExceeded(
                        f"this run (est. ${cost:.4f}) could pass the budget of "
                        f"${self._budget:.4f}: ${self._spent:.4f} spent and ${running:.4f} "
                        "estimated for tasks still running; nothing was sent",
                        spent=self._spent, estimate=cost, budget=self._budget)
            self._running[key] = estimate or 0.0
        return key

    def _release(self, key: object) -> None:
        with self._lock:
            self._running.pop(key, None)

    def _send_run(self, prepared: _Prepared,
                  busy_timeout: float) -> tuple[dict[str, Any], float, bool]:
        """POST Run without ever creating two tasks for one submit.

        Returns:
            (envelope with ``taskid``/``socketaccesstoken``, Unix time of the submit,
            whether the task was adopted by reconciliation).
        """
        endpoint = f"/Run/{prepared.model}"
        started = time.time()
        timeout = self.timeout
        if prepared.body.size_hint() > 8 * 1024 * 1024:
            timeout = (timeout[0], max(timeout[1], 120.0))
        try:
            return self._run_attempts(prepared, endpoint, started, busy_timeout, timeout)
        except KeyboardInterrupt:
            self._write("run_unknown", model=prepared.model, params=prepared.params,
                        message="interrupted while the Run was being sent")
            log.warning("Interrupted while submitting to %s: a task may have been "
                        "created; check client.history() before running again",
                        prepared.model)
            raise

    def _run_attempts(self, prepared: _Prepared, endpoint: str, started: float,
                      busy_timeout: float, timeout: tuple[float, float]
                      ) -> tuple[dict[str, Any], float, bool]:
        busy_deadline = time.monotonic() + max(0.0, busy_timeout)
        refused = resent = attempt = 0
        while True:
            attempt += 1
            try:
                envelope = self._transport.post_once(endpoint, body=prepared.body.open,
                                                     timeout=timeout, attempt=attempt)
                return envelope, started, False
            except Transient as fault:
                if isinstance(fault.error, ConcurrencyLimit) or fault.http_status == 429:
                    # The server refused to start anything: waiting and asking again is safe.
                    delay = backoff_delay(attempt, self.retry, fault.retry_after)
                    if time.monotonic() + delay > busy_deadline:
                        raise (fault.error or ApiError("HTTP 429", http_status=429,
                                                       endpoint=endpoint)) from None
                    log.debug("Run busy (%s); retrying in %.2fs", fault.reason, delay)
                    time.sleep(delay)
                    continue
                if not fault.sent:
                    refused += 1
                    if refused > _REFUSED_RESENDS:
                        raise NetworkError(
                            f"could not connect to {self._base_url} ({fault.reason}); "
                            "nothing was sent", task_may_exist=False) from None
                    time.sleep(backoff_delay(refused, self.retry))
                    continue
                window = self.reconcile_window
                if fault.reason == "ReadTimeout":
                    # A slow server may still create the task after we stopped reading:
                    # keep looking for twice the read timeout (at most 20 s).
                    window = max(window, min(2 * timeout[1], 20.0))
                log.debug("Run outcome unknown (%s); looking for the task", fault.reason)
                found = self._reconcile(prepared, started, window, fault.reason)
                if found is not None:
                    envelope = {"taskid": found.get("id"),
                                "socketaccesstoken": found.get("socketaccesstoken")}
                    return envelope, started, True
                if resent >= _AMBIGUOUS_RESENDS:
                    raise NetworkError(
                        f"Run failed {attempt} times ({fault.reason}); no task was created",
                        task_may_exist=False) from None
                resent += 1
                log.debug("no task was created; sending Run again (%d)", resent)

    def _reconcile(self, prepared: _Prepared, started: float, window: float,
                   reason: str) -> dict[str, Any] | None:
        """Find the task an ambiguous Run may have created; None when provably none."""
        deadline = time.monotonic() + window
        checks = 0
        while True:
            checks += 1
            try:
                envelope = self._transport.post(
                    "/Task/List", {"type": "model", "sort": "id", "order": "DESC",
                                   "start": "0", "limit": "50"}, retry=self.retry)
            except (ApiError, NetworkError) as err:
                message = (f"the Run's answer was lost ({reason}) and the task list could "
                           f"not be read ({err}); a task may exist: check client.history() "
                           "or the Wiro dashboard before running again")
                self._write("run_unknown", model=prepared.model, params=prepared.params,
                            message=message)
                raise RunOutcomeUnknown(message) from None
            tasks = envelope.get("tasklist")
            uncertain = False
            for record in tasks if isinstance(tasks, list) else []:
                if not isinstance(record, dict):
                    continue
                verdict = self._claim(record, prepared, started)
                if verdict is True:
                    return record
                uncertain = uncertain or verdict is None
            if uncertain:
                # A task that could be ours but shows no parameters to compare: sending
                # again could pay twice, so say so instead of guessing.
                message = (f"the Run's answer was lost ({reason}) and a recent task could "
                           "not be told apart from it; check client.history() or the Wiro "
                           "dashboard before running again")
                self._write("run_unknown", model=prepared.model, params=prepared.params,
                            message=message)
                raise RunOutcomeUnknown(message)
            if checks >= 2 and time.monotonic() >= deadline:
                return None
            time.sleep(max(0.0, min(1.0, deadline - time.monotonic())))

    def _claim(self, record: Mapping[str, Any], prepared: _Prepared,
               started: float) -> bool | None:
        """True: this record is the lost Run's task (now claimed). False: it is not.
        None: it might be, but its parameters cannot be compared."""
        task_id = str(record.get("id") or "")
        if not task_id or not record.get("socketaccesstoken"):
            return False
        owner, project = record.get("modelslugowner"), record.get("modelslugproject")
        if owner and project and f"{owner}/{project}" != prepared.model:
            return False
        created = _float(record.get("createtime"))
        if created is None or created < math.floor(started) - _CLOCK_SKEW:
            return False
        with self._lock:
            if task_id in self._known_ids:
                return False
        parameters = record.get("parameters")
        if not isinstance(parameters, Mapping) or not parameters:
            return None
        # The callback URL is kept apart from a task's parameters (``callbackurl``), and
        # empty values are not stored.
        sent = {k: v for k, v in prepared.body.fields.items()
                if k not in prepared.file_fields and k != "callbackUrl"
                and v not in ("", [], None)}
        if not _params_match(sent, parameters):
            return False
        with self._lock:
            if task_id in self._known_ids:
                return False
            self._known_ids.add(task_id)
        return True

    # -- following -----------------------------------------------------------------------
    def run(self, model: str, *, on_update: UpdateCallback | None = None,
            timeout: float | None = None, on_timeout: str | None = None,
            cancel_event: threading.Event | None = None, detach_on_interrupt: bool = False,
            busy_timeout: float | None = None, **params: Any) -> Result:
        """Submit and wait: returns the `Result` with its images downloaded.

        Example:
            >>> result = client.run("black-forest-labs/flux-2-flex", prompt="a fox",
            ...                     on_update=lambda u: print(u.label))
            >>> result.images[0]
        """
        emit(on_update, TaskUpdate(status="submitting", label="submitting", elapsed=0.0))
        task = self.submit(model, busy_timeout=busy_timeout, **params)
        return self.wait(task, on_update=on_update, timeout=timeout, on_timeout=on_timeout,
                         cancel_event=cancel_event, detach_on_interrupt=detach_on_interrupt)

    def wait(self, task: Task | str, *, on_update: UpdateCallback | None = None,
             timeout: float | None = None, on_timeout: str | None = None,
             cancel_event: threading.Event | None = None,
             detach_on_interrupt: bool = False) -> Result:
        """Follow a task to its end and return its `Result` (outputs downloaded).

        Args:
            task: a `Task`, a task token, or a task id (all digits).
            on_update: called on this thread with each `TaskUpdate`.
            timeout: seconds for the whole wait (default: the client's ``wait_timeout``).
            on_timeout: ``"cancel"`` or ``"detach"`` (default: the client's).
            cancel_event: set it (from any thread) to cancel the task; seen within 100 ms.
            detach_on_interrupt: on Ctrl-C leave the task running instead of cancelling it.

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
        task = self._task_for(task)
        limit = self.wait_timeout if timeout is None else timeout
        deadline = None if limit is None else time.monotonic() + max(0.0, float(limit))
        try:
            record = follow(
                detail=lambda: self._detail_record(task, self._short_retry()),
                token=task.token, task_id=task.id,
                socket_url=self._socket_url if self.use_socket else None,
                started_at=task.submitted_at or time.time(), on_update=on_update,
                deadline=deadline, cancel_event=cancel_event, config=self.follow_config,
                thread_cleanup=self._transport.release_thread)
        except FollowStopped as stop:
            return self._stopped(task, stop, policy, limit, on_update)
        except KeyboardInterrupt:
            self._interrupted(task, detach_on_interrupt)
            raise
        except UnknownStatus as err:
            self._finished(task, {"status": err.status}, "error", message=str(err))
            raise
        return self._conclude(task, record, on_update)

    def _stopped(self, task: Task, stop: FollowStopped, policy: str, limit: float | None,
                 on_update: UpdateCallback | None) -> Result:
        if stop.reason == "cancel":
            record = self._cancel_remote(task)
            if _succeeded(record):
                self._conclude(task, record, on_update)
                raise TaskCancelled("the task had already finished when the cancel arrived; "
                                    "its outputs are kept in the history",
                                    task_id=task.id, token=task.token, record=record)
            emit(on_update, _client_update(task, "task_cancel", "cancelled"))
            self._finished(task, record, "cancelled")
            raise TaskCancelled(f"cancelled while {stop.status or 'starting'}",
                                task_id=task.id, token=task.token, record=record)
        if policy == "detach":
            self._write("detached", task_id=task.id, token=task.token, reason="timeout",
                        status=stop.status)
            self._release(task.token)
            raise TaskTimeout(
                f"no result after {limit:g}s; the task is still running: resume with "
                f"client.wait({task.token!r})", detached=True, task_id=task.id,
                token=task.token)
        record = self._cancel_remote(task)
        if _succeeded(record):
            # It finished in the moment between the deadline and the cancel: keep it.
            return self._conclude(task, record, on_update)
        self._finished(task, record, "timeout")
        raise TaskTimeout(f"no result after {limit:g}s; the task was cancelled",
                          detached=False, task_id=task.id, token=task.token)

    def _interrupted(self, task: Task, detach: bool) -> None:
        if detach:
            self._write("detached", task_id=task.id, token=task.token, reason="interrupt")
            self._release(task.token)
            log.warning("Interrupted: task %s keeps running; resume with client.wait(%r)",
                        task.id, task.token)
            return
        try:
            record = self._cancel_remote(task, confirm_timeout=10.0)
        except KeyboardInterrupt:
            log.warning("Interrupted again: task %s may still be running (token %s)",
                        task.id, task.token)
            return
        except Exception as err:
            log.warning("Interrupted: could not stop task %s (%s); it may still be running",
                        task.id, err)
            return
        status = str(record.get("status") or "")
        cost = _float(record.get("totalcost")) or 0.0
        if _succeeded(record):
            # Finished just before the interrupt: leave it unfinished in the ledger so
            # resume() (or wait(token)) still collects its outputs.
            self._release(task.token)
            log.warning("Interrupted: task %s had already finished (billed $%.4f); collect "
                        "it with client.wait(%r) or client.resume()", task.id, cost,
                        task.token)
            return
        self._finished(task, record, _outcome(record))
        log.warning("Interrupted: task %s stopped on the server (%s); billed $%.4f",
                    task.id, status, cost)

    def _conclude(self, task: Task, record: dict[str, Any],
                  on_update: UpdateCallback | None) -> Result:
        status = str(record.get("status") or "")
        pexit = str(record.get("pexit") if record.get("pexit") is not None else "")
        debugerror = redact(str(record.get("debugerror") or "")).strip()
        if _succeeded(record):
            emit(on_update, _client_update(task, "downloading", "downloading"))
            try:
                outputs = self._download_outputs(record)
            except (ApiError, NetworkError) as err:
                self._finished(task, record, "succeeded", message=f"download failed: {err}")
                raise NetworkError(
                    f"task {task.id} succeeded but its outputs could not be downloaded "
                    f"({err}); try client.wait({task.token!r}) again soon (output URLs "
                    "expire)", task_id=task.id) from None
            self._finished(task, record, "succeeded", outputs=outputs)
            result = Result(
                task=task, outputs=tuple(outputs), params=dict(task.params),
                seed=_seed(task.params, record), status=status, timeline=_timeline(record),
                elapsed=_float(record.get("elapsedseconds")) or 0.0,
                wall_time=max(0.0, time.time() - task.submitted_at) if task.submitted_at
                else 0.0,
                cost=_float(record.get("totalcost")) or 0.0, record=record,
                sandbox=self.is_sandbox)
            return result
        outcome = _outcome(record)
        self._finished(task, record, outcome)
        reason = _first_line(debugerror)
        if outcome == "moderated":
            raise Moderated(f"refused by moderation: {reason}", pexit=pexit,
                            debugerror=debugerror, task_id=task.id, token=task.token,
                            record=record)
        if outcome == "cancelled":
            raise TaskCancelled("the task was cancelled", task_id=task.id, token=task.token,
                                record=record)
        if outcome == "error":
            raise TaskFailed(f"the task could not run: {reason or 'task_error'}", pexit=pexit,
                             debugerror=debugerror, task_id=task.id, token=task.token,
                             record=record)
        what = f"exit code {pexit}" if pexit else "no exit code"
        raise TaskFailed(f"the task failed ({what}): {reason or 'no error text'}",
                         pexit=pexit, debugerror=debugerror, task_id=task.id,
                         token=task.token, record=record)

    def _download_outputs(self, record: Mapping[str, Any]) -> list[Output]:
        outputs: list[Output] = []
        items = record.get("outputs")
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, dict) or not item.get("url"):
                continue
            name = str(item.get("name") or "output")
            url = str(item["url"])
            content_type = str(item.get("contenttype") or "")
            data = self._transport.download(
                url, retry=self.retry,
                check=functools.partial(_output_problem, size=_float(item.get("size")),
                                        content_type=content_type))
            suffix = Path(name).suffix.lower()[:8] if "." in name else ""
            digest, path = self.cache.put(data, suffix)
            outputs.append(Output(name=name, content_type=content_type,
                                  size=len(data), url=url, sha256=digest, path=str(path)))
        return outputs

    def _finished(self, task: Task, record: Mapping[str, Any] | None, outcome: str, *,
                  outputs: list[Output] | None = None, message: str = "") -> None:
        record = record or {}
        cost = _float(record.get("totalcost")) or 0.0
        with self._lock:
            self._running.pop(task.token, None)
            self._spent += cost
        self._write(
            "finished", task_id=task.id, token=task.token, model=task.model, outcome=outcome,
            status=str(record.get("status") or ""), pexit=str(record.get("pexit") or ""),
            elapsed=_float(record.get("elapsedseconds")), cost=cost,
            timeline=_timeline(record),
            outputs=[{"name": o.name, "content_type": o.content_type, "size": o.size,
                      "url": o.url, "sha256": o.sha256, "path": o.path}
                     for o in outputs] if outputs is not None else _raw_outputs(record),
            debugerror=redact(str(record.get("debugerror") or "")), message=message)

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
        return self._detail_record(task, self.retry)

    def _detail_record(self, task: Task | str, retry: RetryPolicy) -> dict[str, Any]:
        envelope = self._transport.post("/Task/Detail", _task_key(task), retry=retry)
        tasks = envelope.get("tasklist")
        if not isinstance(tasks, list) or not tasks or not isinstance(tasks[0], dict):
            raise NotFound("There is no task yet.", code=1, endpoint="/Task/Detail")
        return dict(tasks[0])

    def cancel(self, task: Task | str) -> dict[str, Any]:
        """Stop a task: Cancel while it is queued, Kill once it runs; returns the final
        record (``task_cancel``, or the terminal state it reached first).

        Example:
            >>> client.cancel(task)["status"]
            'task_cancel'
        """
        return self._cancel_remote(self._task_for(task))

    def kill(self, task: Task | str) -> dict[str, Any]:
        """Kill a running task and confirm; returns the final record."""
        resolved = self._task_for(task)
        self._send_stop("/Task/Kill", resolved)
        return self._confirm_stop(resolved, 15.0)

    def _cancel_remote(self, task: Task, confirm_timeout: float = 15.0) -> dict[str, Any]:
        record = self._detail_record(task, self.retry)
        status = str(record.get("status") or "")
        if status in TERMINAL_STATUSES:
            return record
        if status in _QUEUED and self._send_stop("/Task/Cancel", task):
            confirmed = self._confirm_stop(task, min(2.0, confirm_timeout), resend=False)
            if str(confirmed.get("status")) in TERMINAL_STATUSES:
                return confirmed
        self._send_stop("/Task/Kill", task)
        return self._confirm_stop(task, confirm_timeout)

    def _send_stop(self, endpoint: str, task: Task) -> bool:
        """Cancel/Kill are safe to repeat; False when the API refused (wrong state)."""
        key = "tasktoken" if endpoint == "/Task/Cancel" else "socketaccesstoken"
        try:
            self._transport.post(endpoint, {"taskid": task.id, key: task.token},
                                 retry=self._short_retry())
        except ApiError as err:
            log.debug("%s for task %s refused: %s", endpoint, task.id, err)
            return False
        except NetworkError as err:
            log.debug("%s for task %s failed: %s", endpoint, task.id, err)
            return False
        log.debug("%s sent for task %s", endpoint, task.id)
        return True

    def _confirm_stop(self, task: Task, timeout: float, *, resend: bool = True) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        delay, last_kill = 0.1, time.monotonic()
        while True:
            record = self._detail_record(task, self.retry)
            if str(record.get("status")) in TERMINAL_STATUSES or time.monotonic() >= deadline:
                return record
            if resend and time.monotonic() - last_kill > 3.0:
                self._send_stop("/Task/Kill", task)
                last_kill = time.monotonic()
            time.sleep(delay)
            delay = min(1.0, delay * 1.5)

    def _task_for(self, task: Task | str) -> Task:
        """A `Task` for a handle, token or id (reading Task/Detail for the last two)."""
        if isinstance(task, Task):
            return task
        if not isinstance(task, str) or not task.strip():
            raise ValueError(f"expected a Task, a task token or a task id, not {task!r}")
        record = self.detail(task.strip())
        task_id = str(record.get("id") or "")
        token = str(record.get("socketaccesstoken") or "")
        owner, project = record.get("modelslugowner"), record.get("modelslugproject")
        model = f"{owner}/{project}" if owner and project else ""
        entry = self._ledger.tasks().get(token) if self._ledger and token else None
        if entry and entry.get("params") is not None:
            params = dict(entry["params"])
            model = model or str(entry.get("model") or "")
            submitted = _float(entry.get("submitted_at")) or _float(record.get("createtime"))
        else:
            params = _params_from_record(model, record.get("parameters"))
            submitted = _float(record.get("createtime"))
        with self._lock:
            self._known_ids.add(task_id)
        return Task(id=task_id, token=token, model=model, params=params,
                    submitted_at=submitted or time.time())

    # -- research helpers (other modules) -------------------------------------------------
    def history(self, limit: int | None = None, model: str | None = None,
                since: float | None = None) -> list[Result]:
        """Past results from the ledger (see `wiro_widgets.history.load_history`)."""
        from .history import load_history

        return load_history(self, limit=limit, model=model, since=since)

    def resume(self, *, on_update: UpdateCallback | None = None,
               timeout: float | None = None) -> list[Result]:
        """Collect tasks left unfinished by an earlier session (see `history.resume`)."""
        from .history import resume

        return resume(self, on_update=on_update, timeout=timeout)

    def sweep(self, model: str, *, max_concurrency: int = 4,
              on_progress: Callable[..., None] | None = None, **params: Any) -> Sweep:
        """Run every combination of list-valued parameters (see `sweep.run_sweep`)."""
        from .sweep import run_sweep

        return run_sweep(self, model, max_concurrency=max_concurrency, on_progress=on_progress,
                         **params)

    # -- helpers -------------------------------------------------------------------------
    def _short_retry(self) -> RetryPolicy:
        """The read policy with a budget of at most 10 s: a poll that keeps failing is
        reported to the follower (which polls again) rather than retried for long."""
        return dataclasses.replace(self.retry, budget=min(self.retry.budget, 10.0))

    def _write(self, event: str, **fields: Any) -> None:
        if self._ledger is None:
            return
        try:
            self._ledger.append(event, **fields)
        except OSError as err:
            log.warning("could not write the ledger (%s): %s", self._ledger.path, err)

    def _client_info(self) -> dict[str, str]:
        return {"version": __version__, "base_url": self._base_url,
                "key": self._credentials.fingerprint(),
                "python": platform.python_version(), "platform": platform.system()}


# -- module helpers --------------------------------------------------------------------------


def _check_url(url: str, schemes: tuple[str, ...], name: str) -> str:
    url = url.strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme.lower() not in schemes or not parts.hostname:
        raise ConfigError(f"{name} must be a {' or '.join(schemes)} URL with a host, "
                          f"not {redact(url)!r}")
    try:
        _ = parts.port
    except ValueError:
        raise ConfigError(f"{name} has a bad port: {redact(url)!r}") from None
    return url


def _check_callback(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise ValidationError("callback_url", value, "must be an http(s) URL string")
    parts = urlsplit(value.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValidationError("callback_url", value, "must be an http(s) URL with a host")
    return value.strip()


def _prepare_unknown(model: str, params: Mapping[str, Any]) -> _Prepared:
    """Unknown models: names and values go as given; file-like values as file parts."""
    fields: dict[str, Any] = {}
    files: dict[str, list[Reference]] = {}
    shown: dict[str, Any] = {}
    for name, value in params.items():
        if value is None:
            continue
        items = value if isinstance(value, (list, tuple)) else [value]
        if items and any(is_reference_like(v) for v in items):
            refs = normalize_references(list(items), name)
            files[name] = refs
            shown[name] = [r.descriptor() for r in refs]
        else:
            fields[name] = list(value) if isinstance(value, tuple) else value
            shown[name] = fields[name]
    return _Prepared(model=model, body=build_body(fields, files), params=shown, estimate=None,
                     file_fields=frozenset(files))


def _task_key(task: Task | str) -> dict[str, str]:
    if isinstance(task, Task):
        return {"taskid": task.id} if task.id else {"tasktoken": task.token}
    text = str(task).strip()
    return {"taskid": text} if text.isdigit() else {"tasktoken": text}


def _succeeded(record: Mapping[str, Any]) -> bool:
    return (str(record.get("status")) == "task_postprocess_end"
            and str(record.get("pexit")) == "0")


def _outcome(record: Mapping[str, Any]) -> str:
    status = str(record.get("status") or "")
    if _succeeded(record):
        return "succeeded"
    if status == "task_cancel":
        return "cancelled"
    if status == "task_error":
        return "error"
    if "moderated" in str(record.get("debugerror") or "").lower():
        return "moderated"
    return "failed"


def _client_update(task: Task, status: str, label: str) -> TaskUpdate:
    return TaskUpdate(status=status, label=label,
                      elapsed=max(0.0, time.time() - task.submitted_at)
                      if task.submitted_at else 0.0,
                      task_id=task.id, token=task.token, source="client")


def _float(value: Any) -> float | None:
    if value is None or isinstance(value, bool) or value == "":
        return None
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _timeline(record: Mapping[str, Any]) -> dict[str, float]:
    timeline: dict[str, float] = {}
    for key, status in _TIMESTAMPS:
        when = _float(record.get(key))
        if when:
            timeline[status] = when
    return timeline


def _seed(params: Mapping[str, Any], record: Mapping[str, Any]) -> int | None:
    for source in (params, record.get("parameters") or {}):
        if isinstance(source, Mapping) and source.get("seed") not in (None, ""):
            value = _float(source.get("seed"))
            if value is not None:
                return int(value)
    return None


def _output_problem(data: bytes, size: float | None, content_type: str) -> str | None:
    """Why downloaded output bytes are not what the record announced, or None."""
    if size is not None and size > 0 and len(data) != int(size):
        return f"{len(data)} bytes where the task record says {int(size)}"
    if content_type in IMAGE_TYPES and sniff_image_type(data[:64]) != content_type:
        return f"not a {content_type} file"
    return None


def _first_line(text: str, limit: int = 300) -> str:
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    return line if len(line) <= limit else line[: limit - 3] + "..."


def _raw_outputs(record: Mapping[str, Any]) -> list[dict[str, Any]]:
    items = record.get("outputs")
    return [{"name": i.get("name"), "content_type": i.get("contenttype"),
             "size": _float(i.get("size")), "url": i.get("url")}
            for i in (items if isinstance(items, list) else []) if isinstance(i, dict)]


def _params_from_record(model: str, raw: Any) -> dict[str, Any]:
    """Python-named params from a record's ``parameters`` (references as URL descriptors)."""
    if not isinstance(raw, Mapping):
        return {}
    spec = get_spec(model) if model else None
    if spec is None:
        return dict(raw)
    params: dict[str, Any] = {}
    for name, value in raw.items():
        try:
            param = spec.param(name)
        except KeyError:
            continue
        if param.is_files:
            urls = value if isinstance(value, list) else [
                u for u in str(value or "").split(",") if u.strip()]
            params[param.py_name] = [
                {"name": str(u).rsplit("/", 1)[-1], "sha256": None, "size": None,
                 "source": "url", "url": str(u).strip(), "content_type": None} for u in urls]
        elif param.is_number:
            number = _float(value)
            if number is None:
                params[param.py_name] = value
            else:
                params[param.py_name] = (int(number) if param.kind.value == "number"
                                         else number)
        else:
            params[param.py_name] = value
    return params


def _params_match(sent: Mapping[str, Any], got: Any) -> bool:
    """Whether a task record's ``parameters`` carry every value a Run sent."""
    if not isinstance(got, Mapping):
        return False
    for name, value in sent.items():
        if name not in got or not _same_value(value, got[name]):
            return False
    return True


def _same_value(a: Any, b: Any) -> bool:
    if a == b:
        return True
    if isinstance(a, (list, tuple)):
        items = b if isinstance(b, (list, tuple)) else str(b).split(",")
        if len(a) != len(items):
            return False
        return all(_same_value(x, y) for x, y in zip(a, items, strict=True))
    if isinstance(a, bool) or isinstance(b, bool):
        return str(a).lower() == str(b).lower()
    x, y = _float(a), _float(b)
    if x is not None and y is not None:
        return math.isclose(x, y, rel_tol=1e-9, abs_tol=1e-9)
    return str(a).strip() == str(b).strip()
