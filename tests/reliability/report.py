"""What the reliability suite reports: its sections, the rows of each, the defects it found and
its limits. `conftest` turns them and the counters of `tally` into the summary printed at the
end of a run and into ``RELIABILITY.md``.

To count a new kind of attack: add to the counters in the test (``tally.add(name, n)``), then
add a `Row` naming those counters to the section of its test file here (or a new `Section`).
A section is shown only when one of its files is in this folder. A row whose counter ends in
``": *"`` stands for every counter under that prefix, one line each (``"money attacks: *"``).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFECTS", "LIMITS", "SECTIONS", "Row", "Section"]


@dataclass(frozen=True)
class Row:
    """One line of the table: the sum of ``counters`` under ``label``.

    Attributes:
        label: what is counted.
        counters: the `tally` counters summed (one ending in ``": *"``: every counter under
            that prefix, one line each).
        meaning: one sentence.
        zero: the count must be 0 (the suite's assertions make sure of it).
    """

    label: str
    counters: tuple[str, ...]
    meaning: str
    zero: bool = False


@dataclass(frozen=True)
class Section:
    """A group of rows and the test files behind them.

    Attributes:
        title: the section's name in the table and the text.
        files: its test files in ``tests/reliability``.
        checks: a paragraph on what its tests check.
        rows: its lines of the table.
    """

    title: str
    files: tuple[str, ...]
    checks: str
    rows: tuple[Row, ...]


def _z(label: str, counters: tuple[str, ...], meaning: str) -> Row:
    return Row(label, counters, meaning, zero=True)


SECTIONS: list[Section] = [
    Section("Nothing lost, nothing billed twice, no key found", (), (
        "The totals every other section adds to. Each must stay 0: the tests assert it."), (
        _z("duplicate Runs", ("duplicate runs",),
           "sandbox tasks beyond one per unique prompt, over every section's runs"),
        _z("billed tasks lost", ("tasks lost",),
           "tasks the server created that the ledger does not account for, or that "
           "`resume()` could not collect once the server behaved"),
        _z("runs ended unclearly", ("fault runs unclear", "unclear endings"),
           "an ending that is not a result or a `WiroError` saying whether a task exists"),
        _z("credentials sent to another host", ("credentials elsewhere",),
           "requests that reached the other host of a redirect with `x-api-key`, "
           "`x-nonce` or `x-signature`"),
        _z("calls held past their bound", ("held past bound",),
           "a `run`, `wait` or read that a trickling or stalled server held beyond its "
           "timeout, cancel or deadline by more than a few seconds"),
        _z("leaks found", ("leaks found",),
           "the key or the secret (or a URL's password) found in any place searched"),
    )),
    Section("Faults", ("test_faults.py",), (
        "100 runs through injected faults. Every run ends with its images or with an error "
        "that says whether a task may exist on the server, checked against the sandbox's own "
        "task list; zero duplicate Runs; every sandbox task token is in the ledger and every "
        "ledger task is known to the sandbox."), (
        Row("runs through injected faults", ("fault runs",),
            "`client.run` calls made by 8 threads against a sandbox failing 20% of its HTTP "
            "answers, losing 10% of accepted Run answers and closing the WebSocket instead of "
            "sending 5% of its frames; 15 of the prompts make the model fail on purpose"),
        Row("faults injected: HTTP 500", ("fault 500",), "answers replaced by a 500 envelope"),
        Row("faults injected: HTTP 429 + Retry-After", ("fault 429",),
            "answers replaced by a 429 envelope with `Retry-After: 1`"),
        Row("faults injected: garbled JSON", ("fault garbled",), "HTTP 200 with cut-off JSON"),
        Row("faults injected: dropped connection", ("fault drop",),
            "connection closed, no answer"),
        Row("faults injected: 2 s stall", ("fault stall",),
            "answer held 2 s; half the runs read with a 1 s timeout, so for them it is a read "
            "timeout after the request reached the server"),
        Row("faults injected: lost Run answer", ("fault lost_run",),
            "the Run created its task, then the connection was dropped without an answer"),
        Row("faults injected: WebSocket drop mid-task", ("fault socket_drop",),
            "socket connections the client saw drop mid-task (it falls back to polling)"),
        Row("runs completed with their images", ("fault runs completed",),
            "the `Result` carried the task's images, downloaded and decoded"),
        Row("runs ended with a clear error", ("fault runs clear error",),
            "a `WiroError` that says truthfully whether a task may exist (and names it when "
            "one does); checked against the sandbox's own task list"),
        Row("  of which model failures on purpose", ("fault runs model failures",),
            "failed, moderated and task_error runs (sandbox prompt triggers), each naming its "
            "task"),
        Row("panel Generates through the same faults", ("panel runs through faults",),
            "Generate clicked ten times in a `FluxPanel` (1 s read timeout); each ends done "
            "or with a message, and the form keeps the user's prompt and seed"),
        Row("  of which done", ("panel runs completed",), "the image arrived in the gallery"),
    )),
    Section("Hostile servers", ("test_hostile.py",), (
        "The sandbox's fault modes for misbehaving servers, one attack at a time: redirects "
        "of the Run, Task/Detail and output downloads to another host (307 and 302), answers "
        "trickled one byte per second (Task/Detail, the Run, the output), a Task/Detail "
        "answer of 20 MB, each hostile output (a NUL in its name, an SVG, a truncated PNG, a "
        "67 MP pixel bomb, a declared 2 GB), and interim `task_error` log frames. Each call "
        "must end within its bound with a result or a clear `WiroError`; the other host must "
        "see no credentials; every task the sandbox created must be in the ledger, and once "
        "the faults are gone `resume()` collects every pending task whose outputs the server "
        "can still give; no Run is sent twice. Every error raised is searched for the key and "
        "the secret: its text, its chain (`__cause__`, `__context__`) and the locals of "
        "every frame it carries (`capture_locals=True`)."), (
        Row("hostile-server attacks", ("hostile attacks",),
            "calls made against a sandbox in one of the fault modes below"),
        Row("  – {}", ("hostile attacks: *",), "calls of this kind"),
        Row("interim task_error frames seen as log lines", ("task_error log lines",),
            "`TaskUpdate.log` lines from runs whose socket sent stderr frames; none of those "
            "runs was shown as failed"),
        Row("exception chains and frames searched", ("chains searched",),
            "errors raised by the attacks, each with its whole chain and the locals of every "
            "frame its tracebacks carry, searched for the key and the secret"),
    )),
    Section("Money", ("test_money.py",), (
        "Lost Run answers (dropped, gateway 504, late listing, a client clock 5 s ahead), "
        "budget bypasses, refused and ignored Cancel/Kill, Ctrl-C during a Run: never two "
        "billed tasks for one run, the budget holds, no false cancel, nothing lost."), (
        Row("money attacks", ("money attacks",), "calls made under the money fault modes"),
        Row("  – {}", ("money attacks: *",), "calls of this kind"),
        _z("budget overruns", ("budget overruns",), "spending past a client's budget"),
        _z("false cancels", ("false cancels",),
           "a task reported cancelled that the server did not cancel"),
    )),
    Section("Data", ("test_data.py",), (
        "Torn ledger lines (a real write cut short under `RLIMIT_FSIZE`), garbage lines, "
        "read-only and full homes, tampered cache files, transient \"no task\" answers: "
        "everything else loads, nothing billed is lost."), (
        Row("data attacks", ("data attacks",), "attacks on the ledger, the cache and the home"),
        Row("  – {}", ("data attacks: *",), "attacks of this kind"),
        _z("tampered files served", ("tampered files served",),
           "cache files whose content no longer matches their hash, served as results"),
    )),
    Section("Bad input", ("test_bad_input.py",), (
        "A table of bad inputs through the client and the panel. Each is refused before any "
        "request (the sandbox's request log is unchanged) with an error naming the field, or "
        "sent and verified on the sandbox. The 200 MB file is a sparse file refused by its "
        "size without being read. The panel never crashes, shows the problem next to the "
        "control or in its message line, and keeps the user's prompt, references and "
        "settings."), (
        Row("bad inputs tried (client + panel)", ("inputs tried",),
            "rows of the bad-input table, through `WiroClient` and through the panel's widgets"),
        Row("  of which through the panel", ("inputs tried (panel)",),
            "set on the widgets or with `FileUpload.set_state`, then Generate clicked"),
        Row("bad inputs refused before any request", ("inputs refused",),
            "refused with an error naming the field; the sandbox saw no request"),
        Row("bad inputs sent correctly", ("inputs sent correctly",),
            "allowed by the API (long, unicode and RTL prompts, unreachable https URLs, "
            "aliases) and verified intact on the sandbox side"),
    )),
    Section("Interrupts", ("test_interrupts.py",), (
        "Ctrl-C in a subprocess and Jupyter's interrupt in a real kernel end the task in "
        "`task_cancel`; after a SIGKILL of a process or a kernel mid-run, `resume()` in a new "
        "process collects the outputs."), (
        Row("interrupts (Ctrl-C, kernel interrupt, kills)", ("interrupts tried",),
            "SIGINT while queued and running, Jupyter's interrupt on a real kernel, SIGKILL of "
            "a process and of a kernel mid-run"),
        Row("interrupts handled", ("interrupts handled",),
            "the task ended `task_cancel` on the server, or `resume()` in a new process "
            "collected it"),
    )),
    Section("Secrets", ("test_secrets.py",), (
        "With a known fake key and secret, nothing a user can save, log or share holds "
        "either string, nor the password of a reference URL."), (
        Row("places searched for the key and secret", ("leak places searched",),
            "error str/repr/args/traceback of every error type, panel messages, every widget "
            "state and buffer, reprs, saved images, the ledger, the DEBUG log, an executed "
            "`.ipynb`, a reference URL's password in the ledger, metadata, sidecars and code"),
        Row("malformed keys refused without echo", ("malformed keys",),
            "keys and secrets with an en dash, a non-breaking space, a control character or "
            "inner whitespace: a `ConfigError` whose chain and frames hold neither"),
    )),
    Section("Sandbox as a server", ("test_server.py",), (
        "Abuse is answered with Wiro's envelope (never a 500 or a dropped connection), no "
        "file outside the store is served, and the server keeps serving."), (
        Row("server probes", ("server probes",),
            "malformed multipart, wrong content types, oversized bodies, path traversal, a "
            "flood of 200 concurrent requests: each answered with Wiro's envelope"),
        Row("server still serving afterwards", ("server still serving",),
            "a normal run with a reference image succeeded after the probes"),
    )),
]

#: Defects this suite found in the package (or that were found from outside and are now
#: held by it), and the commits that fixed them.
DEFECTS = [
    ("b8d3fbe, 2e44159", "A task that succeeded but whose outputs could not be downloaded "
     "raised `NetworkError(task_id=..., task_may_exist=False)`, and the panel advised "
     "pressing Generate again (a second, billed task). A `NetworkError` naming a task now says "
     "a task may exist; the panel points to `client.wait(id)`."),
    ("c0b5368, 13e66fc", "A prompt with an unpaired surrogate passed validation: as JSON the "
     "Run created a task and then the ledger write crashed (no `Task` returned, no ledger "
     "entry for a billed task); with a file the multipart encoder crashed. Text must now be "
     "valid Unicode, and the ledger writes any event (escaped) rather than raising."),
    ("c5f54fa", "Only some call sites redacted error text: `client.run(model, ..., api_key=KEY)` "
     "put the key in a `ValidationError` message, repr and traceback, and so in a saved "
     "notebook. `WiroError` now redacts every text argument for all subclasses."),
    ("9ec24c1", "The redacting log filter sat on the `wiro_widgets` logger only, which does not "
     "cover child loggers (`wiro_widgets.history`, `.sandbox`, ...) nor tracebacks from "
     "`log.exception`. Every package logger now gets the filter, which also redacts "
     "tracebacks and stack text."),
    ("ffabe77", "The client accepted a small PNG declaring 81-121 MP (a decompression bomb), "
     "uploaded it and left the refusal to the server, while the panel refused it. The client "
     "now refuses references over the shared 64 MP limit before sending."),
    ("1ae86e0", "A 307 or 302 from the API to another host made requests re-send the Run or "
     "Task/Detail there with `x-api-key`, `x-nonce` and `x-signature`. The client now "
     "follows redirects itself: to its own origin, signed afresh; never to another."),
    ("1ae86e0, d892ab3", "A server trickling one byte per second held `run(timeout=4)`, "
     "`cancel_event` and the panel's Cancel for hours (requests' read timeout is per read). "
     "Every request now has an overall deadline, and a watchdog shuts the socket down when "
     "the deadline passes or the wait is cancelled."),
    ("1ae86e0, d892ab3", "A 100 MB Task/Detail answer was parsed whole, and an output "
     "declaring 2 GB was refused only after 512 MB was read; an output with a NUL in its name, "
     "an SVG, a truncated PNG or a 67 MP pixel bomb raised a raw `ValueError` or a Pillow "
     "error, and a billed task was lost to `resume()`. Answers are bounded before they are "
     "read, images before they are decoded, and a billed task whose outputs are refused "
     "stays pending with an `OutputError` naming it."),
    ("d892ab3", "A cache that could not be written after a billed success (full disk, "
     "read-only home) dropped the images with a raw `OSError`. They now stay in memory, in "
     "the `Result`, with a warning, and the task is recorded finished."),
    ("6630250, 097e444", "A key with an en dash raised a `UnicodeEncodeError` holding the whole "
     "key; the key sat in the frame locals a traceback carries; a reference URL's password was "
     "kept in the ledger, the PNG metadata and the sidecar. Keys are refused at construction "
     "without echo, only masked holders keep them, and URLs are recorded without userinfo."),
    ("98a73aa", "One `task_error` socket frame (a stderr line) labelled a run `failed` and "
     "froze its progress until it succeeded. It is now a log line on the `TaskUpdate`."),
    ("2551f15", "Found here: the first cut of the request deadlines never ended a trickle from "
     "a server that closes its connections (the sandbox's): http.client lets go of the "
     "connection's socket once such an answer begins, so the watchdog had nothing to shut. "
     "The watch now keeps the socket itself."),
    ("e5fabe9", "Found here: an answer echoing the key (a proxy's debug page, an error quoting "
     "the request) left it in the locals of the frame that raised the error, and a task "
     "error's record kept it too. The answer is judged without raising, and errors redact "
     "the record, value and rule they keep."),
    ("f589970, 1e4e7a3", "Found here: a stop that could not reach a trickling server, or an "
     "answer the client refused while following a task, raised an error without the task "
     "(the panel then offered a second, billed Generate). Both now name the task, which "
     "stays pending."),
]

#: What the suite does not prove, or what is still weak.
LIMITS = [
    "Ctrl-C or a killed kernel *while the Run request itself is in flight* (a slow upload) "
    "can leave a task the server created but the ledger knows only as `run_unknown`, with no "
    "token: `resume()` does not adopt such tasks, and the advice in the message "
    "(`check client.history()`) cannot find them either. Only Ctrl-C while queued and while "
    "running are tested here.",
    "With eight threads sharing the sandbox's fault dice, a seed replays the fault pattern "
    "closely, not request for request.",
    "`http.client.HTTPConnection.debuglevel = 1` prints request headers (the key) with "
    "`print()`, outside logging; no logging filter can catch it, so it is not tested. "
    "urllib3's and requests' DEBUG logs carry no headers (tested).",
    "A request's deadline cannot cut a TCP connect short: a host that never answers the "
    "connect holds a stop for up to the connect timeout (5 s by default). Uploads are "
    "allowed 32 KiB/s at worst in a request's deadline.",
    "A hostile output whose server keeps sending it (an SVG, a pixel bomb) stays pending: "
    "`resume()` tries again each time and reports the same `OutputError`.",
]
