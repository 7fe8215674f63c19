"""A tokenizer trained locally on a world's text with the ``tokenizers`` library."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from transformers import PreTrainedTokenizerFast

    from unlearn_llm.worlds.facts import FactsWorld

SPECIAL_TOKENS = ["<pad>", "<s>", "</s>", "<unk>"]


def train_tokenizer(world: FactsWorld, vocab_size: int = 768) -> PreTrainedTokenizerFast:
    """A byte-pair tokenizer learned from every string of ``world``; nothing downloaded.

    Metaspace pre-tokenisation keeps word boundaries in the tokens, so decoding gives
    back the text with its spaces (needed for ROUGE on generated answers). Made-up
    names split into several sub-word pieces, as rare names do in real tokenizers.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tokenizer = Tokenizer(models.BPE(unk_token="<unk>"))
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace()
    tokenizer.decoder = decoders.Metaspace()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False
    )
    from unlearn_llm.data import IDK_ANSWERS, prompt_text

    # Train on the prompts as the model will see them, so "Question:" is one token.
    texts = world.corpus() + [prompt_text(q) for q in world.questions()] + list(IDK_ANSWERS) * 20
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tokenizer,
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
    )
