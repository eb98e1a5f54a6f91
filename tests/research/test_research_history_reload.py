"""A result reloaded with ``client.history()`` is the result the client returned: SANDBOX
label, wall time and final record included, whatever loopback address the sandbox is on."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from wiro_widgets.ledger import Ledger

from .conftest import MODEL


@pytest.mark.parametrize("host", ["127.0.0.2", "127.0.0.1"])
def test_history_keeps_sandbox_wall_time_and_record(make_sandbox: Callable[..., Any],
                                                    host: str) -> None:
    sb = make_sandbox(host=host)
    assert f"//{host}:" in sb.base_url
    client = sb.client()
    result = client.run(MODEL, prompt="a lighthouse", seed=5, width=64, height=64, steps=4)
    assert result.sandbox
    assert result.wall_time > 0

    [reloaded] = client.history()
    assert reloaded.task_id == result.task_id
    assert reloaded.sandbox is True
    assert reloaded.wall_time == pytest.approx(result.wall_time, abs=1e-6)
    assert reloaded.record == result.record
    assert reloaded.record["status"] == "task_postprocess_end"
    assert reloaded.elapsed == result.elapsed
    assert reloaded.cost == result.cost
    assert reloaded.images[0].size == result.images[0].size
    assert "SANDBOX" in reloaded._repr_html_()

    # The client wrote what it knew, rather than history guessing from the URL.
    entry = Ledger(client.ledger.home).tasks()[result.token]
    assert entry.finished is not None
    assert entry.finished.sandbox is True
    assert entry.submitted is not None
    assert entry.submitted.client.sandbox is True

