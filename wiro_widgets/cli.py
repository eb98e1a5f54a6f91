"""The ``wiro-widgets`` command.

Subcommands register themselves through `COMMANDS`: each entry is a function that adds one
subparser and sets ``func`` (called with the parsed arguments, returning the exit code). To
add a command, write ``_add_<name>(subparsers)`` and append it to `COMMANDS`.

Example:
    $ wiro-widgets sandbox --speed 2
    export WIRO_API_KEY=...
    ...
    $ wiro-widgets notebooks my-notebooks
    wrote     my-notebooks/client.ipynb
    ...
    $ wiro-widgets merge homes shard-0 shard-1 --into merged
    merged 2 homes into merged: 4012 ledger lines (0 duplicates kept once), 2000 files copied
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

__all__ = ["COMMANDS", "build_parser", "main"]

Subparsers = Any  # argparse's _SubParsersAction is private


def _add_sandbox(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "sandbox",
        help="run a local Wiro API server (no account, no network)",
        description="Run the local Wiro sandbox in the foreground and print the environment "
        "variables a client needs. Stop it with Ctrl-C.",
    )
    parser.add_argument("--port", type=int, default=0, help="HTTP port (default: a free one)")
    parser.add_argument("--socket-port", type=int, default=0,
                        help="WebSocket port (default: a free one)")
    parser.add_argument("--speed", type=float, default=1.0,
                        help="divides every task delay; 1.0 is about 5 s per 50-step task")
    parser.add_argument("--key-only", action="store_true",
                        help="a key-only project: requests need no signature")
    parser.add_argument("--concurrency-limit", type=int, default=4,
                        help="active tasks allowed before Run answers code 96 (0: no limit)")
    parser.add_argument("--output-ttl", type=float, default=600.0,
                        help="seconds an output URL keeps working")
    parser.add_argument("--error-rate", type=float, default=0.0,
                        help="fraction of HTTP responses replaced by a fault")
    parser.add_argument("--latency", type=float, default=0.0,
                        help="seconds added to every HTTP response")
    parser.add_argument("--lost-run-rate", type=float, default=0.0,
                        help="fraction of Runs whose answer is lost after the task is created")
    parser.add_argument("--socket-drop-rate", type=float, default=0.0,
                        help="chance per WebSocket frame that the connection is dropped")
    parser.add_argument("--seed", type=int, default=None,
                        help="seed for the fault dice, to replay a pattern")
    parser.add_argument("--api-key", default=None, help="use this API key (default: random)")
    parser.add_argument("--api-secret", default=None,
                        help="use this API secret (default: random)")
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    from .demo import add_replay_arguments

    add_replay_arguments(parser)
    parser.set_defaults(func=_run_sandbox)


def _run_sandbox(args: argparse.Namespace) -> int:
    from .errors import WiroError
    from .sandbox import Faults, Sandbox

    try:
        faults = Faults(error_rate=args.error_rate, latency=args.latency,
                        lost_run_rate=args.lost_run_rate,
                        socket_drop_rate=args.socket_drop_rate, seed=args.seed)
    except ValueError as err:
        print(f"wiro-widgets sandbox: {err}", file=sys.stderr)
        return 2

    def log(line: str) -> None:
        print(line, file=sys.stderr, flush=True)

    sandbox = Sandbox(
        port=args.port, socket_port=args.socket_port, speed=args.speed, faults=faults,
        api_key=args.api_key, api_secret=args.api_secret, key_only=args.key_only,
        concurrency_limit=args.concurrency_limit or None, output_ttl=args.output_ttl,
        log=None if args.quiet else log, replay=args.replay, on_miss=args.on_miss,
        replay_speed=args.replay_speed,
    )
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    previous = signal.signal(signal.SIGTERM, on_signal)
    try:
        sandbox.start()
        if sandbox.replay is not None:
            print(f"# replaying {len(sandbox.replay)} recorded runs of {args.replay} "
                  f"(on a miss: {args.on_miss})")
        print("# wiro_widgets sandbox: a local Wiro API (these credentials are throwaway).")
        print("# Paste these lines into the shell that runs your client:")
        for name, value in sandbox.env().items():
            if value:
                print(f"export {name}={shlex.quote(value)}")
            else:
                print(f"unset {name}")
        print(f"# {sandbox.base_url} and {sandbox.socket_url}; Ctrl-C stops.", flush=True)
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    except (OSError, ValueError, WiroError) as err:
        print(f"wiro-widgets sandbox: cannot start: {err}", file=sys.stderr)
        return 1
    finally:
        sandbox.stop()
        signal.signal(signal.SIGTERM, previous)
    print("# sandbox stopped", flush=True)
    return 0


def _add_demo(subparsers: Subparsers) -> None:
    from .demo import add_arguments

    parser = subparsers.add_parser(
        "demo",
        help="JupyterLab on the quickstart notebook (the sandbox unless WIRO_API_KEY is set)",
        description="The demo (the same as `make demo`): the panel in JupyterLab on a local "
        "sandbox, or --headless to run the quickstart notebook and keep its images. It needs "
        'the `demo` extra: pip install "wiro-widgets[demo]".',
    )
    add_arguments(parser)
    parser.set_defaults(func=_run_demo)


def _run_demo(args: argparse.Namespace) -> int:
    from .demo import run

    return run(args)


def _add_notebooks(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "notebooks",
        help="copy the example notebooks into a folder",
        description="Copy the example notebooks (quickstart, client, research, presentation) "
        "into DIR. A file already there with other content is not overwritten, and then "
        "nothing is written, unless --force.",
    )
    parser.add_argument("folder", metavar="DIR", type=Path, help="where to copy them")
    parser.add_argument("--force", action="store_true",
                        help="overwrite notebooks in DIR that differ from the shipped ones")
    parser.set_defaults(func=_run_notebooks)


def _run_notebooks(args: argparse.Namespace) -> int:
    from .examples import copy_notebooks

    try:
        report = copy_notebooks(args.folder, force=args.force)
    except (FileNotFoundError, OSError) as err:
        print(f"wiro-widgets notebooks: {err}", file=sys.stderr)
        return 1
    if report.refused:
        print("wiro-widgets notebooks: these differ from the shipped notebooks and were not "
              "overwritten (nothing was written; --force overwrites them):", file=sys.stderr)
        for path in report.refused:
            print(f"  {path}", file=sys.stderr)
        return 1
    for path in report.written:
        print(f"wrote     {path}")
    for path in report.unchanged:
        print(f"unchanged {path}")
    print(f"{len(report.written)} written, {len(report.unchanged)} already up to date, in "
          f"{args.folder}. Open one with: jupyter lab {args.folder / 'quickstart.ipynb'}")
    return 0


def _add_merge(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "merge",
        help="merge the homes (ledgers, caches) or the exports of a batch's shards",
        description="Put a batch run in shards back together. 'homes': merge each "
        "WIRO_WIDGETS_HOME's ledger (every line once, in time order) and output cache into "
        "the home INTO. 'exports': merge exported datasets (imagefolder folders, or Parquet "
        "files) into INTO.",
    )
    parser.add_argument("what", choices=("homes", "exports"), help="what to merge")
    parser.add_argument("sources", nargs="+", type=Path, metavar="SOURCE")
    parser.add_argument("--into", type=Path, required=True, metavar="INTO",
                        help="the home or folder to merge into (made when missing)")
    parser.set_defaults(func=_run_merge)


def _run_merge(args: argparse.Namespace) -> int:
    from .research.merge import merge_exports, merge_homes

    try:
        if args.what == "homes":
            report = merge_homes(args.sources, args.into)
            what = "ledger lines"
        else:
            report = merge_exports(args.sources, args.into)
            what = "rows"
    except (OSError, ValueError, ImportError) as err:
        print(f"wiro-widgets merge: {err}", file=sys.stderr)
        return 1
    print(f"merged {report.sources} {args.what} into {args.into}: {report.lines} {what} "
          f"({report.duplicates} duplicates kept once), {report.files} files copied")
    return 0


def _add_pack(subparsers: Subparsers) -> None:
    parser = subparsers.add_parser(
        "pack",
        help="pack recorded runs (ledger, images, references) for an offline replay",
        description="Write the ledger's succeeded runs, their images and the reference "
        "images found into one file OUT, for `wiro-widgets sandbox --replay OUT` (on any "
        "machine). Keys and secrets are never packed: a run that would carry one is refused.",
    )
    parser.add_argument("out", type=Path, metavar="OUT", help="the pack to write "
                        "(e.g. talk.wiropack)")
    parser.add_argument("--last", type=int, default=None, metavar="N",
                        help="only the newest N runs")
    parser.add_argument("--since", default=None, metavar="DATE",
                        help="only runs submitted at or after DATE (2026-12-01[T14:30])")
    parser.add_argument("--model", default=None, metavar="M", help="only this model")
    parser.add_argument("--task", action="extend", nargs="+", default=None, metavar="ID",
                        help="only these task ids")
    parser.add_argument("--home", type=Path, default=None,
                        help="the ledger's folder (default: WIRO_WIDGETS_HOME)")
    parser.set_defaults(func=_run_pack)


def _run_pack(args: argparse.Namespace) -> int:
    from .errors import WiroError
    from .research.pack import pack

    try:
        report = pack(args.out, last=args.last, since=args.since, model=args.model,
                      tasks=args.task, home=args.home)
    except (WiroError, OSError, ValueError) as err:
        print(f"wiro-widgets pack: {err}", file=sys.stderr)
        return 1
    for task_id, reason in report.skipped:
        print(f"skipped task {task_id}: {reason}")
    if report.missing_references:
        print(f"{len(report.missing_references)} reference images were not found (matching "
              "needs only their hashes, which the pack keeps)")
    print(f"packed {len(report.packed)} runs into {report.path}")
    return 0


#: Functions adding one subcommand each (see the module docstring).
COMMANDS: list[Callable[[Subparsers], None]] = [_add_sandbox, _add_demo, _add_notebooks,
                                                _add_merge, _add_pack]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every registered subcommand."""
    from ._version import __version__

    parser = argparse.ArgumentParser(
        prog="wiro-widgets",
        description="Wiro's image models in Jupyter: tools around the wiro_widgets package.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for add in COMMANDS:
        add(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``wiro-widgets``; returns the exit code.

    Example:
        >>> main(["sandbox", "--speed", "5"])       # serves until Ctrl-C
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    func = getattr(args, "func", None)
    if func is None:
        parser.print_help()
        return 2
    return int(func(args))


if __name__ == "__main__":
    sys.exit(main())
