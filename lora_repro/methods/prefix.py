"""Prefix-embedding (``preembed``) and prefix-layer (``prelayer``) tuning, with the paper's infix tokens.

Both insert ``l_p + l_i`` virtual tokens into every input (paper §5.1)::

    decoder (GPT-2, OPT, ...):   [P_1 .. P_lp] x_1 .. x_n [I_1 .. I_li] y_1 .. y_m
    encoder (RoBERTa, DeBERTa):  <s> [P_1 .. P_lp] x_1 .. x_n </s> [I_1 .. I_li] <pad> ...

* ``preembed``: the virtual tokens' input embeddings are trainable, |Θ| = d_model × (l_p + l_i).
* ``prelayer``: the activations of the virtual tokens entering every Transformer block are replaced by
  trainable vectors, |Θ| = L × d_model × (l_p + l_i); their keys and values then do not depend on the
  input, so they sit in the KV cache like Li & Liang's prefixes.

Where x ends (the infix position): pass ``context_lengths`` (LongTensor [B] or int: the number of
input positions, left padding included, that belong to x) as an extra keyword to the model call,
``model(input_ids=..., attention_mask=..., labels=..., context_lengths=n_x)``. Without it the infix
goes after the last attended token of each row, which is right for generation: ``model.generate``
(with the KV cache, the default) sees the prompt x and puts the infix between x and what it
generates. Encoders keep the first token (``<s>``/``[CLS]``, read by the classifier) first.

The caller never sees the virtual positions: ``labels`` are extended with -100 there, and a causal
LM's ``logits`` are gathered back to the input's length so that ``logits[:, t]`` is the prediction of
token t+1 (for the last token of x, the prediction made after the infix). ``hidden_states`` and
``attentions`` outputs keep the virtual positions.
"""

from __future__ import annotations

import functools
import inspect
from dataclasses import dataclass

import torch
from torch import nn

from lora_repro.methods.adapters import d_model, param_dtype
from lora_repro.methods.base import register_method
from lora_repro.models.arch import ArchSpec
from lora_repro.models.cache import find_cache

PREFIX_ATTR = "prefix_tuning"


@dataclass
class _Insertion:
    """Where the virtual tokens sit in the current call's extended sequence."""

    is_virtual: torch.Tensor  # [B, T'] bool
    virtual_index: torch.Tensor  # [B, T'] index into the l_p + l_i virtual tokens (0 where not virtual)
    out_index: torch.Tensor  # [B, T] extended position whose logits predict input token t + 1
    keep: int  # logits_to_keep asked for by the caller (0: all)


class PrefixTuning(nn.Module):
    """The trainable virtual tokens and the bookkeeping of one forward pass."""

    def __init__(self, l_p: int, l_i: int, d: int, n_layers: int, decoder: bool, max_positions, like) -> None:
        super().__init__()
        self.l_p, self.l_i, self.decoder, self.max_positions = l_p, l_i, decoder, max_positions
        kw = {"device": like.device, "dtype": param_dtype(like)}
        n = l_p + l_i
        if n_layers:  # PreLayer: one set of activations per block input
            self.layers = nn.Parameter(torch.zeros(n_layers, n, d, **kw))  # [L, l_p + l_i, d]
            self.embed = None
        else:  # PreEmbed: one set of input embeddings
            self.embed = nn.Parameter(torch.zeros(n, d, **kw))  # [l_p + l_i, d]
            self.layers = None
        self.state: _Insertion | None = None
        self.cache_split: torch.Tensor | None = None  # where the infix went in the call that filled the cache

    @property
    def n_virtual(self) -> int:
        return self.l_p + self.l_i

    def check_length(self, total: int) -> None:
        if self.max_positions is not None and total > self.max_positions:
            raise ValueError(
                f"prefix tuning: l_p + l_i + input length = {self.l_p} + {self.l_i} + "
                f"{total - self.n_virtual} = {total} exceeds the model's {self.max_positions} positions; "
                "shorten the input or choose smaller l_p / l_i"
            )


def _check_len(name: str, value) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"prefix tuning: {name} must be a non-negative integer, got {value!r}")
    return value


def _end_of_attended(mask: torch.Tensor) -> torch.Tensor:
    """Index after the last attended token of each row ([B, T] mask -> [B])."""
    pos = torch.arange(1, mask.shape[1] + 1, device=mask.device)
    return (mask.long() * pos).amax(dim=1)


def _layout(pt: PrefixTuning, split: torch.Tensor, T: int, start: int):
    """Index maps of the extended sequence [<start tokens>, P, x, I, rest]."""
    B, lp, li = split.shape[0], pt.l_p, pt.l_i
    j = torch.arange(T + lp + li, device=split.device)[None, :].expand(B, -1)  # [B, T']
    s = split[:, None]
    in_p = (j >= start) & (j < start + lp)
    in_i = (j >= s + lp) & (j < s + lp + li)
    is_virtual = in_p | in_i
    virtual_index = torch.where(in_p, j - start, torch.where(in_i, j - s, 0))
    token_index = torch.where(j < start, j, torch.where(j < s + lp, j - lp, j - lp - li)).clamp(0, T - 1)
    nxt = torch.arange(1, T + 1, device=split.device)[None, :]  # token t + 1
    nxt_pos = torch.where(nxt < start, nxt, torch.where(nxt < s, nxt + lp, nxt + lp + li))  # [B, T]
    return is_virtual, virtual_index, token_index, nxt_pos - 1


def _top_pre_hook(model: nn.Module, args: tuple, kwargs: dict):
    pt: PrefixTuning = getattr(model, PREFIX_ATTR)
    names = list(inspect.signature(model.forward).parameters)
    kw = dict(kwargs)
    kw.update(zip(names, args, strict=False))
    ctx = kw.pop("context_lengths", None)
    past = find_cache(kw)  # generate names it `cache` from transformers 5.24 on, `past_key_values` before
    if past is not None and not hasattr(past, "get_seq_length"):
        raise ValueError("prefix tuning needs a transformers Cache object as the KV cache, not legacy tuples")
    past_len = past.get_seq_length() if past is not None else 0
    accepts_pos = "position_ids" in names
    if past_len > 0:  # continuing a cached sequence: the virtual tokens are in the cache already
        pt.state = None
        ref = kw.get("input_ids") if kw.get("input_ids") is not None else kw.get("inputs_embeds")
        cur = ref.shape[1]
        pt.check_length(past_len + cur)
        mask = kw.get("attention_mask")
        if mask is not None and mask.dim() == 2 and mask.shape[1] == past_len + cur - pt.n_virtual:
            mask = _cached_mask(pt, mask)
            kw["attention_mask"] = mask
        if pt.decoder and accepts_pos:
            if mask is not None and mask.dim() == 2:
                kw["position_ids"] = (mask.long().cumsum(1) - 1).clamp(min=0)[:, -cur:]
            else:
                kw["position_ids"] = torch.arange(past_len, past_len + cur, device=ref.device)[None, :]
        if kw.get("cache_position") is not None:
            kw["cache_position"] = torch.arange(past_len, past_len + cur, device=ref.device)
        return (), kw
    emb = kw.get("inputs_embeds")
    if emb is None:
        if kw.get("input_ids") is None:
            raise ValueError("prefix tuning needs input_ids or inputs_embeds")
        emb = model.get_input_embeddings()(kw["input_ids"])
    B, T, d = emb.shape
    mask = kw.get("attention_mask")
    mask = torch.ones(B, T, dtype=torch.long, device=emb.device) if mask is None else mask
    start = 0 if pt.decoder else 1
    if ctx is None:
        split = _end_of_attended(mask).clamp(min=start)
    else:
        split = torch.as_tensor(ctx, device=emb.device).long().reshape(-1).expand(B)
        if (split < start).any() or (split > T).any():
            raise ValueError(
                f"context_lengths must lie in {start}..{T} (the input length), got {split.tolist()}"
            )
    pt.check_length(T + pt.n_virtual)
    is_virtual, virtual_index, token_index, out_index = _layout(pt, split, T, start)
    table = pt.embed if pt.embed is not None else emb.new_zeros(pt.n_virtual, d)
    gathered = emb.gather(1, token_index[..., None].expand(-1, -1, d))
    kw["inputs_embeds"] = torch.where(is_virtual[..., None], table[virtual_index].to(emb.dtype), gathered)
    kw["input_ids"] = None
    kw["attention_mask"] = torch.where(is_virtual, 1, mask.gather(1, token_index)).to(mask.dtype)
    if kw.get("token_type_ids") is not None:
        kw["token_type_ids"] = kw["token_type_ids"].gather(1, token_index)
    labels = kw.get("labels")
    if pt.decoder and labels is not None and labels.dim() == 2:
        kw["labels"] = torch.where(is_virtual, -100, labels.gather(1, token_index))
    if accepts_pos:
        pos = (kw["attention_mask"].long().cumsum(1) - 1).clamp(min=0)
        kw["position_ids"] = pos if pt.decoder else None
    if kw.get("cache_position") is not None:
        kw["cache_position"] = torch.arange(T + pt.n_virtual, device=emb.device)
    keep = kw.get("logits_to_keep")
    keep = int(keep) if isinstance(keep, int) else 0
    if keep > 1:
        kw["logits_to_keep"] = 0
    pt.state = _Insertion(is_virtual, virtual_index, out_index, keep)
    pt.cache_split = split
    return (), kw


def _cached_mask(pt: PrefixTuning, mask: torch.Tensor) -> torch.Tensor:
    """The attention mask of a cached step, laid out like the cache: ones where the virtual tokens sit."""
    split = pt.cache_split
    if split is None or split.shape[0] != mask.shape[0]:
        raise ValueError("prefix tuning: a cached step whose cache was not started by this model's prefix")
    is_virtual, _, token_index, _ = _layout(pt, split, mask.shape[1], 0 if pt.decoder else 1)
    return torch.where(is_virtual, 1, mask.gather(1, token_index)).to(mask.dtype)


def _top_post_hook(model: nn.Module, args: tuple, kwargs: dict, output):
    pt: PrefixTuning = getattr(model, PREFIX_ATTR)
    st = pt.state  # kept until the next call: gradient checkpointing re-runs the blocks in backward
    if st is None or not pt.decoder:
        return output
    if isinstance(output, tuple):
        raise ValueError("prefix tuning needs return_dict=True (the default) to hide the virtual positions")
    logits = getattr(output, "logits", None)
    if logits is None or logits.dim() != 3:
        return output
    if logits.shape[1] == st.is_virtual.shape[1]:
        logits = logits.gather(1, st.out_index[..., None].expand(-1, -1, logits.shape[-1]))  # [B, T, V]
        output.logits = logits[:, -st.keep :] if st.keep > 0 else logits
    return output


def _block_pre_hook(pt: PrefixTuning, layer: int, block: nn.Module, args: tuple, kwargs: dict):
    st = pt.state
    if st is None or pt.layers is None:
        return None
    hidden = args[0] if args else kwargs["hidden_states"]
    if hidden.shape[1] != st.is_virtual.shape[1]:
        return None
    table = pt.layers[layer]  # [l_p + l_i, d]
    values = table[st.virtual_index.to(table.device)].to(
        device=hidden.device, dtype=hidden.dtype
    )  # [B, T', d]
    hidden = torch.where(st.is_virtual.to(hidden.device)[..., None], values, hidden)
    if args:
        return (hidden, *args[1:]), kwargs
    return args, {**kwargs, "hidden_states": hidden}


@torch.no_grad()
def _init_from_real_tokens(model: nn.Module, pt: PrefixTuning, spec: ArchSpec) -> None:
    """Li & Liang's advice: start from the activations of real vocabulary tokens."""
    emb = spec.get_embeddings(model).weight
    ids = torch.randint(0, emb.shape[0], (1, pt.n_virtual), device=emb.device)
    if pt.embed is not None:
        pt.embed.copy_(emb[ids[0]])
        return
    was_training = model.training
    model.eval()
    try:
        hidden = model(input_ids=ids, output_hidden_states=True).hidden_states
    finally:
        model.train(was_training)
    for i in range(pt.layers.shape[0]):
        pt.layers[i].copy_(hidden[i][0])


def install_prefix(
    model: nn.Module, spec: ArchSpec, l_p: int, l_i: int, per_layer: bool
) -> list[nn.Parameter]:
    """Add the virtual tokens and the hooks that insert them; return the trainable tensor."""
    l_p, l_i = _check_len("l_p", l_p), _check_len("l_i", l_i)
    if l_p + l_i == 0:
        raise ValueError("prefix tuning: l_p + l_i must be at least 1")
    if hasattr(model, PREFIX_ATTR):
        raise ValueError("the model already has prefix tuning")
    max_pos = spec.max_positions(model.config)
    needed = l_p + l_i + (0 if spec.decoder else 1) + 1
    if max_pos is not None and needed > max_pos:
        raise ValueError(
            f"prefix tuning: l_p + l_i = {l_p + l_i} leaves no room for an input in the model's {max_pos} positions"
        )
    blocks = spec.get_blocks(model)
    like = spec.get_embeddings(model).weight
    pt = PrefixTuning(l_p, l_i, d_model(model), len(blocks) if per_layer else 0, spec.decoder, max_pos, like)
    if like.device.type != "meta":
        _init_from_real_tokens(model, pt, spec)
    setattr(model, PREFIX_ATTR, pt)
    model.register_forward_pre_hook(_top_pre_hook, with_kwargs=True)
    model.register_forward_hook(_top_post_hook, with_kwargs=True)
    if per_layer:
        for i, block in enumerate(blocks):
            block.register_forward_pre_hook(functools.partial(_block_pre_hook, pt, i), with_kwargs=True)
    return [pt.layers if per_layer else pt.embed]


def inject_preembed(model: nn.Module, spec: ArchSpec, l_p: int = 8, l_i: int = 8) -> list[nn.Parameter]:
    """Prefix-embedding tuning: trainable input embeddings of l_p prefix and l_i infix tokens."""
    return install_prefix(model, spec, l_p, l_i, per_layer=False)


def inject_prelayer(model: nn.Module, spec: ArchSpec, l_p: int = 8, l_i: int = 8) -> list[nn.Parameter]:
    """Prefix-layer tuning: trainable activations of the virtual tokens at every block's input."""
    return install_prefix(model, spec, l_p, l_i, per_layer=True)


register_method("preembed", ("l_p", "l_i"))(inject_preembed)
register_method("prelayer", ("l_p", "l_i"))(inject_prelayer)


def has_prefix(model: nn.Module) -> bool:
    """True if ``model`` carries prefix/infix tokens (pass ``context_lengths`` to it only then)."""
    return isinstance(getattr(model, PREFIX_ATTR, None), PrefixTuning)
