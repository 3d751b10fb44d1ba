"""Variants of the tiny Hugging Face folders, and transformers' answers on them, for the
settings a folder can carry that change the numbers (tests in tests/test_pretrained.py).

Run from the repository root after make_hf_golden.py (it reads tests/data/hf_tiny_gpt2 and
hf_tiny_bert); the only place besides make_hf_golden.py that imports transformers and torch:

    python tests/golden/make_hf_variants.py

Writes:

* ``tests/data/hf_tiny_gpt2_untied/``: a random ``GPT2LMHeadModel`` (the shape of
  hf_tiny_gpt2, vocabulary 282 = hf_tiny_gpt2's 281 + ``<|endoftext|>``) with
  ``"tie_word_embeddings": false`` and its own ``lm_head.weight``, and GPT-2's older tokenizer
  layout ``vocab.json`` + ``merges.txt`` (no tokenizer.json, no tokenizer_config.json: the
  GPT2Tokenizer's own special token ``<|endoftext|>`` applies).
* ``tests/data/hf_tiny_gpt2_eot_tokenizer/``: the same tokenizer saved by transformers'
  ``save_pretrained`` (``tokenizer.json`` + ``tokenizer_config.json``): the other layout.
* ``tests/data/bert_tokenizer_settings/vocab.txt``: a WordPiece vocabulary holding accented
  and CJK words (the tests write the tokenizer_config.json of each case themselves).
* ``tests/golden/hf/hf_variants.npz``: ``meta`` (0-d JSON string) with
  ``gpt2_tokens``: {sentence: [ids, tokens]} by transformers' AutoTokenizer on the untied
  folder, ``bert_settings``: [[tokenizer_config, sentence, tokens], ...] by BertTokenizer,
  versions; arrays ``untied.ids`` [n] and ``untied.logits`` [n, 282] (GPT2LMHeadModel);
  ``pad_gpt2.ids`` / ``.mask`` [B, n] (left-padded with id 0), ``pad_gpt2.logits``
  [B, n, V] (GPT2LMHeadModel on hf_tiny_gpt2 with that attention_mask and the position ids
  ``generate`` derives from it: cumsum(mask) - 1, 0 at padding), ``pad_gpt2.generated``
  [B, n + 4] (``generate``, greedy, 4 new tokens); ``pad_bert.ids`` / ``.mask`` [B, n]
  (right-padded with [PAD]) and ``pad_bert.hidden`` [B, n, E] (BertModel's last hidden
  state on hf_tiny_bert with that attention_mask).
"""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch
import transformers

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden" / "hf"

GPT2_SENTENCES = ["the cat sat<|endoftext|> on the mat", "<|endoftext|>a dog", "the <|endoftext|>"]
PAD_PROMPTS = ["the cat sat on the mat", "a dog", "the river bank"]
BERT_EXTRA = ["café", "hacía", "möchte", "cafe", "hacia", "mochte", "中", "文"]
BERT_SETTINGS = [{"do_lower_case": True, "strip_accents": False},
                 {"do_lower_case": True},
                 {"do_lower_case": True, "strip_accents": True},
                 {"do_lower_case": False, "strip_accents": True},
                 {"do_lower_case": False},
                 {"do_lower_case": True, "tokenize_chinese_chars": False},
                 {"do_lower_case": True, "strip_accents": False, "tokenize_chinese_chars": False}]
BERT_SENTENCES = ["Café hacía möchte", "CAFÉ 中文 cafe"]
BERT_PAD = ["the cat sat on the mat", "a dog", "I opened an account at the bank."]


def randomize(model, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if p.dim() == 1:
                base = 1.0 if name.endswith("weight") else 0.0      # layer-norm gains near 1
                p.copy_(base + (torch.rand(p.shape, generator=generator) - 0.5) * 0.6)
            else:
                fan_in = p.shape[0] if ".c_" in name else p.shape[-1]
                scale = 0.5 if name.startswith(("transformer.wte", "transformer.wpe", "lm_head")) \
                    else 1.5 / fan_in ** 0.5
                p.copy_(torch.randn(p.shape, generator=generator) * scale)


def make_untied(meta: dict, arrays: dict) -> None:
    source = json.loads((DATA / "hf_tiny_gpt2" / "tokenizer.json").read_text())
    folder = DATA / "hf_tiny_gpt2_untied"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    vocab = dict(source["model"]["vocab"])
    vocab["<|endoftext|>"] = len(vocab)
    (folder / "vocab.json").write_text(json.dumps(vocab, ensure_ascii=False) + "\n")
    merges = [m if isinstance(m, str) else " ".join(m) for m in source["model"]["merges"]]
    (folder / "merges.txt").write_text("#version: 0.2\n" + "\n".join(merges) + "\n")
    config = transformers.GPT2Config(
        vocab_size=len(vocab), n_positions=16, n_embd=32, n_layer=2, n_head=4, n_inner=64,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=len(vocab) - 1,
        eos_token_id=len(vocab) - 1, tie_word_embeddings=False, attn_implementation="eager")
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()
    randomize(model, 3)
    assert not torch.equal(model.lm_head.weight, model.transformer.wte.weight)
    model.save_pretrained(folder, safe_serialization=True)
    (folder / "generation_config.json").unlink(missing_ok=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    meta["gpt2_tokens"] = {}
    for sentence in GPT2_SENTENCES:
        ids = tokenizer(sentence)["input_ids"]
        meta["gpt2_tokens"][sentence] = [ids, tokenizer.convert_ids_to_tokens(ids)]
    other = DATA / "hf_tiny_gpt2_eot_tokenizer"
    shutil.rmtree(other, ignore_errors=True)
    tokenizer.save_pretrained(other)
    for extra in ("chat_template.jinja", "special_tokens_map.json"):
        (other / extra).unlink(missing_ok=True)
    ids = tokenizer(GPT2_SENTENCES[0])["input_ids"]
    with torch.inference_mode():
        logits = model(torch.tensor([ids])).logits[0].numpy()
    arrays["untied.ids"] = np.array(ids, dtype=np.int64)
    arrays["untied.logits"] = logits.astype(np.float32)


def make_padded_gpt2(arrays: dict) -> None:
    folder = DATA / "hf_tiny_gpt2"
    model = transformers.GPT2LMHeadModel.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_file=str(folder / "tokenizer.json"))
    rows = [tokenizer(p)["input_ids"] for p in PAD_PROMPTS]
    n = max(map(len, rows))
    ids = np.array([[0] * (n - len(r)) + r for r in rows], dtype=np.int64)   # left padding
    mask = np.array([[0] * (n - len(r)) + [1] * len(r) for r in rows], dtype=np.int64)
    ids_t, mask_t = torch.tensor(ids), torch.tensor(mask)
    position_ids = (mask_t.cumsum(-1) - 1).masked_fill(mask_t == 0, 0)      # as generate does
    with torch.inference_mode():
        logits = model(ids_t, attention_mask=mask_t, position_ids=position_ids).logits.numpy()
        generated = model.generate(ids_t, attention_mask=mask_t, max_new_tokens=4,
                                   do_sample=False, pad_token_id=0).numpy()
    arrays["pad_gpt2.ids"], arrays["pad_gpt2.mask"] = ids, mask
    arrays["pad_gpt2.logits"] = logits.astype(np.float32)
    arrays["pad_gpt2.generated"] = generated.astype(np.int64)


def make_padded_bert(arrays: dict) -> None:
    folder = DATA / "hf_tiny_bert"
    model = transformers.BertModel.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = transformers.BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True)
    batch = tokenizer(BERT_PAD, padding=True, return_tensors="pt")
    with torch.inference_mode():
        hidden = model(batch["input_ids"], attention_mask=batch["attention_mask"]).last_hidden_state
    arrays["pad_bert.ids"] = batch["input_ids"].numpy().astype(np.int64)
    arrays["pad_bert.mask"] = batch["attention_mask"].numpy().astype(np.int64)
    arrays["pad_bert.hidden"] = hidden.numpy().astype(np.float32)


def make_bert_settings(meta: dict) -> None:
    folder = DATA / "bert_tokenizer_settings"
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    vocab = [v for v in (DATA / "hf_tiny_bert" / "vocab.txt").read_text().split("\n") if v]
    (folder / "vocab.txt").write_text("\n".join(vocab + BERT_EXTRA) + "\n")
    meta["bert_settings"] = []
    for settings in BERT_SETTINGS:
        work = Path(tempfile.mkdtemp()) / "bert_settings"
        shutil.copytree(folder, work)
        (work / "tokenizer_config.json").write_text(json.dumps(settings))
        tokenizer = transformers.BertTokenizer.from_pretrained(work)
        for sentence in BERT_SENTENCES:
            ids = tokenizer(sentence)["input_ids"]
            meta["bert_settings"].append([settings, sentence, ids,
                                          tokenizer.convert_ids_to_tokens(ids)])
        shutil.rmtree(work)


if __name__ == "__main__":
    meta = {"transformers_version": transformers.__version__, "torch_version": torch.__version__}
    arrays: dict = {}
    make_untied(meta, arrays)
    make_padded_gpt2(arrays)
    make_padded_bert(arrays)
    make_bert_settings(meta)
    path = GOLDEN / "hf_variants.npz"
    np.savez_compressed(path, meta=np.array(json.dumps(meta, ensure_ascii=False)), **arrays)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")
