"""`tutor scaling --train`: the scaling experiment (the same model trained with and without
1/√dk at several dk), with a progress bar while it trains, then its document. Called by
:mod:`tutor.cli.scaling`; the options are parsed there."""

from __future__ import annotations

import contextlib
import sys

from tutor.limits import MAX_GAIN, MAX_TRAIN_DIM, MAX_TRAIN_STEPS

from .output import Output, show_document
from .usage import check_limit, usage_error
from .values import check_finite

DEFAULT_DKS = (4, 16, 64)
DEFAULT_DIM = 64
DEFAULT_STEPS = 300


def check_training_options(d_ks: list[int], dim: int, steps: int, gain: float) -> None:
    """The limits of a training run, as usage errors naming the option."""
    check_limit("--dim", dim, MAX_TRAIN_DIM, "a width")
    check_limit("--steps", steps, MAX_TRAIN_STEPS, "a number of steps")
    check_finite("--gain", gain, positive=True, maximum=MAX_GAIN)
    for d_k in d_ks:
        if d_k > dim or dim % d_k:
            raise usage_error("--dk", f"expected widths that divide --dim {dim} (the heads are "
                                      f"d_model / dk), got {d_k}")


@contextlib.contextmanager
def progress_callback(console, d_ks: list[int], steps: int):
    """A callback(run_index, progress) for the experiment that drives a Rich progress bar on
    ``console`` (one bar over every step of every run); without a console, one that does
    nothing."""
    if console is None:
        yield lambda index, progress: None
        return
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, \
        TimeRemainingColumn

    runs = 2 * len(d_ks)
    columns = [TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
               TextColumn("loss {task.fields[loss]}"), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("training", total=runs * steps, loss="-")

        def callback(index, progress):
            d_k, scaled = d_ks[index // 2], index % 2 == 0
            bar.update(task, completed=index * steps + progress.step, loss=f"{progress.loss:.3f}",
                       description=f"run {index + 1}/{runs}: dk {d_k} "
                                   + ("÷√dk" if scaled else "no ÷"))
        yield callback


def _progress_console(output: Output):
    """Where the progress bar goes: standard error when it is a terminal (so that a JSON or
    Markdown document on standard output stays clean), else nowhere."""
    if not sys.stderr.isatty():
        return None
    from rich.console import Console

    return Console(stderr=True, no_color=output.format == "plain")


def train_scaling(d_ks: list[int], *, dim: int, steps: int, gain: float, seed: int,
                  step: int | None, output: Output) -> None:
    """Run the experiment with a progress bar, then show its document."""
    from tutor.render.scaling_training import scaling_training_document
    from tutor.walkthroughs.scaling_training import scaling_training

    check_training_options(d_ks, dim, steps, gain)
    with progress_callback(_progress_console(output), d_ks, steps) as callback:
        recording = scaling_training(d_ks, d_model=dim, steps=steps, seed=seed,
                                     qk_init_gain=gain, callback=callback)
    doc = scaling_training_document(recording, precision=output.precision)
    show_document(output, doc, step=step)
