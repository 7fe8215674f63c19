"""What a classifier-unlearning method receives: the forget and retain sets (numpy only)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from erase_diffusion.vision.data import LabelledImages


@dataclass(frozen=True)
class ClassForgetRequest:
    """Forget the classes ``forget_classes``: their training images are ``forget``; the
    images of the classes to keep that the method may use are ``retain`` (all of them,
    or a few per class in the scarce-data case)."""

    forget: LabelledImages
    retain: LabelledImages
    forget_classes: tuple[int, ...]
    num_classes: int

    def __post_init__(self) -> None:
        if not self.forget_classes:
            raise ValueError("forget_classes is empty: name at least one class to forget")
        bad = [c for c in self.forget_classes if not 0 <= c < self.num_classes]
        if bad:
            raise ValueError(f"forget_classes {bad} lie outside 0..{self.num_classes - 1}")
        if len(self.forget) == 0:
            raise ValueError(f"no images of the classes to forget {list(self.forget_classes)}")
        stray = sorted(set(np.unique(self.forget.labels).tolist()) - set(self.forget_classes))
        if stray:
            raise ValueError(f"the forget set holds classes {stray} not in forget_classes")
        leaked = sorted(set(np.unique(self.retain.labels).tolist()) & set(self.forget_classes))
        if leaked:
            raise ValueError(f"the retain set holds classes to forget {leaked}")
