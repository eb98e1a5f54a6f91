"""The sandbox's HTTP side: a werkzeug WSGI app speaking the Wiro REST API.

Routing, Wiro's auth check and envelopes, body parsing, fault injection and the endpoints:
POST ``/v1/Run/{owner}/{model}``, ``/v1/Task/Detail``, ``/v1/Task/List``,
``/v1/Task/Cancel``, ``/v1/Task/Kill``, ``/v1/File/Upload``, ``/v1/Tool/Detail``,
``/v1/Tool/List``, ``/v1/Tool/Explore`` (for every catalogue model: `models`, `tools`,
`runs`); GET (or HEAD) of uploaded files (``/v1/File/<token>/<name>``) and outputs
(``/cdn/<hash>/<name>``). Auth failures answer HTTP 401, unknown paths 404, bodies over the
cap 413, injected faults 500/429; everything else HTTP 200 with ``result`` true or false.

Example:
    >>> app = SandboxApp(settings, engine=engine, store=store, credentials=creds,
    ...                  public_root="http://127.0.0.1:8000")
    >>> make_server("127.0.0.1", 8000, app, threaded=True).serve_forever()
"""

from __future__ import annotations

import mimetypes
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from werkzeug.utils import secure_filename, send_file
from werkzeug.wrappers import Request, Response

from ..auth import Credentials
from ..images import sniff_image_type
from ..protocol import ErrorCode
from ..redaction import get_logger
from ..schema import WireValidationError
from .access import Access
from .answers import ApiFailure, Dropped, RequestRecord, drop, envelope, json_response, ok
from .engine import Engine
from .faults import FaultDice
from .files import FileStore, random_token
from .forms import Body, BodyError, FilePart, parse_body
from .hostile import declared_stream
from .intake import InputError
from .misbehave import before_answer, endpoint_of, gateway_timeout, trickled
from .models import SandboxModels
from .otherhost import OTHER_HOST_FLAG
from .replay import ReplayBook
from .runs import read_run
from .tasks import ConcurrencyRefused, TaskStateError
from .tools import ToolNotFound, tool_detail, tool_explore, tool_list

__all__ = ["ApiFailure", "AppSettings", "RequestRecord", "SandboxApp"]
# ApiFailure and RequestRecord live in `answers`; they stay importable from here.

_log = get_logger("wiro_widgets.sandbox")

_BAD_URL = "Error parsing url."
_NO_TASK = "There is no task yet."
_INVALID, _UNKNOWN, _BUSY = (ErrorCode.VALIDATION, ErrorCode.NOT_FOUND,
                             ErrorCode.CONCURRENCY_LIMIT)
_UPLOAD_TYPES = frozenset({
    "jpg", "jpeg", "png", "gif", "webp", "heic", "mp4", "webm", "mov", "mp3", "wav", "m4a",
    "pdf", "csv", "docx", "xlsx", "pptx", "txt", "md", "epub", "zip",
})
_MAX_RECORDS = 2000
#: One line of the model log that pads a Task/Detail answer (``Faults.detail_mb``).
_LOG_LINE = "sandbox: a long model log line, repeated to make the answer big.\n"


@dataclass
class AppSettings:
    """Settings the app reads on every request, so they can change while it runs."""

    dice: FaultDice
    max_body_bytes: int
    max_file_bytes: int
    key_only: bool = False
    log: Callable[[str], None] | None = None
    #: The spelling of Tool/Detail items: ``sdk`` (``default``, ``min``...) or ``docs``
    #: (``defaultvalue``, ``minvalue``...).
    spelling: str = "sdk"

    #: Set when the sandbox stops: trickled and streamed answers end at once.
    stopping: threading.Event = field(default_factory=threading.Event)
    #: The root URL redirect faults point to (``sb.other_host``); None until it runs.
    other_host: str | None = None
    #: The recorded runs that answer matching Runs (``Sandbox(replay=...)``), or None.
    replay: ReplayBook | None = None


def _unsafe_path(raw: str, path: str) -> bool:
    """Any sign of a path trick: encoded dots or slashes, backslashes, dot or empty segments."""
    lowered = raw.lower()
    if any(token in lowered for token in ("%2e", "%2f", "%5c", "%00", "\\")):
        return True
    if "\\" in path or "\x00" in path:
        return True
    segments = path.split("/")[1:]
    return any(segment in ("", ".", "..") for segment in segments)


class SandboxApp:
    """The WSGI application. Thread-safe: werkzeug calls it from one thread per request."""

    def __init__(self, settings: AppSettings, *, engine: Engine, store: FileStore,
                 credentials: Credentials, api_secret: str | None, public_root: str,
                 self_hosts: set[str], strict_nonces: bool = False) -> None:
        self.settings = settings
        self.engine = engine
        self.store = store
        self._credentials = credentials
        self.access = Access(credentials.api_key, None if settings.key_only else api_secret,
                             strict_nonces=strict_nonces)
        self.public_root = public_root
        self.self_hosts = {h.lower() for h in self_hosts}
        self._records: deque[RequestRecord] = deque(maxlen=_MAX_RECORDS)
        self._records_lock = threading.Lock()
        self.models = SandboxModels()

    # -- bookkeeping -------------------------------------------------------------------------
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the last 2000 requests, oldest first."""
        with self._records_lock:
            return [r.copy() for r in self._records]

    def _log_line(self, record: RequestRecord) -> None:
        if self.settings.log is None:
            return
        status = record.status if record.status is not None else "dropped"
        fault = f"  [fault: {record.fault}]" if record.fault else ""
        self.settings.log(f"{record.method} {record.path} -> {status}{fault}")

    # -- WSGI entry ------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        request.max_content_length = self.settings.max_body_bytes
        record = RequestRecord(request.method, request.path,
                               request.headers.get("Content-Type", ""), time=time.time(),
                               other_host=bool(environ.get(OTHER_HOST_FLAG)))
        with self._records_lock:
            self._records.append(record)
        try:
            response = self._answer(request, record)
        except Dropped:
            self._log_line(record)
            raise
        response.headers["x-wiro-sandbox"] = "1"
        faults = self.settings.dice.faults
        if endpoint_of(request.method, request.path) in faults.trickle:
            record.fault = record.fault or "trickle"
            response = trickled(response, faults.trickle_ms / 1000, self.settings.stopping)
        record.status = response.status_code
        self._log_line(record)
        return response(environ, start_response)

    def _answer(self, request: Request, record: RequestRecord) -> Response:
        other_host = None if request.environ.get(OTHER_HOST_FLAG) else self.settings.other_host
        early = before_answer(request, record, self.settings.dice, other_host=other_host)
        if early is not None:
            return early
        try:
            return self._dispatch(request, record)
        except ApiFailure as failure:
            response = envelope(failure.code, failure.message, failure.http_status)
            response.headers.update(failure.headers)
            return response
        except Dropped:
            raise
        except Exception:  # a bug must cost one answer, never the server
            _log.exception("sandbox request failed: %s %s", request.method, request.path)
            return envelope(0, "Internal server error.", 500)

    # -- routing ---------------------------------------------------------------------------
    def _dispatch(self, request: Request, record: RequestRecord) -> Response:
        path, method = request.path, request.method
        if method in ("GET", "HEAD"):
            if path.startswith(("/cdn/", "/v1/File/")):
                return self._serve_file(request)
            raise ApiFailure(_INVALID, _BAD_URL, http_status=404)
        if method != "POST" or not path.startswith("/v1/"):
            raise ApiFailure(_INVALID, _BAD_URL, http_status=404)
        segments = path.split("/")
        handler: Callable[[Request, RequestRecord], Response] | None = {
            "/v1/Task/Detail": self._task_detail,
            "/v1/Task/List": self._task_list,
            "/v1/Task/Cancel": self._task_cancel,
            "/v1/Task/Kill": self._task_kill,
            "/v1/File/Upload": self._file_upload,
            "/v1/Tool/Detail": self._tool_detail,
            "/v1/Tool/List": self._tool_list,
            "/v1/Tool/Explore": self._tool_explore,
        }.get(path)
        if handler is None and len(segments) == 5 and segments[2] == "Run" and all(segments[3:]):
            owner, model = segments[3], segments[4]
            self._authorize(request)
            return self._run(request, record, owner, model)
        if handler is None:
            raise ApiFailure(_INVALID, _BAD_URL, http_status=404)
        self._authorize(request)
        return handler(request, record)

    # -- auth ------------------------------------------------------------------------------
    def _authorize(self, request: Request) -> None:
        headers = request.headers
        self.access.authorize(headers.get("x-api-key", ""), headers.get("x-nonce", ""),
                              headers.get("x-signature", ""))

    # -- bodies ----------------------------------------------------------------------------
    def _body(self, request: Request, record: RequestRecord) -> Body:
        try:
            body = parse_body(request, tmp_dir=self.store.tmp_dir,
                              max_file_bytes=self.settings.max_file_bytes)
        except BodyError as err:
            raise ApiFailure(_INVALID, str(err), http_status=err.http_status) from None
        record.parts = list(body.parts)
        record.json = body.json
        return body

    def _task_id(self, body: Body) -> str:
        task_id = body.first("taskid")
        token = body.first("tasktoken") or body.first("socketaccesstoken")
        if task_id is None and token is None:
            raise ApiFailure(_INVALID, "taskid or socketaccesstoken is required")
        found = self.engine.find(
            task_id=str(task_id) if task_id is not None else None,
            token=str(token) if token is not None else None,
        )
        if found is None:
            raise ApiFailure(_UNKNOWN, _NO_TASK)
        return found

    def _fingerprint(self) -> str:
        return self._credentials.fingerprint()

    # -- endpoints -------------------------------------------------------------------------
    def _run(self, request: Request, record: RequestRecord, owner: str, model: str) -> Response:
        slug = self.models.find(owner, model)
        if slug is None:
            raise ApiFailure(_UNKNOWN, "slug-owner-project-not-exist")
        spec = self.models.spec(slug)
        body = self._body(request, record)
        try:
            try:
                run = read_run(body, spec, store=self.store, token=random_token(),
                               public_root=self.public_root, self_hosts=self.self_hosts)
            except (InputError, WireValidationError) as err:
                raise ApiFailure(_INVALID, str(err)) from None
            book = self.settings.replay
            replay = book.answer(spec, run, self.store) if book is not None else None
            try:
                task = self.engine.create(
                    spec, run.params, parameters=run.parameters, inputs=run.inputs,
                    refs=run.refs, callback_url=run.callback,
                    key_fingerprint=self._fingerprint(), replay=replay,
                )
            except ConcurrencyRefused as err:
                self.store.remove_files(r.path for r in run.refs if r.path is not None)
                raise ApiFailure(_BUSY, str(err)) from None
        finally:
            body.close()
        dice = self.settings.dice
        if dice.lose_run():
            record.fault = "lost_run"
            drop(request.environ)
        if dice.gateway_run():
            record.fault = "run_504"
            return gateway_timeout()
        return ok(taskid=task.id, socketaccesstoken=task.token)

    def _task_detail(self, request: Request, record: RequestRecord) -> Response:
        body = self._body(request, record)
        body.close()
        task_id = self._task_id(body)
        shown = self.engine.record(task_id)
        megabytes = self.settings.dice.faults.detail_mb
        if megabytes:
            lines = -(-int(megabytes * (1 << 20)) // len(_LOG_LINE))  # at least that size
            shown["debugoutput"] = str(shown["debugoutput"]) + _LOG_LINE * lines
        return ok(total="1", tasklist=[shown])

    def _task_list(self, request: Request, record: RequestRecord) -> Response:
        body = self._body(request, record)
        body.close()

        def number(name: str, default: int) -> int:
            value = body.first(name)
            if value is None:
                return default
            try:
                return int(str(value))
            except ValueError:
                raise ApiFailure(_INVALID, f"Request parameter [{name}] must be integer") from None

        start, limit = max(0, number("start", 0)), number("limit", 20)
        limit = max(1, min(limit, 1000))
        order = str(body.first("order") or "DESC").upper()
        model = body.first("modelName")
        records = self.engine.records(self._fingerprint(), newest_first=order != "ASC",
                                      model=str(model) if model else None,
                                      hide_younger_than=self.settings.dice.faults.list_delay)
        return ok(total=str(len(records)), tasklist=records[start:start + limit])

    def _task_cancel(self, request: Request, record: RequestRecord) -> Response:
        body = self._body(request, record)
        body.close()
        task_id = self._task_id(body)
        try:
            return ok(tasklist=[self.engine.cancel(task_id)])
        except TaskStateError as err:
            raise ApiFailure(_UNKNOWN, str(err)) from None

    def _task_kill(self, request: Request, record: RequestRecord) -> Response:
        body = self._body(request, record)
        body.close()
        task_id = self._task_id(body)
        try:
            return ok(tasklist=[self.engine.kill(task_id)])
        except TaskStateError as err:
            raise ApiFailure(_UNKNOWN, str(err)) from None

    def _file_upload(self, request: Request, record: RequestRecord) -> Response:
        body = self._body(request, record)
        try:
            parts = body.files("file")
            if not parts or (parts[0].size == 0 and not parts[0].filename):
                raise ApiFailure(_INVALID, "Request files [file] required")
            part: FilePart = parts[0]
            name = secure_filename(part.filename) or "file"
            extension = name.rsplit(".", 1)[-1].lower() if "." in name else ""
            sniffed = sniff_image_type(part.head())
            if sniffed and not extension:
                extension = {"image/jpeg": "jpg", "image/png": "png", "image/webp": "webp",
                             "image/gif": "gif"}[sniffed]
                name = f"{name}.{extension}"
            if extension not in _UPLOAD_TYPES:
                raise ApiFailure(
                    0, f"Request files [file] type '.{extension}' is not supported"
                    if extension else "Request files [file] needs a file name with an extension"
                )
            content_type = (sniffed or part.content_type or mimetypes.guess_type(name)[0]
                            or "application/octet-stream")
            stored = self.store.put_input(random_token(), name, part.stream, content_type)
        finally:
            body.close()
        now = str(int(stored.created + self.settings.dice.faults.clock_skew))
        return ok(list=[{
            "id": secrets.token_hex(16), "name": stored.name, "contenttype": content_type,
            "size": str(stored.size), "parentid": secrets.token_hex(16),
            "url": self.public_root + stored.url_path, "addedtime": now,
            "accesskey": random_token(),
        }])

    def _tool_detail(self, request: Request, record: RequestRecord) -> Response:
        body = self._body(request, record)
        body.close()
        owner, project = body.first("slugowner"), body.first("slugproject")
        for name, value in (("slugowner", owner), ("slugproject", project)):
            if not value:
                raise ApiFailure(_INVALID, f"Request parameter [{name}] required")
        try:
            return ok(**tool_detail(self.models, str(owner), str(project),
                                     self.settings.spelling))
        except ToolNotFound as err:
            raise ApiFailure(_UNKNOWN, str(err)) from None

    def _tool_list(self, request: Request, record: RequestRecord) -> Response:
        body = self._body(request, record)
        body.close()
        categories = tuple(str(c) for c in body.values("categories") if c)
        start = self._int(body, "start", 0)
        limit = max(1, min(self._int(body, "limit", 20), 1000))
        payload = tool_list(self.models, search=str(body.first("search") or ""),
                            categories=categories, slugowner=str(body.first("slugowner") or ""),
                            start=max(0, start), limit=limit)
        return json_response({"result": True, "errors": [], **payload})

    def _tool_explore(self, request: Request, record: RequestRecord) -> Response:
        self._body(request, record).close()
        return ok(**tool_explore(self.models))

    @staticmethod
    def _int(body: Body, name: str, default: int) -> int:
        value = body.first(name)
        if value is None:
            return default
        try:
            return int(str(value))
        except ValueError:
            raise ApiFailure(_INVALID, f"Request parameter [{name}] must be integer") from None

    # -- files -----------------------------------------------------------------------------
    def _serve_file(self, request: Request) -> Response:
        raw = str(request.environ.get("REQUEST_URI") or request.environ.get("RAW_URI") or "")
        raw_path = raw.split("?", 1)[0]
        path = request.path
        if _unsafe_path(raw_path, path):
            raise ApiFailure(_INVALID, "File not found.", http_status=404)
        segments = path.split("/")[1:]
        shape_ok = (len(segments) == 3 and segments[0] == "cdn") or (
            len(segments) == 4 and segments[:2] == ["v1", "File"])
        item = self.store.get(path) if shape_ok else None
        if item is None:
            raise ApiFailure(_INVALID, "File not found or expired.", http_status=404)
        if item.declared_size is not None:
            return declared_stream(item, self.settings.stopping)
        try:
            return send_file(item.path, request.environ, mimetype=item.content_type,
                             download_name=item.name, max_age=0, conditional=True)
        except OSError:  # expired and swept between the lookup and the read
            raise ApiFailure(_INVALID, "File not found or expired.", http_status=404) from None
