"""Image models: classifiers on the shapes world and how to make them forget classes.

- ``data.py``: labelled shapes-world images (label kinds shape, colour, style,
  shape-colour), numpy only;
- ``model.py``: a tiny ViT (transformers' `ViTConfig`, built from a config, trained from
  scratch), its exact retrain oracle per forget set, and the on-disk cache;
- ``methods/``: classifier-unlearning methods and their registry (retrain, fine-tune,
  gradient ascent, random labels, SalUn, GS-LoRA, GS-LoRA++);
- ``attacks.py``: relearning and a linear probe, which try to bring forgotten classes back;
- ``worst_case.py``: the bi-level search for the forget set hardest to erase;
- ``sae.py`` and ``restoration.py``: a sparse autoencoder on one block's activations,
  class expert features, and the inference-time steering that measures whether a method
  suppressed or deleted a class (restoration rate).

The benchmarks are ``vision-continual-forgetting`` (`erase_diffusion.benchmarks.vision`),
``vision-worst-case-forget`` (`...vision_worst_case`) and ``vision-restoration``
(`...vision_restoration`).
The modules import torch only inside their functions; GS-LoRA also needs peft
(``pip install 'erase-diffusion[vision]'``).
"""
