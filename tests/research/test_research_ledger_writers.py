"""Several threads and processes appending to one ledger leave every line whole."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from pathlib import Path

from wiro_widgets.ledger import Ledger

# Lines longer than the pipe/page sizes, so unlocked buffered writes would tear.
PAD = "x" * 12_000
PER_WRITER = 60

WRITER = """
import sys
from wiro_widgets.ledger import Ledger
ledger = Ledger(sys.argv[1])
for i in range(int(sys.argv[3])):
    ledger.append("submitted", token=f"{sys.argv[2]}-{i}", task_id=str(i), pad=sys.argv[4])
"""


def test_threads_and_processes_write_a_valid_ledger(wiro_home: Path) -> None:
    procs = [subprocess.Popen([sys.executable, "-c", WRITER, str(wiro_home), f"proc{p}",
                               str(PER_WRITER), PAD], env=os.environ.copy())
             for p in range(3)]
    ledger = Ledger(wiro_home)

    def write(name: str) -> None:
        for i in range(PER_WRITER):
            ledger.append("submitted", token=f"{name}-{i}", task_id=str(i), pad=PAD)

    threads = [threading.Thread(target=write, args=(f"thread{t}",)) for t in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for proc in procs:
        assert proc.wait(timeout=60) == 0
    lines = ledger.path.read_text(encoding="utf-8").splitlines()
    events = [json.loads(line) for line in lines]  # every line parses
    tokens = [e["token"] for e in events]
    expected = {f"{w}-{i}" for w in [*(f"proc{p}" for p in range(3)),
                                     *(f"thread{t}" for t in range(4))]
                for i in range(PER_WRITER)}
    assert len(tokens) == len(expected)
    assert set(tokens) == expected
    assert all(e["pad"] == PAD for e in events)
    assert set(ledger.tasks()) == expected
