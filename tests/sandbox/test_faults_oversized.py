"""Fault mode: an oversized Task/Detail answer (issue 12). Raw HTTP only."""

from __future__ import annotations

import json
from typing import Any

from .wire import Api


def test_an_oversized_task_detail_answer(make_sandbox: Any) -> None:
    sb = make_sandbox()
    api = Api(sb)
    answer = api.run_ok(prompt="big log", steps=1)
    api.wait(answer["socketaccesstoken"])
    sb.set_faults({"detail_mb": 3})
    response = api.post("/Task/Detail", json={"taskid": answer["taskid"]})
    assert 3 << 20 <= len(response.content) < (3 << 20) + 100_000
    record = json.loads(response.content)["tasklist"][0]
    assert (record["status"], record["pexit"]) == ("task_postprocess_end", "0")
    assert len(record["debugoutput"]) >= 3 << 20
    # Only Task/Detail is padded.
    assert len(api.post("/Task/List", json={}).content) < 100_000
