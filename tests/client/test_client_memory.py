"""Uploads stream from disk: ten 10 MB references must not cost anywhere near 100 MB of RAM.

The client runs in a subprocess (the sandbox stays in the test process), so its peak RSS is
the client's own.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

CHILD = r"""
import json, resource, sys
from wiro_widgets import WiroClient
from wiro_widgets.errors import NotFound

paths = sys.argv[1:]
client = WiroClient()
# Warm up every code path first (imports, a session, Pillow's PNG plugin), so the
# measurement below is the upload itself.
client.validate("black-forest-labs/flux-2-flex", prompt="warm", input_images=paths[:1])
try:
    client.detail("1")
except NotFound:
    pass
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
task = client.submit("black-forest-labs/flux-2-flex", prompt="ten big references",
                     input_images=paths, width=64, height=64, steps=1)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"task": task.id, "before_kb": before, "growth_kb": after - before}))
"""


@pytest.mark.slow
def test_ten_10mb_references_stream_from_disk(make_sandbox: Any, tmp_path: Path) -> None:
    side = 1830  # 1830 x 1830 RGB, stored uncompressed: about 10 MB of PNG
    first = tmp_path / "ref-0.png"
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(
        first, compress_level=0)
    size = first.stat().st_size
    assert 9.5e6 < size < 10.5e6
    paths = [first] + [tmp_path / f"ref-{i}.png" for i in range(1, 10)]
    for path in paths[1:]:
        shutil.copyfile(first, path)

    sb = make_sandbox(speed=1.0)
    env = {**os.environ, **sb.env(), "WIRO_WIDGETS_HOME": str(tmp_path / "home")}
    done = subprocess.run([sys.executable, "-c", CHILD, *map(str, paths)], env=env,
                          capture_output=True, text=True, timeout=240, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    sb.client().cancel(report["task"])  # no need to render with ten huge references

    (task,) = sb.tasks
    assert len(task.inputs) == 10
    assert {i["size"] for i in task.inputs} == {size}
    growth_mb = report["growth_kb"] / 1024
    assert growth_mb < 30, f"peak RSS grew {growth_mb:.1f} MB for {10 * size / 1e6:.0f} MB sent"
