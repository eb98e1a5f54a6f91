"""The examples folder stays honest: every file has a source in ``SOURCES.md``, the verbatim
ones parse (or, where the docs print invalid JSON, are kept apart), and every composed file
differs from the documented one it is built on only as ``SOURCES.md`` says."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from .examples import EXAMPLES, example_text

_CATEGORIES_AS_PRINTED = (
    '"categories": "["tool","image-to-image","quick-showcase","compare-landscape"]"')
_CATEGORIES_ESCAPED = ('"categories": "[\\"tool\\",\\"image-to-image\\",'
                       '\\"quick-showcase\\",\\"compare-landscape\\"]"')
_DOCUMENTED_STDERR = "UserWarning: Some weights were not initialized..."

#: Task/Detail records composed from the documented one (tasks.md) and what changes in them.
COMPOSED_RECORDS: dict[str, dict[str, Any]] = {
    "task-detail-queued.json": {"status": "task_queue", "pexit": "", "totalcost": "0",
                                "outputs": []},
    "task-detail-running.json": {"status": "task_start", "pexit": "", "totalcost": "0",
                                 "outputs": []},
    "task-detail-failed.json": {"pexit": "1", "debugerror": _DOCUMENTED_STDERR,
                                "elapsedseconds": "4.0000", "totalcost": "0", "outputs": []},
}


def _parsed(name: str) -> Any:
    return json.loads(example_text(name))


def test_every_example_has_a_source() -> None:
    sources = (EXAMPLES / "SOURCES.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `([^`]+)` \|", sources, flags=re.M))
    present = {p.name for p in EXAMPLES.iterdir() if p.name != "SOURCES.md"}
    assert listed == present


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.json")))
def test_json_examples_parse(name: str) -> None:
    assert isinstance(_parsed(name), dict)


@pytest.mark.parametrize("name", ["task-kill", "task-cancel"])
def test_the_model_pages_invalid_json_is_repaired_in_one_place_only(name: str) -> None:
    printed = example_text(f"{name}.model-page.txt")
    with pytest.raises(ValueError):
        json.loads(printed)  # the model page prints the categories string unescaped
    assert printed.count(_CATEGORIES_AS_PRINTED) == 1
    assert example_text(f"{name}.json") == printed.replace(_CATEGORIES_AS_PRINTED,
                                                           _CATEGORIES_ESCAPED)


@pytest.mark.parametrize("name", sorted(COMPOSED_RECORDS))
def test_composed_records_change_only_what_is_declared(name: str) -> None:
    documented, composed = _parsed("task-detail-succeeded.json"), _parsed(name)
    assert {k: v for k, v in composed.items() if k != "tasklist"} == {
        k: v for k, v in documented.items() if k != "tasklist"}
    assert composed["tasklist"] == [{**documented["tasklist"][0], **COMPOSED_RECORDS[name]}]


def test_the_failed_records_debugerror_is_the_documented_stderr() -> None:
    assert _parsed("frame-task-error-full.json")["message"]["raw"] == _DOCUMENTED_STDERR
    assert _parsed("frame-task-error.json")["message"] == _DOCUMENTED_STDERR


def test_the_cancelled_record_is_the_documented_cancel_answer() -> None:
    assert _parsed("task-detail-cancelled.json") == {"total": "1",
                                                     **_parsed("task-cancel.json")}


def test_the_string_progress_frame_is_the_object_frame_encoded() -> None:
    as_object = _parsed("frame-task-output-progress.json")
    as_string = _parsed("frame-task-output-progress-string.json")
    assert json.loads(as_string.pop("message")) == as_object.pop("message")
    assert as_string == as_object


def test_the_cancel_frame_is_the_documented_frame_shape() -> None:
    assert _parsed("frame-task-cancel.json") == {**_parsed("frame-task-accept.json"),
                                                 "type": "task_cancel"}


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("error-*.json")))
def test_error_bodies_have_the_documented_layout(name: str) -> None:
    body = _parsed(name)
    (error,) = body["errors"]
    assert body["result"] is False
    assert isinstance(error["code"], int)
    layout = example_text("error-balance-97.json")  # error-reference.md, verbatim
    assert example_text(name) == layout.replace("97", str(error["code"])).replace(
        '"Insufficient balance"', json.dumps(error["message"]))


def test_the_empty_task_list_has_the_detail_envelope() -> None:
    listed, detail = _parsed("task-list-empty.json"), _parsed("task-detail-succeeded.json")
    assert list(listed) == list(detail)
    assert (listed["total"], listed["tasklist"]) == ("0", [])
