"""Which task records a lost Run may adopt, through the reconciler's own interface (pure
logic on prepared submissions and a stand-in for Task/List)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from wiro_widgets.client._prepare import Prepared, prepare
from wiro_widgets.client._reconcile import KnownTasks, Reconciler, params_match
from wiro_widgets.errors import NetworkError, RunOutcomeUnknown

MODEL = "black-forest-labs/flux-2-flex"


class TaskList:
    """Answers Task/List with the records given, counting the reads."""

    def __init__(self, *pages: list[dict[str, Any]] | Exception) -> None:
        self.pages = list(pages)
        self.reads = 0

    def __call__(self) -> Mapping[str, Any]:
        page = self.pages[min(self.reads, len(self.pages) - 1)]
        self.reads += 1
        if isinstance(page, Exception):
            raise page
        return {"result": True, "tasklist": page}


@pytest.fixture
def known() -> KnownTasks:
    return KnownTasks()


@pytest.fixture
def reconciler(known: KnownTasks) -> Reconciler:
    return Reconciler(TaskList([]), known)


def record(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": "500", "socketaccesstoken": "tok", "modelslugowner": "black-forest-labs",
        "modelslugproject": "flux-2-flex", "createtime": str(int(time.time())),
        "parameters": {"prompt": "fox", "width": "64", "height": "64", "steps": "4",
                       "seed": "123", "guidance": "4.5", "safetyTolerance": "2",
                       "outputFormat": "png"},
    }
    base.update(overrides)
    return base


def prepared_fox(**params: Any) -> Prepared:
    return prepare(MODEL, {"prompt": "fox", "width": 64, "height": 64, "steps": 4, **params})


def test_matching_record_is_claimed_once(reconciler: Reconciler, known: KnownTasks) -> None:
    prepared, started = prepared_fox(), time.time() - 1
    assert reconciler.claim(record(), prepared, started) is True
    assert "500" in known
    assert reconciler.claim(record(), prepared, started) is False  # already ours


def test_a_task_the_client_holds_is_never_claimed(reconciler: Reconciler,
                                                  known: KnownTasks) -> None:
    known.add("500")
    assert reconciler.claim(record(), prepared_fox(), time.time() - 1) is False


@pytest.mark.parametrize("change", [
    {"parameters": {"prompt": "other"}},
    {"modelslugproject": "flux-2-pro"},
    {"createtime": str(int(time.time()) - 3600)},
    {"socketaccesstoken": ""},
])
def test_other_tasks_are_not_claimed(reconciler: Reconciler, change: dict[str, Any]) -> None:
    rec = record(**change)
    if "parameters" in change:
        rec["parameters"] = {**record()["parameters"], **change["parameters"]}
    assert reconciler.claim(rec, prepared_fox(), time.time() - 1) is False


def test_numbers_compare_as_numbers(reconciler: Reconciler) -> None:
    rec = record()
    rec["parameters"]["guidance"] = 4.5
    rec["parameters"]["steps"] = "4.0"
    assert reconciler.claim(rec, prepared_fox(), time.time() - 1) is True


def test_a_record_without_parameters_is_uncertain(reconciler: Reconciler) -> None:
    assert reconciler.claim(record(parameters={}), prepared_fox(), time.time() - 1) is None
    assert reconciler.claim(record(parameters=None), prepared_fox(), time.time() - 1) is None


def test_callback_url_is_not_compared(reconciler: Reconciler) -> None:
    prepared = prepared_fox(callback_url="http://127.0.0.1:9/cb")
    assert prepared.body.fields["callbackUrl"] == "http://127.0.0.1:9/cb"
    assert "callbackUrl" not in prepared.sent_values()
    assert reconciler.claim(record(), prepared, time.time() - 1) is True


def test_params_match_lists_and_flags() -> None:
    assert params_match({"urls": ["a", "b"]}, {"urls": "a,b"})
    assert not params_match({"urls": ["a", "b"]}, {"urls": "a"})
    assert params_match({"raw": True}, {"raw": "true"})
    assert not params_match({"steps": 4}, {})
    assert not params_match({"steps": 4}, None)


def test_find_adopts_the_task_the_run_created(known: KnownTasks) -> None:
    listing = TaskList([record(id="499", parameters={"prompt": "older"}), record()])
    found = Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0, "drop")
    assert found is not None
    assert found["id"] == "500"
    assert "500" in known
    assert listing.reads == 1


def test_find_reads_twice_before_saying_none(known: KnownTasks) -> None:
    listing = TaskList([record(parameters={"prompt": "other"})])
    assert Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0, "drop") is None
    assert listing.reads == 2


def test_find_adopts_a_task_that_shows_up_late(known: KnownTasks) -> None:
    listing = TaskList([], [record()])
    found = Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0, "drop")
    assert found is not None
    assert listing.reads == 2


def test_find_never_guesses(known: KnownTasks) -> None:
    listing = TaskList([record(parameters={})])
    with pytest.raises(RunOutcomeUnknown, match="could not be told apart"):
        Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0, "ReadTimeout")
    failing = TaskList(NetworkError("down"))
    with pytest.raises(RunOutcomeUnknown, match=r"ReadTimeout.*could not be read"):
        Reconciler(failing, known).find(prepared_fox(), time.time() - 1, 0.0, "ReadTimeout")
    assert "500" not in known
