from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import torch
from unlearn_llm.data import encode_facts
from unlearn_llm.models import (
    add_lora,
    cache_root,
    exact_answer_accuracy,
    load_causal_lm,
    trained_model,
    training_facts,
)


def test_tiny_model_memorises_its_training_facts(tiny: Any) -> None:
    batch = encode_facts(tiny.tokenizer, training_facts(tiny.world, "original"))
    assert exact_answer_accuracy(tiny.model, batch) >= 0.9
    # It learned facts, not just the format: an untrained phrasing of a known fact
    # is still scored well above a never-seen person's fact.
    holdout = encode_facts(tiny.tokenizer, tiny.world.split("holdout"))
    assert exact_answer_accuracy(tiny.model, holdout) < 0.3


def test_oracle_is_cached_by_world_seed_and_config(tiny: Any, tmp_path: Path) -> None:
    params = tiny.params.model_copy(update={"max_epochs": 2})
    first = trained_model(tiny.world, "oracle", 5, params, tiny.tokenizer)
    assert not first.from_cache
    assert first.path.is_relative_to(cache_root()) and str(tmp_path) in str(cache_root())
    assert (first.path / "model.safetensors").exists()
    assert json.loads((first.path / "training.json").read_text())["role"] == "oracle"
    again = trained_model(tiny.world, "oracle", 5, params, tiny.tokenizer)
    assert again.from_cache and again.path == first.path
    for a, b in zip(first.model.parameters(), again.model.parameters(), strict=True):
        assert torch.equal(a, b)
    other_seed = trained_model(tiny.world, "oracle", 6, params, tiny.tokenizer)
    assert other_seed.path != first.path and not other_seed.from_cache


def test_cache_writes_and_reads_draw_no_progress_bars_and_leave_them_on_for_others(
    tiny: Any, capfd: pytest.CaptureFixture[str]
) -> None:
    from transformers.utils import logging as hf_logging

    params = tiny.params.model_copy(update={"max_epochs": 1})
    enabled = hf_logging.is_progress_bar_enabled()
    assert not trained_model(tiny.world, "oracle", 7, params, tiny.tokenizer).from_cache
    assert trained_model(tiny.world, "oracle", 7, params, tiny.tokenizer).from_cache
    for _ in hf_logging.tqdm(range(2), desc="a caller's own bar"):
        pass
    stderr = capfd.readouterr().err
    assert "Writing model shards" not in stderr and "Loading weights" not in stderr
    assert hf_logging.is_progress_bar_enabled() == enabled
    assert ("a caller's own bar" in stderr) == enabled


def test_oracle_never_trains_on_the_forget_split(tiny: Any) -> None:
    oracle = {qa.key for qa in training_facts(tiny.world, "oracle")}
    original = {qa.key for qa in training_facts(tiny.world, "original")}
    forget = {qa.key for qa in tiny.world.split("forget")}
    assert not oracle & forget and forget <= original


def _logits(model: Any, tiny: Any) -> torch.Tensor:
    batch = tiny.data.forget
    with torch.no_grad():
        return model(input_ids=batch.input_ids, attention_mask=batch.attention_mask).logits


def test_own_model_round_trips_without_lora(tiny: Any, tmp_path: Path) -> None:
    tiny.model.save_pretrained(tmp_path / "ckpt")
    tiny.tokenizer.save_pretrained(tmp_path / "ckpt")
    model, tokenizer = load_causal_lm(tmp_path / "ckpt")
    assert torch.allclose(_logits(model, tiny), _logits(tiny.model, tiny), atol=1e-5)
    assert tokenizer.encode("Question:") == tiny.tokenizer.encode("Question:")


def test_a_damaged_checkpoint_is_an_error_naming_its_folder(tiny: Any, tmp_path: Path) -> None:
    from unlearn_schema import UnreadableFileError

    tiny.model.save_pretrained(tmp_path / "ckpt")
    tiny.tokenizer.save_pretrained(tmp_path / "ckpt")
    weights = tmp_path / "ckpt" / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:200])  # a torn copy
    with pytest.raises(UnreadableFileError, match=str(tmp_path / "ckpt")):
        load_causal_lm(tmp_path / "ckpt")


def test_own_model_round_trips_with_lora_and_trains_only_the_adapter(
    tiny: Any, tmp_path: Path
) -> None:
    from unlearn_llm.methods import GradientAscentParams, gradient_ascent

    tiny.model.save_pretrained(tmp_path / "base")
    tiny.tokenizer.save_pretrained(tmp_path / "base")
    peft_model = add_lora(tiny.fresh_model(), rank=4)
    gradient_ascent(peft_model, tiny.data, GradientAscentParams(steps=3, learning_rate=1e-2))
    peft_model.save_pretrained(tmp_path / "adapter")
    loaded, _ = load_causal_lm(tmp_path / "base", adapter_dir=tmp_path / "adapter")
    assert torch.allclose(_logits(loaded, tiny), _logits(peft_model, tiny), atol=1e-5)
    # The adapter changed the model; the base weights under it did not move.
    assert not torch.allclose(_logits(loaded, tiny), _logits(tiny.model, tiny), atol=1e-3)
    trainable = [n for n, p in loaded.named_parameters() if p.requires_grad]
    assert trainable and all("lora_" in n for n in trainable)


def test_missing_model_directory_is_named(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="does not exist"):
        load_causal_lm(tmp_path / "nowhere")


def test_adapter_directory_without_config_is_refused(tiny: Any, tmp_path: Path) -> None:
    tiny.model.save_pretrained(tmp_path / "base")
    tiny.tokenizer.save_pretrained(tmp_path / "base")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match=r"adapter_config.json"):
        load_causal_lm(tmp_path / "base", adapter_dir=tmp_path / "empty")


def test_tokenizer_that_does_not_match_the_model_is_refused(tiny: Any, tmp_path: Path) -> None:
    import copy

    tiny.model.save_pretrained(tmp_path / "ckpt")
    other = copy.deepcopy(tiny.tokenizer)
    other.add_tokens([f"extra{i}" for i in range(tiny.params.vocab_size)])
    other.save_pretrained(tmp_path / "other-tokenizer")
    with pytest.raises(ValueError, match=r"tokenizer has \d+ tokens but the model embeds only 384"):
        load_causal_lm(tmp_path / "ckpt", tokenizer_dir=tmp_path / "other-tokenizer")


def test_forget_in_own_model_with_fresh_lora_saves_an_adapter(tiny: Any, tmp_path: Path) -> None:
    from unlearn_llm.own_model import forget_in_own_model
    from unlearn_schema import TextForgetRequest, TextSample

    tiny.model.save_pretrained(tmp_path / "base")
    tiny.tokenizer.save_pretrained(tmp_path / "base")
    forget_qa = tiny.world.split("forget")[:4]
    request = TextForgetRequest(
        samples=[TextSample(text=qa.questions[0], answer=qa.answer) for qa in forget_qa]
    )
    retain = [(qa.questions[0], qa.answer) for qa in tiny.world.split("retain")[:16]]
    result = forget_in_own_model(
        tmp_path / "base",
        request,
        retain,
        method="gradient-difference",
        params={"steps": 10, "learning_rate": 1e-2},
        lora_rank=4,
        out_dir=tmp_path / "unlearned-adapter",
    )
    assert result.forget_nll_after > result.forget_nll_before + 0.5
    assert (tmp_path / "unlearned-adapter" / "adapter_config.json").exists()
    reloaded, _ = load_causal_lm(tmp_path / "base", adapter_dir=tmp_path / "unlearned-adapter")
    assert torch.allclose(_logits(reloaded, tiny), _logits(result.model, tiny), atol=1e-5)


def test_forget_in_own_model_checks_inputs_before_training(tiny: Any, tmp_path: Path) -> None:
    from unlearn_llm.own_model import forget_in_own_model
    from unlearn_schema import SpecError

    tiny.model.save_pretrained(tmp_path / "base")
    tiny.tokenizer.save_pretrained(tmp_path / "base")
    pair = ("Where was Ana born?", "Ana was born in Kerk.")
    with pytest.raises(ValueError, match="forget set is empty"):
        forget_in_own_model(tmp_path / "base", [], [pair])
    with pytest.raises(ValueError, match="in both the forget and the retain set"):
        forget_in_own_model(tmp_path / "base", [pair], [pair])
    with pytest.raises(SpecError, match=r"steps.*\(got -3\)"):
        forget_in_own_model(tmp_path / "base", [pair], [pair], params={"steps": -3})
    with pytest.raises(FileNotFoundError, match="does not exist"):
        forget_in_own_model(tmp_path / "missing", [pair], [("q", "a")])
    with pytest.raises(SpecError, match=r"method: unknown method 'npx' \(did you mean 'npo'"):
        forget_in_own_model(tmp_path / "base", [pair], [("q", "a")], method="npx")
