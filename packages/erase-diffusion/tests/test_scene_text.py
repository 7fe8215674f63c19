"""The scene-text room: world, metrics, policy, STE's losses and the baselines, on small
cases with answers worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
from erase_diffusion.scene_text.metrics import MAX_PSNR, gaussian_window, psnr, ssim
from erase_diffusion.scene_text.policy import StyleBandit, combined_rewards
from erase_diffusion.scene_text.world import (
    GLYPHS,
    HEIGHT,
    STYLE_FACTORS,
    WIDTH,
    TextStyle,
    real_test_set,
    real_unlabelled_images,
    render_text_alpha,
    sample_styles,
    synthesize,
)
from unlearn_schema.testing import heavy_modules_after


def test_glyph_bitmaps_render_where_and_as_large_as_asked() -> None:
    # "T" is 3 + 4 = 7 lit pixels; at scale 2 each is 2x2, so 28.
    assert GLYPHS["T"].sum() == 7
    alpha = render_text_alpha("T", 2, 0.0, (16.0, 24.0))
    assert alpha.shape == (HEIGHT, WIDTH) and alpha.sum() == 28
    rows, cols = np.nonzero(alpha)
    # A 10x6 bitmap centred at (16, 24): rows 11..20, columns 21..26; the bar on top.
    assert (rows.min(), rows.max(), cols.min(), cols.max()) == (11, 20, 21, 26)
    assert alpha[11:13, 21:27].all() and not alpha[13:, 21:23].any()
    # Rotation keeps the ink roughly (bilinear), and the text must fit.
    assert abs(render_text_alpha("T", 2, 30.0, (16.0, 24.0)).sum() - 28) < 4
    with pytest.raises(ValueError, match="does not fit"):
        render_text_alpha("TTT", 3, 0.0, (2.0, 24.0))
    with pytest.raises(ValueError, match="no glyph for \\['q'\\]"):
        render_text_alpha("Tq", 1, 0.0, (16.0, 24.0))


def test_synthesis_pairs_differ_only_under_the_text() -> None:
    rng = np.random.default_rng(0)
    styles = sample_styles(12, None, rng)
    data = synthesize(styles, rng)
    assert data.images.shape == data.clean.shape == (12, 3, HEIGHT, WIDTH)
    untouched = np.broadcast_to(data.alpha == 0, data.images.shape)
    assert np.array_equal(data.images[untouched], data.clean[untouched])
    assert (data.box[data.alpha > 0.05] == 1).all()
    assert all(len(t) == 3 for t in data.texts) and data.styles == styles
    with pytest.raises(ValueError, match="rotation='45' is not a level"):
        TextStyle(scale="1", colour="red", position="top", rotation="45", texture="flat")


def test_psnr_of_hand_examples() -> None:
    zeros = np.zeros((3, 8, 8))
    # MSE 0.01 on a data range of 1: 10 log10(1 / 0.01) = 20 dB.
    assert psnr(zeros + 0.1, zeros) == pytest.approx(20.0)
    assert psnr(zeros, zeros) == MAX_PSNR
    batch = psnr(np.stack([zeros + 0.1, zeros + 0.01]), np.stack([zeros, zeros]))
    assert batch == pytest.approx([20.0, 40.0])


def test_ssim_of_hand_examples() -> None:
    window = gaussian_window(11, 1.5)
    assert window.sum() == pytest.approx(1.0) and window[0] == pytest.approx(window[-1])
    rng = np.random.default_rng(0)
    x = rng.uniform(0, 1, size=(3, 16, 16))
    assert ssim(x, x) == pytest.approx(1.0)
    # Two constant images: no variance, so SSIM is the luminance term alone,
    # (2ab + C1) / (a^2 + b^2 + C1) with C1 = 1e-4: 0.1601 / 0.2001.
    a, b = np.full((1, 12, 12), 0.2), np.full((1, 12, 12), 0.4)
    assert ssim(a, b) == pytest.approx(0.1601 / 0.2001)
    # Contrast reversed around the same mean: the structure term is negative.
    assert ssim(x, 1.0 - x) < 0.0
    # An image the size of the window has one SSIM position: the weighted statistics
    # written out with the 2-D window w = g g^T.
    u, v = rng.uniform(0, 1, size=(2, 11, 11))
    w = np.outer(window, window)
    mu_u, mu_v = (w * u).sum(), (w * v).sum()
    var_u, var_v = (w * u * u).sum() - mu_u**2, (w * v * v).sum() - mu_v**2
    cov = (w * u * v).sum() - mu_u * mu_v
    c1, c2 = 0.01**2, 0.03**2
    by_hand = ((2 * mu_u * mu_v + c1) * (2 * cov + c2)) / (
        (mu_u**2 + mu_v**2 + c1) * (var_u + var_v + c2)
    )
    assert ssim(u[None], v[None]) == pytest.approx(by_hand)
    with pytest.raises(ValueError, match="smaller than the window"):
        ssim(x[:, :8, :8], x[:, :8, :8])


def test_triplet_erasure_loss_by_hand() -> None:
    import torch
    from erase_diffusion.scene_text.methods.ste import triplet_erasure_loss

    # One image, one channel, two pixels; the first is in the text box.
    images = torch.tensor([[[[0.5, 0.2]]]])
    box = torch.tensor([[[[1.0, 0.0]]]])
    refined = torch.tensor([[[[0.3, 9.0]]]], requires_grad=True)
    coarse = torch.tensor([[[[0.4, 7.0]]]], requires_grad=True)
    loss = triplet_erasure_loss(refined, coarse, images, box, beta=50.0, gamma=2.0)
    # anchor (0.3, 0.2); d(a, p) = |0.3 - 0.5| / 2 = 0.1; negative (0.4, 0.2),
    # d(a, n) = 0.05; 0.1 / (0.1 + 50 * 0.05^2) = 0.1 / 0.225.
    assert float(loss) == pytest.approx(0.1 / 0.225, rel=1e-5)
    loss.backward()
    assert coarse.grad is None  # the negative carries no gradient
    assert refined.grad is not None and float(refined.grad[0, 0, 0, 1]) == 0.0


def test_dice_loss_is_zero_on_a_perfect_mask() -> None:
    import torch
    from erase_diffusion.scene_text.methods.ste import dice_loss

    strokes = torch.tensor([[[[1.0, 0.0, 1.0, 0.0]]]])
    assert float(dice_loss((strokes - 0.5) * 1e3, strokes)) == pytest.approx(0.0, abs=1e-3)
    # All-zero prediction: no overlap, loss 1 - 0 / (0 + 2 + 1e-3).
    assert float(dice_loss(torch.full_like(strokes, -1e3), strokes)) == pytest.approx(1.0)


def test_bandit_update_by_hand() -> None:
    bandit = StyleBandit(learning_rate=0.5, uniform_mix=0.0)
    hard = TextStyle(scale="3", colour="red", position="top", rotation="30", texture="noise")
    easy = TextStyle(scale="3", colour="red", position="top", rotation="-30", texture="flat")
    bandit.update([hard, easy], np.array([1.0, 0.0]))
    # Advantages +1 and -1, pi uniform: rotation logits move by +-0.5 * 1 / 2 = 0.25.
    assert bandit.logits["rotation"] == pytest.approx([-0.25, 0, 0, 0, 0.25])
    assert bandit.logits["texture"][STYLE_FACTORS["texture"].index("noise")] == pytest.approx(0.25)
    # Factors where both styles share a level get no signal.
    assert not bandit.logits["scale"].any() and not bandit.logits["colour"].any()
    p = bandit.probabilities()["rotation"]
    assert p[4] == pytest.approx(math.exp(0.25) / (3 + math.exp(0.25) + math.exp(-0.25)))
    assert len(bandit.history) == 2
    mixed = StyleBandit(uniform_mix=1.0)
    mixed.update([hard, easy], np.array([1.0, 0.0]))
    assert mixed.probabilities()["rotation"] == pytest.approx([0.2] * 5)


def test_combined_reward_is_the_hand_weighted_sum() -> None:
    difficulty = np.array([0.1, 0.2, 0.3])
    realism = np.array([1.0, -1.0, 0.0])
    # Each standardised over the candidates (population std): z(d) = (-a, 0, a),
    # z(rho) = (a, -a, 0) with a = sqrt(3 / 2); then z(d) + 2 z(rho).
    a = math.sqrt(1.5)
    assert combined_rewards(difficulty, realism, 2.0) == pytest.approx([a, -2 * a, a])
    assert combined_rewards(difficulty, realism, 0.5) == pytest.approx([-a / 2, -a / 2, a])
    # Weight 0 (or no realism reward): the difficulty rewards themselves, untouched.
    assert combined_rewards(difficulty, realism, 0.0) is not None
    assert np.array_equal(combined_rewards(difficulty, realism, 0.0), difficulty)
    assert np.array_equal(combined_rewards(difficulty, None, 1.0), difficulty)
    with pytest.raises(ValueError, match="one realism reward per candidate"):
        combined_rewards(difficulty, realism[:2], 1.0)


def test_a_discriminator_that_prefers_white_text_pulls_the_policy_to_white() -> None:
    import torch
    from erase_diffusion.scene_text.methods.ste import STEParams, policy_step, realism_rewards
    from erase_diffusion.scene_text.network import CoarseToFineEraser

    class PrefersWhiteText(torch.nn.Module):
        """Logit +5 when two or more pixels are near white in every channel, else -5:
        white text (0.95 in each channel) always has such pixels, a background
        (channels in [0.1, 0.9] plus 2 % noise) almost never."""

        def forward(self, images: torch.Tensor) -> torch.Tensor:
            white = (images.amin(dim=1) > 0.85).flatten(1).sum(1)
            return torch.where(white >= 2, 5.0, -5.0)

    rng = np.random.default_rng(0)
    styles = [
        TextStyle(scale="2", colour=c, position="middle", rotation="15", texture="noise")
        for c in ("white", "black")
    ]
    pair = synthesize([styles[0], styles[0], styles[1], styles[1]], rng)
    assert realism_rewards(PrefersWhiteText(), pair.images, 2) == pytest.approx([5.0, -5.0])

    torch.manual_seed(0)
    network = CoarseToFineEraser(4).eval()
    bandit = StyleBandit(learning_rate=0.5, uniform_mix=0.0)
    params = STEParams(policy_candidates=12, policy_images=2, realism_weight=10.0)
    for _ in range(8):
        policy_step(bandit, network, PrefersWhiteText(), params, rng)
    colours = bandit.probabilities()["colour"]
    white = STYLE_FACTORS["colour"].index("white")
    assert colours[white] > 0.4 and int(np.argmax(colours)) == white
    # Without the realism reward the same updates leave white at about its 1/6.
    plain = StyleBandit(learning_rate=0.5, uniform_mix=0.0)
    for _ in range(8):
        policy_step(plain, network, None, params, np.random.default_rng(0))
    assert plain.probabilities()["colour"][white] < 0.3


def test_realism_discriminator_learns_the_real_styles() -> None:
    import torch
    from erase_diffusion.scene_text.network import RealismDiscriminator, discriminator_step

    # The unlabelled pool is another draw of the real distribution, not the test set.
    pool = real_unlabelled_images(64, seed=0)
    assert pool.shape == (64, 3, HEIGHT, WIDTH)
    assert not np.array_equal(pool[:4], real_test_set(4, seed=0).images)
    torch.manual_seed(0)
    discriminator = RealismDiscriminator(8)
    optimiser = torch.optim.Adam(discriminator.parameters(), lr=1e-2)
    rng = np.random.default_rng(0)
    # Synthetic images with the least real-like styles: small, upright text on flat ground.
    flat = TextStyle(scale="1", colour="red", position="top", rotation="0", texture="flat")
    losses = [
        discriminator_step(
            discriminator,
            optimiser,
            pool[rng.integers(0, 64, 8)],
            synthesize([flat] * 8, rng).images,
        )
        for _ in range(30)
    ]
    assert losses[0] == pytest.approx(math.log(2), abs=0.1)
    assert np.mean(losses[-3:]) < 0.4
    assert not discriminator.training


def test_median_inpainting_removes_an_isolated_stroke() -> None:
    from erase_diffusion.scene_text.methods.median import (
        MedianInpaintingParams,
        fit_median_inpainting,
    )

    flat = np.full((1, 3, 12, 12), 0.4, dtype=np.float32)
    marked = flat.copy()
    marked[0, :, 5, 3:9] = 0.95  # a one-pixel horizontal stroke
    eraser = fit_median_inpainting(MedianInpaintingParams(window=5, threshold=0.2))
    assert np.array_equal(eraser.erase(marked), flat)
    assert np.array_equal(eraser.erase(flat), flat)
    assert eraser.losses == [] and eraser.policy_history == []


def test_ste_trains_and_its_policy_moves() -> None:
    from erase_diffusion.scene_text.methods.ste import STEParams, fit_ste

    params = STEParams(steps=6, batch_size=4, channels=4, policy_every=2, policy_candidates=3)
    eraser = fit_ste(params)
    assert len(eraser.losses) == 6 and all(math.isfinite(x) for x in eraser.losses)
    assert len(eraser.policy_history) == 1 + 2  # updates before steps 2 and 4
    images = synthesize(sample_styles(2, None, np.random.default_rng(1)), np.random.default_rng(1))
    erased = eraser.erase(images.images)
    assert erased.shape == images.images.shape and 0.0 <= erased.min() <= erased.max() <= 1.0
    # The realism discriminator trains at every policy update (10 steps each by default).
    assert len(eraser.discriminator_losses) == 2 * 10
    assert fit_ste(params.model_copy(update={"realism_weight": 0.0})).discriminator_losses == []


def test_registry_lists_without_torch() -> None:
    from erase_diffusion.scene_text.methods import METHODS

    assert list(METHODS) == [
        "ste",
        "ste-uniform-style",
        "ste-no-triplet",
        "ste-no-realism",
        "median-inpainting",
    ]
    from erase_diffusion.scene_text.methods.ste import (
        STENoRealismParams,
        STENoTripletParams,
        STEParams,
    )

    assert METHODS["ste-no-triplet"].params_type is STENoTripletParams
    assert STENoTripletParams().triplet_weight == 0.0
    assert METHODS["ste-no-realism"].params_type is STENoRealismParams
    assert STENoRealismParams().realism_weight == 0.0 and STEParams().realism_weight == 1.0
    code = (
        "from erase_diffusion.scene_text.methods import METHODS\n"
        "[record.params_type for record in METHODS.values()]"
    )
    assert heavy_modules_after(code) == []


def test_entry_point_names_the_registry() -> None:
    from importlib.metadata import entry_points

    from erase_diffusion.scene_text.methods import METHODS

    found = [
        ep
        for ep in entry_points(group="unlearn.methods")
        if ep.name == "erase-diffusion-scene-text"
    ]
    assert len(found) == 1 and found[0].load() is METHODS
