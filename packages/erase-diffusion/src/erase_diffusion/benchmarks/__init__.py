"""Benchmark recipes of erase-diffusion, one module per family, registered under the
``unlearn.benchmarks`` entry-point group:

- `erase_diffusion.benchmarks.erase`: ``diffusion-erase-quick`` and
  ``diffusion-erase-full`` (erase concepts from the shipped tiny pipeline, judge the
  images before and after).
- `erase_diffusion.benchmarks.speed`: ``erase-diffusion-speed`` (closed-form UCE and
  RECE against the straightforward solver on Stable-Diffusion-1.5-shaped projections).
- `erase_diffusion.benchmarks.vision`: ``vision-continual-forgetting`` (image models: a
  tiny ViT forgets classes task after task; GS-LoRA, GS-LoRA++ and baselines against the
  retrain oracle, with scarce data and relearning/probe attacks).
- `erase_diffusion.benchmarks.vision_worst_case`: ``vision-worst-case-forget`` (the
  worst-case forget set of a bi-level search against random sets of the same size,
  each against its exact retrain oracle).
- `erase_diffusion.benchmarks.vision_restoration`: ``vision-restoration`` (suppression
  or deletion: SAE expert-feature steering restores forgotten classes per method).
- `erase_diffusion.benchmarks.memorisation`: ``diffusion-memorisation`` (replicated
  training images and the mitigations).
- `erase_diffusion.benchmarks.transfer`: ``diffusion-erase-transfer`` (SPM's adapter and
  AdvUnlearn's text encoder moved to a second pipeline of the same architecture).
- `erase_diffusion.benchmarks.implicit`: ``diffusion-implicit-concept`` (Geom-Erasing
  removes a watermark no caption names).
- `erase_diffusion.benchmarks.scene_text`: ``scene-text-erasure`` (STE: erasing rendered
  text from images, PSNR/SSIM against ground truth and text detectability).

The modules import torch only inside their ``run`` functions.
"""
