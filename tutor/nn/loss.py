"""Cross-entropy over the vocabulary, as ``torch.nn.functional.cross_entropy`` defines it."""

from __future__ import annotations

import numpy as np

from ..errors import ShapeError, TutorError
from ..trace import NULL_TRACE


def cross_entropy(logits, labels, *, ignore_index=None, label_smoothing: float = 0.0,
                  trace=NULL_TRACE):
    """Mean cross-entropy of ``logits`` [..., n_vocab] against integer ``labels`` [...].

    loss_i = (1 - eps) * (-log p_i[y_i]) + eps * (-(1/V) * sum_c log p_i[c]), with
    log p = log_softmax(logits) and eps = ``label_smoothing``; the loss is the sum of loss_i
    over the positions whose label is not ``ignore_index``, divided by their number. This is
    ``torch.nn.functional.cross_entropy(logits, labels, ignore_index=..., label_smoothing=...)``
    with ``reduction='mean'`` (PyTorch docs; label smoothing: Szegedy et al. 2016). One
    difference on purpose: when every label is ignored the loss is 0 (PyTorch gives NaN).

    Returns the loss as a 0-d array of the logits' dtype. Records ``log_probs`` [N, V],
    ``valid`` [N] (labels that count) and ``loss``. Raises ShapeError for mismatched shapes
    and TutorError for labels outside 0..V-1 or a smoothing outside [0, 1].
    """
    logits = np.asarray(logits)
    labels = np.asarray(labels)
    if logits.ndim < 1 or labels.shape != logits.shape[:-1]:
        raise ShapeError(f"labels must have shape {logits.shape[:-1]} (logits without the "
                         f"vocabulary axis), got {labels.shape}")
    if not np.issubdtype(labels.dtype, np.integer):
        raise TutorError(f"labels must be integer class ids, got dtype {labels.dtype}")
    if not 0.0 <= label_smoothing <= 1.0:
        raise TutorError(f"label_smoothing must be in [0, 1], got {label_smoothing}")
    n_vocab = logits.shape[-1]
    flat = logits.reshape(-1, n_vocab)                                 # [..., V] -> [N, V]
    targets = labels.reshape(-1)                                       # [N]
    valid = np.ones(targets.shape, dtype=bool) if ignore_index is None else targets != ignore_index  # [N]
    if np.any((targets[valid] < 0) | (targets[valid] >= n_vocab)):
        raise TutorError(f"labels must be class ids in 0..{n_vocab - 1}"
                         + ("" if ignore_index is None else f" or ignore_index={ignore_index}"))
    shifted = flat - flat.max(axis=-1, keepdims=True)                  # [N, V], <= 0
    log_probs = shifted - np.log(np.sum(np.exp(shifted), axis=-1, keepdims=True))  # [N, V]
    safe = np.where(valid, targets, 0)                                 # [N]: any class where ignored
    nll = -log_probs[np.arange(len(safe)), safe]                       # [N]
    count = int(valid.sum())
    per_token = nll if label_smoothing == 0 else (
        (1.0 - label_smoothing) * nll
        - (label_smoothing / n_vocab) * log_probs.sum(axis=-1))        # [N]
    total = np.sum(per_token[valid])                                   # scalar of the dtype
    loss = np.asarray(total / count if count else total * 0, dtype=logits.dtype)  # 0-d
    trace.record("log_probs", log_probs)
    trace.record("valid", valid)
    trace.record("loss", loss)
    return loss


def squared_error(out, target, *, trace=NULL_TRACE):
    """L = ½‖out − target‖², the sum of squared differences over every entry, halved.

    (PyTorch: ``0.5 * torch.nn.functional.mse_loss(out, target, reduction='sum')``.) The half
    makes the gradient plain: dL/dout = out − target (:func:`squared_error_backward`).
    out, target [...] of one shape and dtype. Returns the loss as a 0-d array of that dtype.
    Records ``error`` (out − target, like out) and ``loss`` (0-d). Raises ShapeError when the
    shapes differ.
    """
    out, target = np.asarray(out), np.asarray(target)
    if out.shape != target.shape:
        raise ShapeError(f"target must have the output's shape {out.shape}, got {target.shape}")
    error = out - target                                               # [...], like out
    loss = np.asarray(0.5 * np.sum(error * error), dtype=out.dtype)    # 0-d
    trace.record("error", error)
    trace.record("loss", loss)
    return loss


def squared_error_backward(fwd):
    """dL/dout of L = ½‖out − target‖², read from the record of :func:`squared_error`:
    out − target (the recorded ``error``), of the output's shape."""
    return fwd["error"]                                                # [...]
