"""Several threads and processes appending to one ledger: each process's append waits for the
ledger's lock, and every line lands whole."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
from pathlib import Path

from filelock import FileLock

from wiro_widgets.ledger import Ledger

# Lines longer than the pipe/page sizes, so unlocked buffered writes could tear.
PAD = "x" * 12_000
PER_WRITER = 60
#: What a writer prints once its first append found the lock held (filelock logs each
#: poll of a lock held elsewhere at DEBUG as "... not acquired ...").
WAITING = "waiting for the ledger lock"

WRITER = f"""
import logging, sys
from wiro_widgets.ledger import Ledger

class Waiting(logging.Handler):
    def emit(self, record):
        if "not acquired" in record.getMessage():
            print({WAITING!r}, flush=True)
            logging.getLogger("filelock").removeHandler(self)

logging.getLogger("filelock").setLevel(logging.DEBUG)
logging.getLogger("filelock").addHandler(Waiting())
ledger = Ledger(sys.argv[1])
for i in range(int(sys.argv[3])):
    ledger.append("submitted", token=f"{{sys.argv[2]}}-{{i}}", task_id=str(i), pad=sys.argv[4])
print("done", flush=True)
"""


def _first_line(proc: subprocess.Popen[str], timeout: float = 60.0) -> str:
    assert proc.stdout is not None
    ready, _, _ = select.select([proc.stdout], [], [], timeout)
    assert ready, "the writer printed nothing"
    return proc.stdout.readline().strip()


def test_processes_wait_for_the_lock_and_every_line_lands_whole(wiro_home: Path) -> None:
    ledger = Ledger(wiro_home)
    writers = [f"proc{p}" for p in range(3)]
    with FileLock(str(wiro_home / "ledger.jsonl.lock")):  # the lock every writer shares
        procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(wiro_home), name,
                                   str(PER_WRITER), PAD], env=os.environ.copy(),
                                  stdout=subprocess.PIPE, text=True)
                 for name in writers]
        # Each process reports that its first append is waiting; one that wrote without
        # the lock would print "done" (or nothing, and exit) instead.
        assert [_first_line(proc) for proc in procs] == [WAITING] * len(procs)
        assert list(ledger.events()) == []

        def write(name: str) -> None:
            for i in range(PER_WRITER):
                ledger.append("submitted", token=f"{name}-{i}", task_id=str(i), pad=PAD)

        threads = [threading.Thread(target=write, args=(f"thread{t}",)) for t in range(4)]
        for thread in threads:  # they queue on the lock too, then race the processes
            thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
        assert proc.stdout is not None
        assert proc.stdout.read().split() == ["done"]
        proc.stdout.close()
    lines = ledger.path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line parses
    tokens = [e["token"] for e in events]
    expected = {f"{w}-{i}" for w in [*writers, *(f"thread{t}" for t in range(4))]
                for i in range(PER_WRITER)}
    assert len(tokens) == len(expected)
    assert set(tokens) == expected
    assert all(e["pad"] == PAD for e in events)
    assert set(ledger.tasks()) == expected
