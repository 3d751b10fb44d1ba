"""The generation walkthrough: a model writes its output one token at a time, recorded step by
step by the decoding library (:mod:`tutor.nn.decoding`). Shared by ``tutor generate``.

An encoder-decoder (:class:`~tutor.nn.model.Seq2Seq`, e.g. the shipped toy models) encodes
the source once and starts the target from the start token; a decoder-only model (a GPT-2
style :class:`~tutor.pretrained.model.PretrainedModel`) continues the prompt. The choice of
the next token is greedy, sampling (temperature, top-k, top-p, seed) or beam search.

With ``explain_cache`` the output is then replayed twice, token by token, with the key/value
cache and recomputing everything, each step timed (the fastest of ``repeats`` replays), and
the two replays' logits compared: what the cache saves, measured, beside what it saves
counted (``step.{t}.work.*``).
"""

from __future__ import annotations

import time

import numpy as np

from tutor.errors import TutorError
from tutor.nn.decoding import (DEFAULT_CANDIDATES, Greedy, Seq2SeqStepper, beam_search,
                               generate as decode, make_rule)

from . import Recording, new_trace


def _is_seq2seq(model) -> bool:
    from tutor.nn.model import Seq2Seq

    return isinstance(model, Seq2Seq)


def _steppers(model, ids):
    """A new stepper for ``model`` (the source encoded again for a Seq2Seq) and its first
    prefix [1, n0]: the start token, or the prompt."""
    if _is_seq2seq(model):
        return lambda cache, trace=None: Seq2SeqStepper(
            model, ids, use_cache=cache, **({} if trace is None else {"trace": trace}))
    from tutor.pretrained.generation import CausalLMStepper

    return lambda cache, trace=None: CausalLMStepper(model, use_cache=cache)


def _replay(make, output, n0: int, repeats: int, clock, trace) -> None:
    """Feed ``output`` [1, n] to a cached and an uncached stepper token by token, ``repeats``
    times each (alternating); record the fastest seconds of each step and the largest
    difference between the two's logits."""
    n_steps = output.shape[1] - n0
    seconds = {True: np.zeros((repeats, n_steps)), False: np.zeros((repeats, n_steps))}
    logits = {}
    for r in range(repeats):
        for cached in (True, False):
            stepper = make(cached)
            for t in range(n_steps):
                start = clock()
                out = stepper.step(output[:, :n0 + t])                 # [1, V]
                seconds[cached][r, t] = clock() - start
                logits[cached, t] = out
    for t in range(n_steps):
        scope = trace.scope(f"replay.{t}")
        scope.record("cached_seconds", np.float64(np.min(seconds[True][:, t])))
        scope.record("uncached_seconds", np.float64(np.min(seconds[False][:, t])))
        scope.record("max_logit_diff", np.float64(np.max(np.abs(logits[True, t] - logits[False, t]))))


def generate(model, ids, *, token_text, max_new_tokens: int, bos_id: int | None = None,
             eos_id: int | None = None, temperature=None, top_k=None, top_p=None, seed=None,
             beam: int | None = None, length_penalty: float = 0.6, use_cache: bool = True,
             explain_cache: bool = False, repeats: int = 5,
             n_candidates: int = DEFAULT_CANDIDATES, suppress_ids=(),
             clock=time.perf_counter) -> Recording:
    """Decode with ``model`` and record every step (the names of
    ``tutor.walkthroughs.names.DECODING`` under ``step.{t}.``, ``memory`` for a Seq2Seq, ``output``;
    ``replay.{t}.*`` with ``explain_cache``).

    ``ids`` [n] int: the source (Seq2Seq, decoded from ``bos_id``) or the prompt (decoder-only).
    ``token_text``: a token's text by id (a sequence or a function). Greedy unless a sampling
    setting (``temperature``, ``top_k``, ``top_p``; ``seed``) or ``beam`` is given.
    ``suppress_ids``: tokens never chosen (special tokens other than the end token, such as
    a Seq2Seq's start and padding tokens; :func:`tutor.nn.decoding.suppress`).
    The output is the ids [n0 + n] (prompt or start, then the new tokens; the best hypothesis
    with ``beam``). ``info``: ``kind`` ("seq2seq" / "causal"), ``rule`` (its settings),
    ``tokens`` ({id: text} of every id recorded), ``prefix_length``, ``eos_id``, ``n_layers``,
    ``n_heads``, ``n_kv_heads`` (key/value heads: fewer with grouped-query attention), ``d_head``, ``n_src`` (0 for decoder-only), ``suppressed`` (the ids never
    chosen), ``use_cache``, ``explain_cache``, ``repeats``, ``dtype``, ``hypotheses``
    (beam: tokens, log P, score, ended), ``stopped_at_limit`` (True when there is an
    ``eos_id`` and the output reached ``max_new_tokens`` without it: cut short). Raises SettingError / TutorError / ShapeError from
    the library for bad settings or ids.
    """
    trace = new_trace()
    ids = np.asarray(ids, dtype=np.int64)                              # [n]
    seq2seq = _is_seq2seq(model)
    if seq2seq and bos_id is None:
        raise TutorError("an encoder-decoder starts its target from a start token: give bos_id")
    make = _steppers(model, ids)
    stepper = make(use_cache, trace)
    prefix = np.array([[bos_id]], dtype=np.int64) if seq2seq else ids[None]  # [1, n0]
    if beam is not None:
        hypotheses = beam_search(stepper, prefix, max_new_tokens, beam_size=beam,
                                 length_penalty=length_penalty, eos_id=eos_id,
                                 n_candidates=n_candidates, suppress_ids=suppress_ids,
                                 trace=trace)
        output = np.asarray(trace["output"])[None]                     # [1, n0 + n]
        rule = {"kind": "beam", "beam": beam, "length_penalty": float(length_penalty)}
    else:
        choice = make_rule(temperature=temperature, top_k=top_k, top_p=top_p, seed=seed)
        output = decode(stepper, prefix, max_new_tokens, rule=choice, eos_id=eos_id,
                        n_candidates=n_candidates, suppress_ids=suppress_ids,
                        trace=trace)                                   # [1, n0 + n]
        hypotheses = []
        rule = {"kind": "greedy"} if isinstance(choice, Greedy) else {
            "kind": "sampling", "temperature": choice.temperature, "top_k": choice.top_k,
            "top_p": choice.top_p, "seed": seed}
    n0 = prefix.shape[1]
    if explain_cache:
        _replay(make, output, n0, repeats, clock, trace)
    suppressed = sorted({int(i) for i in suppress_ids})
    seen = set(ids.tolist()) | {i for i in (bos_id, eos_id) if i is not None} | set(suppressed)
    for name in trace:
        if name.endswith((".prefix", ".candidates", ".choice", ".beams", ".finished.tokens")) \
                or name == "output":
            seen.update(np.asarray(trace[name]).ravel().tolist())
    text = token_text if callable(token_text) else token_text.__getitem__
    config = model.config
    info = {"kind": "seq2seq" if seq2seq else "causal", "rule": rule,
            "tokens": {int(i): str(text(int(i))) for i in sorted(seen)},
            "prefix_length": n0, "eos_id": eos_id, "bos_id": bos_id, "suppressed": suppressed,
            "n_layers": config.num_decoder_layers if seq2seq else config.n_layer,
            "n_heads": config.nhead if seq2seq else config.n_head,
            "n_kv_heads": config.nhead if seq2seq else getattr(config, "n_kv_head", config.n_head),
            "d_head": (config.d_model // config.nhead) if seq2seq else config.d_head,
            "n_src": len(ids) if seq2seq else 0,
            "use_cache": use_cache, "explain_cache": explain_cache, "repeats": repeats,
            "dtype": str(np.dtype(model.dtype)),
            "hypotheses": [{"tokens": h.tokens.tolist(), "logprob": float(h.logprob),
                            "score": float(h.score), "ended": h.ended} for h in hypotheses]}
    new_ids = np.asarray(output[0])[n0:]                               # [n]
    ended = (hypotheses[0].ended if hypotheses else
             eos_id is not None and bool(np.any(new_ids == eos_id)))
    info["stopped_at_limit"] = bool(eos_id is not None and not ended
                                    and len(new_ids) >= max_new_tokens)
    labels = [info["tokens"][int(i)] for i in ids]
    return Recording(trace, output[0], labels, info, walkthrough="generation.generate")
