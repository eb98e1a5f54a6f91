"""Plain words for every error a run can end with, and how to fix it.

Example:
    >>> explain(ConfigError("no API key"))
    ('No Wiro credentials: no API key', 'Set WIRO_API_KEY (and WIRO_API_SECRET) ...')
"""

from __future__ import annotations

import re

from ..errors import (
    AuthError,
    BudgetExceeded,
    CancelRefused,
    ConcurrencyLimit,
    ConfigError,
    InsufficientBalance,
    Moderated,
    NetworkError,
    NotFound,
    RunOutcomeUnknown,
    TaskCancelled,
    TaskFailed,
    TaskTimeout,
    ValidationError,
    WiroError,
)
from ..redaction import redact

__all__ = ["CHECK_HINT", "CONFIG_HINT", "REFUSED_HINT", "explain"]

#: What to do when a task's fate is not known: look for it, never send another.
CHECK_HINT = ("Press Check again to look for the task on the server and collect its "
              "image; nothing new is sent or billed.")
# How the client and the server start a moderation message; the panel says it once, itself.
_MODERATED = re.compile(r"^\s*(?:(?:refused by moderation|request moderated)\s*:?\s*)+",
                        re.IGNORECASE)

#: What to do when a Cancel was refused: the task goes on, and is kept.
REFUSED_HINT = ("The task is kept: press Check again to follow it and collect its result, or "
                "stop it from the Wiro dashboard.")

CONFIG_HINT = (
    "Set WIRO_API_KEY (and WIRO_API_SECRET for signed projects) in the environment before "
    "starting Jupyter, or pass a client: FluxPanel(WiroClient(api_key=..., api_secret=...)). "
    "To try the panel without an account, use the local sandbox: "
    "from wiro_widgets.sandbox import Sandbox; sb = Sandbox(); sb.start(); "
    "FluxPanel(sb.client())."
)


def explain(err: BaseException) -> tuple[str, str]:
    """A message and a hint for ``err``, safe to show (secrets redacted, not yet escaped).

    Example:
        >>> explain(TaskFailed("Generation failed: out of memory"))[0]
        'The run failed: Generation failed: out of memory'
    """
    text = redact(str(err))
    if isinstance(err, ValidationError):
        return (f"Not sent: {text}", "Fix the highlighted field and press Generate again.")
    if isinstance(err, ConfigError):
        return (f"No Wiro credentials: {text}", CONFIG_HINT)
    if isinstance(err, AuthError):
        return (f"Wiro refused the credentials: {text}",
                "Check WIRO_API_KEY / WIRO_API_SECRET for this project.")
    if isinstance(err, InsufficientBalance):
        return (f"The account balance is too low: {text}",
                "Top up the balance on wiro.ai, then press Generate again.")
    if isinstance(err, ConcurrencyLimit):
        return (f"Too many tasks are running for this project: {text}",
                "Wait for one to finish, then press Generate again.")
    if isinstance(err, CancelRefused):
        return (f"The server refused to stop the task; it may still be running (and billed): "
                f"{text}", REFUSED_HINT)
    if isinstance(err, NotFound):
        return (f"Not found: {text}", "Check the model name.")
    if isinstance(err, BudgetExceeded):
        return (f"Not sent, over budget: {text}", "Raise the client's budget or lower the size.")
    if isinstance(err, Moderated):
        # The server's text often starts "Request Moderated:"; say it once.
        text = _MODERATED.sub("", text, count=1) or text
        return (f"Refused by moderation: {text}",
                "Change the prompt or the reference images, or raise the safety tolerance.")
    if isinstance(err, TaskFailed):
        return (f"The run failed: {text}", "Your settings are kept: adjust and try again.")
    if isinstance(err, TaskTimeout):
        return (f"The run took too long: {text}",
                "It was cancelled on the server." if not err.detached else
                "The task may be still running on the server (and billing); it is kept: "
                "press Check again to collect it.")
    if isinstance(err, TaskCancelled):
        return ("Cancelled.", "")
    # A task may exist: another Generate would start (and bill) a second one beside it.
    if isinstance(err, RunOutcomeUnknown):
        return (f"The connection dropped after the request was sent, so whether a task "
                f"started is unknown: {text}", CHECK_HINT)
    if isinstance(err, NetworkError) and err.task_may_exist:
        if err.task_id:
            return (f"Could not reach Wiro: {text}",
                    f"Task {err.task_id} exists on the server: collect it with "
                    f"client.wait({err.task_id!r}), or {CHECK_HINT[0].lower()}{CHECK_HINT[1:]}")
        return (f"Could not reach Wiro: {text}",
                f"A task may exist on the server: {CHECK_HINT[0].lower()}{CHECK_HINT[1:]}")
    if isinstance(err, NetworkError):
        return (f"Could not reach Wiro: {text}", "Check the network, then press Generate again.")
    if isinstance(err, WiroError):
        return (f"The run failed: {text}", "")
    return (f"Unexpected error ({type(err).__name__}): {text}",
            "This is a bug in wiro_widgets; the form is kept, so you can try again.")
