"""The networks of the scene-text room: STE's coarse-to-fine eraser and the text detector.

`CoarseToFineEraser` follows the two stages of STE (arXiv:2204.12743, Sec. 3.2), shrunk
to 32×48 images: a coarse encoder-decoder (one stride-2 level, dilated middle) predicts a
rough text-free image and the text stroke mask; a refinement stage sees the input, the
coarse image and the mask and adds a residual correction to the coarse image. The
paper's stages are EraseNet-sized with a GAN and VGG losses; ours are a few thousand
weights and train in seconds on a CPU.

`TextDetector` is the judge of text detectability: a small CNN with a global max pool,
trained on the world to tell images with text from text-free backgrounds.
`RealismDiscriminator` is the same CNN in STE's realism reward: it tells the unlabelled
real images from the synthetic ones.
This module imports torch; the method and benchmark modules import it inside functions.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn


def _block(c_in: int, c_out: int, dilation: int = 1, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=dilation, dilation=dilation),
        nn.LeakyReLU(0.2),
    )


class CoarseToFineEraser(nn.Module):
    """Input (n, 3, H, W) in [0, 1]; returns (coarse, refined, mask logits)."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        c = channels
        self.encode = _block(3, c)
        self.down = nn.Sequential(_block(c, 2 * c, stride=2), _block(2 * c, 2 * c, dilation=2))
        self.middle = nn.Sequential(_block(2 * c, 2 * c, dilation=4), _block(2 * c, 2 * c))
        self.decode = nn.Sequential(_block(3 * c, c), nn.Conv2d(c, 4, 3, padding=1))
        self.refine = nn.Sequential(
            _block(7, c),
            _block(c, c, dilation=2),
            _block(c, c, dilation=4),
            _block(c, c),
            nn.Conv2d(c, 3, 3, padding=1),
        )

    def forward(self, images: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        skip = self.encode(images)
        deep = self.middle(self.down(skip))
        up = nn.functional.interpolate(deep, size=images.shape[-2:], mode="nearest")
        out = self.decode(torch.cat([up, skip], dim=1))
        # The coarse image is a correction of the input: text-free pixels need no change.
        coarse = images + out[:, :3]
        mask_logits = out[:, 3:]
        refined = coarse + self.refine(
            torch.cat([images, coarse, torch.sigmoid(mask_logits)], dim=1)
        )
        return coarse, refined, mask_logits


class TextDetector(nn.Module):
    """Image (n, 3, H, W) in [0, 1] -> logit that it shows text."""

    def __init__(self, channels: int = 16) -> None:
        super().__init__()
        c = channels
        self.features = nn.Sequential(
            _block(3, c), _block(c, c), _block(c, 2 * c, stride=2), _block(2 * c, 2 * c)
        )
        self.head = nn.Linear(2 * c, 1)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        pooled = self.features(images).amax(dim=(2, 3))
        return self.head(pooled).squeeze(1)


class RealismDiscriminator(TextDetector):
    """STE's realism judge: image (n, 3, H, W) in [0, 1] -> logit that it is one of the
    real images rather than a synthetic one. The detector's small CNN, trained alongside
    the eraser (`discriminator_step`) on unlabelled real images against the images the
    style policy currently synthesises."""


def discriminator_step(
    discriminator: RealismDiscriminator,
    optimiser: torch.optim.Optimizer,
    real: np.ndarray,
    synthetic: np.ndarray,
) -> float:
    """One binary cross-entropy step, real images labelled 1 and synthetic ones 0;
    returns the loss before the step (ln 2 = 0.693: the discriminator cannot tell)."""
    images = torch.from_numpy(np.ascontiguousarray(np.concatenate([real, synthetic]), np.float32))
    labels = torch.cat([torch.ones(len(real)), torch.zeros(len(synthetic))])
    discriminator.train()
    loss = nn.functional.binary_cross_entropy_with_logits(discriminator(images), labels)
    optimiser.zero_grad()
    loss.backward()
    optimiser.step()
    discriminator.eval()
    return float(loss.detach())


def train_detector(steps: int, batch_size: int, learning_rate: float, seed: int) -> TextDetector:
    """A detector trained on fresh world images each step: half with text (uniform
    styles), half text-free backgrounds; binary cross-entropy."""
    from erase_diffusion.scene_text.world import clean_backgrounds, sample_styles, synthesize

    torch.manual_seed(seed)
    rng = np.random.default_rng([seed, 104729])
    detector = TextDetector()
    optimiser = torch.optim.Adam(detector.parameters(), lr=learning_rate)
    half = max(batch_size // 2, 1)
    for _ in range(steps):
        with_text = synthesize(sample_styles(half, None, rng), rng).images
        images = torch.from_numpy(np.concatenate([with_text, clean_backgrounds(half, rng)]))
        labels = torch.cat([torch.ones(half), torch.zeros(half)])
        loss = nn.functional.binary_cross_entropy_with_logits(detector(images), labels)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
    return detector.eval()


@torch.no_grad()
def text_probability(detector: TextDetector, images: np.ndarray) -> np.ndarray:
    """The detector's probability that each image (n, 3, H, W) shows text."""
    logits = detector(torch.from_numpy(np.ascontiguousarray(images, dtype=np.float32)))
    return torch.sigmoid(logits).numpy()
