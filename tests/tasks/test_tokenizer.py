"""The tiny corpus and tokenizer: deterministic, cached, one tokenizer for encoders and decoders."""

from __future__ import annotations

import subprocess
import sys

from lora_repro.tiny.synthetic import pretraining_corpus
from lora_repro.tiny.tokenizer import tiny_tokenizer, tokenizer_key


def test_corpus_is_deterministic_and_seeded():
    a, b, c = pretraining_corpus(200, 0), pretraining_corpus(200, 0), pretraining_corpus(200, 1)
    assert a == b
    assert a != c
    assert len(a) == 200 and all(isinstance(x, str) and x for x in a)
    assert len(set(a)) > 150  # varied documents, not one template repeated


def test_tokenizer_special_tokens_and_round_trip(cache_dir):
    tok = tiny_tokenizer(cache_dir)
    assert 1000 <= len(tok) <= 4096
    ids = {t: tok.convert_tokens_to_ids(t) for t in ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]}
    assert ids == {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    assert (tok.bos_token, tok.eos_token, tok.pad_token, tok.mask_token) == ("<s>", "</s>", "<pad>", "<mask>")
    assert (tok.cls_token, tok.sep_token, tok.unk_token) == ("<s>", "</s>", "<unk>")
    pair = tok("the film is good .", "The Eagle is a pub.")["input_ids"]
    assert pair[0] == 0 and pair[-1] == 2 and pair.count(2) == 3  # <s> A </s></s> B </s>
    text = "Amanda: Hi Tom!\nTom: £30, ü?"  # byte-level: nothing is unknown
    plain = tok(text, add_special_tokens=False)["input_ids"]
    assert 3 not in plain and tok.decode(plain) == text
    # the world's words are single tokens: the BPE was trained on the tiny corpus
    assert len(tok(" restaurant", add_special_tokens=False)["input_ids"]) == 1


def test_tokenizer_is_cached_on_disk(cache_dir):
    tok = tiny_tokenizer(cache_dir)
    path = cache_dir / "tokenizers" / tokenizer_key()
    assert (path / "tokenizer.json").is_file()
    again = tiny_tokenizer(cache_dir)
    assert again.get_vocab() == tok.get_vocab()
    leftovers = [p for p in (cache_dir / "tokenizers").iterdir() if p.name.startswith(".")]
    assert leftovers == []


def test_concurrent_first_use_is_safe(tmp_path):
    """Two jobs starting together on an empty cache: tokenizer, tiny data and tokenised data all survive."""
    code = (
        "import sys, hashlib, json\n"
        "from lora_repro.tasks import get_task\n"
        "from lora_repro.tiny.tokenizer import tiny_tokenizer\n"
        "tok = tiny_tokenizer(sys.argv[1])\n"
        "task = get_task('sst2', cache_dir=sys.argv[1], tiny={'n_train': 200})\n"
        "ids = [list(x) for x in task.tokenize(task.load('train'), tok, 'encoder', 32)['input_ids']]\n"
        "print(len(tok), hashlib.sha256(json.dumps(ids).encode()).hexdigest())\n"
    )
    procs = [
        subprocess.Popen([sys.executable, "-c", code, str(tmp_path)], stdout=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outs = [p.communicate(timeout=180)[0].strip() for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert outs[0] == outs[1] and int(outs[0].split()[0]) > 1000
    assert sorted(p.name for p in (tmp_path / "tokenizers").iterdir()) == [tokenizer_key()]
    assert not [p for p in (tmp_path / "data").iterdir() if p.name.startswith(".")]  # no temp dirs left
