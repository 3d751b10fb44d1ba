"""What a user hands the commands as text, in a real process: a sentence with bytes that are
not UTF-8 or with control characters is one usage error naming the argument in every command
that takes one (tutor.cli.usage.Text); echoed input is escaped and cut (usage.quote); an
output that cannot show tutor's symbols gets ASCII stand-ins (tutor.cli.encoding); a
standard error that cannot be written changes no exit code; `explore` and `lesson reset`
without a terminal say what they need."""

import importlib
import os
import subprocess
import sys
from pathlib import Path

import click
import pytest

from tutor.cli import COMMANDS
from tutor.cli.usage import TEXT, quote

ROOT = Path(__file__).resolve().parent.parent
BAD = b"\xff\xfe bad"
CLEAR = b"\x1b[2J\x1b[Hthe cat"


def tutor(*args, env=None, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE):
    """`python -m tutor ARGS` (bytes allowed) in a real process; (code, stdout, stderr) as bytes."""
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "80",
               "TUTOR_STATE_DIR": os.environ.get("TUTOR_STATE_DIR", "/nonexistent-tutor-state")}
    environ.pop("TUTOR_DEBUG", None)
    environ.update(env or {})
    result = subprocess.run([sys.executable, "-m", "tutor", *args], stdin=stdin,
                            capture_output=stderr is subprocess.PIPE,
                            stderr=None if stderr is subprocess.PIPE else stderr,
                            env=environ, timeout=120)
    return result.returncode, result.stdout, result.stderr


def command_object(name):
    module, attr, _ = COMMANDS[name]
    return getattr(importlib.import_module(module), attr)


# every command's sentence: where it goes on the command line, with what else it needs
SENTENCE_LINES = {
    "attention": ["attention", BAD], "multihead": ["multihead", BAD],
    "encode": ["encode", BAD], "backward": ["backward", BAD], "heads": ["heads", BAD],
    "context": ["context", BAD, "the bank", "--word", "bank"],
    "generate": ["generate", BAD], "explore": ["explore", BAD],
    "posenc": ["posenc", "--sentence", BAD], "transformer": ["transformer", "--src", BAD,
                                                            "--tgt", "a"],
    "rope": ["rope", BAD], "gqa": ["gqa", BAD], "ffn": ["ffn", BAD], "flash": ["flash", BAD],
}


def test_every_sentence_parameter_of_every_command_is_declared_as_text():
    # a command added later with a plain str sentence would slip past the check: the test
    # finds the sentence parameters by name, over all commands
    sentences = {}
    for name in COMMANDS:
        for param in command_object(name).params:
            if any(word in param.name for word in ("sentence", "source", "src", "tgt", "word",
                                                   "control")) and param.name not in (
                    "src_vectors", "tgt_vectors"):
                sentences.setdefault(name, []).append(param.name)
                assert param.type is TEXT, (name, param.name)
    assert set(sentences) == set(SENTENCE_LINES)


@pytest.mark.parametrize("name", sorted(SENTENCE_LINES))
def test_a_sentence_that_is_not_utf8_is_one_usage_error_naming_it(name):
    code, out, err = tutor(*SENTENCE_LINES[name])
    lines = err.decode("utf-8", "backslashreplace").splitlines()
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("Error: Invalid value for ")
    option = {"context": "'SENTENCE_A'", "generate": "'SOURCE'", "posenc": "'--sentence'",
              "transformer": "'--src'"}.get(name, "SENTENCE")
    assert option in lines[0]
    assert lines[0].endswith(r"expected text in UTF-8, got '\xff\xfe bad', which holds bytes "
                             r"that are not UTF-8")


@pytest.mark.parametrize("name", ["attention", "heads"])
def test_a_sentence_with_an_escape_sequence_never_reaches_the_terminal(name):
    code, out, err = tutor(name, CLEAR)
    assert code == 2 and b"\x1b" not in out + err
    assert err.decode() == (r"Error: Invalid value for 'SENTENCE': expected text without "
                            r"control characters, got '\x1b[2J\x1b[Hthe cat'" + "\n")


def test_echoed_input_is_escaped_cut_at_40_and_keeps_its_case():
    assert quote("The Cat") == "'The Cat'"
    assert quote("\x1b[2J" + "A" * 60) == "'\\x1b[2J" + "A" * 32 + "…'"   # 40 characters
    assert len(quote("x" * 100)) == 40 + 2
    assert quote("a\tb\nc\r\x07") == r"'a\tb\nc\r\x07'"
    assert quote("caf\udcc3") == r"'caf\xc3'"                          # an undecodable byte
    assert quote("café √") == "'café √'"                               # printable: as it is


def test_an_error_message_is_printed_with_its_control_characters_escaped():
    # any error line, not only quoted input: a file name holding an escape sequence
    code, out, err = tutor("attention", "the cat", "--wq", "w\x1b[2J.json")
    assert code == 2 and b"\x1b" not in err and b"\\x1b[2J" in err


def test_a_standard_error_that_cannot_be_written_keeps_the_usage_exit_code():
    with open("/dev/full", "wb") as full:
        code, _, _ = tutor("attention", "x", "--heads", "99", stderr=full)
    assert code == 2
    with open("/dev/full", "wb") as full:
        code, _, _ = tutor("attention", BAD, stderr=full)
    assert code == 2


def test_explore_without_a_terminal_is_a_usage_error_not_a_hang():
    code, out, err = tutor("explore", "the cat", stdin=subprocess.PIPE)
    assert code == 2 and out == b"" and b"\x1b" not in err
    assert err.decode() == ("Error: tutor explore is full-screen and needs a terminal; "
                            "standard input and output are not terminals (use tutor attention "
                            "for printed output)\n")
    code, out, err = tutor("explore", "--model", "reverse", "123")
    assert code == 2 and b"needs a terminal" in err and out == b""


def test_lesson_reset_without_an_answer_names_yes(tmp_path):
    env = {"TUTOR_STATE_DIR": str(tmp_path)}
    code, out, err = tutor("lesson", "reset", "10", env=env)
    assert code == 2
    assert err.decode().splitlines() == [
        "", "Error: confirmation needs an answer on a terminal, and standard input ended "
            "without one: pass --yes to confirm without asking"]
    assert b"Aborted" not in err
    code, out, err = tutor("lesson", "reset", "10", "--yes", env=env)
    assert code == 0 and b"forgotten" in out


def test_a_cache_folder_name_with_an_escape_sequence_is_listed_escaped(tmp_path):
    import shutil

    snapshot = tmp_path / "hub" / "models--org--x\x1b[2Jy" / "snapshots" / "abc"
    shutil.copytree(ROOT / "tests" / "data" / "hf_tiny_bert", snapshot)
    code, out, err = tutor("models", "--format", "plain",
                           env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert code == 0, err
    assert b"\x1b" not in out and b"org/x\\x1b[2Jy: " in out
