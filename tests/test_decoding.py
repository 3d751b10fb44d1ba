"""Decoding (tutor.nn.decoding): greedy, sampling, beam search, the cache, the recorded steps."""

import itertools
import math
import re

import numpy as np
import pytest

from tutor.errors import SettingError, ShapeError, TutorError
from tutor.nn import Seq2Seq
from tutor.nn.decoding import (MAX_BEAM_SIZE, MAX_NEW_TOKENS, Greedy, Sampling,
                               Seq2SeqStepper, beam_search, cache_sizes, decoder_step_macs,
                               draw, generate, log_softmax, make_rule, top_k_mask,
                               top_p_mask, wu_length_penalty)
from tutor.nn.functional import softmax
from tutor.nn.params import TransformerConfig
from tutor.trace import NULL_TRACE, Trace

# -- helpers ---------------------------------------------------------------------------------


def model(vocab=13, dtype=np.float64, seed=2, **options):
    return Seq2Seq.random(vocab, 16, 4, 2, 32, seed=seed, dtype=dtype, **options)


def source(batch=3, n=5, vocab=13, seed=0):
    return np.random.default_rng(seed).integers(1, vocab, size=(batch, n))


def start(batch=3, bos=0):
    return np.full((batch, 1), bos, dtype=np.int64)


class TableLM:
    """A decoder-only toy for the model-agnostic half: the logits after a prefix are a fixed
    function of the prefix, given by ``table`` (prefix tuple -> logits) or else drawn from a
    generator seeded by the prefix. It checks the Stepper contract: each call extends the
    rows of the previous one (after ``select``) by one token."""

    def __init__(self, vocab_size, seed=0, table=None, scale=2.0):
        self.vocab_size, self.seed, self.table, self.scale = vocab_size, seed, table or {}, scale
        self.previous = None
        self.calls = 0

    def logits_for(self, prefix):
        if prefix in self.table:
            return np.asarray(self.table[prefix], dtype=np.float64)
        rng = np.random.default_rng([self.seed, *prefix])
        return rng.standard_normal(self.vocab_size) * self.scale

    def step(self, prefix, *, trace=NULL_TRACE):
        prefix = np.asarray(prefix)
        if self.previous is not None:
            np.testing.assert_array_equal(prefix[:, :-1], self.previous)
        self.previous = prefix
        self.calls += 1
        return np.stack([self.logits_for(tuple(int(i) for i in row)) for row in prefix])

    def select(self, rows):
        self.previous = self.previous[np.asarray(rows)]


def scripted(vocab, script, strength=10.0):
    """A TableLM that, after the start token s, prefers token script[s][t] at step t (by
    ``strength`` logits)."""
    table = {}
    for first, row in script.items():
        prefix = (first,)
        for token in row:
            logits = np.zeros(vocab)
            logits[token] = strength
            table[prefix] = logits
            prefix = prefix + (token,)
    return TableLM(vocab, table=table, scale=0.1)


# -- greedy -----------------------------------------------------------------------------------


@pytest.mark.parametrize("use_cache", [True, False])
def test_greedy_equals_an_argmax_loop_over_full_recomputation(use_cache):
    m, src = model(), source()
    out = generate(Seq2SeqStepper(m, src, use_cache=use_cache), start(), 12)
    ref = start()
    for _ in range(12):                                                # the definition, recomputed
        logits = m.logits(src, ref)[:, -1]                             # [B, V]
        ref = np.concatenate([ref, np.argmax(logits, axis=-1)[:, None]], axis=1)
    np.testing.assert_array_equal(out, ref)
    assert len(set(out[0].tolist())) > 2                               # not a degenerate run


def test_seq2seq_generate_delegates_the_same_tokens():
    m, src = model(), source()
    np.testing.assert_array_equal(m.generate(src, 9, bos_id=0),
                                  generate(Seq2SeqStepper(m, src), start(), 9))


def test_greedy_records_the_distribution_and_its_candidates():
    trace = Trace()
    logits = np.array([[1.0, 3.0, 2.0, 3.0]])
    choice = Greedy().choose(logits, n_candidates=3, trace=trace)
    assert choice.tolist() == [1]                                      # the first of two maxima
    e = np.exp([1.0, 3.0, 2.0, 3.0])
    np.testing.assert_allclose(trace["probs"][0], e / e.sum(), rtol=1e-15)
    assert trace["candidates"].tolist() == [[1, 3, 2]]
    np.testing.assert_allclose(trace["candidate_probs"][0], (e / e.sum())[[1, 3, 2]], rtol=1e-15)


# -- sampling: the definitions on handmade logits -------------------------------------------


def test_temperature_divides_the_logits():
    logits = np.array([[2.0, 1.0, 0.0]])
    probs = Sampling(np.random.default_rng(0), temperature=2.0).distribution(logits)
    e = np.exp([1.0, 0.5, 0.0])
    np.testing.assert_allclose(probs[0], e / e.sum(), rtol=1e-15)
    cold = Sampling(np.random.default_rng(0), temperature=0.5).distribution(logits)
    e = np.exp([4.0, 2.0, 0.0])
    np.testing.assert_allclose(cold[0], e / e.sum(), rtol=1e-15)


def test_top_k_keeps_the_k_most_likely_renormalised():
    logits = np.log([[0.1, 0.4, 0.2, 0.3]])
    probs = Sampling(np.random.default_rng(0), top_k=2).distribution(logits)
    np.testing.assert_allclose(probs[0], [0, 4 / 7, 0, 3 / 7], rtol=1e-14, atol=0)
    assert top_k_mask(np.array([1.0, 5.0, 5.0, 5.0]), 2).tolist() == [False, True, True, False]
    full = Sampling(np.random.default_rng(0), top_k=10).distribution(logits)   # k > V: all
    np.testing.assert_allclose(full[0], [0.1, 0.4, 0.2, 0.3], rtol=1e-14)


def test_top_p_keeps_the_smallest_set_reaching_p():
    probs = np.array([0.125, 0.5, 0.25, 0.125])                        # exact in binary
    assert top_p_mask(probs, 0.75).tolist() == [False, True, True, False]   # 0.5 + 0.25 reaches 0.75
    assert top_p_mask(probs, 0.5).tolist() == [False, True, False, False]
    assert top_p_mask(probs, 0.76).tolist() == [True, True, True, False]    # tie: lower id first
    assert top_p_mask(probs, 0.01).tolist() == [False, True, False, False]  # the best always
    assert top_p_mask(probs, 1.0).all()
    logits = np.log([[0.1, 0.4, 0.2, 0.3]])
    kept = Sampling(np.random.default_rng(0), top_p=0.6).distribution(logits)  # 0.4 + 0.3 >= 0.6
    np.testing.assert_allclose(kept[0], [0, 4 / 7, 0, 3 / 7], rtol=1e-14, atol=0)


@pytest.mark.parametrize("p", [1e-20, 1e-300, 1e-320, 5e-324])
def test_top_p_below_float32s_range_still_keeps_the_most_likely_token(p):
    # float32 probabilities compared with p = 1e-300 (0 in float32) once kept nothing at all
    logits = np.array([[0.3, 2.0, -1.0, 0.5], [1e-3, 0.0, 0.0, 0.0]], dtype=np.float32)
    mask = top_p_mask(softmax(logits), p)
    assert mask.tolist() == [[False, True, False, False], [True, False, False, False]]
    probs = Sampling(np.random.default_rng(0), top_p=p).distribution(logits)
    np.testing.assert_array_equal(probs, [[0, 1, 0, 0], [1, 0, 0, 0]])


@pytest.mark.parametrize("temperature, top_k", [(1e-30, 1), (5e-324, 2), (1e300, 1), (1e300, 4),
                                                (1.0, 1), (float(np.finfo(np.float32).max), 3)])
def test_sampling_extremes_give_a_distribution_or_a_named_error(temperature, top_k):
    logits = np.array([[0.3, 2.0, -1.0, 0.5]], dtype=np.float32)
    try:
        probs = Sampling(np.random.default_rng(0), temperature=temperature, top_k=top_k,
                         top_p=1e-300).distribution(logits)
    except SettingError as error:
        assert error.name == "temperature" and temperature < 1
        return
    assert np.all(np.isfinite(probs)) and probs.sum() == pytest.approx(1.0)
    # the nucleus is one token (at T = 1e300 the scaled logits tie at 0 and id 0 goes first)
    assert sorted(probs[0].tolist()) == [0.0, 0.0, 0.0, 1.0]
    if temperature <= 1:
        assert probs[0, 1] == 1.0


def test_temperature_then_top_k_then_top_p():
    logits = np.log([[0.05, 0.4, 0.2, 0.3, 0.05]]) * 2.0               # T = 2 gives these back
    trace = Trace()
    rule = Sampling(np.random.default_rng(0), temperature=2.0, top_k=3, top_p=0.7)
    probs = rule.distribution(logits, trace=trace)
    # top 3 of [.05 .4 .2 .3 .05]: {1, 3, 2} -> [.4 .3 .2] / .9; top-p 0.7: .444 + .333 >= .7
    np.testing.assert_allclose(probs[0], [0, 4 / 7, 0, 3 / 7, 0], rtol=1e-14, atol=0)
    assert trace["kept"].tolist() == [[False, True, False, True, False]]
    np.testing.assert_allclose(trace["scaled"], logits / 2.0, rtol=0)


def test_draw_follows_the_distribution_and_never_draws_a_zero():
    probs = np.tile([0.5, 0.3, 0.0, 0.2], (20000, 1))
    ids = draw(probs, np.random.default_rng(1))
    counts = np.bincount(ids, minlength=4) / 20000
    assert counts[2] == 0
    sigma = np.sqrt(0.25 / 20000)
    np.testing.assert_allclose(counts, [0.5, 0.3, 0.0, 0.2], atol=5 * sigma)
    assert draw(np.array([[0.0, 0.0, 1.0, 0.0]]), np.random.default_rng(0)).tolist() == [2]


def test_sampling_with_a_seed_is_reproducible():
    m, src = model(), source()

    def run(seed, trace=NULL_TRACE):
        rule = make_rule(temperature=1.5, top_k=6, top_p=0.95, seed=seed)
        return generate(Seq2SeqStepper(m, src), start(), 15, rule=rule, trace=trace)

    first, trace = run(7), Trace()
    np.testing.assert_array_equal(first, run(7, trace))                # recording draws nothing
    assert not np.array_equal(first, run(8))
    for t in range(15):                                                # every draw was allowed
        step = trace.scope(f"step.{t}")
        chosen = np.take_along_axis(step["sample_probs"], step["choice"][:, None], axis=1)
        assert np.all(chosen > 0)
        assert np.all(step["kept"].sum(axis=1) <= 6)


def test_make_rule_is_greedy_without_sampling_settings():
    assert isinstance(make_rule(), Greedy)
    assert isinstance(make_rule(seed=3), Greedy)
    assert isinstance(make_rule(top_p=0.9, seed=3), Sampling)


# -- the cache -------------------------------------------------------------------------------


@pytest.mark.parametrize("rule_seed", [None, 3])
@pytest.mark.parametrize("norm_first", [False, True])
def test_cache_and_no_cache_give_identical_tokens_and_probabilities(rule_seed, norm_first):
    m, src = model(norm_first=norm_first), source()
    pad = np.zeros(src.shape, bool)
    pad[1, 3:] = True
    traces = []
    for use_cache in (True, False):
        rule = Greedy() if rule_seed is None else make_rule(temperature=2.0, seed=rule_seed)
        trace = Trace()
        out = generate(Seq2SeqStepper(m, src, src_key_padding_mask=pad, use_cache=use_cache),
                       start(), 20, rule=rule, trace=trace)
        traces.append((out, trace))
    (cached, a), (uncached, b) = traces
    np.testing.assert_array_equal(cached, uncached)
    for t in range(20):
        for name in ("logits", "probs", "cross_attn.0.heads", "cross_attn.1.mean",
                     "self_attn.1.heads", "candidate_probs"):
            np.testing.assert_allclose(a[f"step.{t}.{name}"], b[f"step.{t}.{name}"],
                                       rtol=0, atol=1e-12)
    assert np.all(a["step.5.cross_attn.0.mean"][1, 3:] == 0)           # padding gets no attention


def test_cache_holds_the_positions_so_far_and_the_encoder_keys_once():
    m, src = model(), source(batch=2, n=5)
    trace = Trace()
    stepper = Seq2SeqStepper(m, src)
    generate(stepper, start(2), 6, trace=trace)
    e, layers = 16, 2
    for t in range(6):
        np.testing.assert_array_equal(trace[f"step.{t}.cache.self_attn"], [2 * 2 * (t + 1) * e] * layers)
        np.testing.assert_array_equal(trace[f"step.{t}.cache.cross_attn"], [2 * 2 * 5 * e] * layers)
    sizes = cache_sizes(stepper.cache)
    assert sizes[1].self_attn_shape == (2, 4, 6, 4) and sizes[1].cross_attn_shape == (2, 4, 5, 4)
    assert sizes[0].self_attn_numbers == 2 * 2 * 6 * 16


def test_multiply_adds_are_counted_from_the_shapes():
    config = TransformerConfig(8, 2, 1, 2, 16)
    # per layer, E=8, F=16, S=5, one new position of 3: self 4*64 + 2*3*8, cross 2*64 + 2*5*8,
    # feed-forward 2*8*16; two layers; the logits 11*8
    assert decoder_step_macs(config, 11, 5, 1, 3, cross_kv=False) == 2 * (256 + 48 + 128 + 80 + 256) + 88
    assert (decoder_step_macs(config, 11, 5, 1, 3, cross_kv=True)
            - decoder_step_macs(config, 11, 5, 1, 3, cross_kv=False)) == 2 * 2 * 5 * 64
    # recomputing 3 positions: 3x the projections and feed-forward, 3x3 scores, K, V again
    assert decoder_step_macs(config, 11, 5, 3, 3, cross_kv=True) == \
        2 * (3 * 256 + 2 * 9 * 8 + 3 * 128 + 2 * 3 * 5 * 8 + 2 * 5 * 64 + 3 * 256) + 88
    assert decoder_step_macs(config, 11, 5, 1, 3, cross_kv=False, batch=4) == 4 * 1624


def test_recorded_work_of_each_step():
    m, src = model(), source(batch=1)
    trace = Trace()
    generate(Seq2SeqStepper(m, src), start(1), 8, trace=trace)
    cached = [int(trace[f"step.{t}.work.cached"]) for t in range(8)]
    uncached = [int(trace[f"step.{t}.work.uncached"]) for t in range(8)]
    assert cached[0] == uncached[0]                                    # one position, K/V made once
    assert cached[1] < cached[0]                                       # then reused
    ratios = [u / c for u, c in zip(uncached[1:], cached[1:])]
    assert all(b > a for a, b in zip(ratios, ratios[1:]))              # saving grows with length
    assert uncached[7] == decoder_step_macs(m.config, 13, 5, 8, 8, cross_kv=True)
    assert cached[7] == decoder_step_macs(m.config, 13, 5, 1, 8, cross_kv=False)


# -- beam search -----------------------------------------------------------------------------


def exhaustive(logprob_of, vocab, eos, max_new, alpha):
    """Every output the search can give (ended by eos, or max_new tokens without it),
    scored log P / lp, best first."""
    scored = []
    for n in range(1, max_new + 1):
        for body in itertools.product([v for v in range(vocab) if v != eos], repeat=n - 1):
            for tail in [eos] + ([v for v in range(vocab) if v != eos] if n == max_new else []):
                tokens = list(body) + [tail]
                lp = logprob_of(tokens)
                scored.append((lp / ((5 + n) / 6) ** alpha, tokens))
    scored.sort(key=lambda s: -s[0])
    return scored


@pytest.mark.parametrize("alpha", [0.0, 0.6, 1.0])
def test_beam_as_wide_as_the_search_space_equals_exhaustive_search(alpha):
    vocab, eos, max_new = 4, 3, 3                                      # 3^2 = 9 live prefixes at most
    m = Seq2Seq.random(vocab, 8, 2, 1, 16, seed=4)
    src = np.array([1, 2, 1])

    def logprob_of(tokens):                                            # full recomputation
        tgt = np.array([0] + tokens[:-1])
        logp = log_softmax(m.logits(src, tgt)[0])                      # [n, V]
        return float(sum(logp[i, tok] for i, tok in enumerate(tokens)))

    truth = exhaustive(logprob_of, vocab, eos, max_new, alpha)
    for use_cache in (True, False):
        found = beam_search(Seq2SeqStepper(m, src, use_cache=use_cache), [0], max_new,
                            beam_size=MAX_BEAM_SIZE, length_penalty=alpha, eos_id=eos)
        assert len(found) == MAX_BEAM_SIZE
        for hyp, (score, tokens) in zip(found, truth):
            assert hyp.tokens.tolist() == tokens
            assert hyp.score == pytest.approx(score, abs=1e-12)
            assert hyp.ended == (tokens[-1] == eos)


@pytest.mark.parametrize("alpha", [0.0, 0.6])
def test_beam_search_on_a_decoder_only_model_equals_exhaustive_search(alpha):
    lm = TableLM(3, seed=5, scale=1.5)                                 # 2 non-end tokens, eos = 2
    eos, max_new = 2, 5                                                # 2^4 = 16 live prefixes

    def logprob_of(tokens):
        prefix, total = (1,), 0.0
        for tok in tokens:
            total += log_softmax(lm.logits_for(prefix))[tok]
            prefix += (tok,)
        return total

    truth = exhaustive(logprob_of, 3, eos, max_new, alpha)
    found = beam_search(lm, [1], max_new, beam_size=16, length_penalty=alpha, eos_id=eos)
    assert [h.tokens.tolist() for h in found] == [t for _, t in truth[:16]]
    np.testing.assert_allclose([h.score for h in found], [s for s, _ in truth[:16]], atol=1e-12)


def test_stopping_early_never_loses_a_better_hypothesis():
    # one token besides the end token: a single live beam, and hypotheses of every length; the
    # search stops once the live beam cannot beat the K-th finished one even at the longest
    # length (where the penalty helps it most); stopping sooner would lose some of these.
    stopped_early = 0
    for seed, alpha, beam in itertools.product(range(40), (0.6, 1.0, 2.0), (1, 2)):
        lm = TableLM(2, seed=seed, scale=1.5 * beam)

        def logprob_of(tokens):
            prefix, total = (1,), 0.0
            for tok in tokens:
                total += log_softmax(lm.logits_for(prefix))[tok]
                prefix += (tok,)
            return total

        truth = exhaustive(logprob_of, 2, 0, 8, alpha)
        found = beam_search(lm, [1], 8, beam_size=beam, length_penalty=alpha, eos_id=0)
        assert [h.tokens.tolist() for h in found] == [t for _, t in truth[:beam]], (seed, alpha)
        stopped_early += lm.calls < 8
    assert stopped_early > 20


def test_length_penalty_changes_the_winner():
    log = np.log
    table = {(0,): log([0.46, 0.04, 0.5]),                             # end now: P = 0.46
             (0, 2): log([0.9, 0.05, 0.05])}                           # 2 then end: P = 0.45
    assert wu_length_penalty(1, 0.6) == 1.0 and wu_length_penalty(2, 1.0) == pytest.approx(7 / 6)

    def best(alpha):
        return beam_search(TableLM(3, table=table), [0], 2, beam_size=3,
                           length_penalty=alpha, eos_id=0)[0]

    short, long = best(0.0), best(1.0)                                 # log 0.46 > log 0.45, but
    assert short.tokens.tolist() == [0] and short.score == pytest.approx(log(0.46))
    assert long.tokens.tolist() == [2, 0]                              # log 0.45 / (7/6) > log 0.46
    assert long.score == pytest.approx(log(0.45) / (7 / 6))


def test_beam_of_one_without_an_end_token_is_greedy():
    m, src = model(), source(batch=1)
    greedy = generate(Seq2SeqStepper(m, src), [0], 7)
    (hyp,) = beam_search(Seq2SeqStepper(m, src), [0], 7, beam_size=1)
    assert [0] + hyp.tokens.tolist() == greedy.tolist() and not hyp.ended


def test_beam_search_records_the_live_beams():
    m, src = model(), source(batch=1)
    trace = Trace()
    found = beam_search(Seq2SeqStepper(m, src), [0], 6, beam_size=3, eos_id=5, trace=trace)
    for t in range(len([n for n in trace if n.endswith(".beams")])):
        step = trace.scope(f"step.{t}")
        beams, logprobs = step["beams"], step["beam_logprobs"]
        assert beams.shape == (min(3, 12 ** (t + 1)), t + 2)
        assert np.all(np.diff(logprobs) <= 0)                          # best first
        prev = trace[f"step.{t - 1}.beam_logprobs"] if t else np.zeros(1)
        parents = step["parents"]
        np.testing.assert_allclose(                                    # log P(beam + token)
            logprobs, prev[parents] + step["logprobs"][parents, beams[:, -1]], rtol=1e-13)
        np.testing.assert_allclose(step["beam_scores"], logprobs / ((6 + t) / 6) ** 0.6)
    np.testing.assert_array_equal(trace["output"], [0] + found[0].tokens.tolist())


# -- the end token ---------------------------------------------------------------------------


def test_a_row_that_ended_keeps_the_end_token_and_decoding_stops_when_all_have():
    lm = scripted(5, {0: [1, 2, 4, 3], 1: [2, 4, 3, 3]})
    out = generate(lm, [[0], [1]], 10, eos_id=4)
    assert out.tolist() == [[0, 1, 2, 4], [1, 2, 4, 4]]                # 3 steps, not 10
    assert lm.calls == 3
    free = generate(scripted(5, {0: [1, 2, 4, 3]}), start(1), 4)       # no eos: keep writing
    assert free.tolist() == [[0, 1, 2, 4, 3]]


def test_beam_hypotheses_end_with_the_end_token_or_reach_the_limit():
    m, src = model(), source(batch=1)
    found = beam_search(Seq2SeqStepper(m, src), [0], 4, beam_size=4, eos_id=3)
    for hyp in found:
        assert (hyp.ended and hyp.tokens[-1] == 3 and 3 not in hyp.tokens[:-1].tolist()) or \
            (not hyp.ended and len(hyp.tokens) == 4 and 3 not in hyp.tokens.tolist())
    assert [h.score for h in found] == sorted((h.score for h in found), reverse=True)


# -- dtypes, records, inputs -----------------------------------------------------------------


def test_float32_stays_float32():
    m, src = model(dtype=np.float32), source()
    trace = Trace()
    generate(Seq2SeqStepper(m, src), start(), 4, rule=make_rule(top_p=0.9, seed=0), trace=trace)
    for name in ("logits", "probs", "scaled", "sample_probs", "candidate_probs",
                 "cross_attn.0.heads", "cross_attn.0.mean", "self_attn.1.mean"):
        assert trace[f"step.3.{name}"].dtype == np.float32, name
    beam = Trace()
    found = beam_search(Seq2SeqStepper(m, src[0]), [0], 4, beam_size=3, eos_id=2, trace=beam)
    for name in ("logits", "logprobs", "beam_logprobs", "beam_scores", "finished.scores"):
        assert beam[f"step.1.{name}"].dtype == np.float32, name
    assert found[0].score.dtype == np.float32
    assert log_softmax(np.zeros(3, np.float32)).dtype == np.float32


def test_every_recorded_name_is_declared():
    from tutor.walkthroughs import names

    engine_only = ("encode.*", "step.{t}.model.*", "step.{t}.seconds")   # no walkthrough's
    patterns = [re.compile(names._pattern(p).replace(r"\*", ".+") + r"\Z")
                for p in [*names.DECODING, *engine_only]]
    m, src = model(), source()
    traces = [Trace(), Trace(), Trace()]
    generate(Seq2SeqStepper(m, src, record_model=True, trace=traces[0]), start(), 3,
             rule=make_rule(top_k=3, seed=0), trace=traces[0])
    generate(Seq2SeqStepper(m, src, use_cache=False), start(), 3, trace=traces[1],
             clock=lambda: 0.0)
    beam_search(Seq2SeqStepper(m, src[0]), [0], 3, beam_size=2, eos_id=1, trace=traces[2])
    names = set().union(*(set(t) for t in traces))
    undeclared = [n for n in names if not any(p.match(n) for p in patterns)]
    assert undeclared == []
    assert "step.2.model.transformer.decoder.layers.1.multihead_attn.weights" in traces[0]
    assert "step.2.seconds" in traces[1]
    assert "encode.transformer.encoder.layers.1.self_attn.weights" in traces[0]


def test_traced_and_untraced_decoding_agree():
    m, src = model(), source()
    plain = generate(Seq2SeqStepper(m, src), start(), 10)
    traced = generate(Seq2SeqStepper(m, src, record_model=True), start(), 10, trace=Trace())
    np.testing.assert_array_equal(plain, traced)
    a = beam_search(Seq2SeqStepper(m, src[0]), [0], 6, beam_size=3, eos_id=4)
    b = beam_search(Seq2SeqStepper(m, src[0]), [0], 6, beam_size=3, eos_id=4, trace=Trace())
    assert [h.tokens.tolist() for h in a] == [h.tokens.tolist() for h in b]


def test_bad_settings_are_one_line_errors_naming_the_setting():
    rng = np.random.default_rng(0)
    cases = [(lambda: Sampling(rng, top_p=0.0), "top_p", r"top_p must be in \(0, 1\], got 0.0"),
             (lambda: Sampling(rng, top_p=1.5), "top_p", "got 1.5"),
             (lambda: Sampling(rng, temperature=0), "temperature", "greater than 0, got 0"),
             (lambda: Sampling(rng, temperature=-1.0), "temperature", "got -1.0"),
             (lambda: Sampling(rng, temperature=float("nan")), "temperature", "finite"),
             (lambda: Sampling(rng, top_k=0), "top_k", "at least 1, got 0"),
             (lambda: Sampling(rng, top_k=2.5), "top_k", "whole number"),
             (lambda: make_rule(top_k=True), "top_k", "whole number")]
    lm = TableLM(5)
    cases += [(lambda: beam_search(lm, [0], 3, beam_size=MAX_BEAM_SIZE + 1), "beam_size",
               f"from 1 to {MAX_BEAM_SIZE}, got {MAX_BEAM_SIZE + 1}"),
              (lambda: beam_search(lm, [0], 3, beam_size=0), "beam_size", "got 0"),
              (lambda: beam_search(lm, [0], 3, length_penalty=-0.5), "length_penalty", "-0.5"),
              (lambda: beam_search(lm, [0], 0), "max_new_tokens", "from 1 to"),
              (lambda: generate(lm, [0], -1), "max_new_tokens", "got -1"),
              (lambda: generate(lm, [0], MAX_NEW_TOKENS + 1), "max_new_tokens", "from 0 to"),
              (lambda: generate(lm, [0], 2.0), "max_new_tokens", "got 2.0"),
              (lambda: generate(lm, [0], 2, eos_id=5), "eos_id", "from 0 to 4")]
    for make, name, message in cases:
        with pytest.raises(SettingError, match=message) as info:
            make()
        assert info.value.name == name and isinstance(info.value, TutorError)
        assert "\n" not in str(info.value)
    with pytest.raises(SettingError, match="too small"):
        Sampling(rng, temperature=1e-308).distribution(np.array([[1e3, 0.0]]))


def test_bad_sources_and_prefixes_are_named():
    m = model()
    with pytest.raises(ShapeError, match="the source is empty"):
        Seq2SeqStepper(m, [])
    with pytest.raises(ShapeError, match="the source is empty"):
        Seq2SeqStepper(m, np.zeros((1, 0), int))
    with pytest.raises(TutorError, match="outside 0..12"):
        Seq2SeqStepper(m, [1, 13])
    stepper = Seq2SeqStepper(m, source(batch=2))
    with pytest.raises(ShapeError, match="prefix has 1 rows but the source has 2"):
        generate(stepper, [0], 2)
    with pytest.raises(ShapeError, match="outside 0..12"):
        generate(stepper, start(2, bos=20), 2)
    with pytest.raises(ShapeError, match="one sequence at a time"):
        beam_search(stepper, start(2), 2)
    with pytest.raises(ShapeError, match=r"src_key_padding_mask must have shape \(1, 2\)"):
        Seq2SeqStepper(m, [1, 2], src_key_padding_mask=[True])


def test_generate_with_no_new_tokens_returns_the_prefix():
    assert generate(TableLM(4), [1, 2], 0).tolist() == [1, 2]
    assert math.isclose(float(wu_length_penalty(0, 0.6)), (5 / 6) ** 0.6)


def test_a_step_computes_only_its_own_positional_row():
    from tutor.nn.posenc import sinusoidal_encoding
    table = sinusoidal_encoding(300, 16, dtype=np.float32)
    np.testing.assert_array_equal(sinusoidal_encoding(3, 16, offset=297, dtype=np.float32),
                                  table[297:])                         # bit for bit
    m = model()
    ids = np.array([[3, 4]])
    np.testing.assert_array_equal(m.embed(ids, "tgt_embedding", start=40),
                                  m.embed(np.array([[1] * 40 + [3, 4]]), "tgt_embedding")[:, 40:])


def test_a_model_given_as_a_function_of_the_prefix_decodes_the_same():
    from tutor.nn.decoding import RecomputeStepper
    m, src = model(), source()
    reference = RecomputeStepper(lambda prefix: m.logits(src, prefix), m.vocab_size)
    trace = Trace()
    np.testing.assert_array_equal(generate(reference, start(), 9, trace=trace),
                                  generate(Seq2SeqStepper(m, src), start(), 9))
    assert trace["step.8.logits"].shape == (3, 13)
    lm = TableLM(3, seed=5, scale=1.5)
    function = RecomputeStepper(lambda prefix: np.stack([lm.logits_for(tuple(r)) for r in prefix]), 3)
    a = beam_search(function, [1], 4, beam_size=4, eos_id=2)
    b = beam_search(TableLM(3, seed=5, scale=1.5), [1], 4, beam_size=4, eos_id=2)
    assert [h.tokens.tolist() for h in a] == [h.tokens.tolist() for h in b]


def test_selecting_cache_rows_reorders_and_repeats_beams():
    from tutor.nn.attention import KVCache
    from tutor.nn.decoding import select_rows
    cache = KVCache()
    k = np.arange(2 * 1 * 3 * 2, dtype=float).reshape(2, 1, 3, 2)
    cache.extend(k, -k)
    chosen = select_rows(cache, [1, 1, 0])
    got_k, got_v = chosen.get()
    np.testing.assert_array_equal(got_k, k[[1, 1, 0]])
    np.testing.assert_array_equal(got_v, -k[[1, 1, 0]])
    chosen.extend(np.zeros((3, 1, 1, 2)), np.zeros((3, 1, 1, 2)))
    assert chosen.length == 4 and cache.length == 3                    # the original is untouched
    assert select_rows(KVCache(static=True), [0]).static


def test_a_longer_start_is_read_in_one_step_then_one_token_at_a_time():
    m, src = model(), source()
    begin = np.array([[0, 5, 6], [0, 7, 8], [0, 1, 2]])               # the target started by hand
    a, b = Trace(), Trace()
    cached = generate(Seq2SeqStepper(m, src), begin, 5, trace=a)
    uncached = generate(Seq2SeqStepper(m, src, use_cache=False), begin, 5, trace=b)
    np.testing.assert_array_equal(cached, uncached)
    np.testing.assert_array_equal(cached[:, :3], begin)
    np.testing.assert_allclose(a["step.0.probs"], b["step.0.probs"], rtol=0, atol=1e-12)
    assert int(a["step.0.work.cached"]) == int(a["step.0.work.uncached"])   # 3 positions at once
    assert a["step.0.cross_attn.0.heads"].shape == (3, 4, 5)
    assert a["step.4.self_attn.0.mean"].shape == (3, 7)                # over the 7 positions so far
    np.testing.assert_allclose(a["step.4.self_attn.0.mean"].sum(axis=1), 1.0, rtol=1e-12)


# -- tokens never chosen ---------------------------------------------------------------------


def test_suppressed_tokens_are_never_sampled_greedy_or_beam_extended():
    # issue 20: sampling could write a Seq2Seq's <bos> or <pad>. With suppress_ids they get
    # logit -inf: greedy, sampling at any temperature and beam search never choose them,
    # and the rest of the distribution is the softmax over the others.
    vocab, never = 6, [0, 1]
    flat = TableLM(vocab, table={(2,): np.zeros(vocab)}, scale=0.1)    # a uniform first step
    drawn = set()
    for seed in range(40):
        out = generate(TableLM(vocab, seed=seed, scale=0.1), start(1, 2), 4,
                       rule=Sampling(np.random.default_rng(seed), temperature=50.0),
                       suppress_ids=never)
        drawn |= set(out[0, 1:].tolist())
    assert drawn and not drawn & set(never)
    free = set()
    for seed in range(40):                              # the same without: they are drawn
        out = generate(TableLM(vocab, seed=seed, scale=0.1), start(1, 2), 4,
                       rule=Sampling(np.random.default_rng(seed), temperature=50.0))
        free |= set(out[0, 1:].tolist())
    assert set(never) <= free
    trace = Trace()
    generate(flat, start(1, 2), 1, rule=Sampling(np.random.default_rng(0)), suppress_ids=never,
             trace=trace)
    np.testing.assert_allclose(trace["step.0.sample_probs"][0], [0, 0, .25, .25, .25, .25])
    assert trace["step.0.kept"][0].tolist() == [False, False, True, True, True, True]
    best = np.array([0, 0, 0, 0, 5.0, 4.0])             # greedy would take token 0 or 1 first
    best[:2] = 9.0
    out = generate(TableLM(vocab, table={(2,): best}), start(1, 2), 1, suppress_ids=never)
    assert out[0, 1] == 4
    hypotheses = beam_search(TableLM(vocab, seed=1, scale=3.0), [2], 4, beam_size=3, eos_id=5,
                             suppress_ids=never)
    assert hypotheses and all(not set(h.tokens.tolist()) & set(never) for h in hypotheses)


@pytest.mark.parametrize("ids, message", [([5], "end token"), ([7], "suppress_ids"),
                                          ([0, 1, 2, 3, 4], "nothing is left")])
def test_bad_suppress_ids_are_refused(ids, message):
    vocab = 6 if message != "nothing is left" else 5
    with pytest.raises(SettingError, match=message):
        generate(TableLM(vocab), start(1, 2), 2, eos_id=5 if vocab == 6 else None,
                 suppress_ids=ids)
