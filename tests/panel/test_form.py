"""The form follows the spec: controls, ranges, tooltips, sizes, seed tools, inline checks."""

from __future__ import annotations

import ipywidgets as w
import pytest

from wiro_widgets.panel.form import Form
from wiro_widgets.panel.sizes import (
    ASPECT_PRESETS,
    SizeRule,
    aspect_of,
    megapixels,
    preset_size,
    snap,
)
from wiro_widgets.specs import FLUX_2_FLEX
from wiro_widgets.specs.flux_2_flex import SEED_MAX

#: The size rule of flux-2-flex, from its spec: multiples of 16 in 64..2048.
RULE = SizeRule.of(FLUX_2_FLEX.param("width"))


@pytest.fixture
def form() -> Form:
    return Form(FLUX_2_FLEX)


def test_every_control_comes_from_the_spec(form: Form) -> None:
    for param in FLUX_2_FLEX.params:
        if param.is_files:
            continue
        control = form.controls[param.py_name]
        assert control.tooltip == param.help
        if param.py_name != "prompt":  # the prompt's label is its section title
            assert control.description == param.label
        if isinstance(control, (w.IntSlider, w.FloatSlider)):
            assert (control.min, control.max) == (param.minimum, param.maximum)
            assert control.step == param.step
            assert control.value == param.default
    assert form.values() == {**FLUX_2_FLEX.defaults(), "prompt": ""}
    # The seed's range is too wide for a slider.
    assert isinstance(form.seed, w.IntText)
    assert form.controls["output_format"].options == (("JPEG", "jpeg"), ("PNG", "png"))


def test_hook_classes_are_on_the_value_widgets(form: Form) -> None:
    for name, hook in {"prompt": "wiro-prompt", "guidance": "wiro-guidance",
                       "steps": "wiro-steps", "width": "wiro-width", "height": "wiro-height",
                       "seed": "wiro-seed"}.items():
        assert hook in form.controls[name]._dom_classes


def test_sizes_snap_to_16_and_presets_keep_about_a_megapixel() -> None:
    assert (snap(1000, RULE), snap(1016, RULE), snap(10, RULE), snap(9000, RULE)) == (
        1008, 1024, 64, 2048)
    for name, wp, hp in ASPECT_PRESETS:
        width, height = preset_size(name, RULE)
        assert width % 16 == 0
        assert height % 16 == 0
        assert 0.9 < megapixels(width, height) < 1.2
        assert abs(width / height - wp / hp) / (wp / hp) < 0.01
        assert aspect_of(width, height) == name
    assert aspect_of(1000, 300) is None


def test_size_tools(form: Form) -> None:
    assert form.width is not None
    assert form.height is not None
    form.width.value = 1000
    assert form.width.value == 1008
    form.aspect.value = "16:9"
    assert (form.width.value, form.height.value) == preset_size("16:9", RULE)
    assert "1360 × 768" in form.readout.value
    assert "MP" in form.readout.value
    form.swap_size()
    assert (form.width.value, form.height.value) == (768, 1360)
    assert form.aspect.value == "9:16"
    form.width.value = 1200
    assert form.aspect.value == "custom"


def test_match_first_reference_sends_zero_and_needs_a_reference(form: Form) -> None:
    form.match_reference.value = True
    assert form.values()["width"] == 0
    assert form.values()["height"] == 0
    assert form.width is not None
    assert form.width.disabled
    problems = form.check()
    assert problems["width"][1] == "error"
    assert "reference image" in problems["width"][0]
    form.reference_count = 1
    assert "width" not in form.check()


def test_invalid_values_show_next_to_their_control(form: Form) -> None:
    assert form.seed is not None
    form.seed.value = SEED_MAX + 1
    form.show(form.check())
    assert "Seed must be an integer from 0 to 9999999" in form.messages["seed"].value
    assert form.messages["seed"].layout.display == ""
    assert "wiro-invalid" in form.seed._dom_classes
    form.seed.value = 7
    form.show(form.check())
    assert form.messages["seed"].value == ""
    assert form.messages["seed"].layout.display == "none"
    assert "wiro-invalid" not in form.seed._dom_classes


def test_empty_prompt_counts_only_after_generate_and_mentions_are_checked(form: Form) -> None:
    assert "prompt" not in form.check()
    form.require_prompt = True
    assert form.check()["prompt"] == ("Prompt must not be empty.", "error")
    assert form.prompt is not None
    form.prompt.value = "put image 1 into image 3"
    form.reference_count = 2
    text, level = form.check()["prompt"]
    assert level == "warn"
    assert "image 3" in text
    assert "2 reference images are loaded" in text


def test_random_seed_and_lock(form: Form) -> None:
    assert form.seed is not None
    form.randomize.value = True
    seeds = {form.seed_for_run() for _ in range(5)}
    assert len(seeds) > 1
    assert all(0 <= s <= SEED_MAX for s in seeds if s is not None)
    assert form.seed.value in seeds  # the seed box shows the seed the run uses
    form.lock.value = True
    assert form.randomize.value is False
    assert form.seed.disabled
    kept = form.seed.value
    assert form.seed_for_run() == kept
    loaded = form.load({"seed": 5, "steps": 12})
    assert form.seed.value == kept
    assert "seed" not in loaded
    assert form.values()["steps"] == 12
    form.lock.value = False
    form.load({"seed": 5})
    assert form.seed.value == 5


def test_load_restores_a_run(form: Form) -> None:
    params = {"prompt": "a fox", "width": 0, "height": 0, "guidance": 3.3, "steps": 20,
              "seed": 99, "safety_tolerance": 4, "output_format": "jpeg",
              "input_images": [{"name": "a.png"}]}
    form.load(params)
    values = form.values()
    assert values == {k: v for k, v in params.items() if k != "input_images"}
    assert form.match_reference.value is True


def test_typed_sizes_are_snapped_and_say_so(form: Form) -> None:
    assert form.width is not None
    assert form.height is not None
    # Number boxes, not sliders: what is typed reaches Python, which snaps it and says so.
    assert isinstance(form.width, w.IntText)
    form.width.value = 1000
    assert form.width.value == 1008
    form.show(form.check())
    assert "1000 → 1008" in form.messages["width"].value
    assert "multiples of 16" in form.messages["width"].value
    assert "wiro-info" in form.messages["width"].value  # a note, not an error
    form.height.value = 5000
    assert form.height.value == 2048
    form.show(form.check())
    assert "5000 → 2048: the largest is 2048." in form.messages["height"].value
    assert "1000 → 1008" in form.messages["width"].value  # each keeps its own note
    form.width.value = 512  # a clean edit: the old note is stale
    form.show(form.check())
    assert form.messages["width"].value == ""
    assert form.messages["width"].layout.display == "none"
    form.set_size(1024, 768)  # a preset or swap also clears them
    form.show(form.check())
    assert form.messages["height"].value == ""


def test_batch_seeds(form: Form) -> None:
    assert form.seed is not None
    form.seed.value = 7
    assert form.seeds_for_run(3) == [7, 8, 9]
    form.seed.value = SEED_MAX
    assert form.seeds_for_run(2) == [SEED_MAX, 0]  # wraps inside the spec's range
    form.randomize.value = True
    seeds = form.seeds_for_run(4)
    assert len(set(seeds)) == 4
    assert form.seed.value == seeds[0]  # the first is shown in the seed box
