"""Sampling-time defences of an erased pipeline, one module each, and their registry.

A defence wraps sampling instead of editing weights: its entry function takes the
pipeline to defend, what was erased (an `EraseRequest` or one `Concept`) and its typed
params, like a method, and returns a `DefendedPipeline` whose ``pipe`` samples with
the defence through every sampler of the package (``generate``, the attacks' DDIM
loops)::

    defended = defend_irece(erased, request, IRECEParams(), original=pipe).pipe

- ``irece.py``: IRECE (M-ErasureBench): localise the concept through cross-attention
  read with the un-erased keys, perturb the latents there during the first steps.

The records share the method record's shape (name, params, entry, summary, paper); the
registry is not an entry point of its own: benchmarks name a defence by its key here.
This module imports only the schema.
"""

from unlearn_schema import MethodSpec, Registry

DEFENCES = Registry(
    "method",
    [
        MethodSpec(
            name="irece",
            params="erase_diffusion.defences.irece:IRECEParams",
            entry="erase_diffusion.defences.irece:defend_irece",
            summary=(
                "IRECE: perturb the latents where cross-attention (un-erased keys) finds the "
                "concept, during the first denoising steps."
            ),
            paper="M-ErasureBench (Concept Erasure beyond text prompts)",
        ),
    ],
)

__all__ = ["DEFENCES"]
