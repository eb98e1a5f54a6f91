"""Which task records a lost Run may adopt, through the reconciler's own interface (pure
logic on prepared submissions, a stand-in for Task/List and a real ledger)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import pytest

from wiro_widgets.backoff import READ_RETRY, RetryPolicy
from wiro_widgets.client._prepare import Prepared, prepare
from wiro_widgets.client._reconcile import (
    MAX_CLOCK_SKEW,
    KnownTasks,
    Reconciler,
    Wanted,
    params_match,
)
from wiro_widgets.errors import NetworkError
from wiro_widgets.ledger import ClientInfo, Ledger, RunUnknown, Submitted

MODEL = "black-forest-labs/flux-2-flex"


class TaskList:
    """Answers Task/List with the records given, counting the reads."""

    def __init__(self, *pages: list[dict[str, Any]] | Exception) -> None:
        self.pages = list(pages)
        self.reads = 0

    def __call__(self, retry: RetryPolicy) -> Mapping[str, Any]:
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


def wanted(prepared: Prepared | None = None, *, ahead: float = 1.0) -> Wanted:
    """What the Run looked like; ``ahead``: how far this computer's clock runs ahead of the
    server's (the records' ``createtime`` is the server's "now")."""
    return Wanted.of(prepared or prepared_fox(), sent_at=time.time() + ahead)


def test_matching_record_is_claimed_once(reconciler: Reconciler, known: KnownTasks) -> None:
    assert reconciler.claim(record(), wanted()) is True
    assert "500" in known
    assert reconciler.claim(record(), wanted()) is False  # already ours


def test_a_task_the_client_holds_is_never_claimed(reconciler: Reconciler,
                                                  known: KnownTasks) -> None:
    known.add("500")
    assert reconciler.claim(record(), wanted()) is False


@pytest.mark.parametrize("ahead", [5.0, 300.0, -60.0], ids=["5s-ahead", "5min-ahead",
                                                            "1min-behind"])
def test_the_clients_clock_does_not_decide(reconciler: Reconciler, ahead: float) -> None:
    # The case: this computer's clock 5 s ahead of the server's.
    assert reconciler.claim(record(), wanted(ahead=ahead)) is True


@pytest.mark.parametrize("change", [
    {"parameters": {"prompt": "other"}},
    {"modelslugproject": "flux-2-pro"},
    {"createtime": str(int(time.time() - MAX_CLOCK_SKEW - 600))},
    {"socketaccesstoken": ""},
    {"parameters": {}},
    {"parameters": None},
])
def test_other_tasks_are_not_claimed(reconciler: Reconciler, change: dict[str, Any]) -> None:
    rec = record(**change)
    if change.get("parameters"):
        rec["parameters"] = {**record()["parameters"], **change["parameters"]}
    assert reconciler.claim(rec, wanted()) is False


def test_numbers_compare_as_numbers(reconciler: Reconciler) -> None:
    rec = record()
    rec["parameters"]["guidance"] = 4.5
    rec["parameters"]["steps"] = "4.0"
    assert reconciler.claim(rec, wanted()) is True


def test_callback_url_is_not_compared(reconciler: Reconciler) -> None:
    prepared = prepared_fox(callback_url="http://127.0.0.1:9/cb")
    assert prepared.body.fields["callbackUrl"] == "http://127.0.0.1:9/cb"
    assert "callbackUrl" not in prepared.sent_values()
    assert reconciler.claim(record(), wanted(prepared)) is True


def test_params_match_lists_and_flags() -> None:
    assert params_match({"urls": ["a", "b"]}, {"urls": "a,b"})
    assert not params_match({"urls": ["a", "b"]}, {"urls": "a"})
    assert params_match({"raw": True}, {"raw": "true"})
    assert not params_match({"steps": 4}, {})
    assert not params_match({"steps": 4}, None)


def test_find_adopts_the_task_the_run_created(known: KnownTasks) -> None:
    listing = TaskList([record(id="499", parameters={"prompt": "older"}), record()])
    found = Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0, READ_RETRY)
    assert found is not None
    assert found["id"] == "500"
    assert "500" in known
    assert listing.reads == 1


def test_find_reads_twice_before_saying_unknown(known: KnownTasks) -> None:
    listing = TaskList([record(parameters={"prompt": "other"})])
    assert Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0,
                                           READ_RETRY) is None
    assert listing.reads == 2


def test_find_adopts_a_task_that_shows_up_late(known: KnownTasks) -> None:
    listing = TaskList([], [record()])
    found = Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0, READ_RETRY)
    assert found is not None
    assert listing.reads == 2


def test_find_never_guesses(known: KnownTasks) -> None:
    listing = TaskList([record(parameters={})])
    assert Reconciler(listing, known).find(prepared_fox(), time.time() - 1, 0.0,
                                           READ_RETRY) is None
    failing = TaskList(NetworkError("down"))
    assert Reconciler(failing, known).find(prepared_fox(), time.time() - 1, 0.0,
                                           READ_RETRY) is None
    assert "500" not in known


def test_identical_requests_take_the_task_created_closest_to_their_send(
        known: KnownTasks) -> None:
    now = time.time()
    listing = TaskList([record(id="502", createtime=str(int(now))),
                        record(id="501", createtime=str(int(now - 40)))])
    reconciler = Reconciler(listing, known)
    assert reconciler.find(prepared_fox(), now - 40, 0.0, READ_RETRY)["id"] == "501"
    assert reconciler.find(prepared_fox(), now, 0.0, READ_RETRY)["id"] == "502"


def test_tasks_in_the_ledger_are_never_adopted(known: KnownTasks, tmp_path: Any) -> None:
    ledger = Ledger(tmp_path)
    ledger.write(Submitted(task_id="500", token="tok", model=MODEL))  # another client's
    reconciler = Reconciler(TaskList([record()]), known, ledger)
    assert reconciler.find(prepared_fox(), time.time() - 1, 0.0, READ_RETRY) is None


CLIENT = ClientInfo(base_url="http://127.0.0.1:1/v1", key="key-a")


def _lost(ledger: Ledger, run_id: str, client: ClientInfo = CLIENT) -> None:
    prepared = prepared_fox()
    ledger.write(RunUnknown(model=MODEL, params=prepared.params, run_id=run_id,
                            reason="HTTP 504", sent=prepared.sent_values(),
                            fingerprint="f", sent_at=time.time() + 5, client=client))


def test_adopt_makes_the_task_of_a_lost_run_pending(known: KnownTasks, tmp_path: Any) -> None:
    ledger = Ledger(tmp_path)
    _lost(ledger, "run-1")
    _lost(ledger, "run-2", ClientInfo(base_url=CLIENT.base_url, key="key-b"))
    listing = TaskList([record()])
    adopted = Reconciler(listing, known).adopt(ledger, CLIENT, READ_RETRY)
    assert [(a.run_id, a.task.id, a.task.token) for a in adopted] == [("run-1", "500", "tok")]
    entry = ledger.tasks()["tok"]
    assert entry.submitted is not None
    assert entry.submitted.adopted
    assert entry.submitted.run_id == "run-1"
    assert entry.params["prompt"] == "fox"
    assert not entry.is_finished
    # The other key's lost Run is not this project's to adopt; it stays unknown.
    assert [run.run_id for run in ledger.unknown_runs()] == ["run-2"]
    assert Reconciler(listing, KnownTasks()).adopt(ledger, CLIENT, READ_RETRY) == []


def test_adopt_reports_an_unreadable_list(known: KnownTasks, tmp_path: Any) -> None:
    ledger = Ledger(tmp_path)
    _lost(ledger, "run-1")
    with pytest.raises(NetworkError):
        Reconciler(TaskList(NetworkError("down")), known).adopt(ledger, CLIENT, READ_RETRY)
    assert [run.run_id for run in ledger.unknown_runs()] == ["run-1"]
