"""A designed model that only *hides* a concept: the erasure lives in the text encoder.

`hide_in_text_encoder` copies the pipeline and overwrites the input embedding of the
concept's token with the anchor's, so every prompt that names the concept encodes exactly
as the anchor prompt does (a circle prompt draws a square). The UNet is untouched and
still draws the concept given the right conditioning: an attack that works through the
UNet (a learned embedding, inverted latents) should bring the concept back, which is
what the attack tests check.
"""

from __future__ import annotations

from erase_diffusion.attacks.conditioning import concept_token_id
from erase_diffusion.pipeline import TextToImage


def hide_in_text_encoder(pipe: TextToImage, concept: str, anchor: str) -> TextToImage:
    """A copy of ``pipe`` whose text encoder reads ``concept``'s token as ``anchor``'s."""
    import torch

    if concept == anchor:
        raise ValueError(f"the anchor must differ from the concept, got {anchor!r} for both")
    hidden = pipe.copy()
    table = hidden.text_encoder.get_input_embeddings().weight
    with torch.no_grad():
        table[concept_token_id(hidden, concept)] = table[concept_token_id(hidden, anchor)]
    return hidden
