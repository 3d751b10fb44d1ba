"""`tutor generate` (issue 15): the walkthrough against the decoding library, the GPT-2 stepper
against full recomputation and transformers' own greedy decoding, the shipped `reverse` model
on held-out sequences in every decoding mode, the screens, the JSON and the errors."""

import json
from pathlib import Path

import numpy as np
import pytest

from cli_helpers import invoke, invoke_json
from tutor.limits import MAX_BEAM_SIZE, MAX_NEW_TOKENS
from tutor.nn import Seq2Seq
from tutor.nn.decoding import (Sampling, Seq2SeqStepper, beam_search, decoder_step_macs,
                               generate as decode)
from tutor.nn.functional import softmax
from tutor.render.generation import generation_document
from tutor.training import held_out_set, load_shipped_model
from tutor.training.tasks import EOS_ID, VOCAB
from tutor.walkthroughs.generation import generate

ROOT = Path(__file__).resolve().parent
GPT2 = ROOT / "data" / "hf_tiny_gpt2"
GOLDEN = ROOT / "golden" / "generate" / "hf_tiny_gpt2_greedy.npz"


def toy(vocab=11, seed=3):
    return Seq2Seq.random(vocab, 16, 2, 2, 32, seed=seed)              # float64


def text(i):
    return f"w{i}"


@pytest.fixture(scope="module")
def reverse():
    return load_shipped_model("reverse")


@pytest.fixture(scope="module")
def gpt2():
    from tutor.pretrained import load_model
    return load_model(GPT2, dtype=np.float64)


# -- the walkthrough records what the library computes ---------------------------------------

def test_greedy_walkthrough_equals_an_argmax_loop_over_full_recomputation():
    m, src = toy(), np.array([3, 5, 7, 2])
    rec = generate(m, src, token_text=text, max_new_tokens=6, bos_id=0)
    ref = np.array([[0]])
    for t in range(6):                                                 # the definition, recomputed
        logits = m.logits(src[None], ref)[:, -1]                       # [1, V]
        np.testing.assert_allclose(rec[f"step.{t}.logits"], logits, rtol=0, atol=1e-12)
        np.testing.assert_allclose(rec[f"step.{t}.probs"], softmax(logits), rtol=0, atol=1e-12)
        ref = np.concatenate([ref, np.argmax(logits, axis=-1)[:, None]], axis=1)
    np.testing.assert_array_equal(rec.output, ref[0])
    assert rec.info["kind"] == "seq2seq" and rec.info["rule"] == {"kind": "greedy"}


def test_sampling_walkthrough_is_the_library_with_the_same_seed():
    m, src = toy(), np.array([4, 4, 9])
    rec = generate(m, src, token_text=text, max_new_tokens=8, bos_id=0, temperature=1.5,
                   top_k=5, top_p=0.9, seed=11)
    rule = Sampling(np.random.default_rng(11), 1.5, 5, 0.9)
    np.testing.assert_array_equal(rec.output, decode(Seq2SeqStepper(m, src), [0], 8, rule=rule))
    again = generate(m, src, token_text=text, max_new_tokens=8, bos_id=0, temperature=1.5,
                     top_k=5, top_p=0.9, seed=11)
    np.testing.assert_array_equal(rec.output, again.output)            # reproducible
    kept = rec["step.0.kept"][0]
    assert kept.sum() <= 5                                             # top-k, then top-p
    assert rec["step.0.sample_probs"][0][~kept].max() == 0


def test_beam_walkthrough_is_the_library_and_records_its_hypotheses():
    m, src = toy(), np.array([2, 6, 1, 8])
    rec = generate(m, src, token_text=text, max_new_tokens=5, bos_id=0, eos_id=1, beam=3,
                   length_penalty=0.6)
    hyps = beam_search(Seq2SeqStepper(m, src), [0], 5, beam_size=3, length_penalty=0.6, eos_id=1)
    assert [h["tokens"] for h in rec.info["hypotheses"]] == [h.tokens.tolist() for h in hyps]
    assert [h["score"] for h in rec.info["hypotheses"]] == [float(h.score) for h in hyps]
    np.testing.assert_array_equal(rec.output, [0, *hyps[0].tokens])


def test_no_cache_gives_the_same_tokens_and_probabilities():
    m, src = toy(), np.array([3, 1, 4, 1, 5])
    cached = generate(m, src, token_text=text, max_new_tokens=7, bos_id=0)
    plain = generate(m, src, token_text=text, max_new_tokens=7, bos_id=0, use_cache=False)
    np.testing.assert_array_equal(cached.output, plain.output)
    for t in range(7):
        np.testing.assert_allclose(cached[f"step.{t}.probs"], plain[f"step.{t}.probs"],
                                   rtol=0, atol=1e-12)
    assert "step.3.cache.self_attn" in cached and "step.3.cache.self_attn" not in plain


def test_explain_cache_records_sizes_counted_work_and_a_timed_replay():
    m, src = toy(), np.array([3, 1, 4])
    ticks = iter(np.arange(0.0, 1000.0, 0.5))
    rec = generate(m, src, token_text=text, max_new_tokens=4, bos_id=0, explain_cache=True,
                   repeats=2, clock=lambda: next(ticks))
    c = m.config
    d_head = c.d_model // c.nhead
    for t in range(4):
        n = t + 1                                                      # positions after step t
        assert rec[f"step.{t}.cache.self_attn"].tolist() == [2 * c.nhead * n * d_head] * 2
        assert rec[f"step.{t}.cache.cross_attn"].tolist() == [2 * c.nhead * 3 * d_head] * 2
        assert rec[f"step.{t}.work.cached"] == decoder_step_macs(
            c, 11, 3, n_new=1, n_total=n, cross_kv=t == 0)
        assert rec[f"step.{t}.work.uncached"] == decoder_step_macs(
            c, 11, 3, n_new=n, n_total=n, cross_kv=True)
        assert rec[f"replay.{t}.cached_seconds"] == 0.5                # the fake clock's tick
        assert rec[f"replay.{t}.max_logit_diff"] < 1e-12


# -- a decoder-only model: GPT-2 with a cache ------------------------------------------------

def test_gpt2_cached_stepper_equals_recomputation_to_1e12(gpt2):
    from tutor.pretrained.generation import CausalLMStepper, recompute_stepper

    ids, _ = gpt2.tokenize("The cat sat")
    out = decode(CausalLMStepper(gpt2), np.array(ids), 8)
    np.testing.assert_array_equal(out, decode(recompute_stepper(gpt2), np.array(ids), 8))
    cached, full = CausalLMStepper(gpt2), recompute_stepper(gpt2)
    plain = CausalLMStepper(gpt2, use_cache=False)
    for n in range(len(ids), len(out)):
        a = cached.step(out[None, :n])
        np.testing.assert_allclose(a, full.step(out[None, :n]), rtol=0, atol=1e-12)
        np.testing.assert_allclose(a, plain.step(out[None, :n]), rtol=0, atol=1e-12)


def test_gpt2_greedy_equals_transformers_generate():
    from tutor.pretrained import load_model
    from tutor.pretrained.generation import CausalLMStepper

    golden = np.load(GOLDEN, allow_pickle=False)
    model = load_model(GPT2, dtype=np.float64)
    ids, _ = model.tokenize(json.loads(str(golden["meta"]))["prompt"])
    np.testing.assert_array_equal(ids, golden["prompt_ids"])
    stepper = CausalLMStepper(model)
    for t, expected in enumerate(golden["logits"]):
        logits = stepper.step(golden["ids"][None, :len(ids) + t])     # [1, V]
        np.testing.assert_allclose(logits[0], expected, rtol=0, atol=1e-9)
    out = decode(CausalLMStepper(model), golden["prompt_ids"], len(golden["logits"]))
    np.testing.assert_array_equal(out, golden["ids"])


def test_gpt2_beam_search_with_and_without_the_cache(gpt2):
    from tutor.pretrained.generation import CausalLMStepper, recompute_stepper

    ids = np.array(gpt2.tokenize("a cat")[0])
    a = beam_search(CausalLMStepper(gpt2), ids, 6, beam_size=4)
    b = beam_search(recompute_stepper(gpt2), ids, 6, beam_size=4)
    assert [h.tokens.tolist() for h in a] == [h.tokens.tolist() for h in b]
    np.testing.assert_allclose([h.logprob for h in a], [h.logprob for h in b], atol=1e-12)


def test_gpt2_records_causal_self_attention_and_its_work(gpt2):
    from tutor.pretrained.generation import CausalLMStepper

    ids, tokens = gpt2.tokenize("The cat sat")
    rec = generate(gpt2, ids, token_text=lambda i: gpt2.tokenizer.id_to_token(i),
                   max_new_tokens=3)
    n0 = len(ids)
    assert rec.info["kind"] == "causal" and "memory" not in rec
    for t in range(3):
        row = rec[f"step.{t}.self_attn.1.mean"]
        assert row.shape == (1, n0 + t)
        np.testing.assert_allclose(row.sum(), 1.0, atol=1e-12)
    out = gpt2.forward(rec.output[:n0 + 1])                            # the full pass, causal
    np.testing.assert_allclose(rec["step.1.self_attn.1.heads"][0], out.attentions[1, :, -1],
                               atol=1e-12)
    assert rec["step.1.cache.self_attn"].tolist() == [2 * (n0 + 1) * gpt2.d_model] * 2
    cfg = CausalLMStepper(gpt2).stack_config
    assert rec["step.1.work.cached"] == decoder_step_macs(
        cfg, gpt2.config.vocab_size, 0, n_new=1, n_total=n0 + 1, cross_kv=False,
        cross_attention=False)


def test_lm_logits_is_the_tied_word_embedding(gpt2):
    h = np.random.default_rng(0).standard_normal((3, gpt2.d_model))
    np.testing.assert_allclose(gpt2.lm_logits(h), h @ gpt2.params["embed.word"].T, atol=1e-12)


def test_gpt2_left_padded_batch_with_its_mask_writes_what_each_row_writes_alone(gpt2):
    # golden: transformers' generate on a left-padded batch (tests/golden/make_hf_variants.py)
    from tutor.pretrained.generation import CausalLMStepper, recompute_stepper

    golden = np.load(ROOT / "golden" / "hf" / "hf_variants.npz", allow_pickle=False)
    ids, mask = golden["pad_gpt2.ids"], golden["pad_gpt2.mask"]       # [3, 7], rows padded 0, 5, 4
    assert (mask == 0).sum(axis=1).tolist() == [0, 5, 4]
    for use_cache in (True, False):
        stepper = CausalLMStepper(gpt2, use_cache=use_cache, attention_mask=mask)
        out = decode(stepper, ids, 4)
        np.testing.assert_array_equal(out, golden["pad_gpt2.generated"])
    for b in range(3):                                                 # each row alone, no padding
        alone = decode(CausalLMStepper(gpt2), ids[b][mask[b] == 1], 4)
        np.testing.assert_array_equal(alone[-4:], golden["pad_gpt2.generated"][b, -4:])
    stepper, reference = CausalLMStepper(gpt2, attention_mask=mask), recompute_stepper(
        gpt2, attention_mask=mask)
    full = golden["pad_gpt2.generated"]
    for n in range(ids.shape[1], full.shape[1]):
        np.testing.assert_allclose(stepper.step(full[:, :n]), reference.step(full[:, :n]),
                                   rtol=0, atol=1e-10)
    # without the mask the padding is read as tokens: other tokens than the rows alone
    assert not (decode(CausalLMStepper(gpt2), ids, 4) == golden["pad_gpt2.generated"]).all()


def test_gpt2_stepper_mask_errors_are_named(gpt2):
    from tutor.errors import ShapeError
    from tutor.pretrained.generation import CausalLMStepper

    with pytest.raises(ShapeError, match="attention_mask must be \\[batch, n\\]"):
        CausalLMStepper(gpt2, attention_mask=np.ones(3, dtype=int))
    with pytest.raises(ShapeError, match="hold 1 \\(a token\\) and 0"):
        CausalLMStepper(gpt2, attention_mask=np.array([[0, 2]]))
    with pytest.raises(ShapeError, match="a row without a single token"):
        CausalLMStepper(gpt2, attention_mask=np.array([[0, 0], [0, 1]]))
    stepper = CausalLMStepper(gpt2, attention_mask=np.array([[0, 1], [1, 1]]))
    with pytest.raises(ShapeError, match="attention_mask is for 2 rows"):
        stepper.step(np.array([[1, 2]]))


# -- the check: the shipped `reverse` model reverses held-out sequences -------------

MODES = {"greedy": {}, "sampling, T = 0.1": {"temperature": 0.1, "seed": 0},
         "sampling, top-k 1": {"top_k": 1, "seed": 5}, "sampling, top-p 0.1": {"top_p": 0.1, "seed": 2},
         "beam 4": {"beam": 4}}


@pytest.mark.parametrize("mode", MODES)
def test_reverse_model_reverses_held_out_sequences_in_every_mode(reverse, mode):
    src, tgt = held_out_set("reverse", 40, seed=1)
    right = 0
    for s, t in zip(src, tgt):
        s = s[s != 0]
        rec = generate(reverse.model, s, token_text=VOCAB, max_new_tokens=len(s) + 1,
                       bos_id=reverse.bos_id, eos_id=EOS_ID, **MODES[mode])
        right += np.array_equal(rec.output, t[:len(s) + 2])
    assert right == 40, f"{mode}: {right} of 40"


@pytest.mark.parametrize("options", [[], ["--temperature", "0.1", "--seed", "3"],
                                     ["--top-k", "1"], ["--top-p", "0.1"], ["--beam", "4"],
                                     ["--explain-cache"], ["--no-cache"]])
def test_command_reverses_a_held_out_sequence(options):
    src, _ = held_out_set("reverse", 3, seed=7)
    digits = [VOCAB[i] for i in src[0] if i != 0]
    doc = invoke_json("generate", " ".join(digits), "--model", "reverse", *options)
    assert doc["result"]["output"]["tokens"] == digits[::-1] + ["<eos>"]
    steps = doc["result"]["steps"]
    assert len(steps) == len(digits) + 1
    first = steps[0]
    assert first["attention"]["kind"] == "cross" and first["attention"]["keys"] == digits
    assert abs(sum(first["attention"]["weights"]) - 1) < 1e-6
    probs = [c["probability"] for c in first["candidates"]]
    assert probs == sorted(probs, reverse=True)
    if "--beam" in options:
        assert steps[0]["beams"][0]["tokens"] == [digits[-1]]
    else:
        assert first["chosen"]["token"] == digits[-1]
        sampled = any(o in options for o in ("--temperature", "--top-k", "--top-p"))
        assert first["chosen"]["sampled_probability" if sampled else "probability"] == probs[0]


def test_cache_and_no_cache_commands_give_the_same_json_numbers():
    a = invoke_json("generate", "2 7 1 8", "--format", "json")
    b = invoke_json("generate", "2 7 1 8", "--no-cache")
    assert a["result"]["output"] == b["result"]["output"]
    for x, y in zip(a["result"]["steps"], b["result"]["steps"]):
        np.testing.assert_allclose([c["probability"] for c in x["candidates"]],
                                   [c["probability"] for c in y["candidates"]], atol=1e-6)


# -- the screens ----------------------------------------------------------------------------

def screen(*args):
    result = invoke("generate", *args)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 80
    return result.output


def test_greedy_screen():
    out = screen("3 1 4 1 5")
    assert "Generate: 3 1 4 1 5 → 5 1 4 1 3 <eos>" in out
    assert "greedy: take the most likely next token, argmax p(next)" in out
    assert "Encode the source once" in out and "memory: 5 × 32 numbers" in out
    assert "chose '5' (p = 1.00)" in out
    assert "reads source token '5' most (layer 2: 0.98)" in out
    assert "output: 5 1 4 1 3 <eos>" in out and "the task's answer: 5 1 4 1 3 (the same)" in out


def test_sampling_and_beam_screens_explain_their_rule():
    out = screen("3 1 4", "--temperature", "0.5", "--top-k", "3", "--seed", "1")
    assert "sampling: draw the next token from softmax(logits / T) over the kept tokens" in out
    assert "T = 0.5, top-k 3, seed 1:" in out and "drew '4'" in out
    out = screen("3 1 4", "--beam", "4")
    assert "beam K=4: keep the 4 most probable prefixes; score log P / ((5+|Y|)/6)^0.6" in out
    assert "beam 1: 4   log P = " in out and "hypothesis 4 1 3 <eos>: log P = " in out


def test_explain_cache_screen_says_counted_and_measured():
    out = screen("3 1 4", "--explain-cache")
    assert "cache/layer: K,V 64 numbers (1 position), source K,V 192 (new)" in out
    assert "cache/layer: K,V 128 numbers (2 positions), source K,V 192 (reused)" in out
    assert "counted: " in out and "measured: " in out and "What the cache saved" in out
    assert "fewer multiply-adds with the cache" in out
    assert "· cross-attention K, V: 2 × [1, 2, 3, 16] = 192 numbers, made once" in out
    assert "· self-attention K, V: 2 × [1, 2, n, 16], a row per position so far" in out


def test_decoder_only_screen():
    out = screen("The cat sat", "--model", str(GPT2), "--max-new-tokens", "3")
    assert "decoder-only, 2 decoder layers, 4 heads" in out
    assert "causal self-attention over the tokens so far" in out and "Read the prompt" in out


def test_decoder_only_json_has_self_attention_over_the_tokens_so_far():
    doc = invoke_json("generate", "the cat", "--model", str(GPT2), "--max-new-tokens", "3")
    result = doc["result"]
    assert result["kind"] == "causal" and len(result["output"]["ids"]) == 3
    prompt = result["source"]
    for t, step in enumerate(result["steps"]):
        assert step["attention"]["kind"] == "self"
        assert step["attention"]["keys"] == step["so_far"]["tokens"]
        assert len(step["attention"]["keys"]) == len(prompt) + t
        assert step["chosen"]["id"] == result["output"]["ids"][t]
        assert step["chosen"]["id"] == step["candidates"][0]["id"]      # greedy: the best


def test_document_reads_the_recording_only():
    rec = generate(toy(), np.array([1, 2]), token_text=text, max_new_tokens=2, bos_id=0)
    doc = generation_document(rec.trace, rec.info, precision=3, model_name="toy",
                              source_labels=["w1", "w2"])
    assert [s.key for s in doc.steps] == ["memory", "step.0", "step.1", "output"]
    assert doc.extra["result"]["output"]["ids"] == rec.output[1:].tolist()


# -- errors: one line each ------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["   "], "Invalid value for 'SOURCE': expected at least one token, got an empty source"),
    (["the cat"], "'the', 'cat' are not in the reverse model's vocabulary: 0 1 2 3 4 5 6 7 8 9"),
    (["3", "--top-p", "0"], "Invalid value for '--top-p': expected a probability in (0, 1], got 0"),
    (["3", "--top-p", "1.5"], "expected a probability in (0, 1], got 1.5"),
    (["3", "--temperature", "0"], "'--temperature': expected a number from 1e-06 to 1,000,000, got 0"),
    (["3", "--temperature", "-2"], "expected a number from 1e-06 to 1,000,000, got -2"),
    (["3", "--temperature", "nan"], "'--temperature': expected a finite number"),
    (["3", "--beam", str(MAX_BEAM_SIZE + 1)],
     f"'--beam': expected a beam width from 1 to {MAX_BEAM_SIZE}, got {MAX_BEAM_SIZE + 1}"),
    (["3", "--max-new-tokens", str(MAX_NEW_TOKENS + 1)], f"from 1 to {MAX_NEW_TOKENS}"),
    (["3", "--beam", "2", "--top-k", "3"], "expected either --beam or sampling options"),
    (["3", "--seed", "1"], "'--seed': expected --temperature, --top-k or --top-p with it"),
    (["3", "--temperature", "1e-300"], "'--temperature': expected a number from 1e-06 to 1,000,000, got 1e-300"),
    (["3", "--length-penalty", "5"], "'--length-penalty': expected --beam with it"),
    (["3", "--length-penalty", "-1"], "'--length-penalty': expected a length penalty"),
    (["The cat sat on the mat and", "--model", str(GPT2), "--max-new-tokens", "20"],
     "'--max-new-tokens': expected at most 7: hf_tiny_gpt2 reads 16 positions"),
])
def test_bad_input_is_a_one_line_error(args, message, capsys):
    from tutor.cli import main

    with pytest.raises(SystemExit) as exit_:
        main(["generate", *args])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert len(err.strip().splitlines()) == 1 and err.startswith("Error: ")
    assert message is None or message in err


@pytest.mark.parametrize("fmt", ["markdown", "latex", "rich"])
def test_every_format_renders(fmt, tmp_path):
    svg = tmp_path / "g.svg"
    result = invoke("generate", "2 7", "--format", fmt, "--svg", str(svg))
    assert result.exit_code == 0, result.output
    assert "7 2" in result.output.replace("\x1b", "") or fmt == "latex"
    assert svg.stat().st_size > 1000


def test_probability_bars_are_drawn_on_a_scale_of_one():
    import io

    from rich.console import Console

    from tutor.render.console import chart_renderable
    from tutor.render.document import Chart

    def bars(full):
        console = Console(file=io.StringIO(), width=80, color_system=None)
        console.print(chart_renderable(Chart("p", "k", ["a", "b"], np.array([0.5, 0.25]),
                                             full=full), 2, max_width=76))
        return [line.count("█") for line in console.file.getvalue().splitlines()[1:]]
    room = 76 - 1 - 4 - 4                                              # label, number, padding
    assert bars(None) == [room, round(room / 2)]                       # the largest is full
    assert bars(1.0) == [round(room / 2), round(room / 4)]             # p on a scale of 0 to 1


def test_a_source_longer_than_the_training_sequences_gets_a_note():
    from tutor.training.tasks import MAX_LENGTH

    doc = invoke_json("generate", "31415926535")
    assert doc["notes"] == [f"note: the source has 11 digits; the reverse model was trained on 1 "
                            f"to {MAX_LENGTH}, so beyond {MAX_LENGTH} it is guessing"]
    assert invoke_json("generate", "31415926")["notes"] == []          # 8 digits: trained on


@pytest.mark.parametrize("options", [["--temperature", "5", "--seed", "3"],
                                     ["--max-new-tokens", "2"],
                                     ["--beam", "2", "--max-new-tokens", "2"]])
def test_an_output_cut_at_max_new_tokens_says_so(options):
    doc = invoke_json("generate", "3 1 4", *options)
    tokens = doc["result"]["output"]["tokens"]
    assert "<eos>" not in tokens                                       # it did stop at the limit
    limit = doc["settings"]["max_new_tokens"]
    assert len(tokens) == limit
    assert doc["notes"] == [f"note: stopped at --max-new-tokens {limit} before the end token "
                            f"<eos>: the output may be cut short"]
    text = " ".join(invoke("generate", "3 1 4", *options, "--format", "plain").output.split())
    assert "note: stopped at --max-new-tokens" in text.replace("│ ", "").replace(" │", "")


def test_an_output_with_its_end_token_has_no_note():
    doc = invoke_json("generate", "3 1 4")
    assert doc["result"]["output"]["tokens"][-1] == "<eos>" and doc["notes"] == []


def test_sampling_never_writes_the_start_or_padding_token():
    # issue 20: `generate "3 1 4" --temperature 100 --seed 1` wrote <bos> (and other seeds
    # <pad>); only the end token may end a sequence, no other special token is output
    written = set()
    for seed in range(8):
        doc = invoke_json("generate", "3 1 4", "--temperature", "100", "--seed", str(seed))
        result = doc["result"]
        written |= set(result["output"]["tokens"])
        for step in result["steps"]:
            assert step["chosen"]["token"] not in ("<bos>", "<pad>")
            assert step["chosen"]["sampled_probability"] > 0
    assert not written & {"<bos>", "<pad>"} and len(written) > 4      # it did sample widely
    text = " ".join(invoke("generate", "3 1 4", "--temperature", "100").output.split())
    assert "<pad> and <bos> are never chosen" in text.replace("│ ", "")


@pytest.mark.parametrize("source, beam", [("3 1 4", "3"), ("3 1 4 1 5", "2"), ("2 7", "4")])
def test_each_beam_step_is_titled_by_what_the_search_ranks_first(source, beam):
    # issue 20: a step was titled by live beam 1 (score -9.51) while a finished hypothesis
    # scored -3.5e-05: the title is the best score among the live beams and every hypothesis
    # finished so far
    doc = invoke_json("generate", source, "--beam", beam)
    titles = [s["title"] for s in doc["steps"] if s["title"].startswith("token ")]
    best_finished = None
    for title, step in zip(titles, doc["result"]["steps"]):
        for f in step["finished"]:
            if best_finished is None or f["score"] > best_finished["score"]:
                best_finished = f
        live = step["beams"][0] if step["beams"] else None
        if live is not None and (best_finished is None or live["score"] > best_finished["score"]):
            assert title.endswith(f": {' '.join(live['tokens'])} (beam 1)"), title
        else:
            assert title.endswith(f": {' '.join(best_finished['tokens'])} (finished)"), title
    first = doc["result"]["hypotheses"][0]
    assert titles[-1].endswith(" ".join(VOCAB[i] for i in first["tokens"]) + " (finished)")


@pytest.mark.parametrize("source", ["7 December 2026", "Dec 7, 2026", "the 7th of December 2026",
                                    "07.12.2026"])
def test_dates_model_writes_the_iso_date(source):
    doc = invoke_json("generate", source, "--model", "dates")
    assert doc["result"]["output"]["tokens"] == [*"2026-12-07", "<eos>"]
    assert doc["notes"] == [] and doc["settings"]["max_new_tokens"] == 11
    first = doc["result"]["steps"][0]["attention"]
    assert first["kind"] == "cross" and "".join(first["keys"]).replace("␣", " ") == source.lower()


@pytest.mark.parametrize("source, note", [
    ("31 February 2026", "note: February 2026 has 28 days, so there is no day 31; the output is "
                         "the model's guess, outside what it learned"),
    ("yesterday", "note: 'yesterday' is not written as a date the model learned: "
                  "\"7 December 2026\", \"Dec 7, 2026\", \"the 7th of December 2026\", "
                  "\"07.12.2026\", \"December 7, 2026\" or \"7 Dec 2026\"; the output is the "
                  "model's guess, outside what it learned")])
def test_a_date_the_dates_model_did_not_learn_is_a_guess_marked_so(source, note):
    doc = invoke_json("generate", source, "--model", "dates")
    assert doc["notes"] == [note]
    assert doc["result"]["output"]["tokens"][-1] == "<eos>"            # it still answers
    screen = " ".join(invoke("generate", source, "--model", "dates", "--format",
                             "plain").output.split())
    assert "the model's guess, outside what it learned" in screen.replace("│ ", "")


def test_a_source_the_dates_model_cannot_read_is_one_line(capsys):
    from tutor.cli import main

    with pytest.raises(SystemExit) as info:
        main(["generate", "7/12/2026", "--model", "dates"])
    err = capsys.readouterr().err
    assert info.value.code == 2 and err.count("\n") == 1
    assert "expected letters a-z, digits, spaces, ',' and '.' in a date, got '/'" in err
