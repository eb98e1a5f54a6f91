"""One error hierarchy for the whole package.

Every error's message is safe to show and to log: it never holds a key or a secret
(`WiroError` applies `redaction.redact` to every text argument, whatever built the error).

Example:
    >>> try:
    ...     client.run("black-forest-labs/flux-2-flex", prompt="", steps=80)
    ... except ValidationError as err:
    ...     print(err.field, err.value, err.rule)
"""

from __future__ import annotations

from typing import Any

from .redaction import redact as _redact
from .redaction import redact_data as _redact_data

__all__ = [
    "AlreadyRun",
    "ApiError",
    "AuthError",
    "BudgetExceeded",
    "CancelRefused",
    "ConcurrencyLimit",
    "ConfigError",
    "InsufficientBalance",
    "InvalidRows",
    "JobBusy",
    "JobChanged",
    "ModelNotFound",
    "Moderated",
    "NetworkError",
    "NotFound",
    "OutputError",
    "RunOutcomeUnknown",
    "TaskCancelled",
    "TaskError",
    "TaskFailed",
    "TaskTimeout",
    "ValidationError",
    "WiroError",
]


class WiroError(Exception):
    """Base of every error raised by wiro_widgets.

    Text arguments are redacted here, once for every subclass, so ``str``, ``repr`` and
    tracebacks never show a registered key or secret, whatever text built the error.
    """

    def __init__(self, *args: object) -> None:
        super().__init__(*(_redact(a) if isinstance(a, str) else a for a in args))


class ConfigError(WiroError):
    """Missing or malformed credentials, URLs or settings."""


class ValidationError(WiroError, ValueError):
    """A parameter breaks the model's spec; raised before anything is sent.

    Attributes:
        field: the Python (snake_case) name of the parameter.
        value: the offending value (shortened in the message when long).
        rule: what is allowed, in plain words.
    """

    def __init__(self, field: str, value: Any, rule: str) -> None:
        self.field = _redact(field)
        # A key pasted into a parameter must not survive in the error either.
        self.value = _redact(value) if isinstance(value, str) else value
        self.rule = _redact(rule)
        super().__init__(f"{field}={_short_repr(value)}: {rule}")


class BudgetExceeded(WiroError):
    """Submitting would pass the client's budget; nothing was sent."""

    def __init__(self, message: str, *, spent: float, estimate: float, budget: float) -> None:
        self.spent = spent
        self.estimate = estimate
        self.budget = budget
        super().__init__(message)


class ApiError(WiroError):
    """The API answered with `result: false` (or an HTTP error with the Wiro envelope).

    Attributes:
        code: Wiro's error code (0 validation, 1 not found, 96 concurrency, 97 balance,
            98 sign-in, 99 bearer), or None when the body carried none.
        message: the server's message, with any secret removed.
        http_status: the HTTP status of the response.
        endpoint: the path that was called, e.g. ``/Task/Detail``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: int | None = None,
        http_status: int | None = None,
        endpoint: str = "",
    ) -> None:
        self.code = code
        self.message = _redact(message)
        self.http_status = http_status
        self.endpoint = endpoint
        where = f" from {endpoint}" if endpoint else ""
        status = f" (HTTP {http_status})" if http_status is not None else ""
        code_text = f"code {code}: " if code is not None else ""
        super().__init__(f"{code_text}{message}{where}{status}")


class AuthError(ApiError):
    """The API refused the credentials (HTTP 401, or code 99)."""


class ConcurrencyLimit(ApiError):
    """Too many active tasks for this project (code 96); retry later."""

    retry_after: float | None = None


class InsufficientBalance(ApiError):
    """The account balance is too low to run (code 97)."""


class NotFound(ApiError):
    """Unknown model or task (code 1)."""


class CancelRefused(ApiError):
    """A Cancel or Kill did not stop the task: the server refused it (``result: false``,
    e.g. code 1 "Task could not be killed: ..."), or accepted it while Task/Detail never
    came to say ``task_cancel``. The task may still run, and bill.

    An `ApiError`, not a `TaskError`: a `TaskError` says how a task *ended*, and this one
    has not ended (it stays pending in the ledger, so ``client.resume()`` still collects
    it). Like Wiro's own clients, which raise their API error on a refused Kill, the
    server's refusal text is the message.

    Attributes:
        task_id, token: the task that may still run.
        status: its last status seen in Task/Detail.
        refused: True when the server refused; False when it accepted but did not stop.
    """

    def __init__(self, message: str, *, task_id: str | None = None,
                 token: str | None = None, status: str = "", refused: bool = True,
                 code: int | None = None, http_status: int | None = None,
                 endpoint: str = "") -> None:
        self.task_id = task_id
        self.token = token
        self.status = status
        self.refused = refused
        super().__init__(message, code=code, http_status=http_status, endpoint=endpoint)


class ModelNotFound(NotFound):
    """The API does not know the model; ``closest`` holds the nearest names from Tool/List."""

    def __init__(self, message: str, *, closest: tuple[str, ...] = (), **kwargs: Any) -> None:
        self.closest = closest
        super().__init__(message, **kwargs)


class NetworkError(WiroError):
    """Transport failure after retries.

    Attributes:
        task_may_exist: True when a Run may have reached the server, so a task (and a
            charge) may exist even though no answer came back. Always True when
            ``task_id`` is known: that task exists.
        task_id: the task id when known.
    """

    def __init__(
        self, message: str, *, task_may_exist: bool = False, task_id: str | None = None
    ) -> None:
        # An error that names a task must never read as "nothing was created".
        self.task_may_exist = task_may_exist or bool(task_id)
        self.task_id = task_id
        super().__init__(message)


class RunOutcomeUnknown(NetworkError):
    """A Run was sent but its answer was lost, and no matching task could be found yet.

    A task may exist on the server and bill. The Run is never sent again by itself: the
    ledger keeps a ``run_unknown`` entry, and ``client.history()`` / ``client.resume()``
    adopt the task once ``Task/List`` shows it.

    Attributes:
        model: the model the Run was for.
        fingerprint: a short hash of the parameters sent (the same in the ledger entry).
        sent_at: Unix time the Run was sent (this computer's clock).
        reason: how the answer was lost (``ReadTimeout``, ``HTTP 504``, ...).
        run_id: the ledger entry's id.
    """

    def __init__(self, message: str, *, model: str = "", fingerprint: str = "",
                 sent_at: float | None = None, reason: str = "", run_id: str = "") -> None:
        self.model = model
        self.fingerprint = fingerprint
        self.sent_at = sent_at
        self.reason = reason
        self.run_id = run_id
        super().__init__(message, task_may_exist=True)


class OutputError(NetworkError):
    """The task succeeded (and is billed), but its outputs are not in hand: a download failed
    or was stopped, or an output was refused (larger than the client reads, an image over
    the pixel limit or not one it decodes, a damaged file).

    Nothing is lost: the task stays pending in the ledger, so ``client.wait(err.token)`` or
    ``client.resume()`` tries again. It is a `NetworkError` because it means what a network
    failure after a Run means: a task exists, do not run again, collect it.

    Attributes:
        token: the task token, for ``client.wait(token)``.
        reason: what went wrong, in words.
    """

    def __init__(self, message: str, *, task_id: str, token: str, reason: str = "") -> None:
        self.token = token
        self.reason = _redact(reason)
        super().__init__(message, task_may_exist=True, task_id=task_id)


class TaskError(WiroError):
    """A task reached a state other than success. Carries its id and token."""

    def __init__(self, message: str, *, task_id: str | None = None, token: str | None = None,
                 record: dict[str, Any] | None = None) -> None:
        self.task_id = task_id
        self.token = token
        self.record = _redact_data(record or {})
        suffix = f" (task {task_id})" if task_id else ""
        super().__init__(f"{message}{suffix}")


class TaskFailed(TaskError):
    """The task ended with a non-zero ``pexit``; ``debugerror`` holds the reason."""

    def __init__(self, message: str, *, pexit: str = "", debugerror: str = "",
                 task_id: str | None = None, token: str | None = None,
                 record: dict[str, Any] | None = None) -> None:
        self.pexit = pexit
        self.debugerror = _redact(debugerror)
        super().__init__(message, task_id=task_id, token=token, record=record)


class Moderated(TaskFailed):
    """The prompt, a reference image or the output was refused by moderation."""


class TaskCancelled(TaskError):
    """The task ended in ``task_cancel`` (by Cancel, Kill, Ctrl-C or a timeout)."""


class TaskTimeout(TaskError):
    """The overall wait ran out. With ``on_timeout="detach"`` the task is still running:
    resume it with ``client.wait(err.token)``."""

    def __init__(self, message: str, *, detached: bool, task_id: str | None = None,
                 token: str | None = None) -> None:
        self.detached = detached
        super().__init__(message, task_id=task_id, token=token)


class AlreadyRun(WiroError):
    """The same runs already finished (or still run) according to the ledger: sending them
    again would bill them again, so nothing was sent.

    Attributes:
        tasks: the task ids of the earlier identical runs.
    """

    def __init__(self, message: str, *, tasks: tuple[str, ...] = ()) -> None:
        self.tasks = tasks
        super().__init__(message)


class InvalidRows(WiroError, ValueError):
    """Rows of a batch break the model's rules; nothing was sent. Every bad row is listed
    at once (fix them, or pass ``skip_invalid=True`` to run the others).

    Attributes:
        problems: (line, field, value, rule) per problem: the line in the batch file (or
            the item's position, from 1, in an iterable), the parameter, its value, and
            what is allowed.
    """

    #: Problems named in the message (all of them are in ``problems``).
    SHOWN = 30

    def __init__(self, problems: list[tuple[int, str, Any, str]], *, where: str = "line",
                 rows: int = 0) -> None:
        # Redacted before shortening: a key cut in half by the shortened value would no
        # longer be found by the redaction of the message.
        self.problems = [(line, _redact(field), _redact(value) if isinstance(value, str)
                          else value, _redact(rule)) for line, field, value, rule in problems]
        lines = [f"  {where} {line}: {field}={_short_repr(value)}: {rule}"
                 for line, field, value, rule in self.problems[: self.SHOWN]]
        more = len(self.problems) - self.SHOWN
        if more > 0:
            lines.append(f"  ... and {more} more (all in .problems)")
        bad = len({line for line, *_ in self.problems})
        of = f" of {rows}" if rows else ""
        super().__init__(
            f"{bad}{of} rows break the model's rules; nothing was sent:\n" + "\n".join(lines)
            + "\nFix them, or pass skip_invalid=True to run the other rows.")


class JobBusy(WiroError):
    """The named sweep or batch is running in another process (or thread) now."""


class JobChanged(WiroError):
    """A named batch (or sweep) was started before with other rows: resuming it would mix
    two different jobs, so nothing was sent. Use another name, or restore the rows."""


def _short_repr(value: Any, limit: int = 80) -> str:
    text = repr(value)
    if len(text) <= limit:
        return text
    return f"{text[: limit - 20]}...<{len(text)} chars>"
