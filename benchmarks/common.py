"""Shared pieces of the benchmarks: statistics, interleaved repetitions, a sandbox in its own
process, table rendering and the machine description.

Every figure is a `Section`: rows for the table in BENCHMARKS.md (ours, baseline, ratio, goal,
met?) and a method note. Ratios are ours ÷ baseline, so they hold on a loaded machine even when
absolute times drift.
"""

from __future__ import annotations

import contextlib
import multiprocessing as mp
import os
import platform
import random
import statistics
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from importlib import metadata
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any, TypeVar

ROOT = Path(__file__).resolve().parent.parent
MODEL = "black-forest-labs/flux-2-flex"
T = TypeVar("T")

# -- statistics ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Stats:
    """Repetitions of one measurement (in the unit the figure uses)."""

    values: tuple[float, ...]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def low(self) -> float:
        return min(self.values)

    @property
    def high(self) -> float:
        return max(self.values)

    def fmt(self, unit: str, digits: int = 0, scale: float = 1.0) -> str:
        """``median unit (min–max, n=N)``."""
        def num(x: float) -> str:
            return f"{x * scale:.{digits}f}"

        if self.n == 1:
            return f"{num(self.median)} {unit} (n=1)"
        return f"{num(self.median)} {unit} ({num(self.low)}–{num(self.high)}, n={self.n})"


def stats(values: Sequence[float]) -> Stats:
    if not values:
        raise ValueError("no repetitions were measured")
    return Stats(tuple(float(v) for v in values))


def interleave(variants: Mapping[str, Callable[[], T | None]], reps: int, *,
               warmup: int = 1, before_round: Callable[[int], None] | None = None,
               log: Callable[[str], None] | None = None) -> dict[str, list[T]]:
    """Run each variant ``reps`` times, one of each per round, the order rotating every round,
    so a burst of load on the machine lands on all of them alike. Warm-up rounds are dropped.
    A variant returning None had no valid measurement that round (it is not counted).
    ``before_round(i)`` runs at the start of each round (to draw that round's settings)."""
    names = list(variants)
    out: dict[str, list[T]] = {name: [] for name in names}
    for round_no in range(warmup + reps):
        if before_round is not None:
            before_round(round_no)
        shift = round_no % len(names)
        for name in names[shift:] + names[:shift]:
            value = variants[name]()
            if round_no >= warmup and value is not None:
                out[name].append(value)
        if log is not None and round_no >= warmup:
            log(f"  round {round_no - warmup + 1}/{reps}: " + ", ".join(
                f"{n}={_short(out[n][-1])}" for n in names if out[n]))
    return out


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    if isinstance(value, tuple):
        return "/".join(_short(v) for v in value)
    if isinstance(value, dict) and value:
        return _short(next(iter(value.values())))
    return str(value)


# -- results ------------------------------------------------------------------------------------


@dataclass
class Row:
    """One line of the summary table."""

    figure: str
    ours: str
    baseline: str
    ratio: str
    goal: str
    met: bool | None  # None: informational, no goal
    failed: bool = False  # the benchmark itself broke: no figure

    @property
    def verdict(self) -> str:
        if self.failed:
            return "**error**"
        return "—" if self.met is None else ("**met**" if self.met else "**missed**")


@dataclass
class Section:
    """One benchmark's rows and its method note (markdown)."""

    name: str
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: str = ""
    seconds: float = 0.0


def ratio(ours: float, baseline: float) -> str:
    """ours ÷ baseline, two significant digits below 1 (``0.0039x``), two decimals above."""
    if baseline <= 0:
        return "n/a"
    value = ours / baseline
    return f"{value:.2g}x" if value < 1 else f"{value:.2f}x"


def render_table(sections: Sequence[Section]) -> str:
    lines = ["| figure | ours | baseline | ratio (ours ÷ baseline) | goal | met? |",
             "|---|---|---|---|---|---|"]
    for section in sections:
        for row in section.rows:
            lines.append(f"| {row.figure} | {row.ours} | {row.baseline} | {row.ratio} | "
                         f"{row.goal} | {row.verdict} |")
    return "\n".join(lines)


# -- the machine --------------------------------------------------------------------------------

_PACKAGES = ("wiro_widgets", "ipywidgets", "requests", "requests-toolbelt", "websockets",
             "werkzeug", "pillow", "ipykernel", "nbclient", "psutil")


def cpu_model() -> str:
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_info() -> dict[str, str]:
    """CPU, cores, RAM, OS, Python and package versions, and the git commit."""
    import psutil

    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count() or 0
    versions = []
    for name in _PACKAGES:
        try:
            versions.append(f"{name} {metadata.version(name)}")
        except metadata.PackageNotFoundError:
            versions.append(f"{name} (not installed)")
    try:
        commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--", "wiro_widgets"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if commit and dirty:
            commit += " (with uncommitted changes in wiro_widgets/)"
    except (OSError, subprocess.SubprocessError):
        commit = ""
    return {
        "CPU": cpu_model(),
        "cores": f"{os.cpu_count()} logical, {usable} usable by this process",
        "RAM": f"{psutil.virtual_memory().total / 2**30:.1f} GiB",
        "OS": f"{platform.system()} {platform.release()}",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "packages": ", ".join(versions),
        "commit": commit or "unknown",
    }


def load_average() -> str:
    try:
        one, five, fifteen = os.getloadavg()
    except OSError:
        return "unknown"
    return f"{one:.2f} / {five:.2f} / {fifteen:.2f}"


# -- a sandbox in its own process ----------------------------------------------------------------


def _serve(conn: Connection, settings: dict[str, Any]) -> None:
    """The child's loop: one Sandbox, driven by commands from the pipe."""
    from wiro_widgets.sandbox import Sandbox

    sb = Sandbox(**settings).start()

    def info() -> dict[str, Any]:
        return {"base_url": sb.base_url, "socket_url": sb.socket_url,
                "api_key": sb.api_key, "api_secret": sb.api_secret}

    conn.send(info())
    while True:
        try:
            command, args = conn.recv()
        except EOFError:
            break
        try:
            if command == "stop":
                break
            if command == "tasks":
                reply: Any = [{"id": t.id, "token": t.token, "status": t.status,
                               "history": list(t.history), "inputs": len(t.inputs)}
                              for t in sb.tasks]
            elif command == "requests":
                (since,) = args
                reply = [{"method": r.method, "path": r.path, "time": r.time,
                          "status": r.status} for r in sb.requests if r.time >= since]
            elif command == "wait_idle":
                reply = sb.wait_idle(*args)
            elif command == "restart":
                sb.stop()
                sb = Sandbox(**args[0]).start()
                reply = info()
            else:
                raise ValueError(f"unknown command {command!r}")
            conn.send(("ok", reply))
        except Exception as err:  # report to the parent rather than die silently
            conn.send(("error", f"{type(err).__name__}: {err}"))
    sb.stop()


class RemoteSandbox:
    """A `Sandbox` in a child process, so its threads (HTTP, WebSocket, task engine, image
    rendering) never compete with the measured client for the GIL, and its memory is not the
    client's. The same clock (``time.time()``) serves both processes on one machine.

    Example:
        >>> with RemoteSandbox(speed=2.0) as sb:
        ...     client = sb.client(home=tmp)
        ...     sb.tasks()[0]["history"]
    """

    def __init__(self, **settings: Any) -> None:
        self.settings = settings
        self._lock = threading.Lock()
        self._proc: Any = None
        self._conn: Connection | None = None
        self.info: dict[str, Any] = {}

    def __enter__(self) -> RemoteSandbox:
        ctx = mp.get_context("spawn")  # fork would copy the parent's threads' locks
        parent, child = ctx.Pipe()
        self._proc = ctx.Process(target=_serve, args=(child, self.settings), daemon=True,
                                 name="bench-sandbox")
        self._proc.start()
        child.close()
        self._conn = parent
        if not parent.poll(60):
            raise RuntimeError("the sandbox process did not start within 60 s")
        self.info = parent.recv()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._conn is not None:
            with contextlib.suppress(OSError, BrokenPipeError):
                self._conn.send(("stop", ()))
            self._conn.close()
        if self._proc is not None:
            self._proc.join(10)
            if self._proc.is_alive():
                self._proc.terminate()
                self._proc.join(5)

    def _call(self, command: str, *args: Any, timeout: float = 120.0) -> Any:
        assert self._conn is not None, "use RemoteSandbox as a context manager"
        with self._lock:
            self._conn.send((command, args))
            if not self._conn.poll(timeout):
                raise TimeoutError(f"the sandbox process did not answer {command!r}")
            status, reply = self._conn.recv()
        if status != "ok":
            raise RuntimeError(f"sandbox {command}: {reply}")
        return reply

    @property
    def base_url(self) -> str:
        return str(self.info["base_url"])

    @property
    def socket_url(self) -> str:
        return str(self.info["socket_url"])

    @property
    def api_key(self) -> str:
        return str(self.info["api_key"])

    @property
    def api_secret(self) -> str | None:
        secret = self.info["api_secret"]
        return None if secret is None else str(secret)

    def env(self) -> dict[str, str]:
        return {"WIRO_API_KEY": self.api_key, "WIRO_API_SECRET": self.api_secret or "",
                "WIRO_BASE_URL": self.base_url, "WIRO_SOCKET_URL": self.socket_url}

    def client(self, **kwargs: Any) -> Any:
        from wiro_widgets.client import WiroClient

        return WiroClient(api_key=self.api_key, api_secret=self.api_secret,
                          base_url=self.base_url, socket_url=self.socket_url, **kwargs)

    def tasks(self) -> list[dict[str, Any]]:
        return list(self._call("tasks"))

    def task(self, task_id: str) -> dict[str, Any]:
        for item in self.tasks():
            if item["id"] == task_id:
                return item
        raise KeyError(task_id)

    def requests(self, since: float = 0.0) -> list[dict[str, Any]]:
        return list(self._call("requests", since))

    def wait_idle(self, timeout: float = 30.0) -> bool:
        return bool(self._call("wait_idle", timeout, timeout=timeout + 30))

    def restart(self, **settings: Any) -> None:
        """A fresh sandbox (new ports, new key, no tasks) in the same process."""
        self.settings = settings
        self.info = self._call("restart", settings)


def status_time(history: Sequence[Sequence[Any]], status: str) -> float:
    """Unix time of the first time a task reached ``status`` (from its history)."""
    for name, when in history:
        if name == status:
            return float(when)
    raise LookupError(f"the task never reached {status}")


# -- small helpers ------------------------------------------------------------------------------


@contextlib.contextmanager
def timer() -> Iterator[Callable[[], float]]:
    start = time.perf_counter()
    yield lambda: time.perf_counter() - start


def seeded(name: str) -> random.Random:
    """A random generator per figure, so the schedule is the same on every run."""
    return random.Random(f"wiro-bench-{name}")


def python() -> str:
    return sys.executable


# -- the baseline: a hand-written requests client -------------------------------------------------

TERMINAL = frozenset({"task_postprocess_end", "task_cancel", "task_error"})


class PlainClient:
    """What a hand-written client does with ``requests``: sign, POST JSON, poll Task/Detail.

    It signs with the project's `Credentials.headers()` (the same HMAC any Wiro client must
    compute); everything else is plain ``requests``.
    """

    def __init__(self, sb: RemoteSandbox) -> None:
        import requests

        from wiro_widgets.auth import Credentials

        self.base = sb.base_url
        self.creds = Credentials(sb.api_key, sb.api_secret)
        self.session = requests.Session()
        self.session.trust_env = False  # loopback only; no proxy lookups

    def post(self, endpoint: str, payload: Mapping[str, Any]) -> dict[str, Any]:
        response = self.session.post(self.base + endpoint, json=dict(payload),
                                     headers=self.creds.headers(), timeout=(5, 60))
        response.raise_for_status()
        body: dict[str, Any] = response.json()
        if not body.get("result"):
            raise RuntimeError(f"{endpoint}: {body.get('errors')}")
        return body

    def run(self, params: Mapping[str, Any]) -> tuple[str, str]:
        """POST Run; returns (task id, token)."""
        body = self.post(f"/Run/{MODEL}", {k: str(v) for k, v in params.items()})
        return str(body["taskid"]), str(body["socketaccesstoken"])

    def detail(self, token: str) -> dict[str, Any]:
        return dict(self.post("/Task/Detail", {"tasktoken": token})["tasklist"][0])

    def download(self, url: str) -> bytes:
        response = self.session.get(url, timeout=(5, 60))
        response.raise_for_status()
        return bytes(response.content)

    def close(self) -> None:
        self.session.close()


def wire_params(steps: int, seed: int, size: int = 1024, prompt: str = "a lighthouse at dusk",
                ) -> dict[str, Any]:
    """The same request in API names (baseline) ..."""
    return {"prompt": prompt, "steps": steps, "seed": seed, "width": size, "height": size,
            "outputFormat": "png"}


def py_params(steps: int, seed: int, size: int = 1024, prompt: str = "a lighthouse at dusk",
              ) -> dict[str, Any]:
    """... and in Python names (ours)."""
    return {"prompt": prompt, "steps": steps, "seed": seed, "width": size, "height": size,
            "output_format": "png"}


@dataclass
class Context:
    """What every benchmark gets: the mode, a scratch folder, a logger."""

    quick: bool
    workdir: Path
    log: Callable[[str], None]

    def reps(self, full: int, quick: int) -> int:
        return quick if self.quick else full

    def home(self, name: str) -> Path:
        """A fresh folder for one client's ledger and output cache."""
        path = self.workdir / "homes" / name
        path.mkdir(parents=True, exist_ok=True)
        return path
