"""The sweep's concurrency governor, on its own: shrink on code 96, grow back, honour cancel."""

from __future__ import annotations

import threading

from wiro_widgets.research.cells import split_axes, sweep_over
from wiro_widgets.research.governor import Governor
from wiro_widgets.specs import FLUX_2_FLEX


def test_window_shrinks_to_what_runs_and_grows_back() -> None:
    gov = Governor(4)
    never = threading.Event()
    assert all(gov.acquire(never) for _ in range(4))
    assert gov.busy() == 3  # one refusal: three in flight
    assert gov.busy() == 2  # another: the server holds two
    assert gov.active == 2
    gov.release()
    assert gov.acquire(never)  # a freed slot is usable at once
    for _ in range(4):
        gov.accepted()
    assert gov.window == 3  # after a clean run of submits the window probes upwards
    gov.busy()
    assert gov.window == 1


def test_acquire_blocks_at_the_window_and_gives_up_on_cancel() -> None:
    gov = Governor(1)
    cancel = threading.Event()
    assert gov.acquire(cancel)
    got: list[bool] = []
    waiter = threading.Thread(target=lambda: got.append(gov.acquire(cancel)))
    waiter.start()
    waiter.join(0.3)
    assert waiter.is_alive()  # blocked: the only slot is taken
    cancel.set()
    waiter.join(2)
    assert got == [False]
    assert gov.active == 1


def test_axes_are_lists_except_references() -> None:
    refs = ["a.png", "b.png"]
    axes, fixed = split_axes({"prompt": "p", "seed": range(3), "guidance": (2.0, 4.0),
                              "input_images": refs}, FLUX_2_FLEX)
    assert axes == {"seed": [0, 1, 2], "guidance": [2.0, 4.0]}
    assert fixed == {"prompt": "p", "input_images": refs}
    axes, _ = split_axes({"input_images": sweep_over([["a.png"], refs])}, FLUX_2_FLEX)
    assert axes == {"input_images": [["a.png"], refs]}
