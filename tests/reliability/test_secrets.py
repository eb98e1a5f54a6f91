"""A known fake key and secret must appear nowhere a user could save, share or screenshot.

The client and the panel run against a sandbox holding ``KEY`` and ``SECRET``: successes,
failures (failed, moderated, task_error), cancels, timeouts, a bad configuration and the
classic slip of passing ``api_key=`` to ``run``. Everything is logged at DEBUG to a file
(the ``wiro_widgets`` logger, the root logger, urllib3 and websockets), every error type is
raised and formatted, including errors built from server text that holds the key, and a
notebook with the panel is executed through nbclient and saved with its widget state. Then
the key and the secret must be in none of: the ``.ipynb``, the ledger, the log, exception
text or repr or traceback, any widget state of the panel's tree, ``repr(client)``,
``repr(sandbox)``, saved images and their metadata.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import traceback
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import nbformat
import pytest
from documented.server import DocumentedServer, Step
from nbclient import NotebookClient
from shared_helpers import widgets_of

from wiro_widgets import WiroClient, errors
from wiro_widgets.backoff import RetryPolicy
from wiro_widgets.client._envelope import Transient, error_for, judge
from wiro_widgets.errors import (
    ApiError,
    BudgetExceeded,
    ConfigError,
    NetworkError,
    TaskCancelled,
    TaskError,
    TaskTimeout,
    ValidationError,
    WiroError,
)
from wiro_widgets.panel import FluxPanel
from wiro_widgets.panel.messages import explain
from wiro_widgets.sandbox import Sandbox

from . import tally
from .helpers import MODEL, SMALL, exposed

KEY = "sbx-KNOWN-KEY-5f3a9c1e7b2d4068a1c3"
SECRET = "KNOWN-SECRET-9d8c7b6a5f4e3d2c1b0a8f7e"
NEEDLES = (KEY, SECRET)


class Leaks:
    """Every place searched, and what was found where."""

    def __init__(self) -> None:
        self.places = 0
        self.found: list[str] = []

    def scan(self, where: str, content: str | bytes) -> None:
        self.places += 1
        for needle in NEEDLES:
            token: str | bytes = needle.encode() if isinstance(content, bytes) else needle
            if token in content:  # type: ignore[operator]
                self.found.append(f"{'key' if needle == KEY else 'secret'} in {where}")

    def report(self) -> None:
        tally.add("leak places searched", self.places)
        tally.add("leaks found", len(self.found))


@pytest.fixture
def known() -> Iterator[Sandbox]:
    with Sandbox(speed=40.0, api_key=KEY, api_secret=SECRET, concurrency_limit=None) as sb:
        yield sb
        sb.wait_idle(20)


@pytest.fixture
def debug_log(tmp_path: Path) -> Iterator[Path]:
    """DEBUG logging to a file from the root logger down (urllib3 and websockets too)."""
    path = tmp_path / "debug.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    names = ("", "wiro_widgets", "urllib3", "websockets", "requests", "werkzeug")
    levels = {name: logging.getLogger(name).level for name in names}
    root = logging.getLogger()
    root.addHandler(handler)
    for name in names:
        logging.getLogger(name).setLevel(logging.DEBUG)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
        for name, level in levels.items():
            logging.getLogger(name).setLevel(level)


def _formatted(err: BaseException) -> list[tuple[str, str]]:
    return [("str", str(err)), ("repr", repr(err)), ("args", repr(err.args)),
            ("traceback", "".join(traceback.format_exception(err)))]


def _raised(call: Callable[[], Any]) -> BaseException:
    try:
        call()
    except BaseException as err:  # every kind is wanted here
        return err
    raise AssertionError("nothing was raised")


def _server_text_errors() -> list[BaseException]:
    """Errors built from server answers and records whose text holds the key and secret."""
    text = f"key {KEY} with secret {SECRET} was refused"
    built: list[BaseException] = []
    for status, code in ((200, 0), (401, 0), (200, 1), (200, 96), (200, 97), (200, 99),
                         (500, 0), (429, 0)):
        envelope = json.dumps({"result": False,
                               "errors": [{"code": code, "message": text}]}).encode()
        err = judge(status, envelope, "/Run/a/b", 1.0)  # what the transport raises
        assert isinstance(err, Exception)
        built.append(err.error if isinstance(err, Transient) and err.error else err)
    built.append(error_for(0, text, http_status=200, endpoint="/Task/Detail"))
    # Every error type, made directly with such text (as any code path might one day do).
    for name in errors.__all__:
        kind = getattr(errors, name)
        if kind is ValidationError:
            built.append(kind("prompt", text, text))
        elif kind is errors.InvalidRows:
            built.append(kind([(2, "prompt", text, text)]))
        elif kind is BudgetExceeded:
            built.append(kind(text, spent=0.0, estimate=1.0, budget=0.5))
        elif kind is TaskTimeout:
            built.append(kind(text, detached=True, task_id="1", token="t"))
        elif issubclass(kind, errors.TaskFailed):
            built.append(kind(text, pexit="1", debugerror=text, task_id="1", token="t",
                              record={"debugerror": text}))
        elif issubclass(kind, TaskError):
            built.append(kind(text, task_id="1", token="t"))
        elif kind is errors.RunOutcomeUnknown:
            built.append(kind(text))
        elif kind is errors.OutputError:
            built.append(kind(text, task_id="1", token="t", reason=text))
        elif issubclass(kind, NetworkError):
            built.append(kind(text, task_may_exist=True, task_id="1"))
        elif issubclass(kind, ApiError):
            built.append(kind(text, code=0, http_status=200, endpoint="/Run/a/b"))
        else:
            built.append(kind(text))
    return built


#: Errors of calls that put the key where it does not belong (a model parameter, a URL):
#: the caller's own arguments hold it, so the frames that check them do too; their text,
#: repr and attributes are searched like any other error's.
SLIPS: set[int] = set()


def _echoed_errors(server: DocumentedServer) -> list[BaseException]:
    """Errors the client raises for answers that echo the key and the secret (a proxy's
    debug page, an error message quoting the request), through the whole transport."""
    text = f"key {KEY} with secret {SECRET} was refused"
    client = WiroClient(api_key=KEY, api_secret=SECRET, base_url=server.base_url,
                        retry=RetryPolicy(budget=0.0), ledger=False)
    found = []
    for status, body in ((200, {"result": False, "errors": [{"code": 0, "message": text}]}),
                         (401, {"result": False, "errors": [{"code": 0, "message": text}]}),
                         (403, {"message": text}), (400, {"detail": text}),
                         (500, {"result": False, "errors": [{"code": 0, "message": text}]}),
                         (200, {"no": text})):
        server.script("/Task/Detail", Step(status=status, body=json.dumps(body).encode()))
        found.append(_raised(lambda: client.detail("534574")))
    server.script("/Task/Detail", Step(body=f"<html>{text}</html>".encode(), status=418))
    found.append(_raised(lambda: client.detail("534574")))
    assert all(isinstance(err, ApiError | NetworkError) for err in found), found
    return found


def _client_errors(sb: Sandbox, home: Path) -> list[BaseException]:
    """Errors from real calls: failures, cancels, timeouts, bad settings, a key slip."""
    client = sb.client()
    found = []
    for prompt in ("fail-me please", "nsfw thing", "error-me now"):
        found.append(_raised(lambda p=prompt: client.run(MODEL, prompt=p, **SMALL)))
    # A cancel (the event the panel's Cancel button sets) and a timeout, both at once, on
    # a sandbox with the same key that holds its tasks queued: none can finish first.
    cancel = threading.Event()
    cancel.set()
    with Sandbox(api_key=KEY, api_secret=SECRET) as slow, slow.gate("task_queue"):
        patient = slow.client()
        found.append(_raised(lambda: patient.run(MODEL, prompt="cancel me", width=64,
                                                 height=64, steps=50, cancel_event=cancel)))
        found.append(_raised(lambda: patient.run(MODEL, prompt="too slow", width=64,
                                                 height=64, steps=50, timeout=0.0)))
    # The slips: the key passed as a model parameter, or inside a URL.
    slips = [_raised(lambda: client.run(MODEL, prompt="x", api_key=KEY)),
             _raised(lambda: client.validate(MODEL, prompt=KEY, steps=KEY)),
             _raised(lambda: WiroClient(api_key=KEY, api_secret=SECRET,
                                        base_url=f"ftp://{KEY}:{SECRET}@example.com"))]
    SLIPS.update(id(err) for err in slips)
    found += slips
    found.append(_raised(lambda: WiroClient(api_key=f"{KEY} {SECRET}")))
    found.append(_raised(lambda: WiroClient(api_key=KEY, api_secret=SECRET + "x",
                                            base_url=sb.base_url, home=home).run(
        MODEL, prompt="a wrong secret", **SMALL)))
    found.append(_raised(lambda: WiroClient(api_key=KEY, api_secret=SECRET,
                                            base_url="http://127.0.0.1:9/v1",
                                            home=home).run(MODEL, prompt="closed", **SMALL)))
    found.append(_raised(lambda: sb.client(budget=0.0).run(MODEL, prompt="over", **SMALL)))
    kinds = {type(e) for e in found}
    assert {errors.TaskFailed, errors.Moderated, TaskCancelled, TaskTimeout, ValidationError,
            ConfigError, errors.AuthError, NetworkError, BudgetExceeded} <= kinds, kinds
    return found


def test_no_secret_in_logs_ledger_errors_widgets_or_files(known: Sandbox, debug_log: Path,
                                                          wiro_home: Path,
                                                          tmp_path: Path) -> None:
    sb = known
    leaks = Leaks()
    client = sb.client()
    result = client.run(MODEL, prompt="a lighthouse, kept secret-free", **SMALL)
    saved = result.save(tmp_path / "saved")
    saved += sb.client().run(MODEL, prompt="and as jpeg", output_format="jpeg",
                             **SMALL).save(tmp_path / "saved")

    with DocumentedServer() as echoing:
        raised = _client_errors(sb, wiro_home) + _server_text_errors() + _echoed_errors(
            echoing)
    for err in raised:
        assert isinstance(err, WiroError), repr(err)
        for how, text in _formatted(err):
            leaks.scan(f"{type(err).__name__} {how}", text)
        for place, text in exposed(err, skip=__file__):  # its chain and its frames' locals
            if not (id(err) in SLIPS and " frame " in place):
                leaks.scan(place, text)
        message, hint = explain(err)
        leaks.scan(f"panel message for {type(err).__name__}", message + hint)

    # The panel: a success, a failure, a cancel, and an error whose text holds the key.
    panel = FluxPanel(client, save_dir=tmp_path / "panel-saved")
    panel.form.set_size(64, 64)
    panel.form.controls["steps"].value = 2
    for prompt in ("a fox in a panel", "fail-me from the panel"):
        panel.form.prompt.value = prompt
        assert panel.generate()
        assert panel.wait(30)
    panel.form.controls["steps"].value = 50
    panel.form.prompt.value = "cancelled from the panel"
    assert panel.generate()
    assert panel.cancel() or not panel.running
    assert panel.wait(30)
    panel.on_error(_server_text_errors()[0])
    assert panel.result is not None
    saved += panel.save_result(panel.result)
    assert "client.run(" in panel.show_code()  # the code box is part of the saved state
    panel.present()
    for widget in widgets_of(panel):
        state = widget.get_state()
        buffers = [v for v in state.values() if isinstance(v, (bytes, memoryview))]
        text = json.dumps({k: v for k, v in state.items() if v not in buffers}, default=str)
        leaks.scan(f"{type(widget).__name__} state", text)
        for buffer in buffers:
            leaks.scan(f"{type(widget).__name__} buffer", bytes(buffer))

    for name, text in (("repr(client)", repr(client)), ("repr(sandbox)", repr(sb)),
                       ("repr(panel)", repr(panel)), ("repr(result)", repr(result)),
                       ("result html", result._repr_html_()),
                       ("client credentials", repr(client._credentials))):
        leaks.scan(name, text)
    assert saved
    for path in saved:
        leaks.scan(f"saved {path.name}", path.read_bytes())
    ledger = client.ledger
    assert ledger is not None
    leaks.scan("ledger", ledger.path.read_text(encoding="utf-8"))
    # Whatever text reaches any of the package's loggers (some modules log on child
    # loggers such as ``wiro_widgets.research.history``), the record is redacted.
    import wiro_widgets.metadata
    import wiro_widgets.research.history
    import wiro_widgets.research.sweep  # noqa: F401  (their loggers exist once imported)

    ours = sorted(name for name in logging.Logger.manager.loggerDict
                  if name == "wiro_widgets" or name.startswith("wiro_widgets."))
    assert {"wiro_widgets", "wiro_widgets.research.history", "wiro_widgets.sandbox"} <= set(ours)
    for name in ours:
        logging.getLogger(name).warning("server said: bad key %s / %s", KEY, SECRET)
        try:
            raise RuntimeError(f"a callback failed with {KEY} and {SECRET}")
        except RuntimeError:
            logging.getLogger(name).exception("on_update raised")
    log_text = debug_log.read_text(encoding="utf-8")
    assert "urllib3.connectionpool DEBUG" in log_text  # the debug logs were really on
    assert "wiro_widgets DEBUG" in log_text
    leaks.scan("debug log", log_text)
    leaks.report()
    assert not leaks.found, leaks.found


NOTEBOOK = [
    "import logging, sys\n"
    "logging.basicConfig(level=logging.DEBUG, stream=sys.stderr)  # noisy on purpose\n"
    "from wiro_widgets import FluxPanel, WiroClient\n"
    "client = WiroClient()\n"
    "panel = FluxPanel(client)\n"
    "panel",
    "panel.form.prompt.value = 'a fox saved in a notebook'\n"
    "panel.form.set_size(64, 64)\n"
    "panel.form.controls['steps'].value = 2\n"
    "panel.generate(); panel.wait(60)\n"
    "print('first run:', panel.status.state)\n"
    "panel.form.prompt.value = 'fail-me in a notebook'\n"
    "panel.generate(); panel.wait(60)\n"
    "print(panel.status.state, repr(client))\n"
    "client",
    "client.run('black-forest-labs/flux-2-flex', prompt='x', api_key=client._credentials.api_key)",
    "client.run('black-forest-labs/flux-2-flex', prompt='fail-me', width=64, height=64, steps=2)",
    "result = client.run('black-forest-labs/flux-2-flex', prompt='shown', width=64, height=64,\n"
    "                    steps=2)\n"
    "result",
]


@pytest.mark.notebook
@pytest.mark.slow
def test_no_secret_in_a_saved_notebook(known: Sandbox, tmp_path: Path) -> None:
    sb = known
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell(src) for src in NOTEBOOK]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3",
                                 "language": "python"}
    runner = NotebookClient(nb, timeout=120, kernel_name="python3", allow_errors=True,
                            store_widget_state=True,
                            resources={"metadata": {"path": str(tmp_path)}})
    runner.execute(env={**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(tmp_path / "home")})
    path = tmp_path / "panel.ipynb"
    nbformat.write(nb, path)

    outputs = [o for cell in nb.cells for o in cell.outputs]
    errors_shown = [o for o in outputs if o.get("output_type") == "error"]
    assert [o["ename"] for o in errors_shown] == ["ValidationError", "TaskFailed"]
    stderr = "".join(o.get("text", "") for o in outputs if o.get("name") == "stderr")
    assert "DEBUG" in stderr  # the debug log really went into the notebook
    assert "first run: done" in "".join(o.get("text", "") for o in outputs
                                        if o.get("name") == "stdout")
    widgets = nb.metadata["widgets"]["application/vnd.jupyter.widget-state+json"]["state"]
    assert len(widgets) > 50
    leaks = Leaks()
    leaks.scan(str(path.name), path.read_bytes())
    leaks.scan("kernel ledger", (tmp_path / "home" / "ledger.jsonl").read_bytes())
    leaks.report()
    assert not leaks.found, leaks.found


#: Keys and secrets as they arrive after a careless copy and paste.
MALFORMED = (
    (KEY[:8] + "\u2013" + KEY[8:], SECRET),      # an en dash
    (KEY[:8] + "\u00a0" + KEY[8:], SECRET),      # a non-breaking space
    (KEY + "\u200b", SECRET),                    # a zero-width space at the end
    (KEY[:8] + "\x07" + KEY[8:], SECRET),        # a control character
    (KEY, SECRET[:8] + " " + SECRET[8:]),        # whitespace inside the secret
    (KEY, SECRET[:8] + "\u2014" + SECRET[8:]),   # an em dash in the secret
)


def test_malformed_keys_are_refused_without_echo() -> None:
    # Either half of a malformed value gives it away (the odd character splits it).
    pieces = (KEY[:8], KEY[8:], SECRET[:8], SECRET[8:])
    places, found = 0, []
    for index in range(len(MALFORMED)):
        # The values are made inside this file's frames, which the search skips.
        err = _raised(lambda i=index: WiroClient(api_key=MALFORMED[i][0],
                                                 api_secret=MALFORMED[i][1],
                                                 base_url="http://127.0.0.1:9/v1"))
        assert type(err) is ConfigError, repr(err)
        for place, text in exposed(err, skip=__file__):
            places += 1
            found += [f"malformed {index}: {place}" for p in pieces if p in text]
        tally.add("malformed keys")
    tally.add("leak places searched", places)
    tally.add("leaks found", len(found))
    assert found == []


def test_a_password_in_a_reference_url_is_never_kept(known: Sandbox, wiro_home: Path,
                                                     tmp_path: Path) -> None:
    password = "pw-" + SECRET[-12:]
    url = f"https://user:{password}@example.com/refs/cat.png"
    client = known.client()
    result = client.run(MODEL, prompt="a cat from a private URL", input_images=[url], **SMALL)
    (task,) = [t for t in known.tasks if t.id == result.task_id]
    assert [i["url"] for i in task.inputs] == [url]  # sent as given
    saved = result.save(tmp_path / "saved")
    panel = FluxPanel(client)
    panel.references.add_url(url)
    found = []
    places = {"ledger": (wiro_home / "ledger.jsonl").read_text(encoding="utf-8"),
              "result.params": repr(result.params), "panel code": panel.show_code(),
              "reference repr": repr(panel.references.items[0]),
              **{f"saved {p.name}": p.read_bytes().decode("latin-1")
                 for p in [*saved, *(p.with_suffix(".json") for p in saved)]}}
    for where, text in places.items():
        if password in text:
            found.append(where)
    tally.add("leak places searched", len(places))
    tally.add("leaks found", len(found))
    assert found == []
