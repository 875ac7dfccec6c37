"""Per-architecture module maps: where W_q, W_k, W_v, W_o, the MLP and the LayerNorms live.

Methods never guess module names: they ask an :class:`ArchSpec` (looked up from the model's
``config.model_type``) for the blocks and for the paper-named projections inside each block.

A projection is either a plain module (``"attention.self.query"``) or a *slice* of a fused q|k|v
projection (GPT-2's ``attn.c_attn``; BLOOM's and GPT-NeoX's per-head interleaved
``query_key_value``). For a slice, :meth:`ArchSpec.fused_slices` gives the output indices of q, k
and v inside the fused output so LoRA can adapt q and v and leave k untouched.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import torch
from torch import nn

PAPER_TARGETS = ("q", "k", "v", "o")
MLP_TARGETS = ("mlp_in", "mlp_out")


@dataclass(frozen=True)
class ArchSpec:
    """Facts about one transformers architecture family."""

    family: str
    model_types: tuple[str, ...]
    blocks: tuple[str, ...]  # candidate dotted paths (from the top model) to the ModuleList of blocks
    targets: dict[str, str]  # paper name -> module path inside a block
    fused_qkv: str | None = None  # module path of a fused q|k|v projection, if any
    fused_layout: str = "contiguous"  # "contiguous" [q|k|v] or "per_head" [h0:q,k,v | h1:q,k,v ...]
    attn_out: str = ""  # output projection of attention (adapter H placement)
    mlp_out: str = ""  # output projection of the MLP
    ln_attn: str = ""  # LayerNorm of the attention sub-block
    ln_mlp: str = ""  # LayerNorm of the MLP sub-block
    pre_ln: bool = False  # GPT-style pre-LayerNorm (True) or BERT-style post-LayerNorm (False)
    embeddings: tuple[str, ...] = ()  # candidate paths to the token embedding module
    heads: tuple[str, ...] = ()  # modules that do not exist in the pretrained model (task heads)
    decoder: bool = False
    extra: dict[str, str] = field(default_factory=dict)
    positions_attr: str | None = "max_position_embeddings"  # config field bounding the sequence length
    positions_reserved: int = 0  # position slots not usable by tokens (RoBERTa starts at padding_idx + 1)

    # -- lookups ---------------------------------------------------------------------------------
    def allowed_targets(self) -> tuple[str, ...]:
        names = [t for t in PAPER_TARGETS if t in self.targets or self.fused_qkv]
        names += [t for t in MLP_TARGETS if t in self.targets]
        return tuple(dict.fromkeys(names))

    def is_fused(self, target: str) -> bool:
        return self.fused_qkv is not None and target in ("q", "k", "v")

    def get_blocks(self, model: nn.Module) -> nn.ModuleList:
        for path in self.blocks:
            mod = _get(model, path)
            if mod is not None:
                return mod
        raise ValueError(f"{self.family}: could not find the transformer blocks (tried {list(self.blocks)})")

    def iter_blocks(self, model: nn.Module) -> Iterator[tuple[int, nn.Module]]:
        yield from enumerate(self.get_blocks(model))

    def blocks_prefix(self, model: nn.Module) -> str:
        for path in self.blocks:
            if _get(model, path) is not None:
                return path
        raise ValueError(f"{self.family}: could not find the transformer blocks (tried {list(self.blocks)})")

    def get_embeddings(self, model: nn.Module) -> nn.Embedding:
        for path in self.embeddings:
            mod = _get(model, path)
            if mod is not None:
                return mod
        return model.get_input_embeddings()

    def max_positions(self, model_config) -> int | None:
        """How many tokens one sequence may hold (None: no learned/fixed position limit, e.g. ALiBi)."""
        if self.positions_attr is None:
            return None
        value = getattr(model_config, self.positions_attr, None)
        return None if value is None else int(value) - self.positions_reserved

    def fused_slices(self, model_config, out_features: int) -> dict[str, torch.Tensor]:
        """Output indices of q, k and v inside the fused projection's output."""
        d = out_features // 3
        if self.fused_layout == "contiguous":
            return {name: torch.arange(i * d, (i + 1) * d) for i, name in enumerate(("q", "k", "v"))}
        if self.fused_layout == "per_head":
            heads = _num_heads(model_config)
            hd = d // heads
            base = torch.arange(heads) * 3 * hd
            return {
                name: (base[:, None] + i * hd + torch.arange(hd)[None, :]).reshape(-1)
                for i, name in enumerate(("q", "k", "v"))
            }
        raise ValueError(f"unknown fused layout {self.fused_layout!r}; allowed: contiguous, per_head")


def _num_heads(cfg) -> int:
    for key in ("num_attention_heads", "n_head", "num_heads"):
        if hasattr(cfg, key):
            return int(getattr(cfg, key))
    raise ValueError("model config has no number of attention heads")


def _get(root: nn.Module, path: str) -> nn.Module | None:
    mod = root
    for part in path.split("."):
        if not hasattr(mod, part):
            return None
        mod = getattr(mod, part)
    return mod


SPECS: dict[str, ArchSpec] = {}


def register(spec: ArchSpec) -> ArchSpec:
    for mt in spec.model_types:
        SPECS[mt] = spec
    return spec


register(
    ArchSpec(
        family="roberta",
        model_types=("roberta",),
        blocks=("roberta.encoder.layer", "encoder.layer"),
        targets={
            "q": "attention.self.query",
            "k": "attention.self.key",
            "v": "attention.self.value",
            "o": "attention.output.dense",
            "mlp_in": "intermediate.dense",
            "mlp_out": "output.dense",
        },
        attn_out="attention.output.dense",
        mlp_out="output.dense",
        ln_attn="attention.output.LayerNorm",
        ln_mlp="output.LayerNorm",
        embeddings=("roberta.embeddings.word_embeddings", "embeddings.word_embeddings"),
        heads=("classifier",),
        positions_reserved=2,  # position ids start at padding_idx + 1 = 2
    )
)

register(
    ArchSpec(
        family="deberta-v2",
        model_types=("deberta-v2",),
        blocks=("deberta.encoder.layer", "encoder.layer"),
        targets={
            "q": "attention.self.query_proj",
            "k": "attention.self.key_proj",
            "v": "attention.self.value_proj",
            "o": "attention.output.dense",
            "mlp_in": "intermediate.dense",
            "mlp_out": "output.dense",
        },
        attn_out="attention.output.dense",
        mlp_out="output.dense",
        ln_attn="attention.output.LayerNorm",
        ln_mlp="output.LayerNorm",
        embeddings=("deberta.embeddings.word_embeddings", "embeddings.word_embeddings"),
        heads=("pooler", "classifier"),
    )
)

register(
    ArchSpec(
        family="gpt2",
        model_types=("gpt2",),
        blocks=("transformer.h", "h"),
        targets={"o": "attn.c_proj", "mlp_in": "mlp.c_fc", "mlp_out": "mlp.c_proj"},
        fused_qkv="attn.c_attn",
        fused_layout="contiguous",
        attn_out="attn.c_proj",
        mlp_out="mlp.c_proj",
        ln_attn="ln_1",
        ln_mlp="ln_2",
        pre_ln=True,
        embeddings=("transformer.wte", "wte"),
        heads=("score",),
        decoder=True,
        positions_attr="n_positions",
    )
)

register(
    ArchSpec(
        family="opt",
        model_types=("opt",),
        blocks=("model.decoder.layers", "decoder.layers"),
        targets={
            "q": "self_attn.q_proj",
            "k": "self_attn.k_proj",
            "v": "self_attn.v_proj",
            "o": "self_attn.out_proj",
            "mlp_in": "fc1",
            "mlp_out": "fc2",
        },
        attn_out="self_attn.out_proj",
        mlp_out="fc2",
        ln_attn="self_attn_layer_norm",
        ln_mlp="final_layer_norm",
        pre_ln=True,
        embeddings=("model.decoder.embed_tokens", "decoder.embed_tokens"),
        heads=("score",),
        decoder=True,
    )
)

register(
    ArchSpec(
        family="bloom",
        model_types=("bloom",),
        blocks=("transformer.h", "h"),
        targets={"o": "self_attention.dense", "mlp_in": "mlp.dense_h_to_4h", "mlp_out": "mlp.dense_4h_to_h"},
        fused_qkv="self_attention.query_key_value",
        fused_layout="per_head",
        attn_out="self_attention.dense",
        mlp_out="mlp.dense_4h_to_h",
        ln_attn="input_layernorm",
        ln_mlp="post_attention_layernorm",
        pre_ln=True,
        embeddings=("transformer.word_embeddings", "word_embeddings"),
        heads=("score",),
        decoder=True,
        positions_attr=None,  # ALiBi: no position embeddings, no fixed limit
    )
)

register(
    ArchSpec(
        family="gpt-neox",
        model_types=("gpt_neox",),
        blocks=("gpt_neox.layers", "layers"),
        targets={"o": "attention.dense", "mlp_in": "mlp.dense_h_to_4h", "mlp_out": "mlp.dense_4h_to_h"},
        fused_qkv="attention.query_key_value",
        fused_layout="per_head",
        attn_out="attention.dense",
        mlp_out="mlp.dense_4h_to_h",
        ln_attn="input_layernorm",
        ln_mlp="post_attention_layernorm",
        pre_ln=True,
        embeddings=("gpt_neox.embed_in", "embed_in"),
        heads=("score",),
        decoder=True,
    )
)


def spec_for(model: nn.Module) -> ArchSpec:
    """The :class:`ArchSpec` of a transformers model, or a clear error naming the known ones."""
    model_type = getattr(getattr(model, "config", None), "model_type", None)
    if model_type not in SPECS:
        raise ValueError(
            f"no module map for architecture {model_type!r}; supported model_type values: {sorted(SPECS)}"
        )
    return SPECS[model_type]


def get_submodule(root: nn.Module, path: str) -> nn.Module:
    mod = _get(root, path)
    if mod is None:
        raise ValueError(f"module {path!r} not found in {type(root).__name__}")
    return mod


def set_submodule(root: nn.Module, path: str, new: nn.Module) -> None:
    parent_path, _, name = path.rpartition(".")
    parent = get_submodule(root, parent_path) if parent_path else root
    setattr(parent, name, new)
