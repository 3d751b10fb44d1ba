"""How `tutor` behaves in real terminals and pipes, run as a separate process: colour only on
a terminal and never with NO_COLOR, narrow terminals respected, a closed pipe quiet, and
Ctrl-C at a lesson prompt saving progress and exiting 130."""

import os
import pty
import re
import select
import signal
import subprocess
import sys
import time

import pytest

TUTOR = [sys.executable, "-m", "tutor"]
COLOUR = re.compile(r"\x1b\[[0-9;]*(3[0-9]|4[0-9]|9[0-7]|10[0-7])[0-9;]*m")   # fg/bg colours


def environment(**extra):
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "COLUMNS", "TERM",
                                                          "TUTOR_DEBUG", "FORCE_COLOR")}
    env.update(TERM="xterm-256color", **extra)
    return env


def in_terminal(args, columns=80, **extra):
    """Run tutor with stdout and stdin on a pseudo-terminal of ``columns`` columns."""
    main, follower = pty.openpty()
    import fcntl
    import struct
    import termios
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", 50, columns, 0, 0))
    proc = subprocess.Popen(TUTOR + args, stdin=follower, stdout=follower, stderr=subprocess.PIPE,
                            env=environment(**extra), close_fds=True)
    os.close(follower)
    chunks = []
    while True:
        ready, _, _ = select.select([main], [], [], 30)
        if not ready:
            proc.kill()
            raise AssertionError("no output for 30 s")
        try:
            data = os.read(main, 65536)
        except OSError:                                                # the child closed it
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(main)
    return proc.returncode, b"".join(chunks).decode("utf-8"), proc.stderr.read().decode()


def visible(text):
    return re.sub(r"\x1b\[[0-9;?]*[a-zA-Z]", "", text).replace("\r", "")


def test_a_terminal_gets_colour_and_its_width_is_respected():
    code, out, err = in_terminal(["attention", "the cat sat", "--step", "5"], columns=40)
    assert code == 0, err
    assert COLOUR.search(out)
    lines = visible(out).splitlines()
    assert max(len(line) for line in lines) <= 40
    assert any("Softmax per row" in line for line in lines)


def test_no_color_means_no_colour_even_on_a_terminal():
    code, out, err = in_terminal(["attention", "the cat sat", "--step", "5"], NO_COLOR="1")
    assert code == 0, err
    assert not COLOUR.search(out)
    assert "0.42" in visible(out)


def test_a_pipe_gets_plain_text_at_80_columns():
    result = subprocess.run(TUTOR + ["attention", "the cat sat"], capture_output=True,
                            env=environment(), timeout=60)
    out = result.stdout.decode("utf-8")
    assert result.returncode == 0
    assert "\x1b" not in out
    assert max(len(line) for line in out.splitlines()) <= 80


def test_a_closed_pipe_ends_quietly():
    proc = subprocess.Popen(TUTOR + ["posenc", "--dim", "8", "--positions", "64"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=environment())
    proc.stdout.readline()                                             # like `| head -1`
    proc.stdout.close()
    proc.wait(timeout=60)
    err = proc.stderr.read().decode()
    assert "Traceback" not in err and "Error" not in err
    assert proc.returncode in (0, 1)


@pytest.mark.skipif(not hasattr(signal, "SIGINT"), reason="needs POSIX signals")
def test_ctrl_c_at_a_lesson_prompt_saves_progress_and_exits_130(tmp_path):
    proc = subprocess.Popen(TUTOR + ["lesson", "4", "--interactive"], stdin=subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            env=environment(TUTOR_STATE_DIR=str(tmp_path)))
    proc.stdin.write(b"\n")                                            # finish the first step
    proc.stdin.flush()
    progress = tmp_path / "progress.json"
    deadline = time.monotonic() + 60
    while not progress.exists() and time.monotonic() < deadline:      # saved after the step
        time.sleep(0.05)
    assert progress.exists()
    time.sleep(0.3)                                                    # now waiting at a prompt
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err.decode()
    assert b"Traceback" not in err
    assert b"'tutor lesson 4' resumes at step" in out + err
    assert '"roles": "seen"' in progress.read_text()


def widest(text):
    return max(len(line) for line in visible(text).splitlines())


@pytest.mark.parametrize("columns", [40, 120])
def test_a_pipe_follows_COLUMNS(columns):
    result = subprocess.run(TUTOR + ["attention", "the cat sat", "--step", "1"],
                            capture_output=True, env=environment(COLUMNS=str(columns)), timeout=60)
    assert result.returncode == 0, result.stderr.decode()
    assert widest(result.stdout.decode("utf-8")) == columns          # a step panel is full width


def test_a_wide_terminal_is_used_without_colour_too():
    code, out, err = in_terminal(["attention", "the cat sat", "--step", "1"], columns=120,
                                 NO_COLOR="1")
    assert code == 0, err
    assert not COLOUR.search(out)
    assert widest(out) == 120


def test_a_narrow_terminal_is_respected_without_colour():
    code, out, err = in_terminal(["attention", "the cat sat", "--step", "5"], columns=50,
                                 NO_COLOR="1")
    assert code == 0, err
    assert widest(out) == 50


def test_the_width_comes_from_COLUMNS_then_the_terminal_then_80():
    import io

    from tutor.cli.output import terminal_width

    pipe = io.StringIO()
    assert terminal_width(pipe, {}) == 80
    assert terminal_width(pipe, {"COLUMNS": "132"}) == 132
    assert terminal_width(pipe, {"COLUMNS": "wide"}) == 80
    assert terminal_width(pipe, {"COLUMNS": "5"}) == 20                 # MIN_WIDTH
    assert terminal_width(pipe, {"COLUMNS": "99999"}) == 400            # MAX_WIDTH
