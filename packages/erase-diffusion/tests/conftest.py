"""Fixtures: a tiny untrained pipeline (fast, random weights) and the shipped one."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session", autouse=True)
def _one_thread() -> None:
    import torch

    # Tiny tensors on a shared 2-core machine: one thread avoids spin-wait contention.
    torch.set_num_threads(1)


@pytest.fixture(scope="session")
def tiny_pipe() -> Any:
    from erase_diffusion.pipeline import TinyPipelineConfig, build_tiny_pipeline
    from erase_diffusion.train import vocabulary

    pipe = build_tiny_pipeline(TinyPipelineConfig(block_out_channels=(8, 16)), vocabulary(), 0)
    pipe.unet.eval()
    pipe.text_encoder.eval()
    return pipe


@pytest.fixture(scope="session")
def shipped_pipe() -> Any:
    from erase_diffusion.pipeline import load_pipeline

    return load_pipeline()


@pytest.fixture(scope="session")
def judge() -> Any:
    from erase_diffusion.metrics.judge import load_judge

    return load_judge()
