"""A local Wiro server: the same API, no account, no network.

`Sandbox` runs an HTTP server and a WebSocket server on free loopback ports in background
threads. It checks Wiro's request signature, answers with Wiro's envelopes and string-typed
numbers, serves its catalogue of twelve real Wiro models (``Tool/Detail``, ``Tool/List``,
``Tool/Explore``), validates each model's parameters with the spec the client builds from
that record, walks each task through Wiro's status order with progress frames, and answers
with outputs of the model's kind marked SANDBOX: deterministic procedural images, a short
sample video, or LLM text. Use it for demos, notebooks and tests.

Usage:
    >>> from wiro_widgets.sandbox import Sandbox, Faults
    >>> with Sandbox(speed=5.0) as sb:
    ...     client = sb.client()                  # a WiroClient pointed at the sandbox
    ...     result = client.run("black-forest-labs/flux-2-flex", prompt="a red fox")
    ...     len(sb.tasks)                         # every Run the sandbox accepted
    1

From a shell: ``wiro-widgets sandbox`` prints the ``export WIRO_...`` lines to paste, then
serves until Ctrl-C. ``sb.env()`` gives the same variables as a dict.

Timing: ``speed`` divides every delay; at 1.0 a 50-step task takes about five seconds
(queued, preparing, one ``task_output`` progress frame per step, finishing). Tests use 20+.

Gates (for tests that must act at a known moment, not after a guessed sleep):
``sb.gate(status, step=None)`` holds every task that reaches ``status`` (for
``task_output``: that step's progress frame) while the gate is open, until the test
releases it. Task/Detail and the WebSocket show the held status; Cancel and Kill still
work and end the hold. Closing the gate (the end of its ``with`` block) and ``sb.stop()``
release every task it holds; with no gate open nothing is ever held::

    with sb.gate("task_queue") as gate:
        task = client.submit("black-forest-labs/flux-2-flex", prompt="a fox")
        gate.wait_reached(task.id, timeout=10)   # TimeoutError if it never gets there
        client.cancel(task)                      # certainly a Task/Cancel (still queued)

``gate.release(task_id)`` lets one task carry on (``gate.release()``: all held);
``gate.held`` and ``gate.reached`` list task ids. Holdable statuses: ``task_queue`` ..
``task_postprocess_start`` (not the terminal ones).

Replay (issue 16): ``Sandbox(replay="talk.wiropack", on_miss="sandbox", replay_speed=None)``
(CLI ``--replay FILE --on-miss --replay-speed``) answers a Run whose model, parameters and
reference images (by SHA-256) match a run of the pack (``wiro_widgets.pack``) with its real
outputs and recorded timeline, step frames included; the pack is checked at ``start()``
(``packfile.PackError``). Its record's ``description`` says
``wiro-widgets replay of task <id> from <pack>``; misses run as usual (``"sandbox"``) or
answer code 0 naming the closest recorded prompt (``"error"``). See `replay`.

Failure on purpose (prompt markers, case-insensitive):
    - ``nsfw`` with ``safetyTolerance`` <= 2: moderated. Ends ``task_postprocess_end`` with
      ``pexit "1"``, no outputs, ``totalcost "0"`` and ``debugerror`` starting
      ``Request Moderated:`` (a ``task_error`` frame carries the same text).
    - ``fail-me``: generation stops half-way; ``pexit "1"``, ``debugerror`` starting
      ``Generation failed:``.
    - ``error-me``: the task fails while preprocessing, before its model runs, and ends as
      the docs say every failure ends: ``task_postprocess_end`` with ``pexit "1"``,
      ``debugerror "Output folder creation failed"`` (a ``task_error`` frame carries the
      line). With ``Faults(task_error_status=True)`` it ends instead at Task/Detail status
      ``task_error`` with ``pexit ""`` (Wiro-MCP's reading), its last frame a
      ``task_error`` frame.

    ``task_error`` frames are stderr lines, never a verdict by themselves: only Task/Detail's
    final record decides. A task's ``debugerror`` is its whole stderr.

Faults (``Sandbox(faults=...)`` or ``sb.set_faults(...)`` at runtime; a `Faults` or a dict):
    - ``error_rate``: that fraction of HTTP responses (every request, output and file
      downloads included) is replaced by one of ``kinds``:
      ``"500"`` (500 envelope), ``"429"`` (429 envelope with ``Retry-After: retry_after``),
      ``"garbled"`` (HTTP 200 with cut-off JSON), ``"drop"`` (connection closed with no
      response), ``"stall"`` (held ``stall_seconds``, then answered normally). For Run the
      fault happens before a task is created.
    - ``latency``: seconds added to every HTTP response.
    - ``lost_run_rate``: the Run creates the task, then the connection is dropped with no
      answer (the task shows up in Task/List and ``sb.tasks``).
    - ``run_504_rate``: the Run creates the task, then a gateway answers HTTP 504 with an
      HTML page instead of Wiro's envelope; the task goes on.
    - ``list_delay``: a new task shows in Task/List only that many seconds after its Run
      (Task/Detail finds it at once).
    - ``clock_skew``: seconds added to the server's clock: ``createtime`` and every other
      timestamp it reports, and the HTTP ``Date`` header.
    - ``cancel`` / ``kill``: ``"refuse"`` answers code 1 ("Task is not in a cancellable
      state." / "Task could not be killed: ...") whatever the state; ``"ignore"`` answers
      as a success (the record shown as ``task_cancel``) while the task goes on.
    - ``redirect``: endpoints (``"Run"``, ``"Task/Detail"``, ... ``"output"``, ``"file"``)
      answered ``redirect_status`` (307, or 302) to another host: ``sb.other_host``, a
      second server on 127.0.0.2 that records every header it receives
      (``sb.other_host.requests``), then answers as the sandbox does.
    - ``trickle``: endpoints whose answer body is sent one byte every ``trickle_ms``
      milliseconds, with its full ``Content-Length`` (a per-read timeout never fires);
      ``sb.stop()`` cuts a trickle short.
    - ``hostile_output``: every successful task returns, instead of its picture:
      ``"nul_in_name"`` (the output's ``name`` is ``0\\x00.png``), ``"svg"`` (an SVG file),
      ``"truncated_png"`` (a PNG cut off half-way), ``"pixel_bomb"`` (a PNG of a few kB that
      decodes to 8192 x 8192 pixels) or ``"huge_size"`` (declares 2 GiB and streams 2 GiB).
    - ``detail_mb``: Task/Detail answers padded to at least that many megabytes (a long
      model log in ``debugoutput``).
    - ``task_error_status``: ``error-me`` ends at Task/Detail status ``task_error`` (above).
    - ``interim_error_rate``: chance per progress step that the model prints a harmless
      warning on stderr (an interim ``task_error`` frame, then ``task_error_full``, and the
      lines in ``debugerror``) while the run goes on to succeed.
    - ``socket_drop_rate``: chance per WebSocket frame that the connection is dropped
      without a close frame.
    - ``seed``: replay the same pattern (for a serial client).

    Fault times are real seconds, never divided by ``speed``.

Other limits: bodies over ``max_body_bytes`` get HTTP 413; one uploaded file over 100 MB or
a file that is not a jpeg/png/webp/gif image under ``inputImage`` gets code 0 naming
``inputImage``; more active tasks than ``concurrency_limit`` gets code 96; unknown paths
get HTTP 404 ``Error parsing url.``. Nonces may repeat (Wiro's own clients send millisecond
or second nonces that repeat under parallel calls); ``Sandbox(strict_nonces=True)`` answers
a reused nonce with HTTP 401.

URLs:
    - Outputs: ``http://127.0.0.1:<port>/cdn/<hash>/0.png`` (or ``0.jpg``); after
      ``output_ttl`` seconds they answer 404 with Wiro's envelope and the file is deleted.
    - Uploads (``/v1/File/Upload``) and files sent with Run are served from
      ``/v1/File/<token>/<name>``; a task's ``parameters`` show those URLs as Wiro does.
    - Reference URLs given to Run: the sandbox has no network. Its own ``/v1/File`` and
      ``/cdn`` URLs are loaded from its store; any other http(s) URL is replaced by a
      placeholder picture derived from the URL (same URL, same picture; the input is
      recorded with ``placeholder: True``); ``file://``, ``ftp://`` and other schemes are
      refused with code 0.
    - Wiro's sample inputs, named as a model page's own Run sample names them (a bare file
      name such as ``bfl-flux-2-flex-input-4-1.jpg``) or by their
      ``https://cdn.wiro.ai/uploads/sampleinputs/...`` URL, become labelled stand-in pictures
      of the sandbox's own (the same name, the same picture), so the page's sample runs.
    - ``callbackUrl``: when a task ends, its record is POSTed there as JSON, but only to
      loopback hosts; any other URL is recorded in ``task.callbacks`` as skipped.
    - The WebSocket sends nothing before a ``task_info`` subscription, then a frame with the
      task's current status (a finished task's terminal frame at once), then one frame per
      change.
    - File paths: only files the sandbox wrote are served; any path trick (``..``, encoded
      dots or slashes, backslashes, empty segments) answers 404.

Every response carries the header ``x-wiro-sandbox: 1``.
"""

from __future__ import annotations

from .app import RequestRecord
from .faults import ENDPOINTS, FAULT_KINDS, HOSTILE_OUTPUTS, STOP_FAULTS, Faults
from .gate import Gate
from .otherhost import OtherHost, OtherHostRequest
from .server import Sandbox
from .tasks import SandboxTask

__all__ = ["ENDPOINTS", "FAULT_KINDS", "HOSTILE_OUTPUTS", "STOP_FAULTS", "Faults", "Gate",
           "OtherHost", "OtherHostRequest", "RequestRecord", "Sandbox", "SandboxTask"]
