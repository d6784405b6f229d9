"""Shared by the cloze and shortcut tests: a word-level tokenizer over the graded prompts' words (each
option one token after a space) and a tiny Llama over it."""

import re

import torch
import transformers as tf

import scale_lib as sl


def word_tokenizer(items, extra=()):
    """A word-level fast tokenizer whose vocabulary is every word and punctuation run of ``items``' prompts and options, plus ``extra``."""
    from tokenizers import Tokenizer, models, pre_tokenizers

    words = set(extra)
    for item in items:
        words |= set(re.findall(r"\w+|[^\w\s]+", item.prompt() + " " + " ".join(item.options)))
    vocab = {w: i for i, w in enumerate(["<pad>", "<unk>"] + sorted(words))}
    core = Tokenizer(models.WordLevel(vocab, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.Whitespace()
    return tf.PreTrainedTokenizerFast(tokenizer_object=core, pad_token="<pad>", unk_token="<unk>")


def tiny_llama(tokenizer):
    """A frozen 2-layer Llama (d = 32, 4 heads, 2 KV heads, tied embeddings) over ``tokenizer``'s vocabulary."""
    torch.manual_seed(0)
    cfg = tf.LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
                         num_key_value_heads=2, max_position_embeddings=512, tie_word_embeddings=True)
    return sl.freeze(tf.LlamaForCausalLM(cfg).eval())
