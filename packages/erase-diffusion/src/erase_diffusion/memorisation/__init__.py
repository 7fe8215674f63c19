"""The memorisation probe of *Finding Dori* (arXiv:2507.16880), one module per part:

- ``train.py``: a pipeline fine-tuned on duplicated image-caption pairs (cached);
- ``pruning.py``: NeMo-style localisation and pruning of the value neurons that
  trigger replication (arXiv:2406.02366);
- ``triggers.py``: replication triggers searched in text-embedding space, and Dori's
  adversarial fine-tuning against them.

The replication metric is `erase_diffusion.metrics.replication`; the benchmark is
``diffusion-memorisation`` (`erase_diffusion.benchmarks.memorisation`). The modules
import torch only inside their functions.
"""
