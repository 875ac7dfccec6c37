"""The tiny profile's tokenizer: a byte-level BPE trained on the tiny world's corpus, cached on disk.

One tokenizer serves both model families of the tiny profile:

* encoders (RoBERTa-style): ``tok(text, text_pair)`` adds ``<s> A </s></s> B </s>`` like RoBERTa;
* decoders (GPT-2-style): call with ``add_special_tokens=False`` and add ``bos``/``eos`` yourself
  (:func:`lora_repro.tasks.base.Task.tokenize` does this).

Special tokens: ``<s>`` (bos, cls) ``<pad>`` ``</s>`` (eos, sep) ``<unk>`` ``<mask>`` with ids 0-4,
the same order as RoBERTa's vocabulary.
"""

from __future__ import annotations

import functools
import hashlib
import os
import shutil
from pathlib import Path

from lora_repro.atomic import temp_dir

TOKENIZER_VERSION = "v1"
VOCAB_SIZE = 3000
CORPUS_SIZE = 20000
CORPUS_SEED = 0
SPECIAL_TOKENS = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]


@functools.lru_cache(maxsize=8)
def tokenizer_key(vocab_size: int = VOCAB_SIZE) -> str:
    """The cache key of the tiny tokenizer: a hash of its recipe and of the corpus it is trained on.

    Any change to the tiny world's text changes the key, so a stale cached tokenizer is never used;
    models pretrained with the tiny tokenizer should include this key in their own cache key.
    """
    from lora_repro.tiny.synthetic import pretraining_corpus

    h = hashlib.sha256(f"{TOKENIZER_VERSION}:{vocab_size}:{CORPUS_SIZE}:{CORPUS_SEED}".encode())
    for doc in pretraining_corpus(CORPUS_SIZE, CORPUS_SEED):
        h.update(doc.encode())
        h.update(b"\0")
    return f"tiny-bpe-{TOKENIZER_VERSION}-{vocab_size}-{h.hexdigest()[:10]}"


def train_tiny_tokenizer(vocab_size: int = VOCAB_SIZE):
    """Train the byte-level BPE on the tiny corpus; returns a ``PreTrainedTokenizerFast`` (not cached)."""
    from tokenizers import ByteLevelBPETokenizer
    from tokenizers.processors import TemplateProcessing
    from transformers import PreTrainedTokenizerFast

    from lora_repro.tiny.synthetic import pretraining_corpus

    bpe = ByteLevelBPETokenizer(add_prefix_space=False)
    corpus = pretraining_corpus(CORPUS_SIZE, CORPUS_SEED)
    bpe.train_from_iterator(corpus, vocab_size=vocab_size, min_frequency=2, special_tokens=SPECIAL_TOKENS)
    core = bpe._tokenizer
    bos, eos = core.token_to_id("<s>"), core.token_to_id("</s>")
    core.post_processor = TemplateProcessing(
        single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>", special_tokens=[("<s>", bos), ("</s>", eos)]
    )
    return PreTrainedTokenizerFast(
        tokenizer_object=core,
        bos_token="<s>",
        eos_token="</s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        cls_token="<s>",
        sep_token="</s>",
        model_max_length=1024,
    )


def _load(path: Path):
    from transformers import PreTrainedTokenizerFast

    return PreTrainedTokenizerFast.from_pretrained(str(path))


def tiny_tokenizer(cache_dir: str | os.PathLike | None = None, vocab_size: int = VOCAB_SIZE):
    """The tiny tokenizer, trained once and cached under ``cache_dir/tokenizers/<key>``.

    Safe when several processes start at once: each trains into its own temp dir and renames it into
    place; a process that loses the race uses the winner's copy (identical recipe).
    """
    if cache_dir is None:
        cache_dir = os.environ.get("LORA_REPRO_CACHE", os.path.expanduser("~/.cache/lora-repro"))
    root = Path(cache_dir) / "tokenizers"
    final = root / tokenizer_key(vocab_size)
    if (final / "tokenizer.json").is_file():
        return _load(final)
    root.mkdir(parents=True, exist_ok=True)
    tok = train_tiny_tokenizer(vocab_size)
    tmp = temp_dir(final)  # the umask's directory mode, not mkdtemp's 0700
    try:
        tok.save_pretrained(str(tmp))
        try:
            os.rename(tmp, final)  # atomic; fails if another process got there first
        except OSError:
            if not (final / "tokenizer.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return _load(final)
