"""How a sequence-to-sequence model is trained, for a learner: one teacher-forced pass of a
trained (or untrained) toy model on one example, with the cross-entropy loss it is trained on
(:func:`teacher_forcing`), and an untrained model of the same shape (:func:`untrained_like`)."""

from __future__ import annotations

import numpy as np

from tutor.nn.functional import softmax
from tutor.nn.loss import cross_entropy

from . import Recording, new_trace


def untrained_like(trained, seed: int = 0):
    """A Seq2Seq of ``trained``'s shape (a :class:`tutor.training.shipped.TrainedModel`) with
    the freshly initialised weights training starts from (tutor.training.loop.initial_params,
    ``seed``), in the trained model's dtype."""
    from tutor.training.loop import TrainConfig, build_model, initial_params

    config = TrainConfig.from_dict(trained.config, source=trained.name)
    params = initial_params(config, np.random.default_rng(seed))
    return build_model(params, config)


def task_example(trained, digits: str):
    """One example of ``trained``'s task: the source ids [S] of ``digits`` ("2718"; for
    dates a written date, "7 December 2026") and the target ids [T + 1]: the start token, the
    task's right answer, the end token. TutorError for a date the task has no answer to
    (:func:`tutor.training.tasks.date_note` says why)."""
    from tutor.errors import TutorError
    from tutor.training import tasks

    src = trained.encode(digits)                                       # [S]
    if trained.task == "dates":
        iso = tasks.date_answer(digits)
        if iso is None:
            raise TutorError(tasks.date_note(digits))
        tgt = [trained.bos_id] + [trained.vocab.index(c) for c in iso] + [trained.eos_id]
        return src, np.array(tgt, dtype=np.int64)                      # [S], [12]
    answer = tasks.answer(trained.task, src - tasks.DIGIT_OFFSET)      # [S] digits
    tgt = np.concatenate([[trained.bos_id], answer + tasks.DIGIT_OFFSET, [trained.eos_id]])
    return src, tgt.astype(np.int64)                                   # [S], [S + 2]


def teacher_forcing(model, src_ids, tgt_ids, *, token_text) -> Recording:
    """The teacher-forced pass training uses: the decoder reads the right answer shifted by
    one (``tgt_ids[:-1]``, starting with the start token) and is scored on predicting each
    next token (``tgt_ids[1:]``, ending with the end token), all positions at once.

    ``model`` a :class:`tutor.nn.model.Seq2Seq`; ``src_ids`` [S] and ``tgt_ids`` [T + 1] int.
    Records what :meth:`Seq2Seq.logits` records (``src_embed.*``, ``tgt_embed.*``,
    ``transformer.*``, ``logits`` [1, T, V]), ``probs`` [T, V] (softmax of the logits),
    ``correct_prob`` [T, 1] (the probability of the right next token) and under ``loss.``
    what :func:`tutor.nn.loss.cross_entropy` records (``loss`` = mean −log correct_prob).
    ``token_text(id)`` names a token; ``info``: ``source``, ``reads``, ``writes`` (token
    texts) and ``loss``. Vaswani et al. 2017, section 5; Williams & Zipser 1989 (teacher
    forcing).
    """
    src_ids = np.asarray(src_ids, dtype=np.int64)                      # [S]
    tgt_ids = np.asarray(tgt_ids, dtype=np.int64)                      # [T + 1]
    reads, writes = tgt_ids[:-1], tgt_ids[1:]                          # [T], [T]
    trace = new_trace()
    logits = model.logits(src_ids[None], reads[None], trace=trace)[0]  # [T, V]
    probs = softmax(logits, axis=-1)                                   # [T, V]
    trace.record("probs", probs)
    trace.record("correct_prob", probs[np.arange(len(writes)), writes][:, None])  # [T, 1]
    loss = cross_entropy(logits, writes, trace=trace.scope("loss"))
    info = {"source": [token_text(i) for i in src_ids], "reads": [token_text(i) for i in reads],
            "writes": [token_text(i) for i in writes], "loss": float(loss)}
    return Recording(trace, float(loss), info["writes"], info,
                     walkthrough="learning.teacher_forcing")
