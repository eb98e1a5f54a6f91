"""`Sandbox`: the HTTP app, the WebSocket server and the task engine, started together on
free loopback ports in background threads.

Example:
    >>> with Sandbox(speed=20.0) as sb:
    ...     client = sb.client()
    ...     result = client.run("black-forest-labs/flux-2-flex", prompt="a red fox")
"""

from __future__ import annotations

import secrets
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from ..auth import Credentials
from ..protocol import MAX_UPLOAD_BYTES
from .app import AppSettings, RequestRecord, SandboxApp
from .engine import Engine
from .faults import FaultDice, Faults
from .files import FileStore
from .gate import Gate
from .models import SPELLINGS, SandboxModels
from .otherhost import OtherHost
from .replay import ReplayBook
from .tasks import SandboxTask
from .ws import SocketServer

if TYPE_CHECKING:
    from ..client import WiroClient

__all__ = ["Sandbox"]


def _spelling(value: str) -> str:
    if value not in SPELLINGS:
        raise ValueError(f"schema_spelling must be one of {SPELLINGS}, not {value!r}")
    return value


class _QuietHandler(WSGIRequestHandler):
    """No access log on stderr (the sandbox's ``log`` callback reports requests instead), and
    a ``Date`` header on the sandbox's clock (``Faults.clock_skew``)."""

    def date_time_string(self, timestamp: float | None = None) -> str:
        skew = getattr(self.server, "clock_skew", None)
        now = time.time() if timestamp is None else timestamp
        return super().date_time_string(now + (skew() if callable(skew) else 0.0))

    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return

    def log(self, type: str, message: str, *args: Any) -> None:
        if type == "error":
            super().log(type, message, *args)


class Sandbox:
    """A local Wiro API server: HTTP and WebSocket on loopback, tasks with real lifecycles.

    Args:
        host: the interface to listen on (keep the default: loopback).
        port: HTTP port; 0 picks a free one.
        socket_port: WebSocket port; 0 picks a free one.
        speed: divides every task delay; 1.0 gives about 5 s for a 50-step task.
        faults: a `Faults`, a dict of its fields, or None.
        api_key, api_secret: the project's credentials (generated when not given).
        key_only: a key-only project: no signature needed, ``api_secret`` is None.
        concurrency_limit: active tasks allowed per key before Run answers code 96
            (None or 0: no limit).
        strict_nonces: refuse a repeated ``x-nonce`` with 401 (by default repeats are
            accepted, as Wiro's own clients need; see `access.Access.authorize`).
        output_ttl: seconds an output URL keeps working.
        max_body_bytes: larger request bodies are refused with HTTP 413.
        data_dir: where uploads and outputs live (default: a temporary folder removed by
            `stop`).
        log: called with one line per HTTP request (the CLI prints them).
        schema_spelling: how Tool/Detail spells its items: ``sdk`` (``default``, ``min``,
            ``max``, ``step``, ``options[].label``) or ``docs`` (``defaultvalue``,
            ``minvalue``, ``maxvalue``, ``incrementby``, ``options[].text``).
        replay: a pack (``wiro_widgets.pack``): Runs matching a recorded run answer with
            its real outputs and recorded timeline, labelled REPLAY (see `replay`). The pack
            is checked at `start`, before anything is served (`packfile.PackError`).
        on_miss: what a Run that matches no recorded run gets: ``"sandbox"`` (a procedural
            picture) or ``"error"`` (Wiro's error naming the closest recorded prompt).
        replay_speed: recorded seconds are divided by it; None: real time, capped at 10 s
            a task.

    Example:
        >>> sb = Sandbox(speed=5.0).start()
        >>> sb.base_url
        'http://127.0.0.1:49152/v1'
        >>> sb.stop()
    """

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, socket_port: int = 0,
                 speed: float = 1.0, faults: Faults | Mapping[str, Any] | None = None,
                 api_key: str | None = None, api_secret: str | None = None,
                 key_only: bool = False, concurrency_limit: int | None = 4,
                 strict_nonces: bool = False,
                 output_ttl: float = 600.0, max_body_bytes: int = 1_200_000_000,
                 data_dir: str | Path | None = None,
                 log: Callable[[str], None] | None = None,
                 schema_spelling: str = "sdk", replay: str | Path | None = None,
                 on_miss: str = "sandbox", replay_speed: float | None = None) -> None:
        if speed <= 0:
            raise ValueError("speed must be positive")
        self._replay = (Path(replay), on_miss, replay_speed) if replay is not None else None
        self.host = host
        self._port, self._socket_port = port, socket_port
        self.speed = float(speed)
        self.key_only = key_only
        self.concurrency_limit = concurrency_limit
        self.strict_nonces = strict_nonces
        self.output_ttl = float(output_ttl)
        self._api_key = api_key or "sbx" + secrets.token_hex(16)
        self._api_secret = None if key_only else (api_secret or secrets.token_hex(24))
        self._credentials = Credentials(self._api_key, self._api_secret)
        self._settings = AppSettings(dice=FaultDice(Faults.coerce(faults)),
                                     max_body_bytes=int(max_body_bytes),
                                     max_file_bytes=MAX_UPLOAD_BYTES, key_only=key_only,
                                     log=log, spelling=_spelling(schema_spelling))
        self._data_dir_arg = Path(data_dir) if data_dir is not None else None
        self._lock = threading.Lock()
        self._started = False
        self._stopped = False
        self.data_dir: Path | None = None
        self._http: BaseWSGIServer | None = None
        self._http_thread: threading.Thread | None = None
        self._socket: SocketServer | None = None
        self._engine: Engine | None = None
        self._app: SandboxApp | None = None
        self._other_host: OtherHost | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Sandbox:
        """Bind both ports and start serving in daemon threads; returns self."""
        with self._lock:
            if self._stopped:
                raise RuntimeError("a stopped Sandbox cannot be restarted; make a new one")
            if self._started:
                return self
            self._load_replay()
            if self._data_dir_arg is None:
                self.data_dir = Path(tempfile.mkdtemp(prefix="wiro-sandbox-"))
            else:
                self.data_dir = self._data_dir_arg
                self.data_dir.mkdir(parents=True, exist_ok=True)
            store = FileStore(self.data_dir)
            self._http = make_server(self.host, self._port, self._wsgi, threaded=True,
                                     request_handler=_QuietHandler)
            self._http.clock_skew = lambda: self._settings.dice.faults.clock_skew  # type: ignore[attr-defined]
            http_port = self._http.server_port
            url_host = "127.0.0.1" if self.host in ("0.0.0.0", "", "::") else self.host  # noqa: S104
            public_root = f"http://{url_host}:{http_port}"
            self._engine = Engine(store, speed=self.speed,
                                  concurrency_limit=self.concurrency_limit,
                                  output_ttl=self.output_ttl, public_root=public_root,
                                  dice=lambda: self._settings.dice)
            self._app = SandboxApp(
                self._settings, engine=self._engine, store=store,
                credentials=self._credentials, api_secret=self._api_secret,
                public_root=public_root,
                self_hosts={f"{url_host}:{http_port}", f"127.0.0.1:{http_port}",
                            f"localhost:{http_port}"},
                strict_nonces=self.strict_nonces,
            )
            self._socket = SocketServer(self._engine, self.host, self._socket_port,
                                        lambda: self._settings.dice)
            self._http_thread = threading.Thread(target=self._http.serve_forever,
                                                 kwargs={"poll_interval": 0.1}, daemon=True,
                                                 name="sandbox-http")
            self._http_thread.start()
            self._socket.start()
            self._public_root = public_root
            self._started = True
            self._other_host_if_needed()
        return self

    def _load_replay(self) -> None:
        """Read and check the replay pack before any port is bound (`PackError`)."""
        if self._replay is not None and self._settings.replay is None:
            path, on_miss, speed = self._replay
            self._settings.replay = ReplayBook(path, SandboxModels(), on_miss=on_miss,
                                               speed=speed)

    @property
    def replay(self) -> ReplayBook | None:
        """The recorded runs answering Runs (``replay=``), once started; else None."""
        return self._settings.replay

    def stop(self) -> None:
        """Stop serving, end the task threads and remove a temporary data folder.
        Safe to call more than once."""
        with self._lock:
            if not self._started or self._stopped:
                self._stopped = True
                return
            self._stopped = True
        self._settings.stopping.set()
        if self._other_host is not None:
            self._other_host.stop()
        if self._http is not None:
            self._http.shutdown()
            self._http.server_close()
        if self._http_thread is not None:
            self._http_thread.join(timeout=5)
        if self._socket is not None:
            self._socket.stop()
        if self._engine is not None:
            self._engine.stop()
        if self._data_dir_arg is None and self.data_dir is not None:
            shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Sandbox:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def _wsgi(self, environ: dict[str, Any], start_response: Any) -> Any:
        assert self._app is not None
        return self._app(environ, start_response)

    def _running(self) -> tuple[SandboxApp, Engine]:
        if self._app is None or self._engine is None:
            raise RuntimeError("the Sandbox is not started; use `with Sandbox() as sb:` or "
                               "sb.start()")
        return self._app, self._engine

    # -- addresses and credentials ---------------------------------------------------------
    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        self._running()
        return self._public_root + "/v1"

    @property
    def socket_url(self) -> str:
        """``ws://127.0.0.1:<port>/v1``."""
        self._running()
        assert self._socket is not None
        host = self._public_root.split("://", 1)[1].rsplit(":", 1)[0]
        return f"ws://{host}:{self._socket.port}/v1"

    @property
    def api_key(self) -> str:
        return self._api_key

    @property
    def api_secret(self) -> str | None:
        """The secret (None in key-only mode). A local throwaway, safe to show."""
        return self._api_secret

    def env(self) -> dict[str, str]:
        """The environment a client needs: ``WIRO_API_KEY``, ``WIRO_API_SECRET`` (empty in
        key-only mode), ``WIRO_BASE_URL``, ``WIRO_SOCKET_URL``."""
        return {
            "WIRO_API_KEY": self._api_key,
            "WIRO_API_SECRET": self._api_secret or "",
            "WIRO_BASE_URL": self.base_url,
            "WIRO_SOCKET_URL": self.socket_url,
        }

    def client(self, **kwargs: Any) -> WiroClient:
        """A `WiroClient` configured for this sandbox (keywords go to its constructor)."""
        from ..client import WiroClient

        return WiroClient(api_key=self._api_key, api_secret=self._api_secret,
                          base_url=self.base_url, socket_url=self.socket_url, **kwargs)

    # -- observing and steering ------------------------------------------------------------
    @property
    def tasks(self) -> list[SandboxTask]:
        """A snapshot of every task created (Run accepted), oldest first."""
        return self._engine.snapshot() if self._engine is not None else []

    @property
    def requests(self) -> list[RequestRecord]:
        """A snapshot of the last 2000 HTTP requests, oldest first."""
        return self._app.requests() if self._app is not None else []

    @property
    def faults(self) -> Faults:
        return self._settings.dice.faults

    def set_faults(self, faults: Faults | Mapping[str, Any] | None) -> None:
        """Replace the fault settings (and restart their dice from the new seed)."""
        self._settings.dice = FaultDice(Faults.coerce(faults))
        with self._lock:
            if self._started and not self._stopped:
                self._other_host_if_needed()

    def _other_host_if_needed(self) -> None:
        """Start the other host when a redirect fault needs it (the caller holds the lock)."""
        if self._other_host is None and self._settings.dice.faults.redirect:
            self._other_host = OtherHost(self._wsgi)
            self._settings.other_host = self._other_host.root

    @property
    def other_host(self) -> OtherHost | None:
        """The other host redirect faults point to (None until a ``redirect`` fault is set):
        ``.root`` (``http://127.0.0.2:<port>``) and ``.requests`` (what it received, with
        every header, so a test can see whether credentials followed the redirect)."""
        return self._other_host

    @property
    def max_file_bytes(self) -> int:
        """The per-file upload limit (Wiro's 100 MB by default)."""
        return self._settings.max_file_bytes

    @max_file_bytes.setter
    def max_file_bytes(self, value: int) -> None:
        self._settings.max_file_bytes = int(value)

    @property
    def max_body_bytes(self) -> int:
        return self._settings.max_body_bytes

    def wait_idle(self, timeout: float = 10.0) -> bool:
        """Wait until no task is active; False if ``timeout`` seconds pass first."""
        return self._engine.wait_idle(timeout) if self._engine is not None else True

    def gate(self, status: str, *, step: int | None = None) -> Gate:
        """Hold every task that reaches ``status`` from now on until it is released.

        ``step`` (with ``task_output`` only) holds at that progress frame. Closing the gate
        (the end of its ``with`` block) or `stop` releases every task it holds. See `Gate`.

        Example:
            >>> with sb.gate("task_queue") as gate:
            ...     task = client.submit("black-forest-labs/flux-2-flex", prompt="a fox")
            ...     gate.wait_reached(task.id)      # certainly still queued
            ...     client.cancel(task)             # so this is a Task/Cancel
        """
        return self._running()[1].gates.open(status, step=step)

    def __repr__(self) -> str:
        where = self._public_root if self._app is not None else "not started"
        mode = "key-only" if self.key_only else "signature"
        return (f"Sandbox({where}, {self._credentials.fingerprint()}, {mode}, "
                f"speed={self.speed:g})")
