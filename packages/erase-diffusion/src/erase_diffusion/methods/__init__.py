"""Erasure methods, one module each, and their registry: closed forms (``uce``,
``rece``, ``mace``, ``realera``, ``trce``'s first stage), denoiser fine-tuning (``esd``,
``doco``, ``all_but_one``, ``ant``, ``co_erasing``, ``trce``), adapters and text encoder
(``spm``, ``advunlearn``, ``few_shot_text_encoder``, ``hirm``), inference time (``cgce``;
``astar``, a multi-concept fidelity method, not an erasure) and implicit concepts
(``geom_erasing``).

Every entry function has one shape: the pipeline, one `EraseRequest` (what to erase,
what to preserve; `erase_diffusion.methods.request`), the typed params (a dict is
validated), then keyword-only options::

    erase_uce(pipe, EraseRequest(concepts, preserve_prompts), UCEParams(), in_place=False)

Where params classes live: next to their method, in the method's own module
(`UCEParams` in `uce.py`). The method modules import torch only inside their functions
and define no `nn.Module` classes, so resolving a params type to validate a spec imports
no torch (a test checks it). This registry module imports only the schema.
"""

from unlearn_schema import MethodSpec, Registry

METHODS = Registry(
    "method",
    [
        MethodSpec(
            name="uce",
            params="erase_diffusion.methods.uce:UCEParams",
            entry="erase_diffusion.methods.uce:erase_uce",
            summary="Unified Concept Editing: closed-form edit of cross-attention keys and values.",
            paper="arXiv:2308.14761",
        ),
        MethodSpec(
            name="realera-closed-form",
            params="erase_diffusion.methods.realera:RealEraParams",
            entry="erase_diffusion.methods.realera:erase_realera",
            summary=(
                "RealEra's closed form: UCE on the concept and perturbed neighbour rows, "
                "farther (beyond-concept) rows kept."
            ),
            paper="arXiv:2410.09140",
        ),
        MethodSpec(
            name="realera",
            params="erase_diffusion.methods.realera_lora:RealEraLoRAParams",
            entry="erase_diffusion.methods.realera_lora:erase_realera_lora",
            summary=(
                "RealEra: the closed form, then cross-attention LoRA aligning neighbours' "
                "noise with the anchor's, beyond kept."
            ),
            paper="arXiv:2410.09140",
        ),
        MethodSpec(
            name="trce",
            params="erase_diffusion.methods.trce:TRCEParams",
            entry="erase_diffusion.methods.trce:erase_trce",
            summary=(
                "TRCE: closed-form [EoT] mapping to a safe prompt, then contrastive steering "
                "of early denoising steps."
            ),
            paper="arXiv:2503.07389",
        ),
        MethodSpec(
            name="co-erasing",
            params="erase_diffusion.methods.co_erasing:CoErasingParams",
            entry="erase_diffusion.methods.co_erasing:erase_co_erasing",
            summary=(
                "Co-Erasing: ESD negative guidance from the concept's text and from the "
                "model's own images of it, text-refined."
            ),
            paper="arXiv:2505.11131",
        ),
        MethodSpec(
            name="rece",
            params="erase_diffusion.methods.rece:RECEParams",
            entry="erase_diffusion.methods.rece:erase_rece",
            summary=(
                "RECE: UCE, then, round by round, erase from the current weights an "
                "embedding that still regenerates the concept."
            ),
            paper="arXiv:2407.12383",
        ),
        MethodSpec(
            name="rece-cumulative",
            params="erase_diffusion.methods.rece:RECEParams",
            entry="erase_diffusion.methods.rece:erase_rece_cumulative",
            summary=(
                "RECE variant: each round reruns UCE from the original weights with every "
                "embedding derived so far."
            ),
            paper="arXiv:2407.12383",
        ),
        MethodSpec(
            name="cgce",
            params="erase_diffusion.methods.cgce:CGCEParams",
            entry="erase_diffusion.methods.cgce:erase_cgce",
            summary=(
                "CGCE: text-embedding classifiers flag a prompt, gradient steps against them "
                "refine it; no weight changes."
            ),
            paper="arXiv:2511.05865",
        ),
        MethodSpec(
            name="astar",
            params="erase_diffusion.methods.astar:AStarParams",
            entry="erase_diffusion.methods.astar:erase_astar",
            summary=(
                "A-STAR (fidelity, not erasure): latent steps that segregate concept tokens' "
                "attention and retain it."
            ),
            paper="arXiv:2306.14544",
        ),
        MethodSpec(
            name="geom-erasing",
            params="erase_diffusion.methods.geom_erasing:GeomErasingParams",
            entry="erase_diffusion.methods.geom_erasing:erase_geom_erasing",
            summary=(
                "Geom-Erasing: an implicit concept's detected location written into captions, "
                "then the negative prompt."
            ),
            paper="arXiv:2310.05873",
        ),
        MethodSpec(
            name="esd-x",
            params="erase_diffusion.methods.esd:ESDXParams",
            entry="erase_diffusion.methods.esd:erase_esd_x",
            summary="ESD-x: negative-guidance fine-tuning of the cross-attention layers.",
            paper="arXiv:2303.07345",
        ),
        MethodSpec(
            name="esd-u",
            params="erase_diffusion.methods.esd:ESDUParams",
            entry="erase_diffusion.methods.esd:erase_esd_u",
            summary="ESD-u: negative-guidance fine-tuning of every layer outside cross-attention.",
            paper="arXiv:2303.07345",
        ),
        MethodSpec(
            name="doco",
            params="erase_diffusion.methods.doco:DoCoParams",
            entry="erase_diffusion.methods.doco:erase_doco",
            summary=(
                "DoCo: a discriminator aligns the concept's outputs to the anchor's; "
                "gradient surgery against the retain gradient."
            ),
            paper="arXiv:2405.15304",
        ),
        MethodSpec(
            name="all-but-one",
            params="erase_diffusion.methods.all_but_one:AllButOneParams",
            entry="erase_diffusion.methods.all_but_one:erase_all_but_one",
            summary=(
                "All-but-One: move the concept's classifier-guidance term to an alternative's, "
                "holding the unconditional score."
            ),
            paper="arXiv:2312.12807",
        ),
        MethodSpec(
            name="ant",
            params="erase_diffusion.methods.ant:ANTParams",
            entry="erase_diffusion.methods.ant:erase_ant",
            summary=(
                "ANT: guidance kept early, reversed in mid-to-late denoising; only "
                "augmentation-salient weights train."
            ),
            paper="arXiv:2504.12782",
        ),
        MethodSpec(
            name="mace",
            params="erase_diffusion.methods.mace:MACEParams",
            entry="erase_diffusion.methods.mace:erase_mace",
            summary=(
                "MACE-style mass erasure: per-concept closed-form experts fused in closed "
                "form (no LoRA training)."
            ),
            paper="arXiv:2403.06135",
        ),
        MethodSpec(
            name="few-shot-text-encoder",
            params="erase_diffusion.methods.few_shot_text_encoder:FewShotTextEncoderParams",
            entry="erase_diffusion.methods.few_shot_text_encoder:erase_few_shot_text_encoder",
            summary=(
                "Few-shot unlearning: gradient ascent of the denoising loss on a few concept "
                "images, training only the text encoder."
            ),
            paper="arXiv:2405.07288",
        ),
        MethodSpec(
            name="hirm",
            params="erase_diffusion.methods.hirm:HiRMParams",
            entry="erase_diffusion.methods.hirm:erase_hirm",
            summary=(
                "HiRM: misdirect the concept's last-layer text representation, training only "
                "the text encoder's first layer."
            ),
            paper="arXiv:2602.19631",
        ),
        MethodSpec(
            name="spm",
            params="erase_diffusion.methods.spm:SPMParams",
            entry="erase_diffusion.methods.spm:erase_spm",
            summary=(
                "SPM: rank-one adapters on the UNet's attention blocks, latent anchoring, "
                "prompt-gated strength; transferable."
            ),
            paper="arXiv:2312.16145",
        ),
        MethodSpec(
            name="advunlearn",
            params="erase_diffusion.methods.advunlearn:AdvUnlearnParams",
            entry="erase_diffusion.methods.advunlearn:erase_advunlearn",
            summary=(
                "AdvUnlearn: text encoder trained against a soft-prompt attack (ESD loss plus "
                "a retain term)."
            ),
            paper="arXiv:2405.15234",
        ),
    ],
)

__all__ = ["METHODS"]
