"""Pretrain the tiny profile's models on the tiny world's corpus, once per machine.

Encoders (RoBERTa, DeBERTa-v2) learn masked-LM (15% of tokens; 80% ``<mask>``, 10% random, 10%
kept) on one or two documents per sequence (``<s> A </s></s> B </s>``, the shape GLUE pairs have);
decoders (GPT-2 and the GPT-3-class stand-in) learn causal LM on documents packed into fixed-length
chunks separated by ``</s>``. Everything is seeded: the same recipe gives the same weights.

The result is a ``save_pretrained`` directory (model + tokenizer) under
``<cache_dir>/models/<name>-<recipe hash>/``. Several processes may start at once: a file lock lets
one of them train, the others wait and reuse its copy; the directory appears by atomic rename, so a
killed run never leaves a half-written model behind.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import random
import re
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from lora_repro.atomic import publish_dir

PRETRAIN_VERSION = "v3"  # v2: the <s> bag-of-words term, review verdicts; v3: a document cut into a pair


@dataclass(frozen=True)
class PretrainRecipe:
    """How a tiny model is pretrained (every field enters the cache key)."""

    steps: int = 600
    batch_size: int = 32
    seq_len: int = 64
    lr: float = 2e-3
    warmup: int = 50
    weight_decay: float = 0.01
    corpus_size: int = 20000
    seed: int = 0
    mlm_probability: float = 0.15
    # encoders only: weight of the <s> bag-of-words term (0 turns it off), see _encoder_loss
    cls_bow_weight: float = 1.0


def default_cache_dir() -> Path:
    """``$LORA_REPRO_CACHE`` or ``~/.cache/lora-repro``."""
    return Path(os.environ.get("LORA_REPRO_CACHE") or os.path.expanduser("~/.cache/lora-repro"))


def _model_cfg(name: str | dict[str, Any]) -> dict[str, Any]:
    from lora_repro.models.build import model_config

    return model_config(name) if isinstance(name, str) else dict(name)


def recipe_for(cfg: dict[str, Any], **overrides: Any) -> PretrainRecipe:
    """The recipe of a model: defaults, then the model's ``tiny.pretrain`` block, then ``overrides``."""
    fields = dict((cfg.get("tiny") or {}).get("pretrain") or {})
    fields.update({k: v for k, v in overrides.items() if v is not None})
    unknown = sorted(set(fields) - set(PretrainRecipe.__dataclass_fields__))
    if unknown:
        raise ValueError(
            f"unknown pretrain option(s) {unknown}; allowed: {list(PretrainRecipe.__dataclass_fields__)}"
        )
    return PretrainRecipe(**fields)


def tiny_hf_overrides(cfg: dict[str, Any], tokenizer) -> dict[str, Any]:
    """The tiny ``hf_config`` overrides plus the tiny tokenizer's vocabulary and special ids."""
    over = dict((cfg.get("tiny") or {}).get("hf_config") or {})
    over.update(
        vocab_size=len(tokenizer),
        pad_token_id=tokenizer.pad_token_id,
        bos_token_id=tokenizer.bos_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )
    return over


def tiny_model_dir(
    name: str | dict[str, Any], cache_dir: str | os.PathLike | None = None, **overrides: Any
) -> Path:
    """Where the pretrained tiny model ``name`` lives (whether or not it exists yet)."""
    from lora_repro.tiny.tokenizer import tokenizer_key

    cfg = _model_cfg(name)
    recipe = recipe_for(cfg, **overrides)
    key = json.dumps(
        {
            "v": PRETRAIN_VERSION,
            "hf": cfg["hf_config"],
            "tiny": (cfg.get("tiny") or {}).get("hf_config"),
            "recipe": asdict(recipe),
            "tok": tokenizer_key(),
        },
        sort_keys=True,
    )
    digest = hashlib.sha256(key.encode()).hexdigest()[:10]
    return Path(cache_dir or default_cache_dir()) / "models" / f"{cfg['name']}-{digest}"


def is_pretrained(path: Path) -> bool:
    """True when ``path`` holds a finished tiny model (it appears by atomic rename, config.json included)."""
    return (Path(path) / "config.json").is_file()


SENTENCE_END = re.compile(r"(?<=[.?!])\s+(?=\S)")


def _split_sentences(doc: str) -> list[str]:
    """A document's sentences (on ``.``, ``?``, ``!`` followed by space); newlines end one too."""
    return [s for s in SENTENCE_END.split(doc) if s]


def _encoder_batches(docs: list[str], tok, recipe: PretrainRecipe, rng: random.Random):
    """Yield masked-LM batches forever: half one document, half a pair ``<s> A </s></s> B </s>``.

    A pair is, 40% of the time, a document cut at a sentence boundary (A = its first sentences,
    B = the rest: related sentences in the two segments, as in GLUE pairs and BERT's pretraining
    pairs) and otherwise two random documents.
    """
    ids = tok(docs, add_special_tokens=False)["input_ids"]
    split = [parts for parts in map(_split_sentences, docs) if len(parts) >= 2]
    bos, eos, pad, mask = tok.bos_token_id, tok.eos_token_id, tok.pad_token_id, tok.mask_token_id
    special = set(tok.all_special_ids)
    vocab = len(tok)
    gen = torch.Generator().manual_seed(recipe.seed)
    while True:
        seqs = []
        for _ in range(recipe.batch_size):
            r = rng.random()
            if r < 0.2 and split:
                parts = split[rng.randrange(len(split))]
                k = rng.randint(1, len(parts) - 1)
                a, b = tok([" ".join(parts[:k]), " ".join(parts[k:])], add_special_tokens=False)["input_ids"]
                seq = [bos, *a, eos, eos, *b, eos]
            elif r < 0.5:
                a, b = ids[rng.randrange(len(ids))], ids[rng.randrange(len(ids))]
                seq = [bos, *a, eos, eos, *b, eos]
            else:
                seq = [bos, *ids[rng.randrange(len(ids))], eos]
            seqs.append(seq[: recipe.seq_len])
        width = max(len(s) for s in seqs)
        input_ids = torch.full((len(seqs), width), pad, dtype=torch.long)
        for i, s in enumerate(seqs):
            input_ids[i, : len(s)] = torch.tensor(s)
        attn = (input_ids != pad).long()
        labels = input_ids.clone()
        maskable = attn.bool() & ~torch.isin(input_ids, torch.tensor(sorted(special)))
        # the normalised bag of the sequence's non-special tokens (before masking): the <s> term's target
        bow = torch.zeros(len(seqs), vocab).scatter_add_(1, input_ids, maskable.float())
        bow = bow / bow.sum(-1, keepdim=True).clamp_min(1.0)
        chosen = (torch.rand(input_ids.shape, generator=gen) < recipe.mlm_probability) & maskable
        labels[~chosen] = -100
        roll = torch.rand(input_ids.shape, generator=gen)
        input_ids = input_ids.masked_fill(chosen & (roll < 0.8), mask)
        rand_tok = torch.randint(len(special), vocab, input_ids.shape, generator=gen)
        swap = chosen & (roll >= 0.8) & (roll < 0.9)
        input_ids = torch.where(swap, rand_tok, input_ids)
        yield {"input_ids": input_ids, "attention_mask": attn, "labels": labels, "bow": bow}


def _encoder_loss(model, batch: dict[str, torch.Tensor], recipe: PretrainRecipe) -> torch.Tensor:
    """Masked-LM loss plus ``cls_bow_weight`` x the <s> bag-of-words term.

    The term asks the last layer's ``<s>`` vector, scored against the word embeddings, to predict
    which words the (masked) sequence contains: cross entropy of log_softmax(h_<s> . E^T) against
    the normalised bag of words. Masked LM alone never trains ``<s>``: the toy encoders then give a
    ``<s>`` that barely depends on the input (per-dimension spread 0.05 against a norm of 7.7), and
    frozen-encoder methods (LoRA, adapters) cannot classify from it. Encoders only; decoders are
    unchanged.
    """
    bow = batch["bow"]
    inputs = {k: v for k, v in batch.items() if k != "bow"}
    head = mlm_head(model)
    if head is None:  # an encoder whose head we do not know: the model's own (all-position) loss
        out = model(**inputs, output_hidden_states=True)
        mlm, last = out.loss, out.hidden_states[-1]
    else:  # the head on the masked positions only: the same loss, ~1/7 of the vocabulary projections
        last = model.base_model(input_ids=inputs["input_ids"], attention_mask=inputs["attention_mask"])[0]
        labels = inputs["labels"]
        chosen = labels != -100
        mlm = (
            torch.nn.functional.cross_entropy(head(last[chosen]), labels[chosen])
            if chosen.any()
            else last.sum() * 0
        )
    if recipe.cls_bow_weight == 0:
        return mlm
    logits = last[:, 0] @ model.get_input_embeddings().weight.T
    bow_loss = -(bow * torch.log_softmax(logits, dim=-1)).sum(-1).mean()
    return mlm + recipe.cls_bow_weight * bow_loss


def mlm_head(model):
    """The masked-LM head of a RoBERTa or DeBERTa-v2 model as a function of last hidden states (any
    leading shape), or None for another architecture."""
    if hasattr(model, "lm_head"):  # RoBERTa
        return model.lm_head
    if getattr(model, "legacy", None) is True and hasattr(model, "cls"):  # DeBERTa-v2, legacy head
        return model.cls
    if hasattr(model, "lm_predictions") and hasattr(model, "deberta"):  # DeBERTa-v2, tied head
        return lambda h: model.lm_predictions(h, model.deberta.embeddings.word_embeddings)
    return None


def _decoder_batches(docs: list[str], tok, recipe: PretrainRecipe, rng: random.Random):
    """Yield causal-LM batches forever: documents joined by ``</s>`` and cut into ``seq_len`` chunks."""
    eos = tok.eos_token_id
    stream: list[int] = []
    for d in tok(docs, add_special_tokens=False)["input_ids"]:
        # no <s>: tried, and E2E outputs then started like a new document ("It is located ...")
        stream += [*d, eos]
    chunks = [stream[i : i + recipe.seq_len] for i in range(0, len(stream) - recipe.seq_len, recipe.seq_len)]
    data = torch.tensor(chunks, dtype=torch.long)
    while True:
        idx = [rng.randrange(len(data)) for _ in range(recipe.batch_size)]
        x = data[idx]
        yield {"input_ids": x, "labels": x.clone()}


def pretrain_model(cfg: dict[str, Any], tok, recipe: PretrainRecipe, progress: bool = True):
    """Build the tiny architecture and pretrain it (masked LM or causal LM); returns the model."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # one thread: the same float results on every machine, and fast at toy width
    try:
        return _pretrain(cfg, tok, recipe, progress)
    finally:
        torch.set_num_threads(threads)


def _pretrain(cfg: dict[str, Any], tok, recipe: PretrainRecipe, progress: bool):
    from transformers import AutoModelForCausalLM, AutoModelForMaskedLM

    from lora_repro.models.build import hf_config
    from lora_repro.progress import progress_bar as tqdm
    from lora_repro.tiny.synthetic import pretraining_corpus

    torch.manual_seed(recipe.seed)
    rng = random.Random(recipe.seed)
    config = hf_config(cfg, overrides=tiny_hf_overrides(cfg, tok))
    decoder = cfg.get("kind") == "decoder"
    model = (AutoModelForCausalLM if decoder else AutoModelForMaskedLM).from_config(config)
    docs = pretraining_corpus(recipe.corpus_size, recipe.seed)
    batches = (_decoder_batches if decoder else _encoder_batches)(docs, tok, recipe, rng)
    opt = torch.optim.AdamW(model.parameters(), lr=recipe.lr, weight_decay=recipe.weight_decay)
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt,
        lambda s: (
            min(1.0, (s + 1) / max(1, recipe.warmup))
            * max(0.0, (recipe.steps - s) / max(1, recipe.steps - recipe.warmup))
        ),
    )
    model.train()
    bar = tqdm(range(recipe.steps), desc=f"pretrain {cfg['name']}", disable=not progress, mininterval=1.0)
    loss_ema = None
    for _ in bar:
        batch = next(batches)
        loss = model(**batch).loss if decoder else _encoder_loss(model, batch, recipe)
        if not torch.isfinite(loss):
            raise RuntimeError(f"pretraining {cfg['name']}: loss became {loss.item()}; lower the pretrain lr")
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        sched.step()
        opt.zero_grad(set_to_none=True)
        loss_ema = loss.item() if loss_ema is None else 0.95 * loss_ema + 0.05 * loss.item()
        bar.set_postfix(loss=f"{loss_ema:.3f}", refresh=False)
    model.config.lora_repro_pretrain = {"recipe": asdict(recipe), "final_loss": loss_ema}
    return model


@contextlib.contextmanager
def preserved_rng():
    """Run a block without touching the caller's random streams (torch, CUDA, Python, NumPy).

    Pretraining seeds and draws from the global generators; a cell that found its tiny model missing
    and pretrained it in its own process used to continue from the pretraining's streams, so its
    LoRA initialisation and dropout (and so its numbers) differed from the same cell with the model
    already cached.
    """
    import numpy as np

    py, npy, cpu = random.getstate(), np.random.get_state(), torch.get_rng_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    try:
        yield
    finally:
        random.setstate(py)
        np.random.set_state(npy)
        torch.set_rng_state(cpu)
        if cuda is not None:
            torch.cuda.set_rng_state_all(cuda)


def with_tiny_path(model_cfg: Any, profile: str, cache_dir: str | os.PathLike | None) -> Any:
    """``model_cfg`` with ``path`` set to its pretrained tiny model (pretrained on first use) in the
    tiny profile; unchanged in another profile or when it names a ``path`` already."""
    from omegaconf import DictConfig, OmegaConf

    plain = (
        OmegaConf.to_container(model_cfg, resolve=True)
        if isinstance(model_cfg, DictConfig)
        else dict(model_cfg)
    )
    if profile != "tiny" or plain.get("path"):
        return model_cfg
    path = str(ensure_pretrained(plain, cache_dir))
    if isinstance(model_cfg, DictConfig):
        out = model_cfg.copy()
        out.path = path
        return out
    return {**plain, "path": path}


def ensure_pretrained(
    name: str | dict[str, Any],
    cache_dir: str | os.PathLike | None = None,
    progress: bool = True,
    force: bool = False,
    **overrides: Any,
) -> Path:
    """The cached pretrained tiny model ``name``; pretrains it first if missing. Returns its directory.

    The caller's random streams are left as they were (a cell that pretrains its model first must
    train exactly as if it had found the model cached)."""
    with preserved_rng():
        return _ensure_pretrained(name, cache_dir, progress, force, **overrides)


def _ensure_pretrained(name, cache_dir, progress: bool, force: bool, **overrides: Any) -> Path:
    from filelock import FileLock

    from lora_repro.tiny.tokenizer import tiny_tokenizer

    cfg = _model_cfg(name)
    cache = Path(cache_dir or default_cache_dir())
    final = tiny_model_dir(cfg, cache, **overrides)
    if is_pretrained(final) and not force:
        return final
    final.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(final) + ".lock"):
        if is_pretrained(final) and not force:
            return final  # another process finished it while we waited
        tok = tiny_tokenizer(cache)
        model = pretrain_model(cfg, tok, recipe_for(cfg, **overrides), progress=progress)
        with publish_dir(final) as tmp:
            model.save_pretrained(str(tmp))
            tok.save_pretrained(str(tmp))
    return final
