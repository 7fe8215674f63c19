"""Scene-text erasing: images with rendered text and how to erase the text (STE).

- ``world.py``: textured 32×48 images with text from a hand-made bitmap font, the
  style-aware synthesis function (font scale, colour, position, rotation, background
  texture) giving pairs with their text-free ground truth, and the held-out "real"
  style distribution; numpy and PIL only;
- ``policy.py``: the style policy, a bandit favouring styles the eraser finds hard and
  a discriminator finds real;
- ``network.py``: STE's coarse-to-fine erasing network, its realism discriminator and
  the text detector (torch);
- ``metrics.py``: PSNR and SSIM against the ground truth (numpy);
- ``methods/``: STE, its three ablations (uniform styles, no triplet loss, no realism
  reward) and a naive median inpainting, with their registry
  (`erase_diffusion.scene_text.methods.METHODS`).

The benchmark is ``scene-text-erasure`` (`erase_diffusion.benchmarks.scene_text`).
Nothing here imports torch at module level except ``network.py``, which the methods
import inside their functions.
"""
