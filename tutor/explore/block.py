"""The model explorer's block view without the screen: one layer of a model as a whole block
(:func:`tutor.walkthroughs.block.model_block`, drawn by
:func:`tutor.render.block.block_step`) and, for a model that writes, the next-token bar with
its temperature, top-k and top-p (:func:`tutor.walkthroughs.block.next_token`, which calls
the sampling rule ``tutor generate`` uses). No Textual here, and nothing computed here:
each change asks the walkthroughs again.
"""

from __future__ import annotations

from tutor.errors import SettingError, TutorError
from tutor.render.block import block_step, block_worked_cell
from tutor.render.document import Step
from tutor.walkthroughs import Recording
from tutor.walkthroughs.block import model_block, next_token

#: the values the keys step through: t/T along TEMPERATURES (hotter / colder), k/K and p/P
#: along TOP_KS and TOP_PS (fewer tokens kept / more); None is "off" (every token kept)
TEMPERATURES = (0.1, 0.2, 0.3, 0.5, 0.7, 1.0, 1.5, 2.0, 3.0, 5.0)
TOP_KS = (None, 50, 20, 10, 5, 3, 2, 1)
TOP_PS = (None, 0.95, 0.9, 0.8, 0.7, 0.5, 0.3, 0.1)
BAR_TOKENS = 10           # the tokens the bar shows
COLUMNS = 12              # the columns of a wider matrix shown (a real model's 576, ...)


def _step(values: tuple, current, step: int):
    """The value ``step`` places along ``values`` from ``current``, staying at the ends."""
    index = values.index(current) if current in values else 0       # unknown: the first
    return values[min(max(index + step, 0), len(values) - 1)]


class BlockState:
    """A model's layer as a whole block, and the sampling settings of its next-token bar.

    ``models`` is the explorer's :class:`~tutor.explore.models.ModelState` (its model,
    sentence and the block, i.e. layer, chosen there). ``layer`` and ``side`` ("encoder" /
    "decoder" for a toy model) follow it. Raises SettingError naming what was edited."""

    def __init__(self, models, *, temperature: float = 1.0, top_k: int | None = None,
                 top_p: float | None = None):
        self.models = models
        self.temperature, self.top_k, self.top_p = temperature, top_k, top_p
        self.recording: Recording | None = None
        self.bar: Recording | None = None
        self.layer, self.side = self.where()
        self.run()

    def where(self) -> tuple[int, str | None]:
        """The layer (from 0) and side of the attention block the model explorer shows."""
        models = self.models
        if models.kind != "toy":
            return models.block, None
        key = models.blocks[models.block].key                 # transformer.decoder.layers.0...
        side = "decoder" if ".decoder." in key else "encoder"
        return int(key.split(".layers.")[1].split(".")[0]), side

    @property
    def writes(self) -> bool:
        return "logits" in self.recording

    def run(self) -> None:
        """Run the block walkthrough on the model explorer's sentence and layer, then the
        bar (nothing changes when refused)."""
        self.layer, self.side = self.where()
        try:
            recording = model_block(self.models.model, self.models.sentence, self.layer,
                                    block=self.side, recording=self.models.recording
                                    if self.models.kind == "toy" else None)
        except TutorError as exc:
            raise SettingError("sentence", f"sentence: {exc}") from None
        self.recording = recording
        self.run_bar()

    def run_bar(self) -> None:
        """The next-token distribution under the current settings (a model that writes)."""
        if not self.writes:
            self.bar = None
            return
        self.bar = next_token(self.recording["logits"], temperature=self.temperature,
                              top_k=self.top_k, top_p=self.top_p, top=BAR_TOKENS)

    # --- the keys ------------------------------------------------------------------------
    def change(self, name: str, step: int) -> None:
        """Move temperature, top_k or top_p one place along its values (step ±1)."""
        values = {"temperature": TEMPERATURES, "top_k": TOP_KS, "top_p": TOP_PS}[name]
        setattr(self, name, _step(values, getattr(self, name), step))
        self.run_bar()

    def reset_sampling(self) -> None:
        """Temperature 1, top-k and top-p off: the model's own distribution."""
        self.temperature, self.top_k, self.top_p = 1.0, None, None
        self.run_bar()

    # --- what is shown ---------------------------------------------------------------------
    def step(self, precision: int = 2) -> Step:
        return block_step(self.recording, number=1, precision=precision, columns=COLUMNS)

    def worked(self, key: str, row: int, col: int, precision: int = 2) -> list[str]:
        return block_worked_cell(self.recording, key, row, col, precision=precision)

    def settings_text(self) -> str:
        """'temperature 0.7 · top-k 5 · top-p off'."""
        k = "off" if self.top_k is None else str(self.top_k)
        p = "off" if self.top_p is None else f"{self.top_p:g}"
        return f"temperature {self.temperature:g} · top-k {k} · top-p {p}"

    def bar_rows(self) -> list[tuple[str, float, bool]]:
        """The bar's rows, most likely first: (token text, probability under the settings,
        whether top-k and top-p keep it)."""
        bar = self.bar
        text = self.recording.info["token_text"]
        probs, kept = bar["sample_probs"], bar["kept"]
        return [(str(text(int(i))), float(probs[i]), bool(kept[i])) for i in bar["top_ids"]]
