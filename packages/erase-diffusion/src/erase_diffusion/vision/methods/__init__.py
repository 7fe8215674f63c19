"""Classifier-unlearning methods for the image models, one module each, and their registry.

Every entry function has one shape: the classifier, one `ClassForgetRequest` (the forget
set, the retain set, the classes to forget; `erase_diffusion.vision.methods.request`),
the typed params; it returns a new classifier and leaves the given one unchanged::

    forget_gs_lora(model, ClassForgetRequest(forget, retain, (3,), 20), GSLoRAParams())

The method modules import torch (and peft, for GS-LoRA) only inside their functions and
define no `nn.Module` classes, so resolving a params type imports no torch. This registry
module imports only the schema.
"""

from unlearn_schema import MethodSpec, Registry

_M = "erase_diffusion.vision.methods"

METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="retrain",
            params=f"{_M}.retrain:RetrainParams",
            entry=f"{_M}.retrain:forget_retrain",
            summary="Exact unlearning: a fresh classifier trained on the retain set only.",
        ),
        MethodSpec(
            name="finetune",
            params=f"{_M}.finetune:FineTuneParams",
            entry=f"{_M}.finetune:forget_finetune",
            summary="Fine-tune on the retain set; the forgotten classes fade as it drifts.",
        ),
        MethodSpec(
            name="gradient-ascent",
            params=f"{_M}.gradient_ascent:GradientAscentParams",
            entry=f"{_M}.gradient_ascent:forget_gradient_ascent",
            summary="Gradient ascent on the forget set's cross-entropy.",
        ),
        MethodSpec(
            name="random-labels",
            params=f"{_M}.random_labels:RandomLabelsParams",
            entry=f"{_M}.random_labels:forget_random_labels",
            summary="Train forget images towards random kept classes, plus retain cross-entropy.",
            paper="arXiv:2310.12508",
        ),
        MethodSpec(
            name="salun",
            params=f"{_M}.salun:SalUnParams",
            entry=f"{_M}.salun:forget_salun",
            summary="SalUn: random labelling of the weights most salient to the forget loss.",
            paper="arXiv:2310.12508",
        ),
        MethodSpec(
            name="gs-lora",
            params=f"{_M}.gs_lora:GSLoRAParams",
            entry=f"{_M}.gs_lora:forget_gs_lora",
            summary="GS-LoRA: per-task LoRA on the FFN layers with a group lasso over blocks.",
            paper="arXiv:2501.09705",
        ),
        MethodSpec(
            name="gs-lora-plus-plus",
            params=f"{_M}.gs_lora:GSLoRAPlusPlusParams",
            entry=f"{_M}.gs_lora:forget_gs_lora_plus_plus",
            summary="GS-LoRA++: GS-LoRA plus prototype supervision for scarce data.",
            paper="arXiv:2501.09705",
        ),
    ],
)

__all__ = ["METHODS"]
