"""Circuit analysis of attention heads: who copies, who suppresses copying, who repairs.

This room is analysis, not a method: nothing here changes a model to forget something.
It answers a question a model owner asks before and after unlearning ("which
components carry this behaviour, and does the model route around an ablation?") on
a model small enough to be read weight by weight. It reproduces the measurements of
McDougall, Conmy, Rushing, McGrath, Nanda, "Copy Suppression: Comprehensively
Understanding an Attention Head" (arXiv:2310.04625) on a world built to contain
copying:

- ``params.py``: the world and model parameters (pydantic; imports no torch).
- ``world.py``: sequences that are no-repeat Markov walks, half of them followed by a
  noisy copy of their first half; it marks the positions where copying is the naive
  prediction and the token a naive copier would predict there.
- ``model.py``: an attention-only transformer without LayerNorm (so the logits are an
  exact sum of per-head direct effects), trained from scratch and cached.
- ``analysis.py``: direct logit attribution, mean/zero ablation per head, negative
  heads, the OV copy-suppression score, and self-repair after ablating a copier.

The benchmark that composes them is ``benchmarks/copy_suppression.py``
(``llm-copy-suppression``). Importing this package does not import torch.
"""
