"""The client's small jobs through their own interfaces: budget, preparing, the kept record."""

from __future__ import annotations

import contextlib
import threading

import pytest

from wiro_widgets.client._budget import Budget
from wiro_widgets.client._conclude import KEPT_LOG_CHARS, kept_record
from wiro_widgets.client._prepare import params_from_record, prepare
from wiro_widgets.errors import BudgetExceeded, ConfigError, ValidationError

MODEL = "black-forest-labs/flux-2-flex"


def test_budget_counts_running_estimates_until_they_settle() -> None:
    budget = Budget(0.10)
    first = budget.reserve(0.06)
    with pytest.raises(BudgetExceeded) as info:
        budget.reserve(0.06)  # 0.06 reserved + 0.06 > 0.10
    assert info.value.estimate == 0.06
    budget.assign(first, "tok-1")
    budget.settle("tok-1", 0.01)  # cheaper than estimated: room again
    assert budget.spent == 0.01
    second = budget.reserve(0.06)
    budget.release(second)  # nothing was sent: no charge
    assert budget.spent == 0.01
    budget.reserve(0.09)
    with pytest.raises(BudgetExceeded):
        budget.reserve(0.0001)


def test_budget_without_limit_and_bad_limits() -> None:
    budget = Budget()
    for _ in range(100):
        budget.reserve(1.0)
    with pytest.raises(ConfigError):
        Budget(-1.0)
    with pytest.raises(ConfigError):
        budget.limit = float("nan")
    budget.limit = 0.0
    with pytest.raises(BudgetExceeded):
        budget.reserve(0.01)


def test_budget_is_safe_across_threads() -> None:
    budget = Budget(1.0)
    accepted: list[object] = []

    def grab() -> None:
        for _ in range(50):
            with contextlib.suppress(BudgetExceeded):
                accepted.append(budget.reserve(0.01))

    threads = [threading.Thread(target=grab) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(accepted) == 100


def test_prepare_fills_defaults_and_describes_references() -> None:
    prepared = prepare(MODEL, {"prompt": "a fox", "input_images": ["https://example.com/a.png"]})
    assert prepared.params["steps"] == 50
    assert prepared.params["input_images"][0]["url"] == "https://example.com/a.png"
    assert prepared.body.files["inputImage"][0].is_url
    assert prepared.file_fields == {"inputImage", "inputImageUrl"}  # the {id}Url companion too
    assert "inputImage" not in prepared.sent_values()
    assert prepared.estimate is not None
    with pytest.raises(ValidationError):
        prepare(MODEL, {"prompt": "a fox", "steps": 80})


def test_params_from_a_task_record() -> None:
    params = params_from_record(MODEL, {"steps": "28", "guidance": "4.5", "prompt": "x",
                                        "inputImage": "http://h/a.png,http://h/b.png",
                                        "unknown": 1})
    assert params["steps"] == 28
    assert params["guidance"] == 4.5
    assert [r["name"] for r in params["input_images"]] == ["a.png", "b.png"]
    assert "unknown" not in params
    assert params_from_record("someone/else", {"a": "1"}) == {"a": "1"}


def test_kept_record_cuts_only_a_long_log() -> None:
    short = {"status": "task_postprocess_end", "debugoutput": "Generate: 1/4"}
    assert kept_record(short) == short
    long_log = "".join(f"line {n}\n" for n in range(2000))
    kept = kept_record({"status": "x", "debugoutput": long_log})
    assert kept["status"] == "x"
    assert kept["debugoutput"] == "..." + long_log[-KEPT_LOG_CHARS:]


@pytest.mark.parametrize("cost", [None, "", "n/a", "-0.5", -0.5, "nan", "inf"])
def test_a_cost_that_cannot_be_trusted_counts_the_estimate(cost: object) -> None:
    budget = Budget(0.10)
    budget.assign(budget.reserve(0.06), "tok")
    assert budget.settle("tok", cost) == 0.06
    assert budget.spent == 0.06  # never $0, never lowering the total
    assert budget.reserved == 0


def test_a_task_is_counted_once_and_held_while_waited_for_by_token() -> None:
    budget = Budget(0.10)
    budget.hold("tok", 0.06)  # a task waited for by token (resumed, detached before)
    assert budget.knows("tok")
    assert budget.reserved == 0.06
    budget.hold("tok", 0.5)  # held already: unchanged
    assert budget.reserved == 0.06
    with pytest.raises(BudgetExceeded):
        budget.reserve(0.05)
    assert budget.settle("tok", "0.03") == 0.03
    assert budget.settle("tok", "0.03") == 0.0  # waited for again: not counted twice
    budget.hold("tok", 0.06)  # ended: never held again
    assert budget.spent == 0.03
    assert budget.reserved == 0


def test_a_lost_runs_hold_moves_to_its_task_when_adopted() -> None:
    budget = Budget(0.10)
    budget.assign(budget.reserve(0.06), "run-id")
    budget.assign("run-id", "tok")
    budget.assign("another-run", "tok-2")  # not held here (another session): nothing moves
    assert budget.reserved == 0.06
    assert not budget.knows("tok-2")
    budget.settle("tok", "0.06")
    assert budget.spent == 0.06
    assert budget.reserved == 0
