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

from cli_helpers import tutor_batch
from tutor.cli import COMMANDS
from tutor.cli.usage import TEXT, quote

ROOT = Path(__file__).resolve().parent.parent
BAD = b"\xff\xfe bad"
CLEAR = b"\x1b[2J\x1b[Hthe cat"


def environment(env=None):
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "80",
               "TUTOR_STATE_DIR": os.environ.get("TUTOR_STATE_DIR", "/nonexistent-tutor-state")}
    environ.pop("TUTOR_DEBUG", None)
    environ.update(env or {})
    return environ


def tutor(*args, env=None, stdin=subprocess.DEVNULL, stderr=subprocess.PIPE):
    """`python -m tutor ARGS` (bytes allowed) in a real process; (code, stdout, stderr) as bytes."""
    environ = environment(env)
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
    "bpe": ["bpe", BAD], "decoder-only": ["decoder-only", BAD],
}


ESCAPED = {"attention": ["attention", CLEAR], "heads": ["heads", CLEAR]}
ERROR_WITH_ESCAPE = ["attention", "the cat", "--wq", "w\x1b[2J.json"]
COMPARE = ["posenc", "--compare", b"\xff\xfe a", b"a \xff\xfe"]
ECHOED = [
    (["softmax", "1000001"], "got 1000001 in row 1, column 1"),
    (["backward", "a b", "--lr", "1000001"], "got 1000001"),
    (["backward", "a b", "--lr", "1000000.5"], "got 1000000.5"),
    (["attention", "a b", "--embed", "ZEBRA=1,2"], "got 'ZEBRA'"),
    (["scaling", "--dk", b"\xff\xfe"], r"got '\xff\xfe'"),
    (["generate", "1 2", "--model", b"\xff\xfe"], r"no model named '\xff\xfe'"),
    (["lesson", "1", "--answer", "q-cat-sat=" + "9" * 5000], "got '" + "9" * 39 + "…' for q-cat-sat"),
]
BATCHED = [*SENTENCE_LINES.values(), *ESCAPED.values(), ERROR_WITH_ESCAPE, COMPARE,
           *(args for args, _ in ECHOED)]


@pytest.fixture(scope="module")
def batched():
    """`tutor ARGS` for every command line of BATCHED, in one real process (the environment
    of ``tutor``, standard input /dev/null): looked up by its arguments; (code, out, err)."""
    results = tutor_batch(BATCHED, environment())
    return lambda *args: results[BATCHED.index(list(args))]


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


# the plain-str parameters that are not text a user writes: files, numbers, names looked up
NOT_TEXT = {"model_name", "model", "svg_path", "html_path", "lesson_key", "step_key", "answers",
            "numbers", "vector", "gamma", "beta", "sublayer", "gain", "query", "key", "values",
            "tensor", "weights", "save_weights", "output_path", "resume_path", "dk_args",
            "dk_options"}


def _all_commands():
    for name in COMMANDS:
        stack = [(name, command_object(name))]
        while stack:
            full, command = stack.pop()
            if isinstance(command, click.Group):
                stack.extend((f"{full} {sub}", c) for sub, c in command.commands.items())
            else:
                yield full, command


def test_no_command_takes_plain_str_text():
    # every parameter of every command (subcommands too) that is a plain str must be a file,
    # numbers or a name looked up (NOT_TEXT); a new text option (posenc --compare was one)
    # fails here until it is declared usage.TEXT or classified
    plain = sorted({(full, p.name) for full, command in _all_commands() for p in command.params
                    if type(p.type) is click.types.StringParamType and p.name not in NOT_TEXT})
    assert plain == []
    posenc = {p.name: p for p in command_object("posenc").params}
    assert posenc["compare"].type is TEXT


def test_posenc_compare_is_checked_as_text(batched):
    code, out, err = batched(*COMPARE)
    assert code == 2 and err.decode() == (
        "Error: Invalid value for '--compare': expected text in UTF-8, got '\\xff\\xfe a', "
        "which holds bytes that are not UTF-8\n")


@pytest.mark.parametrize("name", sorted(SENTENCE_LINES))
def test_a_sentence_that_is_not_utf8_is_one_usage_error_naming_it(batched, name):
    code, out, err = batched(*SENTENCE_LINES[name])
    lines = err.decode("utf-8", "backslashreplace").splitlines()
    assert code == 2, lines
    assert len(lines) == 1 and lines[0].startswith("Error: Invalid value for ")
    option = {"context": "'SENTENCE_A'", "generate": "'SOURCE'", "posenc": "'--sentence'",
              "transformer": "'--src'"}.get(name, "SENTENCE")
    assert option in lines[0]
    assert lines[0].endswith(r"expected text in UTF-8, got '\xff\xfe bad', which holds bytes "
                             r"that are not UTF-8")


@pytest.mark.parametrize("name", sorted(ESCAPED))
def test_a_sentence_with_an_escape_sequence_never_reaches_the_terminal(batched, name):
    code, out, err = batched(*ESCAPED[name])
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


def test_an_error_message_is_printed_with_its_control_characters_escaped(batched):
    # any error line, not only quoted input: a file name holding an escape sequence
    code, out, err = batched(*ERROR_WITH_ESCAPE)
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
        "Error: confirmation needs an answer (y or n), and standard input ended without one: "
        "pass --yes to confirm without asking"]
    assert out.endswith(b"[y/N]: \n") and b"Aborted" not in err
    code, out, err = tutor("lesson", "reset", "10", "--yes", env=env)
    assert code == 0 and b"forgotten" in out


def test_lesson_reset_with_a_full_standard_error_keeps_exit_2(tmp_path):
    with open("/dev/full", "wb") as full:
        code, _, _ = tutor("lesson", "reset", "1", env={"TUTOR_STATE_DIR": str(tmp_path)},
                           stderr=full)
    assert code == 2


def test_lesson_reset_piped_an_answer_that_is_not_y_or_n_says_so(tmp_path):
    result = subprocess.run([sys.executable, "-m", "tutor", "lesson", "reset", "4"],
                            input=b"MayBe\n", capture_output=True, timeout=60,
                            env={**os.environ, "PYTHONPATH": str(ROOT),
                                 "TUTOR_STATE_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert result.stderr.decode() == ("Error: confirmation expected y or n as the answer, got "
                                      "'MayBe': pass --yes to confirm without asking\n")


def _on_a_terminal(args, keys, tmp_path, columns=80):
    """`tutor ARGS` on a pseudo-terminal of ``columns`` columns, typing ``keys`` (bytes, each
    item after the previous output settles); (exit code, everything it printed)."""
    import pty
    import select
    import time

    env = {**os.environ, "PYTHONPATH": str(ROOT), "TUTOR_STATE_DIR": str(tmp_path),
           "COLUMNS": str(columns), "NO_COLOR": "1", "TERM": "dumb"}
    env.pop("TUTOR_DEBUG", None)
    pid, fd = pty.fork()
    if pid == 0:                                                       # the child: tutor
        os.execve(sys.executable, [sys.executable, "-m", "tutor", *args], env)
    seen = b""

    def drain(seconds):
        nonlocal seen
        end = time.time() + seconds
        while time.time() < end:
            ready, _, _ = select.select([fd], [], [], 0.1)
            if ready:
                try:
                    chunk = os.read(fd, 65536)
                except OSError:
                    return
                if not chunk:
                    return
                seen += chunk
    for key in keys:
        before = len(seen)
        for _ in range(100):                                           # wait for a prompt
            drain(0.2)
            if len(seen) > before and seen.rstrip().endswith(b":"):
                break
        os.write(fd, key)
    drain(3)
    _, status = os.waitpid(pid, 0)
    os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode("utf-8", "replace")


def test_lesson_reset_on_a_terminal_ctrl_d_is_an_error_and_a_bad_answer_is_asked_again(tmp_path):
    code, shown = _on_a_terminal(["lesson", "reset", "4"], [b"\x04"], tmp_path)
    assert code == 2, shown
    assert "Error: confirmation needs an answer (y or n)" in shown and "Aborted" not in shown
    code, shown = _on_a_terminal(["lesson", "reset", "4"], [b"maybe\n", b"n\n"], tmp_path)
    assert code == 0, shown
    assert "Please answer y or n (got 'maybe')." in shown and "Nothing changed." in shown


def test_the_lesson_reset_prompt_wraps_between_words_at_the_terminal_width(tmp_path):
    code, shown = _on_a_terminal(["lesson", "reset", "4"], [b"n\n"], tmp_path, columns=60)
    lines = shown.replace("\r", "").splitlines()
    assert lines[:2] == ["Forget your progress in lesson 4 (Self-attention with",
                         "queries, keys and values)? [y/N]: n"]


# --- a closed standard input (`<&-`) is read as an empty one (`< /dev/null`) ----------------

def _closed_stdin(*args, env=None):
    environ = {**os.environ, "PYTHONPATH": str(ROOT), "NO_COLOR": "1", "COLUMNS": "80",
               **(env or {})}
    environ.pop("TUTOR_DEBUG", None)
    result = subprocess.run([sys.executable, "-m", "tutor", *args], capture_output=True,
                            env=environ, timeout=120, preexec_fn=lambda: os.close(0))
    return result.returncode, result.stdout, result.stderr


@pytest.mark.parametrize("args, code", [
    (["lesson"], 0), (["lesson", "4"], 0), (["lesson", "4", "--interactive"], 0),
    (["lesson", "reset", "4"], 2), (["attention", "a", "--pause"], 0),
    (["generate", "3 1", "--pause"], 0), (["backward", "a b", "--pause"], 0),
    (["multihead", "a b", "--pause"], 0),
])
def test_a_closed_standard_input_is_no_terminal_and_no_input(tmp_path, args, code):
    got, out, err = _closed_stdin(*args, env={"TUTOR_STATE_DIR": str(tmp_path)})
    assert got == code, err
    assert b"internal error" not in err
    if code == 2:
        assert err.startswith(b"Error: confirmation needs an answer")


# --- answers typed in an encoding that cannot hold them --------------------------------------

@pytest.mark.parametrize("encoding, typed, echoed", [
    ("ascii", "é\n".encode(), r"got '\xc3\xa9'"),
    ("utf-16", "é\n".encode(), "got 'é'"),
    ("ascii", b"ABC\n", "got 'ABC'"),                                # case kept
])
def test_an_answer_the_input_encoding_cannot_decode_is_echoed_escaped(tmp_path, encoding, typed,
                                                                      echoed):
    result = subprocess.run([sys.executable, "-m", "tutor", "lesson", "4", "--interactive",
                             "--step", "q-the-sat"], input=typed + b"q\n", capture_output=True,
                            timeout=120, env={**os.environ, "PYTHONPATH": str(ROOT),
                                              "PYTHONIOENCODING": encoding, "NO_COLOR": "1",
                                              "TUTOR_STATE_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    shown = result.stdout.decode(encoding, "replace") if encoding != "utf-16" else \
        result.stdout.decode("utf-16", "replace")
    assert "Expected a number such as 0.42 or a fraction such as 3/7, " + echoed in shown


# --- the command line under the C locale ----------------------------------------------------

def test_valid_utf8_arguments_pass_under_the_c_locale():
    env = {"LC_ALL": "C", "PYTHONUTF8": "0", "PYTHONCOERCECLOCALE": "0"}
    code, out, err = tutor("attention", "café", "--step", "1", env=env)
    assert code == 0, err
    code, out, err = tutor("attention", b"caf\xff", env=env)
    assert code == 2 and err.endswith(b"got 'caf\\xff', which holds bytes that are not UTF-8\n")


# --- numbers and words echoed as typed -------------------------------------------------------

@pytest.mark.parametrize("args, tail", ECHOED)
def test_echoed_input_is_as_typed_escaped_and_cut(batched, args, tail):
    code, out, err = batched(*args)
    assert code == 2, err
    assert tail in err.decode(), err
def test_a_cache_folder_name_with_an_escape_sequence_is_listed_escaped(tmp_path):
    import shutil

    snapshot = tmp_path / "hub" / "models--org--x\x1b[2Jy" / "snapshots" / "abc"
    shutil.copytree(ROOT / "tests" / "data" / "hf_tiny_bert", snapshot)
    code, out, err = tutor("models", "--format", "plain",
                           env={"HF_HUB_CACHE": str(tmp_path / "hub")})
    assert code == 0, err
    assert b"\x1b" not in out and b"org/x\\x1b[2Jy: " in out
