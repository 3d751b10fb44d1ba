"""The `tutor` group itself: start-up without heavy imports, `python -m tutor`, the error boundary."""

import subprocess
import sys

import click
from click.testing import CliRunner
import pytest

from tutor import cli as cli_module
from tutor.errors import TutorError


def run_python(code):
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)


def test_help_imports_neither_numpy_nor_rich():
    code = ("import sys\nfrom tutor.cli import main\n"
            "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
            "print(sorted(m for m in ('numpy', 'rich') if m in sys.modules), file=sys.stderr)")
    result = run_python(code)
    assert "The 2017 Transformer:" in result.stdout and "attention" in result.stdout
    assert result.stderr.strip().splitlines()[-1] == "[]"


def test_every_commands_help_imports_no_heavy_library():
    """`tutor COMMAND --help` reads only the command's declaration: no NumPy, Rich, Textual,
    tokenizers or safetensors (attention, the calculators of today's LLMs, encode and
    transformer imported NumPy through their option modules). One process: the first command
    that imports one is named."""
    code = ("import contextlib, io, sys\nfrom tutor.cli import COMMANDS, main\n"
            "for name in COMMANDS:\n"
            "    with contextlib.redirect_stdout(io.StringIO()):\n"
            "        try:\n            main([name, '--help'])\n"
            "        except SystemExit:\n            pass\n"
            "    heavy = [m for m in ('numpy', 'rich', 'textual', 'tokenizers', 'safetensors')\n"
            "             if m in sys.modules]\n"
            "    if heavy:\n        print(name, heavy)\n        break\n"
            "else:\n    print('none', len(COMMANDS))")
    result = run_python(code)
    assert result.stdout.strip() == f"none {len(cli_module.COMMANDS)}", result.stdout + result.stderr


def test_help_groups_the_commands_as_2017_and_today():
    """`tutor --help` lists the 2017 calculators, then today's parts, then the rest; every
    command in exactly one section."""
    out = CliRunner().invoke(cli_module.cli, ["--help"], env={"COLUMNS": "80"}).output
    start_2017, start_today = out.index("The 2017 Transformer:"), out.index("Today's LLMs")
    start_more = out.index("The course, real models and tools:")
    assert start_2017 < start_today < start_more
    names = lambda text: {line.split()[0] for line in text.splitlines()
                          if line.startswith("  ") and not line.startswith("   ")}
    assert names(out[start_2017:start_today]) >= {"attention", "layernorm", "posenc", "softmax",
                                                  "multihead"}
    assert names(out[start_today:start_more]) == {"rmsnorm", "rope", "gqa", "ffn", "quantize",
                                                  "flash", "bpe", "decoder-only"}
    assert set(cli_module.SECTION_OF) == set(cli_module.COMMANDS)


def test_python_dash_m_tutor_shows_help_and_version():
    result = subprocess.run([sys.executable, "-m", "tutor", "--help"], capture_output=True,
                            text=True, timeout=60)
    assert result.returncode == 0 and "Usage: tutor" in result.stdout
    version = subprocess.run([sys.executable, "-m", "tutor", "--version"], capture_output=True,
                             text=True, timeout=60)
    assert version.stdout.strip() == "tutor, version 0.1.0"


def test_unknown_command_is_a_usage_error(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["no-such-command"])
    assert exit_info.value.code == 2
    assert "No such command 'no-such-command'" in capsys.readouterr().err


@click.command()
@click.option("--kind")
def boom(kind):
    """A command that fails in the ways a real one might."""
    if kind == "tutor":
        raise TutorError("the shape (2, 3) does not fit")
    if kind == "interrupt":
        raise KeyboardInterrupt
    raise RuntimeError("a bug")


@pytest.fixture
def failing_command(monkeypatch):
    monkeypatch.setitem(cli_module.COMMANDS, "boom", (__name__, "boom", "test only"))


@pytest.mark.parametrize("kind, code, message", [
    ("tutor", 1, "Error: the shape (2, 3) does not fit\n"),
    ("interrupt", 130, "\nAborted.\n"),
    ("bug", 3, "Error: internal error (RuntimeError: a bug); rerun with TUTOR_DEBUG=1 and report it\n"),
])
def test_errors_become_one_line_and_exit_codes(failing_command, capsys, monkeypatch, kind, code, message):
    monkeypatch.delenv("TUTOR_DEBUG", raising=False)
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["boom", "--kind", kind])
    assert exit_info.value.code == code
    assert capsys.readouterr().err == message


def test_usage_errors_are_one_line(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["attention", "the cat", "--dim", "-3"])
    assert exit_info.value.code == 2
    err = capsys.readouterr().err
    assert err == "Error: Invalid value for '--dim': expected a width from 1 to 64, got -3\n"


@click.command()
@click.option("--code", type=int)
def quits(code):
    """A command that ends with ctx.exit(code)."""
    click.get_current_context().exit(code)


@pytest.mark.parametrize("code", [0, 1, 4])
def test_ctx_exit_codes_reach_the_shell(monkeypatch, code):
    monkeypatch.setitem(cli_module.COMMANDS, "quits", (__name__, "quits", "test only"))
    if code == 0:
        cli_module.main(["quits", "--code", "0"])                      # returns normally
        return
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main(["quits", "--code", str(code)])
    assert exit_info.value.code == code


def test_tutor_alone_prints_the_help_and_succeeds(capsys):
    with pytest.raises(SystemExit) as exit_info:
        cli_module.main([])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 0 and err == ""
    assert out.startswith("Usage: tutor [OPTIONS] COMMAND [ARGS]...") and "Today's LLMs" in out


@pytest.mark.parametrize("command", sorted(cli_module.COMMANDS) + [""])
def test_every_help_fits_80_columns(command):
    from click.testing import CliRunner

    args = [command, "--help"] if command else ["--help"]
    result = CliRunner().invoke(cli_module.cli, args, env={"COLUMNS": None})
    assert result.exit_code == 0, result.output
    long = [line for line in result.output.splitlines() if len(line) > 80]
    assert not long, long


@pytest.mark.parametrize("columns, width", [("30", 38), ("40", 38), ("45", 43), ("80", 78),
                                            ("200", 78)])
def test_help_width_honours_columns_down_to_40(monkeypatch, columns, width):
    from tutor.cli.help import help_width

    monkeypatch.setenv("COLUMNS", columns)
    assert help_width() == width


@pytest.mark.parametrize("command", ["attention", "train", "lesson", ""])
def test_help_wraps_to_a_narrow_columns(monkeypatch, capsys, command):
    # Click floors the width at 50 whatever COLUMNS says; tutor honours COLUMNS down to 40.
    # What Click wraps (the description, each option's text) fits 45 columns; blocks kept
    # as written (the examples, marked \b) and an option's own name are not broken
    monkeypatch.setenv("COLUMNS", "45")
    try:
        cli_module.main([command, "--help"] if command else ["--help"])
    except SystemExit as exc:
        assert exc.code in (0, None)
    lines = capsys.readouterr().out.splitlines()
    options = lines[lines.index("Options:") + 1:] if "Options:" in lines else []
    texts = [line for line in options if line.startswith(" " * 8) and line.strip()]
    assert texts and max(len(line) for line in texts) <= 45
    description = lines[2:lines.index("")] if "" in lines[2:] else []
    assert all(len(line) <= 45 for line in lines[:2] + description)


def _every_command_path():
    import importlib

    import click

    for name, (module, attr, _) in cli_module.COMMANDS.items():
        command = getattr(importlib.import_module(module), attr)
        yield [name]
        if isinstance(command, click.Group):
            for sub in command.commands:
                yield [name, sub]
    yield []


@pytest.mark.parametrize("columns", [40, 50, 60])
def test_every_help_fits_a_narrow_terminal_but_for_verbatim_command_lines(monkeypatch, capsys,
                                                                          columns):
    # What may run past the width: a verbatim command line (`tutor ...` with no description
    # beside it, or the continuation line of one ending in a backslash), since breaking it
    # would change the command. Prose (the epilog's paragraphs), the SPEC table, example rows
    # with a description and option signatures all fit.
    from tutor.cli.help import is_command_line

    monkeypatch.setenv("COLUMNS", str(columns))
    too_wide = []
    for path in _every_command_path():
        try:
            cli_module.main([*path, "--help"])
        except SystemExit as exc:
            assert exc.code in (0, None)
        lines = capsys.readouterr().out.splitlines()
        for i, line in enumerate(lines):
            if len(line) > columns and not is_command_line(line, lines[i - 1] if i else ""):
                too_wide.append((" ".join(path), line))
    assert too_wide == []


def test_help_prose_in_a_verbatim_block_is_rewrapped_only_when_it_does_not_fit():
    from tutor.cli.help import fit_verbatim

    text = "\b\nSPEC is one of:\n  random    entries drawn from --seed\n\n\b\nshort\nlines"
    assert fit_verbatim(text, 80) == text                              # fits: as written
    assert fit_verbatim(text, 24) == ("\b\nSPEC is one of:\n  random\n      entries drawn from\n"
                                      "      --seed\n\n\b\nshort\nlines")
    prose = "\b\nEvery word gets an embedding: THE, CAT and SAT keep\nthe vectors."
    assert fit_verbatim(prose, 30) == ("\b\nEvery word gets an embedding:\nTHE, CAT and SAT "
                                       "keep the\nvectors.")
    command = "\b\n  tutor attention \"the cat sat\" --wq random --seed 7"
    assert fit_verbatim(command, 30) == command                       # a command stays whole
