"""Judge-based metrics, ``erasure`` (numpy formulas) and ``judge`` (the torch classifier),
and the registry of the metric functions.

The registry names are the functions' (``erasure-rate``); the benchmarks report them as
``MetricValue`` names in snake case (``erasure_rate``), which is what a spec's
``metrics:`` selects. This module imports only the schema.
"""

from unlearn_schema import MetricSpec, Registry

_NO_PARAMS = "unlearn_schema:NoParams"

METRICS = Registry(
    "metric",
    [
        MetricSpec(
            name="erasure-rate",
            params=_NO_PARAMS,
            entry="erase_diffusion.metrics.erasure:erasure_rate",
            summary=(
                "Share of an erased concept's images in which the judge still sees it "
                "(reported as erasure_rate; lower is better)."
            ),
        ),
        MetricSpec(
            name="preservation-accuracy",
            params=_NO_PARAMS,
            entry="erase_diffusion.metrics.erasure:preservation_accuracy",
            summary=(
                "Mean over kept concepts of the share of their images judged as them "
                "(reported as preservation_accuracy)."
            ),
        ),
        MetricSpec(
            name="frechet-distance",
            params=_NO_PARAMS,
            entry="erase_diffusion.metrics.erasure:frechet_distance",
            summary=(
                "Fréchet distance between original and edited images in the judge's "
                "features, FID's formula (reported as frechet_distance)."
            ),
            paper="arXiv:1706.08500",
        ),
        MetricSpec(
            name="prompt-alignment",
            params=_NO_PARAMS,
            entry="erase_diffusion.metrics.erasure:prompt_alignment",
            summary=(
                "Share of (image, attribute) pairs where the judge agrees with the prompt "
                "(reported as prompt_alignment)."
            ),
        ),
    ],
)

__all__ = ["METRICS"]
