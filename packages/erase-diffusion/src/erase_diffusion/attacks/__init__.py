"""Attacks that try to bring an erased concept back, one module per family, and their registry.

Every entry function has the shape of ``target.py``'s contract::

    learned_embedding(DiffusionAttackTarget(pipe, concept, judge, seed, original=...), params)
        -> DiffusionAttackOutcome   # CRR under attack, clean CRR, ASR (higher = more concept)

- ``embeddings.py``: textual inversion of the concept's token through the erased model
  (white-box) or through the original, transferred (black-box);
- ``latents.py``: DDIM inversion of concept images into starting noise, with the erased
  model (white-box) or the original (black-box);
- ``concept_vector.py``: a concept direction from prompt pairs (original text encoder)
  added to the erased model's prompt encodings (Ring-A-Bell style);
- ``prompt_search.py``: discrete adversarial tokens before the prompt, each chosen over
  the whole vocabulary by the erased model's denoising loss on a concept image
  (UnlearnDiffAtk style);
- ``arithmetic.py``: compositions of prompts in one generation (the erased prompt at a
  negative weight, other values' prompts fitted by least squares, or the user's own),
  the one with the lowest white-box denoising loss sampled (Concept Arithmetics);
- ``hiding.py``: a designed pipeline that hides a concept in its text encoder only, on
  which every white-box attack must bring the concept back.

Params classes live in their attack's module, which imports torch only inside functions,
so resolving a params type imports no torch. This registry module imports only the schema.
"""

from unlearn_schema import AttackSpec, Registry

_E = "erase_diffusion.attacks.embeddings"
_L = "erase_diffusion.attacks.latents"
_M_ERASUREBENCH = "M-ErasureBench (Concept Erasure beyond text prompts)"

ATTACKS = Registry(
    "attack",
    [
        AttackSpec(
            name="learned-embedding",
            params=f"{_E}:LearnedEmbeddingParams",
            entry=f"{_E}:learned_embedding",
            summary="White-box textual inversion: concept embedding learned on the erased model.",
            paper="arXiv:2308.01508",
        ),
        AttackSpec(
            name="learned-embedding-transfer",
            params=f"{_E}:LearnedEmbeddingParams",
            entry=f"{_E}:learned_embedding_transfer",
            summary=(
                "Black-box textual inversion: learned on the original model, used on the erased."
            ),
            paper="arXiv:2308.01508",
        ),
        AttackSpec(
            name="inverted-latents",
            params=f"{_L}:InvertedLatentParams",
            entry=f"{_L}:inverted_latents",
            summary="White-box DDIM inversion of concept images by the erased model, sampled back.",
            paper=_M_ERASUREBENCH,
        ),
        AttackSpec(
            name="inverted-latents-transfer",
            params=f"{_L}:InvertedLatentParams",
            entry=f"{_L}:inverted_latents_transfer",
            summary="Black-box DDIM inversion with the original model, sampled by the erased one.",
            paper=_M_ERASUREBENCH,
        ),
        AttackSpec(
            name="concept-vector",
            params="erase_diffusion.attacks.concept_vector:ConceptVectorParams",
            entry="erase_diffusion.attacks.concept_vector:concept_vector",
            summary="Ring-A-Bell style: concept direction from prompt pairs added to the prompts.",
            paper="arXiv:2310.10012",
        ),
        AttackSpec(
            name="prompt-search",
            params="erase_diffusion.attacks.prompt_search:PromptSearchParams",
            entry="erase_diffusion.attacks.prompt_search:prompt_search",
            summary="UnlearnDiffAtk style: adversarial tokens searched by the erased denoiser.",
            paper="arXiv:2310.11868",
        ),
        AttackSpec(
            name="concept-arithmetic",
            params="erase_diffusion.attacks.arithmetic:ConceptArithmeticParams",
            entry="erase_diffusion.attacks.arithmetic:concept_arithmetic",
            summary="Composable-diffusion sums of prompts, chosen by the erased denoiser's loss.",
            paper="Concept Arithmetics (Petsiuk and Saenko, 2024)",
        ),
    ],
)

__all__ = ["ATTACKS"]
