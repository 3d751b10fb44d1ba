"""`tutor train`: train a small encoder-decoder on a digit task, with a progress bar, a loss
curve and the held-out exact-sequence accuracy. The training itself is tutor.training's."""

from __future__ import annotations

import math
import os

import click

from tutor.errors import number_text

from tutor.limits import (MAX_HEADS, MAX_RUN_BATCH, MAX_RUN_DIM, MAX_RUN_FF, MAX_RUN_LAYERS,
                          MAX_RUN_STEPS)

from .common import _check_seed, tutor_command
from .output import check_output_path

TASK_HELP = ("reverse: 3141 -> 1413; copy: 3141 -> 3141; sort: 3141 -> 1134; dates: "
             "'7 December 2026', 'Dec 7, 2026', 'the 7th of December 2026', '07.12.2026' -> "
             "2026-12-07 (one token per character: 43 tokens, and '7th', '07' and a year never "
             "seen are read with the same digit tokens).")

EPILOG = """\b
Sequences are 1 to 8 digits; about 6% of them (a fixed hash of the digits)
are held out of training and used to measure the accuracy: the share of
held-out sequences the model outputs exactly, decoded greedily.

\b
dates: the days of 1900 to 2099, each written in six ways; 1/16 of the
dates (a hash of the date, not of the writing) are held out in every
writing. Tokens are characters, not words: 43 of them (letters, digits,
space, ',' '.' '-'); "7th", "07" and "7" share the digit 7, a year is
copied digit by digit, and the answer is digits and '-' anyway.

\b
Ctrl-C saves a checkpoint in --output and prints the command that goes on
with --resume; a resumed run ends with the same weights, bit for bit, as an
uninterrupted one with the same seed.

\b
Examples:
  tutor train --task reverse                      under a minute
  tutor train --task sort --steps 3000 --seed 1 --output sort.npz
  tutor train --resume sort.npz --steps 4000      continue to step 4000
  tutor train --task copy --steps 200 --format json
  tutor train --task dates                        about a minute
"""

# option name -> TrainConfig field, for the options that shape the run
_SETTINGS = {"task": "task", "steps": "steps", "seed": "seed", "batch_size": "batch_size",
             "lr": "lr", "warmup": "warmup", "label_smoothing": "label_smoothing",
             "dim": "d_model", "heads": "nhead", "layers": "num_layers", "ff": "dim_feedforward"}
_MODEL_OPTIONS = ("dim", "heads", "layers", "ff", "batch_size", "lr", "warmup", "label_smoothing",
                  "seed", "task")


def _check_lr(ctx, param, value):
    """As backward --lr (the same check: finite, greater than 0), and at most 1 for a run."""
    from .values import check_finite

    if value is not None:
        check_finite("--lr", value, positive=True)
        if value > 1:
            raise click.BadParameter(f"expected a rate of at most 1 for a training run, got "
                                     f"{number_text(value)}", ctx=ctx, param=param)
    return value


def _check_label_smoothing(ctx, param, value):
    """In [0, 1) and not NaN (click's FloatRange lets NaN through: it compares False)."""
    if value is not None and not 0 <= value < 1:                      # False for NaN too
        raise click.BadParameter(f"expected a number in [0, 1), got {value:g}", ctx=ctx,
                                 param=param)
    return value


def _command_line(ctx) -> list[str]:
    """The command as typed, canonically: every option given on the command line, in order."""
    from click.core import ParameterSource

    words = ["tutor", ctx.info_name or "train"]
    for param in ctx.command.params:
        if ctx.get_parameter_source(param.name) != ParameterSource.COMMANDLINE:
            continue
        value = ctx.params[param.name]
        flag = param.opts[0]
        if getattr(param, "is_flag", False):
            if value:
                words.append(flag)
        else:
            words += [flag, str(value)]
    return words


def _set_option(words: list[str], option: str, value: str | None) -> list[str]:
    """``words`` with ``option``'s value set to ``value`` (replaced where it is, else added);
    a flag (``value`` None) is added once."""
    words = list(words)
    if option in words:
        if value is not None:
            words[words.index(option) + 1] = value
        return words
    return words + ([option] if value is None else [option, value])


def resumed_command(original: list[str], typed: list[str], steps: int) -> list[str]:
    """The command a resumed run records: the run's original command with ``--steps`` set to
    the new total (and ``--output``/``--weights-only`` as given now), the one command that
    makes the same weights in one go (a resumed run equals an uninterrupted one, bit for bit).
    ``typed`` (the ``--resume`` command line) when the checkpoint recorded no train command."""
    if original[:2] != ["tutor", "train"] or "--resume" in original:
        return typed
    words = _set_option(original, "--steps", str(steps))
    if "--output" in typed:
        words = _set_option(words, "--output", typed[typed.index("--output") + 1])
    if "--weights-only" in typed:
        words = _set_option(words, "--weights-only", None)
    return words


def _wrap(text: str) -> str:
    """A message for standard error, wrapped between words at its terminal's width (COLUMNS
    first, as tutor.cli.output.terminal_width); a path longer than a line stays whole."""
    import sys
    import textwrap

    from .output import terminal_width

    return textwrap.fill(text, terminal_width(sys.stderr), break_long_words=False,
                         break_on_hyphens=False)


def _quote(words: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(word) for word in words)


@tutor_command(EPILOG)
@click.option("--task", type=click.Choice(["reverse", "copy", "sort", "dates"]), default=None,
              help=f"What to learn. [default: reverse] {TASK_HELP}")
@click.option("--steps", type=click.IntRange(1, MAX_RUN_STEPS), default=None, metavar="N",
              help="Train until step N (with --resume, the total). [default: 1500]")
@click.option("--seed", type=int, default=None, callback=_check_seed, metavar="S",
              help="Seed for the initial weights and the batches. [default: 0]")
@click.option("--output", "output_path", type=str, default=None, callback=check_output_path,
              metavar="FILE.npz", help="Where the model and its checkpoints go: a name ending "
                                       "in .npz, and not a file that exists, unless it is the "
                                       "--resume file or --force is given. [default: TASK.npz, "
                                       "with --resume its file]")
@click.option("--force", is_flag=True,
              help="Let --output replace a file that exists (its contents are lost).")
@click.option("--resume", "resume_path", type=str, default=None,
              metavar="FILE.npz", help="Continue the run saved in FILE (its settings are used).")
@click.option("--batch-size", type=click.IntRange(1, MAX_RUN_BATCH), default=None, metavar="B",
              help="Sequences per step. [default: 64]")
@click.option("--lr", type=float, default=None, metavar="LR", callback=_check_lr,
              help="Peak learning rate, after the warm-up. [default: 0.002]")
@click.option("--warmup", type=click.IntRange(0, 100_000), default=None, metavar="N",
              help="Warm-up steps; then the rate falls as 1/sqrt(step). [default: 200]")
@click.option("--label-smoothing", type=float, default=None, callback=_check_label_smoothing,
              metavar="E", help="Label smoothing of the cross-entropy. [default: 0]")
@click.option("--dim", type=click.IntRange(2, MAX_RUN_DIM), default=None, metavar="D",
              help="d_model. [default: 32]")
@click.option("--heads", type=click.IntRange(1, MAX_HEADS), default=None, metavar="H",
              help="Attention heads (must divide --dim). [default: 2]")
@click.option("--layers", type=click.IntRange(1, MAX_RUN_LAYERS), default=None, metavar="N",
              help="Encoder and decoder layers. [default: 2]")
@click.option("--ff", type=click.IntRange(1, MAX_RUN_FF), default=None, metavar="F",
              help="Feed-forward width. [default: 64]")
@click.option("--weights-only", is_flag=True,
              help="At the end, keep only the weights (a smaller file that cannot resume).")
@click.option("--format", "fmt", type=click.Choice(["rich", "plain", "json"]), default=None,
              help="rich (a progress bar; the default on a terminal), plain (a line per "
                   "evaluation), json (the curve and the final figures, at the end). A run is "
                   "a progress display, not a document: no markdown, latex, --svg or --html.")
@click.pass_context
def train(ctx, task, steps, seed, output_path, force, resume_path, batch_size, lr, warmup,
          label_smoothing, dim, heads, layers, ff, weights_only, fmt):
    """Train a small encoder-decoder to reverse, copy or sort digits, or to write dates as
    ISO dates, then show the loss curve and the held-out exact-sequence accuracy."""
    from tutor.errors import TutorError
    from tutor.training.checkpoint import CheckpointWriteError, load_checkpoint, write_checkpoint
    from tutor.training.loop import TrainConfig, Trainer

    from .output import Output
    from .usage import usage_error

    given = {"task": task, "steps": steps, "seed": seed, "batch_size": batch_size, "lr": lr,
             "warmup": warmup, "label_smoothing": label_smoothing, "dim": dim, "heads": heads,
             "layers": layers, "ff": ff}
    resume = None
    if resume_path is not None:
        if not resume_path.strip():
            raise usage_error("--resume", "expected a checkpoint file, got an empty name")
        try:
            resume = load_checkpoint(resume_path)
        except TutorError as exc:                      # an unreadable input file: a usage error
            raise usage_error("--resume", str(exc)) from None
        if not resume.resumable:
            raise usage_error("--resume", f"{resume_path}: the file holds weights only (written "
                                          f"with --weights-only), so training cannot go on "
                                          f"from it")
        for name in _MODEL_OPTIONS:
            if given[name] is not None and given[name] != resume.config.get(_SETTINGS[name]):
                option = "--" + name.replace("_", "-")
                raise usage_error(option, f"expected no {option} with --resume (the run keeps "
                                          f"its settings: {resume.config.get(_SETTINGS[name])}), "
                                          f"got {given[name]}")
        values = dict(resume.config)
        if steps is not None:
            values["steps"] = steps
        if values["steps"] < resume.step:
            raise usage_error("--steps", f"expected at least the checkpoint's step "
                                         f"{resume.step}, got {values['steps']}")
        config = TrainConfig.from_dict(values, source=resume_path)
        output_path = output_path or resume_path
    else:
        values = {_SETTINGS[name]: value for name, value in given.items() if value is not None}
        model_dim = dim if dim is not None else TrainConfig.d_model
        model_heads = heads if heads is not None else TrainConfig.nhead
        if model_dim % model_heads:
            raise usage_error("--heads", f"expected a number that divides --dim {model_dim}"
                                         f"{'' if dim is not None else ' (the default)'}, "
                                         f"got {model_heads}")
        config = TrainConfig(**values)
        output_path = output_path or f"{config.task}.npz"
    _check_output_file(output_path, resume_path, force)
    folder = os.path.dirname(os.path.abspath(output_path))
    if not os.access(folder, os.W_OK):
        raise usage_error("--output", f"expected a file in a folder you can write to, got "
                                      f"'{output_path}'")
    output = Output(fmt)
    command = _command_line(ctx)
    if resume is not None:
        command = resumed_command(resume.command, command, config.steps)
    trainer = Trainer(config, resume=resume, command=command)
    try:
        result = _run(trainer, output, output_path)
        if weights_only and not result.interrupted:
            write_checkpoint(output_path, result.checkpoint, weights_only=True)
    except CheckpointWriteError as exc:        # the checkpoint; stdout failing is main()'s
        raise TutorError(f"--output {exc}") from None
    if result.interrupted:
        go_on = ["tutor", "train", "--resume", output_path, "--steps", str(config.steps)]
        message = _wrap(f"Stopped at step {result.checkpoint.step} of {config.steps}; the "
                        f"checkpoint is in {output_path}. Go on with:")
        click.echo(f"{message}\n  {_quote(go_on)}", err=True)
        ctx.exit(130)
    _report(output, result, config, output_path)


def _check_output_file(output_path: str, resume_path: str | None, force: bool) -> None:
    """--output must end in .npz, and must not replace a file unless that file is the
    checkpoint being resumed or --force is given: no run overwrites a file silently."""
    from .usage import quote, usage_error

    if not output_path.lower().endswith(".npz"):
        raise usage_error("--output", f"expected a file name ending in .npz, got "
                                      f"{quote(output_path, 60)}")
    if os.path.exists(output_path) and not os.path.isfile(output_path):
        import stat
        if not stat.S_ISCHR(os.stat(output_path).st_mode):
            raise usage_error("--output", f"expected a regular file (a checkpoint is read "
                                          f"back by --resume), got {quote(output_path, 60)}, "
                                          f"which is not one")
    if not os.path.lexists(output_path) or force:
        return
    if resume_path is not None and os.path.exists(resume_path) and \
            os.path.samefile(output_path, resume_path):
        return
    if _is_checkpoint(output_path):
        what = ", a checkpoint of another run; --resume it to go on with that run, or give " \
               "--force to start over in it"
    else:
        what = ", which exists and is not a tutor checkpoint; give --force to replace it"
    raise usage_error("--output", f"expected a file that does not exist yet, got "
                                  f"{quote(output_path, 60)}{what}")


def _is_checkpoint(path: str) -> bool:
    from tutor.errors import TutorError
    from tutor.training.checkpoint import load_checkpoint

    try:
        load_checkpoint(path)
    except (TutorError, OSError, ValueError):
        return False
    return True


def _run(trainer, output, output_path):
    """Train with a progress display. The first Ctrl-C says so at once and abandons the step
    under way (nothing of it is kept: see tutor.training.loop.StopNow), then the checkpoint
    is written; a second one stops without writing it."""
    import signal

    from tutor.training.loop import StopNow

    stop = {"requested": False}

    def on_interrupt(signum, frame):
        if stop["requested"]:                                          # a second Ctrl-C: now
            raise KeyboardInterrupt
        stop["requested"] = True
        click.echo(_wrap(f"Interrupted: saving the checkpoint in {output_path} (Ctrl-C again "
                         f"to quit without it)"), err=True)
        if trainer.abortable:
            raise StopNow

    try:
        previous = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:                                                 # not the main thread
        previous = None
    try:
        if output.format == "rich":
            return _run_with_bar(trainer, output, output_path, lambda: stop["requested"])
        from .progress import working

        lines = _plain_lines(output) if output.format == "plain" else None
        config = trainer.config
        # plain lines come at each evaluation; a step at the largest settings takes seconds
        with working(f"train {config.task}: step {trainer.step + 1} of {config.steps}") as status:
            def callback(progress):
                status.update(f"train {config.task}: step {progress.step} of "
                              f"{progress.total_steps}, loss {_loss(progress.loss)}")
                if lines is not None:
                    lines(progress)

            return trainer.run(checkpoint_path=output_path, callback=callback,
                               should_stop=lambda: stop["requested"])
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def fit_fields(fields: list[str], width: int, sep: str = "  ") -> str:
    """The fields (most important first) joined by ``sep``, as many as fit in ``width``
    columns: the later ones are dropped whole, never cut."""
    line = fields[0]
    for field in fields[1:]:
        if len(line) + len(sep) + len(field) > width:
            break
        line += sep + field
    return line


def _plain_lines(output):
    def callback(progress):
        if progress.evaluated:
            fields = [f"step {progress.step}/{progress.total_steps}",
                      f"loss {_loss(progress.loss)}",
                      f"held-out accuracy {_share(progress.accuracy)}",
                      f"{progress.tokens_per_second:,.0f} tokens/s",
                      f"{progress.seconds_left:.0f} s left"]
            output.print(fit_fields(fields, output.console.width), soft_wrap=True)
    return callback


BAR_MIN, BAR_MAX = 10, 40      # the progress bar's width: drawn only when 10 columns are left


def bar_layout(width: int, description: str, total: int) -> tuple[list[str], int | None]:
    """What the progress line of a ``width``-column terminal holds: the text fields after the
    step count (of "loss", "acc", "speed", "left", most important first) and the bar's width
    (None: no bar). The description and "step/total" always show; then the loss, the
    accuracy, the time left, the bar, the speed, as many as fit, each whole; the bar takes
    what is left, from BAR_MIN to BAR_MAX columns."""
    widths = {"loss": len("loss 12.3456"), "acc": len("acc 100.0%"),             # the widest
              "speed": len("100,000 tok/s"), "left": len("10:00 left")}          # usual texts
    used = len(description) + 1 + 2 * len(f"{total}") + 1              # "train reverse 12/1500"
    chosen = []
    for name in ("loss", "acc", "left", "bar", "speed"):
        need = BAR_MIN + 1 if name == "bar" else widths[name] + 2      # + the space before it
        if used + need <= width:
            chosen.append(name)
            used += need
    bar = min(BAR_MAX, BAR_MIN + width - used) if "bar" in chosen else None
    fields = [name for name in ("loss", "acc", "speed", "left") if name in chosen]
    return fields, bar


def _run_with_bar(trainer, output, output_path, should_stop):
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    description = f"train {trainer.config.task}"
    fields, bar_width = bar_layout(output.console.width, description, trainer.config.steps)
    text = {"loss": "loss {task.fields[loss]}", "acc": "acc {task.fields[acc]}",
            "speed": "{task.fields[speed]} tok/s", "left": "{task.fields[left]} left"}
    columns = [TextColumn("[bold]{task.description}")]
    if bar_width:
        columns.append(BarColumn(bar_width=bar_width))
    columns.append(MofNCompleteColumn())
    if fields:
        columns.append(TextColumn("  ".join(text[name] for name in fields)))
    with Progress(*columns, console=output.console, transient=False) as bar:
        task_id = bar.add_task(description, total=trainer.config.steps,
                               completed=trainer.step, loss="-", acc="-", speed="-", left="-")

        def callback(progress):
            acc = "-" if progress.accuracy is None else _share(progress.accuracy)
            bar.update(task_id, completed=progress.step, loss=_loss(progress.loss), acc=acc,
                       speed=f"{progress.tokens_per_second:,.0f}",
                       left=_duration(progress.seconds_left))

        return trainer.run(checkpoint_path=output_path, callback=callback,
                           should_stop=should_stop)


def _loss(value: float) -> str:
    """A loss with 4 decimals, never 0.0000 for a small non-zero one (2.0e-06 then)."""
    from tutor.render.document import format_number

    return format_number(value, 4)


def _share(value: float) -> str:
    """An accuracy as a percentage that never says 100.0% or 0.0% when it is not."""
    from tutor.render.document import percent

    return percent(value)


def _duration(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}:{seconds % 60:02d}"


def _report(output, result, config, output_path) -> None:
    import json

    import numpy as np

    checkpoint = result.checkpoint
    history = checkpoint.history
    losses = history["loss"]
    if output.format == "json":
        doc = {"task": config.task, "steps": checkpoint.step, "seed": config.seed,
               "output": output_path, "held_out_accuracy": result.accuracy,
               "held_out_sequences": config.eval_size,
               "final_loss": float(losses[-1]) if losses.size else None,   # the last step's
               "mean_loss_last_50": (float(np.mean(losses[-50:])) if losses.size  # as on screen
                                     else None),
               "kept_step": result.kept_step, "last_accuracy": result.last_accuracy,
               "seconds": round(result.total_seconds, 3),          # every run, resumed ones too
               "seconds_this_run": round(result.elapsed, 3), "command": checkpoint.command,
               "config": checkpoint.config,
               "curve": {"step": list(range(1, losses.size + 1)),
                         "loss": [float(x) for x in losses]},
               "evaluations": {"step": [int(s) for s in history["eval_step"]],
                               "accuracy": [float(a) for a in history["eval_accuracy"]]}}
        output.write_text(json.dumps(doc, indent=2))
        return
    from rich.console import Group
    from rich.panel import Panel
    from rich.text import Text

    from tutor.render.curves import loss_curve

    width = min(60, max(20, (output.console.width or 80) - 16))
    curve = Text("\n".join(loss_curve(losses, width=width)))
    final = float(np.mean(losses[-50:])) if losses.size else math.nan
    kept = ""
    if result.kept_step is not None and result.kept_step != checkpoint.step:
        kept = (f"; the weights kept are step {result.kept_step}'s, the best evaluated (the "
                f"last step's scored {_share(result.last_accuracy)})")
    time_text = _duration(result.total_seconds)
    if result.total_seconds > result.elapsed:                          # a resumed run
        time_text += f" ({_duration(result.elapsed)} in this run)"
    summary = Text.assemble(
        ("Held-out exact-sequence accuracy: ", "bold"),
        (_share(result.accuracy), "bold green" if result.accuracy >= 0.99 else "bold yellow"),
        f" of {config.eval_size} sequences never seen in training (greedy decoding){kept}\n",
        f"Loss (mean of the last {min(50, losses.size)} steps): {_loss(final)}   "
        f"steps: {checkpoint.step}   time: {time_text}\n",
        f"Saved in {output_path}")
    output.print(Group(Panel(curve, title="training loss (log scale)", expand=False), summary))
