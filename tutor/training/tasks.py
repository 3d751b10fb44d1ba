"""The toy tasks: ``reverse``, ``copy`` and ``sort`` on sequences of 1 to 8 digits.

The vocabulary is fixed (13 tokens)::

    id  0      1      2      3 .. 12
        <pad>  <bos>  <eos>  the digits 0 .. 9   (digit d is id d + 3)

The source is the digits, padded on the right with ``<pad>`` to the longest sequence of the
batch; the target is ``<bos>``, the answer's digits, ``<eos>``, padded the same way. The model
is trained with teacher forcing (the decoder reads ``tgt[:, :-1]`` and is scored on
``tgt[:, 1:]``, padding ignored) and decoded greedily from ``<bos>``.

Held-out sequences. Every digit sequence has an index: the sequences of length n are numbered
after all shorter ones, ``index = (10**n - 1) // 9 + int(digits)`` (so ``"0"`` is 1, ``"9"`` is
10, ``"00"`` is 11, ...). A sequence is *held out* when Knuth's multiplicative hash of its index,
``(index * 2654435761) mod 2**32``, falls in the lowest 1/16 of the range (``< 2**28``): 7 of
the 100 sequences of length 2, about 6.25% of every longer length, and none of length 1 (so
the held-out sets have lengths 2 to 8). Training batches never contain a held-out
sequence (one that is drawn is drawn again); evaluation uses held-out sequences only, so the
accuracy measures generalisation, not memory. The rule depends only on the digits, so it is the
same for every task, seed and run.
"""

from __future__ import annotations

import numpy as np

from ..errors import TutorError

PAD_ID, BOS_ID, EOS_ID = 0, 1, 2
DIGIT_OFFSET = 3
VOCAB: tuple[str, ...] = ("<pad>", "<bos>", "<eos>") + tuple(str(d) for d in range(10))
VOCAB_SIZE = len(VOCAB)                                               # 13
MIN_LENGTH, MAX_LENGTH = 1, 8
TASKS = ("reverse", "copy", "sort")

_HASH_MULTIPLIER = 2654435761                                          # Knuth, TAOCP vol. 3, 6.4
_HELD_OUT_BELOW = 2 ** 28                                              # 1/16 of 2**32


def check_task(task: str) -> str:
    """The task's name, or TutorError naming the choices."""
    if task not in TASKS:
        raise TutorError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
    return task


def answer(task: str, digits: np.ndarray) -> np.ndarray:
    """The answer to one digit sequence [n] (ints 0-9): reversed, copied or sorted. [n] -> [n]."""
    check_task(task)
    if task == "reverse":
        return digits[::-1].copy()
    if task == "sort":
        return np.sort(digits)
    return digits.copy()


def sequence_index(digits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """The index of each sequence (see the module docstring).

    digits: [batch, MAX_LENGTH] ints 0-9 (positions at or past the length are ignored);
    lengths: [batch]. Returns [batch] int64.
    """
    positions = np.arange(digits.shape[1])                             # [MAX_LENGTH]
    valid = positions[None, :] < lengths[:, None]                      # [B, MAX_LENGTH]
    powers = 10 ** np.maximum(lengths[:, None] - 1 - positions[None, :], 0)  # [B, MAX_LENGTH]
    value = np.where(valid, digits * powers, 0).sum(axis=1)           # [B] int(digits)
    return (10 ** lengths.astype(np.int64) - 1) // 9 + value          # [B]


def is_held_out(digits: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """Whether each sequence belongs to the held-out set: [batch, MAX_LENGTH], [batch] -> [batch] bool."""
    index = sequence_index(np.asarray(digits, dtype=np.int64), np.asarray(lengths, dtype=np.int64))
    hashed = (index * _HASH_MULTIPLIER) % 2 ** 32                      # [B]; < 2**31 * 2**32 fits int64
    return hashed < _HELD_OUT_BELOW


def sample_digits(rng: np.random.Generator, batch: int, *, held_out: bool = False):
    """``batch`` random sequences, all from the training set (or all held out).

    The length is uniform on 1..8, then every digit uniform on 0..9; a sequence on the wrong
    side of the split is replaced by a new draw. Returns (digits [batch, MAX_LENGTH] int64,
    zero past each length; lengths [batch] int64).
    """
    digits = np.zeros((batch, MAX_LENGTH), dtype=np.int64)            # [B, 8]
    lengths = np.zeros(batch, dtype=np.int64)                          # [B]
    todo = np.arange(batch)
    while todo.size:
        new_lengths = rng.integers(MIN_LENGTH, MAX_LENGTH + 1, size=todo.size)  # [n]
        new_digits = rng.integers(0, 10, size=(todo.size, MAX_LENGTH))          # [n, 8]
        new_digits[np.arange(MAX_LENGTH)[None, :] >= new_lengths[:, None]] = 0
        digits[todo], lengths[todo] = new_digits, new_lengths
        todo = todo[is_held_out(new_digits, new_lengths) != held_out]
    return digits, lengths


def make_batch(task: str, digits: np.ndarray, lengths: np.ndarray):
    """Token ids for a batch of digit sequences, padded to the longest one.

    Returns (src_ids [batch, n_max] — the digits then ``<pad>``;
    tgt_ids [batch, n_max + 2] — ``<bos>``, the answer, ``<eos>``, then ``<pad>``).
    """
    check_task(task)
    batch = len(lengths)
    n_max = int(lengths.max())
    src_ids = np.full((batch, n_max), PAD_ID, dtype=np.int64)          # [B, n]
    tgt_ids = np.full((batch, n_max + 2), PAD_ID, dtype=np.int64)      # [B, n + 2]
    tgt_ids[:, 0] = BOS_ID
    for row, (seq, n) in enumerate(zip(digits, lengths)):
        seq = seq[:n]
        src_ids[row, :n] = seq + DIGIT_OFFSET
        tgt_ids[row, 1:n + 1] = answer(task, seq) + DIGIT_OFFSET
        tgt_ids[row, n + 1] = EOS_ID
    return src_ids, tgt_ids


def training_batch(task: str, rng: np.random.Generator, batch_size: int):
    """A batch of training sequences (never held out): (src_ids, tgt_ids), see :func:`make_batch`."""
    return make_batch(task, *sample_digits(rng, batch_size))


def held_out_set(task: str, size: int, *, seed: int = 0):
    """``size`` held-out sequences, the same for a given seed whatever the training run:
    (src_ids [size, n_max], tgt_ids [size, n_max + 2])."""
    rng = np.random.default_rng([seed, 0x4E1D])                        # a stream of its own
    return make_batch(task, *sample_digits(rng, size, held_out=True))


def encode_digits(text: str) -> np.ndarray:
    """"3141" -> source ids [4]; TutorError if it is not 1 to 8 digits."""
    text = text.strip()
    if not (MIN_LENGTH <= len(text) <= MAX_LENGTH and text.isdigit() and text.isascii()):
        raise TutorError(f"expected {MIN_LENGTH} to {MAX_LENGTH} digits, got {text!r}")
    return np.array([int(c) + DIGIT_OFFSET for c in text], dtype=np.int64)
