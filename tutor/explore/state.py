"""What the explorer shows, without the screen: the sentence, X, Wq, Wk, Wv (and Wo), the
number of heads and the three switches, each edit checked; and one run of the self-attention
walkthrough (:func:`tutor.walkthroughs.attention.self_attention`) rendered by the same
document builder as ``tutor attention`` (:func:`tutor.render.attention.attention_document`).

No Textual here: the state is tested on its own, and the app only asks it to change and
to give the new walkthrough. Nothing here computes attention.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from tutor.errors import SettingError
from tutor.limits import MAX_ABS, MAX_DIM, MAX_HEADS, MAX_TOKENS, SEED_LIMIT
from tutor.render.attention import attention_document, attention_worked_cell
from tutor.render.block import block_step, block_worked_cell
from tutor.render.document import Document, Step
from tutor.walkthroughs import Recording
from tutor.walkthroughs.attention import self_attention
from tutor.walkthroughs.block import sentence_block
from tutor.walkthroughs.inputs import (Given, InputError, attention_inputs, check_heads,
                                       random_matrix, word_embeddings)
from tutor.walkthroughs.word_vectors import tokenize

#: The matrices a learner may edit, by trace name, with the names the walkthrough shows.
EDITABLE = {"x": "X", "w_q": "Wq", "w_k": "Wk", "w_v": "Wv", "w_o": "Wo"}
WEIGHTS = ("w_q", "w_k", "w_v", "w_o")
EDITED = "edited here"          # where an edited word's vector comes from, as the inputs say
#: What the explorer calls each input of the shared attention-input rule.
FIELDS = {"x": "X", "wq": "Wq", "wk": "Wk", "wv": "Wv", "wo": "Wo", "heads": "heads"}


def setting_error(exc: InputError) -> SettingError:
    """An InputError of the shared rule in the explorer's words: 'Wq: expected ...'."""
    shown = FIELDS.get(exc.field, exc.field)
    return SettingError(shown, f"{shown}: {exc.worded(FIELDS)}")


def parse_number(name: str, text: str) -> float:
    """A number typed into a cell: ``0.5``, ``-1``, ``1e-2``, a decimal comma ``0,5`` or a
    Unicode minus ``−1``; finite and within ±MAX_ABS. Raises SettingError naming ``name``."""
    cleaned = str(text).strip().replace("−", "-").replace("\u2212", "-")
    if "," in cleaned and "." not in cleaned:
        cleaned = cleaned.replace(",", ".")
    try:
        value = float(cleaned)
    except ValueError:
        raise SettingError(name, f"{name}: expected a number such as 0.5 or -1, "
                                 f"got {text.strip()!r}") from None
    if not np.isfinite(value) or abs(value) > MAX_ABS:
        raise SettingError(name, f"{name}: expected a number from {-MAX_ABS:,.0f} to "
                                 f"{MAX_ABS:,.0f}, got {text.strip()!r}")
    return value


def divisors(n: int, limit: int = MAX_HEADS) -> list[int]:
    """The numbers of heads that split a width ``n`` evenly: 1, 2, ... (at most ``limit``)."""
    return [h for h in range(1, min(n, limit) + 1) if n % h == 0]


@dataclass
class View:
    """One run of the walkthrough and its document, as shown after the latest change."""

    recording: Recording
    document: Document                 # tutor attention's document, as that command builds it
    block: Recording | None = None     # the rest of the encoder layer (the block tab)
    block_step: Step | None = None     # its step, drawn by tutor.render.block

    @property
    def steps(self) -> list[Step]:
        """The tabs' steps: the attention document's, then the whole block's."""
        return self.document.steps + ([self.block_step] if self.block_step else [])


@dataclass
class ExploreState:
    """The explorer's inputs. Every change goes through a method that checks it and raises
    :class:`~tutor.errors.SettingError` (one line, naming what was edited) without changing
    anything when it is refused.

    ``x_rows`` holds the rows the learner edited, by lower-cased word, so an edited word
    keeps its vector when the sentence changes (and every occurrence of it changes
    together, as an embedding table would). Weights are square [d_model, d_model]:
    d_k = d_v = d_model, split among the heads as the paper does.
    """

    sentence: str = "the cat sat"
    d_model: int = 4
    heads: int = 1
    scaled: bool = True
    causal: bool = False
    posenc: bool = False
    precision: int = 2
    seed: int = 0
    tokens: list[str] = field(default_factory=list)
    x_rows: dict[str, np.ndarray] = field(default_factory=dict)
    weights: dict[str, np.ndarray] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)

    def __post_init__(self):
        if not 1 <= self.d_model <= MAX_DIM:
            raise SettingError("dim", f"--dim: expected a width from 1 to {MAX_DIM}, "
                                      f"got {self.d_model}")
        if not 0 <= self.seed < SEED_LIMIT:
            raise SettingError("seed", f"--seed: expected 0 to {SEED_LIMIT - 1}, got {self.seed}")
        heads = self.heads
        self.heads = 1
        self.set_heads(heads)
        self.set_sentence(self.sentence)
        if not self.weights:
            self.identity_weights()

    # --- edits ---------------------------------------------------------------------------
    def set_sentence(self, text: str) -> None:
        """New words; each keeps its edited row, if it has one."""
        tokens = tokenize(text)
        if not tokens:
            raise SettingError("sentence", "sentence: expected at least one word, "
                                           "got an empty sentence")
        if len(tokens) > MAX_TOKENS:
            raise SettingError("sentence", f"sentence: expected at most {MAX_TOKENS} words, "
                                           f"got {len(tokens)}")
        self.sentence, self.tokens = text, tokens

    def set_cell(self, name: str, row: int, col: int, text_or_value) -> float:
        """Set one entry of X or a weight matrix (``name`` a key of :data:`EDITABLE`) and
        return the value set. A row of X belongs to its word: editing it changes that
        word's vector wherever the word occurs."""
        if name not in EDITABLE:
            raise SettingError(name, f"expected one of {', '.join(EDITABLE.values())}, got {name!r}")
        shown = EDITABLE[name]
        matrix = self.x() if name == "x" else self.weights[name]
        rows, cols = matrix.shape
        if not (0 <= row < rows and 0 <= col < cols):
            raise SettingError(name, f"{shown}: expected a cell within {rows}×{cols}, "
                                     f"got ({row + 1}, {col + 1})")
        value = (parse_number(shown, text_or_value) if isinstance(text_or_value, str)
                 else parse_number(shown, repr(float(text_or_value))))
        if name == "x":
            word = self.tokens[row].lower()
            vector = np.array(matrix[row], dtype=np.float64)                # [d_model]
            vector[col] = value
            self.x_rows[word] = vector
        else:
            weights = self.weights[name].copy()                            # [d_model, d_model]
            weights[row, col] = value
            self.weights[name] = weights
            self.kinds[name] = "edited"
        return value

    def set_heads(self, heads: int) -> None:
        """The number of heads: a divisor of d_model, at most MAX_HEADS."""
        try:
            self.heads = check_heads(heads, self.d_model)
        except InputError as exc:
            raise setting_error(exc) from None

    def next_heads(self, step: int = 1) -> int:
        """Move to the next (or previous, ``step`` -1) number of heads that divides d_model,
        staying at the ends; returns the number now used."""
        allowed = divisors(self.d_model)
        index = min(max(allowed.index(self.heads) + step, 0), len(allowed) - 1)
        self.heads = allowed[index]
        return self.heads

    def identity_weights(self) -> None:
        """Wq = Wk = Wv = Wo = I, the worked example."""
        for name in WEIGHTS:
            self.weights[name] = np.eye(self.d_model)                      # [d_model, d_model]
            self.kinds[name] = "identity"

    def random_weights(self, seed: int | None = None) -> None:
        """Wq, Wk, Wv, Wo with entries -1.0, -0.9, ..., 1.0 from ``seed`` (the next seed
        when None), each from its own stream: the matrices ``tutor attention --wq random
        --seed S`` (and a lesson's ``weights = "random", seed = S``) draws."""
        self.seed = (self.seed + 1) % SEED_LIMIT if seed is None else seed
        for name in WEIGHTS:
            field = name.replace("_", "")                                  # w_q -> wq
            self.weights[name] = random_matrix(self.seed, field, self.d_model,
                                               self.d_model)               # [d_model, d_model]
            self.kinds[name] = "random"

    def reset_embeddings(self) -> None:
        """Forget the edited rows of X: every word gets its own vector again."""
        self.x_rows.clear()

    # --- what is shown -------------------------------------------------------------------
    def x(self) -> np.ndarray:
        """X [n_tokens, d_model]: edited rows, else the word's own vector."""
        return self.embeddings()[0]

    def embeddings(self):
        """X [n_tokens, d_model] and, per token, where its vector comes from."""
        x, sources = word_embeddings(self.tokens, self.d_model, self.x_rows)  # [n, d_model]
        return x, [EDITED if s == "--embed" else s for s in sources]

    def run(self) -> View:
        """Run the walkthrough on the current inputs and build its document, exactly as
        ``tutor attention`` does with the same options."""
        x, sources = self.embeddings()                                     # [n, d_model]
        given = {name.replace("_", ""): Given(self.weights[name], self.kinds[name])
                 for name in WEIGHTS if name != "w_o" or self.heads > 1}
        try:
            inputs = attention_inputs(self.tokens, x, sources, heads=self.heads, square=True,
                                      seed=self.seed, **given)
        except InputError as exc:
            raise setting_error(exc) from None
        recording = self_attention(inputs.tokens, inputs.x, inputs.w_q, inputs.w_k,
                                   inputs.w_v, inputs.w_o, heads=self.heads,
                                   causal=self.causal, scaled=self.scaled,
                                   posenc="sinusoidal" if self.posenc else "none",
                                   sources=inputs.sources, weight_kinds=inputs.kinds)
        document = attention_document(recording.trace, recording.tokens,
                                      precision=self.precision, **recording.info)
        block = sentence_block(recording, seed=self.seed)
        step = block_step(block, number=len(document.steps) + 1, precision=self.precision)
        return View(recording, document, block, step)

    def worked(self, view: View, key: str, row: int, col: int) -> list[str]:
        """The worked line(s) of one cell of a matrix the document shows (its trace name;
        the block tab's names are the block recording's)."""
        step = view.block_step
        if step is not None and any(m.key == key for part in step.parts for m in part.matrices):
            return block_worked_cell(view.block, key, row, col, precision=self.precision)
        return attention_worked_cell(view.recording.trace, view.recording.tokens, key, row,
                                     col, precision=self.precision, **view.recording.info)

    def summary(self) -> str:
        """One line of the settings: 'd_model 4 · heads 1 (d_k 4) · scale on · ...'."""
        d_k = self.d_model // self.heads
        on = {True: "on", False: "off"}
        return (f"{len(self.tokens)} tokens · d_model {self.d_model} · heads {self.heads} "
                f"(d_k {d_k}) · scale {on[self.scaled]} · causal {on[self.causal]} · "
                f"PE {on[self.posenc]}")
