"""Reference (microsoft/LoRA, loralib) checkpoints -> ``lora-repro import-adapter`` -> our model.

Each reference checkpoint is built here as the reference scripts build theirs: loralib layers swapped
into a tiny local model (``MergedLinear(enable_lora=[True, False, True], fan_in_fan_out=True)`` in
GPT-2's ``c_attn``; ``loralib.Linear`` in RoBERTa's query and value), random factors, then
``torch.save({'model_state_dict': lora_state_dict(model)})`` (NLG) or a flat dict with the
classifier (NLU). Imported through the CLI, our model must give the loralib model's logits.
"""

from __future__ import annotations

import json

import loralib
import pytest
import torch

from lora_repro.cli import main
from lora_repro.methods import load_adapter
from lora_repro.methods.reference import ReferenceFormatError, import_reference

D = 32


@pytest.fixture(scope="module")
def tok(cache_dir):
    from lora_repro.tiny.tokenizer import tiny_tokenizer

    return tiny_tokenizer(cache_dir)


def _save_gpt2(path, tok, seed: int = 0):
    from transformers import GPT2Config, GPT2LMHeadModel

    torch.manual_seed(seed)
    cfg = GPT2Config(
        vocab_size=len(tok), n_positions=128, n_embd=D, n_layer=2, n_head=2, resid_pdrop=0.0, embd_pdrop=0.0,
        attn_pdrop=0.0, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id,
    )  # fmt: skip
    GPT2LMHeadModel(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory, tok):
    return _save_gpt2(tmp_path_factory.mktemp("gpt2"), tok)


@pytest.fixture(scope="module")
def roberta_dir(tmp_path_factory, tok):
    from transformers import RobertaConfig, RobertaForMaskedLM

    torch.manual_seed(0)
    cfg = RobertaConfig(
        vocab_size=len(tok), hidden_size=D, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64,
        max_position_embeddings=130, pad_token_id=tok.pad_token_id, hidden_dropout_prob=0.0,
        attention_probs_dropout_prob=0.0,
    )  # fmt: skip
    path = tmp_path_factory.mktemp("roberta")
    RobertaForMaskedLM(cfg).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def _randomise(module: torch.nn.Module, seed: int) -> None:
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in module.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn(p.shape, generator=g) * 0.5)


def loralib_gpt2(gpt2_dir, r: int = 4, alpha: float = 32, seed: int = 1):
    """The tiny GPT-2 with loralib's MergedLinear in every c_attn, as the reference model.py has it."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(gpt2_dir).eval()
    for block in model.transformer.h:
        old = block.attn.c_attn
        new = loralib.MergedLinear(
            D,
            3 * D,
            r=r,
            lora_alpha=alpha,
            enable_lora=[True, False, True],
            fan_in_fan_out=True,
            merge_weights=False,
        )
        with torch.no_grad():
            new.weight.copy_(old.weight)
            new.bias.copy_(old.bias)
        block.attn.c_attn = new
    _randomise(model, seed)
    return model.eval()


def loralib_roberta(roberta_dir, num_labels: int = 3, seed: int = 2):
    """The tiny RoBERTa classifier with loralib.Linear query/value (r 8, alpha 16) and a trained head."""
    from transformers import AutoModelForSequenceClassification

    model = AutoModelForSequenceClassification.from_pretrained(roberta_dir, num_labels=num_labels).eval()
    for layer in model.roberta.encoder.layer:
        att = layer.attention.self
        for name in ("query", "value"):
            old = getattr(att, name)
            new = loralib.Linear(D, D, r=8, lora_alpha=16, merge_weights=False)
            new.load_state_dict({**old.state_dict(), "lora_A": new.lora_A, "lora_B": new.lora_B})
            setattr(att, name, new)
    _randomise(model, seed)
    with torch.no_grad():
        model.classifier.out_proj.weight.mul_(3.0)  # a head unlike a fresh one
    return model.eval()


def _ids(n: int = 2, length: int = 7) -> torch.Tensor:
    return torch.randint(5, 200, (n, length), generator=torch.Generator().manual_seed(3))


def _logits(model, ids) -> torch.Tensor:
    with torch.no_grad():
        return model(input_ids=ids).logits


def _import(file, model: str, model_dir, out, *extra: str) -> int:
    return main(["import-adapter", str(file), f"model={model}", "profile=tiny", f"model.path={model_dir}",
                 f"out={out}", *extra])  # fmt: skip


def test_gpt2_reference_checkpoint_imports_to_the_same_logits(gpt2_dir, tmp_path, capsys):
    from transformers import AutoModelForCausalLM

    ref = loralib_gpt2(gpt2_dir)
    file = tmp_path / "gpt2_md_lora_e2e.pt"
    torch.save({"model_state_dict": loralib.lora_state_dict(ref)}, file)
    assert _import(file, "gpt2-medium", gpt2_dir, tmp_path / "adapter") == 0
    cfg = json.loads((tmp_path / "adapter" / "adapter_config.json").read_text())["lora_repro"]
    assert cfg["methods"][0]["options"] | {} == {"r": 4, "alpha": 32.0, "targets": ["q", "v"], "dropout": 0.0}
    assert cfg["source"]["file"] == file.name and len(cfg["source"]["sha256"]) == 64
    ours = load_adapter(AutoModelForCausalLM.from_pretrained(gpt2_dir).eval(), tmp_path / "adapter")
    base = _logits(AutoModelForCausalLM.from_pretrained(gpt2_dir).eval(), _ids())
    want = _logits(ref, _ids())
    assert not torch.allclose(want, base, atol=1e-3)  # the adapter changes the model
    torch.testing.assert_close(_logits(ours, _ids()), want, rtol=1e-5, atol=1e-5)


def test_roberta_reference_checkpoint_imports_to_the_same_logits(roberta_dir, tmp_path, capsys):
    from transformers import AutoModelForSequenceClassification

    ref = loralib_roberta(roberta_dir)
    state = {
        **loralib.lora_state_dict(ref),
        **{k: v for k, v in ref.state_dict().items() if k.startswith("classifier.")},
    }
    assert "roberta.encoder.layer.1.attention.self.value.lora_B" in state
    torch.save(state, tmp_path / "roberta_base_lora_mnli.bin")
    assert _import(tmp_path / "roberta_base_lora_mnli.bin", "roberta-base", roberta_dir, tmp_path / "a") == 0
    base = AutoModelForSequenceClassification.from_pretrained(roberta_dir, num_labels=3).eval()
    ours = load_adapter(base, tmp_path / "a")
    torch.testing.assert_close(_logits(ours, _ids()), _logits(ref, _ids()), rtol=1e-5, atol=1e-5)


def test_a_pickle_that_needs_code_is_refused_and_never_run(gpt2_dir, tmp_path, capsys):
    marker = tmp_path / "ran"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))

    ref = loralib_gpt2(gpt2_dir)
    file = tmp_path / "evil.pt"
    torch.save({"model_state_dict": loralib.lora_state_dict(ref), "extra": Payload()}, file)
    capsys.readouterr()
    assert _import(file, "gpt2-medium", gpt2_dir, tmp_path / "out") == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "refused: loading it would run arbitrary code (it needs io.open)" in err
    assert not marker.exists() and not (tmp_path / "out").exists()


def _gpt2_model(gpt2_dir):
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(gpt2_dir).eval()


def test_shapes_rank_and_alpha_are_checked(gpt2_dir):
    state = loralib.lora_state_dict(loralib_gpt2(gpt2_dir))
    bad = dict(state)
    bad["transformer.h.1.attn.c_attn.lora_B"] = torch.zeros(2 * D + 2, 4)
    with pytest.raises(
        ReferenceFormatError,
        match=r"h\.1\.attn\.c_attn\.lora_B: the file's shape \(66, 4\) != the model's \(64, 4\)",
    ):
        import_reference(_gpt2_model(gpt2_dir), bad)
    with pytest.raises(ReferenceFormatError, match="r=8 given, but the file's lora_B tensors have rank 4"):
        import_reference(_gpt2_model(gpt2_dir), state, r=8)
    small = loralib.lora_state_dict(loralib_gpt2(gpt2_dir, r=2, alpha=4))
    with pytest.raises(
        ReferenceFormatError, match=r"alpha cannot be read from the file \(r=2, gpt2\); give alpha="
    ):
        import_reference(_gpt2_model(gpt2_dir), small)
    assert import_reference(_gpt2_model(gpt2_dir), small, alpha=4).alpha == 4.0
    partial = {k: v for k, v in state.items() if ".h.1." not in k}
    with pytest.raises(ReferenceFormatError, match=r"blocks without LoRA: \[1\]"):
        import_reference(_gpt2_model(gpt2_dir), partial)


def test_a_full_checkpoint_is_checked_against_the_base(gpt2_dir, tmp_path):
    """gpt2_ft.py's last checkpoint holds every weight: the frozen ones must be the base model's."""
    ref = loralib_gpt2(gpt2_dir)
    full = dict(ref.state_dict())
    info = import_reference(_gpt2_model(gpt2_dir), full)
    assert info.lora_tensors == 4 and "transformer.wte.weight" in info.ignored
    other = _gpt2_model(_save_gpt2(tmp_path / "other", _tok_of(gpt2_dir), seed=5))
    with pytest.raises(ReferenceFormatError, match="trained on another base model"):
        import_reference(other, full)


def _tok_of(path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(path)


# a test-sized evaluation: 3 E2E inputs, short beams
EVAL_SMALL = [
    "eval.max_test_examples=3", "generation.beam_size=2", "generation.max_new_tokens=8", "generation.batch_size=2",
    "task.tiny.n_train=20", "task.tiny.n_validation=10", "task.tiny.n_test=30", "train.num_threads=1",
]  # fmt: skip


@pytest.fixture(scope="module")
def imported(gpt2_dir, tmp_path_factory):
    """A loralib GPT-2, its reference checkpoint imported through the CLI: (model, adapter dir)."""
    ref = loralib_gpt2(gpt2_dir, seed=4)
    d = tmp_path_factory.mktemp("imported")
    torch.save({"model_state_dict": loralib.lora_state_dict(ref)}, d / "gpt2_md_lora_e2e.pt")
    assert _import(d / "gpt2_md_lora_e2e.pt", "gpt2-medium", gpt2_dir, d / "adapter") == 0
    return ref, d / "adapter"


def _eval_argv(adapter, model_dir, run) -> list[str]:
    return ["eval", "model=gpt2-medium", "task=e2e", f"adapter={adapter}", "profile=tiny",
            f"model.path={model_dir}", f"run_dir={run}", *EVAL_SMALL]  # fmt: skip


@pytest.mark.slow
def test_import_then_eval_gives_the_loralib_models_predictions_and_bleu(imported, gpt2_dir, tmp_path, capsys):
    from lora_repro.metrics.common import clean_groups
    from lora_repro.metrics.mteval import corpus_bleu
    from lora_repro.tasks.base import prompt_ids
    from lora_repro.train.generation import BeamConfig, generate_texts

    ref, adapter = imported
    run = tmp_path / "run"
    assert main(_eval_argv(adapter, gpt2_dir, run)) == 0
    result = json.loads((run / "result.json").read_text())
    assert result["epochs"] == [] and result["evaluated_only"] and result["cell"]["method"] == "lora"
    assert result["config"]["method"]["r"] == 4 and result["config"]["method"]["alpha"] == 32.0
    assert result["adapter"]["source"]["file"] == "gpt2_md_lora_e2e.pt"
    assert (run / "adapter" / "adapter_model.safetensors").is_file() and (run / "DONE").is_file()
    rows = [json.loads(line) for line in (run / "predictions_test.jsonl").read_text().splitlines()]
    assert len(rows) == 3
    # the loralib model itself, decoded by the same beam search on the same prompts
    g, tok = result["config"]["generation"], _tok_of(gpt2_dir)
    beam = BeamConfig(g["beam_size"], g["length_penalty"], g["no_repeat_ngram_size"], g["max_new_tokens"])
    prompts = [
        prompt_ids(r["input"], tok, result["config"]["train"]["max_length"] - beam.max_new_tokens)
        for r in rows
    ]
    texts = generate_texts(ref, tok, prompts, beam, 2)
    assert texts == [r["prediction"] for r in rows]
    assert generate_texts(_gpt2_model(gpt2_dir), tok, prompts, beam, 2) != texts  # the adapter matters
    want = 100.0 * corpus_bleu(*clean_groups(texts, [r["references"] for r in rows]))  # E2E's BLEU
    assert result["test"]["BLEU"] == pytest.approx(want)
    capsys.readouterr()
    assert main(_eval_argv(adapter, gpt2_dir, run)) == 0  # finished: skipped
    assert "is DONE, skipping" in capsys.readouterr().err


def test_eval_refuses_an_adapter_of_another_base_model(imported, tok, tmp_path, capsys):
    other = _save_gpt2(tmp_path / "other_base", tok, seed=7)
    run = tmp_path / "run"
    capsys.readouterr()
    assert main(_eval_argv(imported[1], other, run)) == 2
    err = capsys.readouterr().err.strip().splitlines()[-1]
    assert err.startswith("lora-repro eval: error:") and "fingerprint mismatch" in err
    assert not run.exists()


@pytest.mark.slow
def test_import_then_eval_of_an_encoder_adapter_loads_its_head(roberta_dir, tmp_path, capsys):
    """The NLU path: a 3-class loralib RoBERTa's checkpoint, imported, evaluated on (tiny) MNLI."""
    from lora_repro.metrics import score

    ref = loralib_roberta(roberta_dir)
    state = {
        **loralib.lora_state_dict(ref),
        **{k: v for k, v in ref.state_dict().items() if k.startswith("classifier.")},
    }
    torch.save(state, tmp_path / "roberta_base_lora_mnli.bin")
    assert (
        _import(
            tmp_path / "roberta_base_lora_mnli.bin", "roberta-base", roberta_dir, tmp_path / "a", "task=mnli"
        )
        == 0
    )
    run = tmp_path / "run"
    argv = ["eval", "model=roberta-base", "task=mnli", f"adapter={tmp_path / 'a'}", "profile=tiny",
            f"model.path={roberta_dir}", f"run_dir={run}", "eval.max_test_examples=8", "train.num_threads=1",
            "task.tiny.n_train=20", "task.tiny.n_validation=10", "task.tiny.n_test=20"]  # fmt: skip
    assert main(argv) == 0
    result = json.loads((run / "result.json").read_text())
    rows = [json.loads(line) for line in (run / "predictions_test.jsonl").read_text().splitlines()]
    assert len(rows) == 8 and result["config"]["method"]["alpha"] == 16.0
    want = score("glue_mnli", [r["prediction"] for r in rows], [r["label"] for r in rows])
    assert result["test"]["accuracy"] == pytest.approx(want["accuracy"])
    assert result["adapter"]["source"]["task"] == "mnli" and result["params"]["head"] > 0
    # the predictions are the loralib model's (its trained head, not a fresh one)
    from lora_repro.models.load import load_model

    loaded = load_model({"kind": "encoder", "path": str(roberta_dir)}, "tiny", num_labels=3)
    ours = load_adapter(loaded.model.eval(), tmp_path / "a")
    ids = _ids()
    torch.testing.assert_close(_logits(ours, ids), _logits(ref, ids), rtol=1e-5, atol=1e-5)
