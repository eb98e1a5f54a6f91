"""black-forest-labs/flux-2-flex, as its Wiro model page describes it.

Text-to-image, and editing guided by up to 10 reference images ("image 1" .. "image 10" in the
prompt refer to them in order).
"""

from __future__ import annotations

from ..schema import FormHints, FormSection, Kind, ModelSpec, Option, ParamSpec

__all__ = ["FLUX_2_FLEX", "SEED_MAX"]

#: The seed range from Wiro's generated OpenAPI for this model.
SEED_MAX = 9_999_999

_MATCH = "match the first reference image"
#: The size inputs' caption when they are 0 (the size of the first reference image).
_AS_IMAGE_1 = "as image 1"


FLUX_2_FLEX = ModelSpec(
    slug="black-forest-labs/flux-2-flex",
    title="FLUX.2 [flex]",
    description="Flux 2 Flex model: text-to-image and editing with up to 10 reference images.",
    params=(
        ParamSpec(
            "inputImage", Kind.COMBINEFILEINPUT, "Reference images",
            help="It accepts up to 10 images",
            max_files=10, py_name="input_images",
        ),
        ParamSpec(
            "prompt", Kind.TEXTAREA, "Prompt",
            help="Text prompt for image generation.", required=True, css_class="wiro-prompt",
        ),
        ParamSpec(
            "width", Kind.NUMBER, "Width",
            help="Width in pixels (must be multiple of 16). Set it to 0 or do not send if you "
            "want to match input image. Flux accepts between 64 and 2048.",
            default=1024, minimum=64, maximum=2048, step=16, multiple_of=16, zero_means=_MATCH,
            css_class="wiro-width", zero_label=_AS_IMAGE_1,
        ),
        ParamSpec(
            "height", Kind.NUMBER, "Height",
            help="Height in pixels (must be multiple of 16). Set it to 0 or do not send if you "
            "want to match input image. Flux accepts between 64 and 2048.",
            default=1024, minimum=64, maximum=2048, step=16, multiple_of=16, zero_means=_MATCH,
            css_class="wiro-height", zero_label=_AS_IMAGE_1,
        ),
        ParamSpec(
            "safetyTolerance", Kind.NUMBER, "Safety tolerance",
            help="Tolerance level for input and output moderation. Between 0 and 6, 0 being "
            "most strict, 6 being least strict.",
            default=2, minimum=0, maximum=6, step=1, css_class="wiro-safety",
        ),
        ParamSpec(
            "seed", Kind.NUMBER, "Seed",
            help="Seed for reproducible results. Use the same seed to get consistent outputs.",
            default=123, minimum=0, maximum=SEED_MAX, step=1, css_class="wiro-seed",
        ),
        ParamSpec(
            "guidance", Kind.FLOAT, "Guidance",
            help="Guidance scale. Controls how closely the output follows the prompt. "
            "Minimum: 1.5, maximum: 10, default: 4.5. Higher = closer prompt adherence.",
            default=4.5, minimum=1.5, maximum=10, step=0.1, css_class="wiro-guidance",
        ),
        ParamSpec(
            "steps", Kind.NUMBER, "Steps",
            help="Number of inference steps. Maximum: 50, default: 50. Higher = more detail, "
            "slower.",
            default=50, minimum=1, maximum=50, step=1, css_class="wiro-steps",
        ),
        ParamSpec(
            "outputFormat", Kind.SELECT, "Output format",
            help="Output format for the generated image.",
            default="png", options=(Option("jpeg", "JPEG"), Option("png", "PNG")),
            aliases={"jpg": "jpeg"}, css_class="wiro-format",
        ),
    ),
    # The package's own estimate (Wiro documents no price for this model): used only while
    # the live schema carries no dynamicprice.
    price_per_megapixel=0.06,
    price_per_reference=0.0,
    estimated_seconds=10.0,
    categories=("text-to-image", "image-to-image", "image-editing"),
    form=FormHints(
        sections=(
            FormSection("Prompt", ("prompt",)),
            FormSection("Size", ("width", "height")),
            FormSection("Sampling", ("guidance", "steps", "seed")),
            FormSection("Output", ("safety_tolerance", "output_format")),
        ),
        prompt="prompt",
        seed="seed",
        size=("width", "height"),
        caption=("width", "height", "guidance", "steps", "safety_tolerance", "output_format"),
    ),
)
