"""Scene-text erasing methods, one module each, and their registry.

Every entry function has one shape: the typed params in, a `FittedEraser` out
(`erase_diffusion.scene_text.methods.eraser`), whose ``erase`` maps images with text to
text-free estimates::

    eraser = fit_ste(STEParams(steps=400))
    erased = eraser.erase(images)

The method modules import torch only inside their functions, so resolving a params type
imports no torch. This registry module imports only the schema.
"""

from unlearn_schema import MethodSpec, Registry

_M = "erase_diffusion.scene_text.methods"

METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="ste",
            params=f"{_M}.ste:STEParams",
            entry=f"{_M}.ste:fit_ste",
            summary="STE: coarse-to-fine eraser on policy-styled synthetic pairs, triplet loss.",
            paper="arXiv:2204.12743",
        ),
        MethodSpec(
            name="ste-uniform-style",
            params=f"{_M}.ste:STEParams",
            entry=f"{_M}.ste:fit_ste_uniform_style",
            summary="STE with uniformly drawn styles (no policy): the policy's ablation.",
            paper="arXiv:2204.12743",
        ),
        MethodSpec(
            name="ste-no-triplet",
            params=f"{_M}.ste:STENoTripletParams",
            entry=f"{_M}.ste:fit_ste",
            summary="STE without the triplet erasure loss (λ = 0): the loss's ablation.",
            paper="arXiv:2204.12743",
        ),
        MethodSpec(
            name="ste-no-realism",
            params=f"{_M}.ste:STENoRealismParams",
            entry=f"{_M}.ste:fit_ste",
            summary="STE with the difficulty reward alone (w = 0): the realism reward's ablation.",
            paper="arXiv:2204.12743",
        ),
        MethodSpec(
            name="median-inpainting",
            params=f"{_M}.median:MedianInpaintingParams",
            entry=f"{_M}.median:fit_median_inpainting",
            summary="Naive inpainting: colour outliers replaced by the local median.",
        ),
    ],
)

__all__ = ["METHODS"]
