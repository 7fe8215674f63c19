r"""Geom-Erasing: implicit concept removal by geometric-driven control (Liu et al.,
arXiv:2310.05873).

An *implicit* concept (a watermark, a QR code) is drawn by a model that was trained on
images carrying it, although no caption names it: the model has no word to erase. Geom-
Erasing gives it one, with its place. An accessible detector $D$ finds the concept and
its location in each training image; the location is written into the caption as text,
$y' = y \oplus g(D(x))$ with $g$ = ``"mark top left"`` (existence and geometry; nothing
is appended where $D$ finds no mark), and the model is fine-tuned on $(x, y')$ with the
noise-prediction loss

$$L = \mathbb{E}_{x, y, \epsilon, t}\,
\big\|\epsilon - \epsilon_\theta(x_t, y \oplus g(D(x)), t)\big\|^2,$$

so that it binds the concept to the geometric condition (the new words get new token
embeddings). At inference the condition is the negative prompt of classifier-free
guidance, averaged over the locations $\mathcal G$ (the four corners):

$$\hat\epsilon = \epsilon_{neg} + s\,\big(\epsilon_\theta(x_t, y) - \epsilon_{neg}\big),\qquad
\epsilon_{neg} = \frac{1}{|\mathcal G|}\sum_{l \in \mathcal G}\epsilon_\theta(x_t, n_l),$$

with $n_l = g(l)$, the condition alone in place of the empty prompt (the paper's negative
prompt, ``negative="phrase"``, default), or $n_l = y \oplus g(l)$
(``negative="prompt-and-phrase"``, our variant, which keeps the prompt in the negative
so that $\epsilon_\theta(x_t, y) - \epsilon_{neg}$ is the mark's direction only). On the
watermarked world the paper's form works and the variant does not: 48 captions, the
marked model draws the mark in 48 %, Geom-Erasing's weights unguided in 33 %, with the
variant at s = 2 in 31 %, with the paper's negative at s = 2 in 4 % (the judge's
all-three-attributes accuracy 0.875, as the marked model's).
``geometry=False`` is the ablation that writes existence only (``"mark"``).

The training images come from the world the pipeline was fine-tuned on
(`erase_diffusion.worlds.watermark`); the detector is trained here on rendered
images of that world (it never sees the pipeline's outputs). torch is imported inside
functions only; the detector is an ``nn.Sequential`` built by a function.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field
from unlearn_schema import MethodParams

from erase_diffusion.methods._sampling import finish_latents, start_sampling
from erase_diffusion.methods.cross_attention import working_copy
from erase_diffusion.methods.request import EraseRequest, method_params
from erase_diffusion.pipeline import SPECIAL_TOKENS, Sampling, TextToImage
from erase_diffusion.train import noise_prediction_loss
from erase_diffusion.worlds.watermark import (
    CORNERS,
    GEOMETRY_WORDS,
    MARK_WORD,
    Corner,
    WatermarkWorld,
    sample_marked,
    with_condition,
)

if TYPE_CHECKING:
    import torch


class GeomErasingParams(MethodParams):
    """Parameters of Geom-Erasing."""

    world: WatermarkWorld = Field(
        default_factory=WatermarkWorld, description="The training world (carries the mark)."
    )
    geometry: bool = Field(default=True, description="False: existence only ('mark').")
    steps: int = Field(default=300, ge=1, le=100_000, description="Fine-tuning steps.")
    batch_size: int = Field(default=32, ge=1, le=1024)
    learning_rate: float = Field(default=5e-4, gt=0.0, le=1.0)
    detector_steps: int = Field(default=300, ge=1, le=100_000)
    guidance: float = Field(default=2.0, ge=1.0, le=30.0, description="s.")
    negative: Literal["phrase", "prompt-and-phrase"] = Field(
        default="phrase", description="'phrase': the paper's negative; the other: our variant."
    )
    seed: int = 0


def _detector_network() -> Any:
    from torch import nn

    return nn.Sequential(
        nn.Conv2d(3, 16, 3, padding=1),
        nn.GELU(),
        nn.Conv2d(16, 32, 3, stride=2, padding=1),
        nn.GELU(),
        nn.Flatten(),
        nn.Linear(32 * 8 * 8, 1 + len(CORNERS)),
    )


def train_mark_detector(world: WatermarkWorld, steps: int = 300, seed: int = 0) -> Any:
    """A small CNN that says where the mark is (class 0: no mark, 1-4: `CORNERS`),
    trained on rendered images of ``world`` at half marked, with noise added at random
    (generated images are noisier than rendered ones). 16×16 images only."""
    import torch

    if world.shapes.image_size != 16:
        raise ValueError(f"the mark detector reads 16x16 images, got {world.shapes.image_size}")
    torch.manual_seed(seed)
    net = _detector_network()
    optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
    generator = torch.Generator().manual_seed(seed)
    half = world.model_copy(update={"share": 0.5})
    for step in range(steps):
        images, _, corners = sample_marked(64, half, seed=1_000_003 * (seed + 1) + step)
        x = torch.from_numpy(images)
        sigma = torch.rand(x.shape[0], 1, 1, 1, generator=generator) * 0.2
        x = (x + sigma * torch.randn(x.shape, generator=generator)).clamp(-1, 1)
        labels = torch.tensor([0 if c is None else 1 + CORNERS.index(c) for c in corners])
        loss = torch.nn.functional.cross_entropy(net(x), labels)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return net.eval().requires_grad_(False)


def detect_marks(detector: Any, images: torch.Tensor) -> list[Corner | None]:
    """The detector's verdict per image (n, 3, 16, 16) in [-1, 1]: a corner or None."""
    import torch

    with torch.no_grad():
        classes = detector(images.float()).argmax(-1).tolist()
    return [None if c == 0 else CORNERS[c - 1] for c in classes]


def extend_vocabulary(pipe: TextToImage, words: Sequence[str]) -> None:
    """Add ``words`` to ``pipe``'s word-level tokenizer (existing ids kept) and grow the
    text encoder's token embeddings to match, in place; known words are skipped."""
    from tokenizers import Tokenizer, models, pre_tokenizers, processors
    from transformers import PreTrainedTokenizerFast

    vocab = dict(pipe.tokenizer.get_vocab())
    new = [w for w in dict.fromkeys(words) if w not in vocab]
    if not new:
        return
    if not all(token in vocab for token in SPECIAL_TOKENS):
        raise ValueError(
            "extend_vocabulary works on the word-level tokenizers of the tiny pipelines "
            f"(special tokens {SPECIAL_TOKENS}); this tokenizer is {type(pipe.tokenizer).__name__}"
        )
    for word in new:
        vocab[word] = len(vocab)
    tok = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<|unk|>"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    bos, eos = vocab["<|startoftext|>"], vocab["<|endoftext|>"]
    tok.post_processor = processors.TemplateProcessing(
        single="<|startoftext|> $A <|endoftext|>",
        special_tokens=[("<|startoftext|>", bos), ("<|endoftext|>", eos)],
    )
    pipe.tokenizer = PreTrainedTokenizerFast(
        tokenizer_object=tok,
        pad_token="<|pad|>",
        unk_token="<|unk|>",
        bos_token="<|startoftext|>",
        eos_token="<|endoftext|>",
        model_max_length=pipe.tokenizer.model_max_length,
    )
    pipe.text_encoder.resize_token_embeddings(len(vocab))


def finetune_on_captions(
    pipe: TextToImage,
    world: WatermarkWorld,
    captions_of: Any,
    steps: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
) -> None:
    """Fine-tune ``pipe`` (UNet and text encoder, in place) with the noise-prediction loss
    on batches of ``world``; ``captions_of(images, captions, corners)`` gives the
    captions to train on (plain ones teach the implicit concept).

    Same loss and optimiser as `erase_diffusion.train` and the memorisation fine-tune;
    only the batches differ.
    """
    import torch
    from diffusers import DDPMScheduler

    noise_scheduler = DDPMScheduler.from_config(pipe.scheduler.config)
    weights = list(pipe.unet.parameters()) + list(pipe.text_encoder.parameters())
    for weight in weights:
        weight.requires_grad_(True)
    optimizer = torch.optim.AdamW(weights, lr=learning_rate, weight_decay=1e-4)
    generator = torch.Generator().manual_seed(seed)
    pipe.unet.train()
    pipe.text_encoder.train()
    for step in range(steps):
        images, captions, corners = sample_marked(batch_size, world, seed=seed * 7_919 + step)
        x0 = torch.from_numpy(images)
        texts = captions_of(x0, captions, corners)
        loss = noise_prediction_loss(pipe, noise_scheduler, x0, texts, generator)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(weights, 1.0)
        optimizer.step()
    pipe.unet.eval().requires_grad_(False)
    pipe.text_encoder.eval().requires_grad_(False)


@dataclass
class GeomErasingPipeline(TextToImage):
    """A pipeline whose ``generate`` guides away from the geometric condition."""

    geom: GeomErasingParams = field(default_factory=GeomErasingParams)

    def negative_prompts(self, prompt: str) -> list[str]:
        """$n_l$ for every location (one, ``"mark"``, without geometry)."""
        base = prompt if self.geom.negative == "prompt-and-phrase" else ""
        if not self.geom.geometry:
            return [f"{base} {MARK_WORD}".strip()]
        return [with_condition(base, corner).strip() for corner in CORNERS]

    def copy(self) -> GeomErasingPipeline:
        plain = super().copy()
        return GeomErasingPipeline(**{**vars(plain), "geom": self.geom})

    def generate_from_prompts(self, prompts: list[str], sampling: Sampling) -> torch.Tensor:
        """`TextToImage.generate` for ``prompts``: guidance ``self.geom.guidance`` (the
        call's ``guidance`` overrides it) away from the negatives."""
        import torch

        scale = self.geom.guidance if sampling.guidance is None else sampling.guidance
        batch_size = sampling.batch_size
        cond_all = self.encode(prompts)
        negatives = [self.negative_prompts(p) for p in prompts]
        per = len(negatives[0])
        neg_all = self.encode([n for row in negatives for n in row])
        n = cond_all.shape[0]
        # Same set-up and DDIM loop as TextToImage.generate; only the guidance term (the
        # mean of the negatives in place of the empty prompt) differs.
        scheduler, noise = start_sampling(
            self, n, sampling.steps, sampling.seed, sampling.height, sampling.width
        )
        outputs = []
        with torch.no_grad():
            for start in range(0, n, batch_size):
                cond = cond_all[start : start + batch_size]
                b = cond.shape[0]
                neg = neg_all[start * per : (start + b) * per]
                context = torch.cat([cond, neg])
                latents = noise[start : start + batch_size]
                for t in scheduler.timesteps:
                    both = torch.cat([latents, latents.repeat_interleave(per, dim=0)])
                    model_in = scheduler.scale_model_input(both, t)
                    eps = self.unet(model_in, t, encoder_hidden_states=context).sample
                    eps_cond = eps[:b]
                    eps_neg = eps[b:].reshape(b, per, *eps.shape[1:]).mean(1)
                    guided = eps_neg + scale * (eps_cond - eps_neg)
                    latents = scheduler.step(guided, t, latents).prev_sample
                outputs.append(finish_latents(self, latents))
        return torch.cat(outputs)


def erase_geom_erasing(
    pipe: TextToImage,
    request: EraseRequest,
    params: GeomErasingParams | Mapping[str, Any] | None = None,
    *,
    in_place: bool = False,
) -> GeomErasingPipeline:
    """Remove the implicit concept that ``pipe`` learned from ``params.world``: detect
    it in that world's images, fine-tune on captions with its geometric condition, and
    return a pipeline that guides away from the condition; a copy unless ``in_place``.

    ``request`` names the implicit concept: its first concept's name must be the
    condition's word (``"mark"``); its prompts are not read (the world's captions are).
    """
    params = method_params(GeomErasingParams, params, "geom-erasing")
    names = [c.name for c in request.concepts]
    if names != [MARK_WORD]:
        raise ValueError(
            f"geom-erasing removes the watermark world's implicit concept {MARK_WORD!r}; "
            f"the request names {names}"
        )
    edited = working_copy(pipe, in_place)
    extend_vocabulary(edited, GEOMETRY_WORDS)
    detector = train_mark_detector(params.world, params.detector_steps, params.seed + 1)

    def conditioned(images: Any, captions: list[str], _: list[Corner | None]) -> list[str]:
        # The detector's verdict, not the world's ground truth, is what gets written.
        found = detect_marks(detector, images)
        if not params.geometry:
            return [
                f"{c} {MARK_WORD}" if f is not None else c
                for c, f in zip(captions, found, strict=True)
            ]
        return [with_condition(c, f) for c, f in zip(captions, found, strict=True)]

    finetune_on_captions(
        edited,
        params.world,
        conditioned,
        params.steps,
        params.batch_size,
        params.learning_rate,
        params.seed,
    )
    return GeomErasingPipeline(**vars(edited), geom=params)
