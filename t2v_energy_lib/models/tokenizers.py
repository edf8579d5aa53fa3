"""Offline tokenizers: built without files, padding to exactly the token count the real tokenizer pads to.

transformers 5 constructs ``T5Tokenizer()``, ``T5TokenizerFast()``, ``CLIPTokenizer()`` and
``LlamaTokenizerFast()`` with no vocabulary files (a handful of special tokens; every word maps to a few ids
below ~104). The pipelines pad with ``padding="max_length"`` to their ``max_sequence_length`` (AnimateDiff to
``tokenizer.model_max_length``), so the padded token count, which sets the compute of Wan, CogVideoX, LTX,
HunyuanVideo and CLIP, is exactly the real one. Mochi keeps only the unpadded tokens, so there the count of
valid tokens differs from the real SentencePiece tokenizer (about two ids per word here).

``LlamaTokenizerFast()`` built empty turns every text into zero tokens, and HunyuanVideo crops the first 95
tokens (its prompt template) off the padded 351, which would leave an all-zero attention mask (NaN). So the
Llama tokenizer here is byte-level (one token per UTF-8 byte, built in code with ``tokenizers``): the template
alone is longer than the crop, so 256 positions stay valid. The LLaMA encoder still sees 351 tokens and the
transformer 256, as with the real tokenizer; only which positions count as valid differs (compute does not
depend on it, the masked attention runs over all 256).

transformers 4 (the environment of Diffusers 0.33, whose Wan pipeline does not import under transformers 5)
refuses to build ``T5Tokenizer()``/``T5TokenizerFast()`` without a SentencePiece file. There the T5 tokenizers
are word-level ``T5TokenizerFast`` built in code (every word is ``<unk>``, id 2, so the tiny variants' small
vocabularies hold every id); padded to ``max_length`` they give the same token count, so the same compute.
"""

from __future__ import annotations

from typing import Any


def offline_tokenizer(class_name: str, max_length: int) -> Any:
    """Build tokenizer ``class_name`` from transformers with no files.

    Args:
        class_name: ``T5Tokenizer``, ``T5TokenizerFast``, ``CLIPTokenizer`` or ``LlamaTokenizerFast``.
        max_length: ``model_max_length`` to set (what the pipeline pads to). Units: tokens.
    """
    import transformers

    if class_name.startswith("LlamaTokenizer"):
        tok = _byte_level_llama()
    elif class_name.startswith("T5Tokenizer") and transformers.__version__.split(".")[0] == "4":
        tok = _word_level_t5()
    else:
        tok = getattr(transformers, class_name)()
    tok.model_max_length = max_length
    return tok


def _word_level_t5() -> Any:
    """A ``T5TokenizerFast`` with T5's special ids (pad 0, ``</s>`` 1, unk 2) and every word ``<unk>``."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import T5TokenizerFast

    backend = Tokenizer(models.WordLevel(vocab={"<pad>": 0, "</s>": 1, "<unk>": 2}, unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return T5TokenizerFast(
        tokenizer_object=backend, eos_token="</s>", unk_token="<unk>", pad_token="<pad>", extra_ids=0
    )


def _byte_level_llama() -> Any:
    """A ``LlamaTokenizerFast`` with one token per byte (ids 3-258) and ``</s>`` as pad token."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import LlamaTokenizerFast

    vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
    for char in sorted(pre_tokenizers.ByteLevel.alphabet()):
        vocab[char] = len(vocab)
    backend = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return LlamaTokenizerFast(
        tokenizer_object=backend, bos_token="<s>", eos_token="</s>", unk_token="<unk>", pad_token="</s>"
    )
