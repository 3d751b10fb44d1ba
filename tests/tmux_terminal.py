"""A real terminal for the lesson tests: `tutor lesson` in a tmux pane of 80×40, driven with
send-keys and read with capture-pane. Each Terminal has its own tmux server (its own socket),
so the tests never touch another tmux session. Used by tests/test_lesson_terminal.py and
tests/lesson_shots.py (the transcript kept for issue 16)."""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WIDTH, HEIGHT = 80, 40


def have_tmux() -> bool:
    return shutil.which("tmux") is not None


class Terminal:
    """One tmux server and pane running ``python -m tutor <args>`` from the project root."""

    def __init__(self, args: list[str], state: Path, width: int = WIDTH, height: int = HEIGHT):
        self.socket = f"tutor-test-{os.getpid()}-{time.monotonic_ns()}"
        command = " ".join(shlex.quote(a) for a in [sys.executable, "-m", "tutor", *args])
        env = f"TUTOR_STATE_DIR={shlex.quote(str(state))} PYTHONPATH={shlex.quote(str(ROOT))}"
        script = f"cd {shlex.quote(str(ROOT))} && env -u LINES -u COLUMNS {env} {command}; " \
                 f"echo __EXIT__ $?; " \
                 f"sleep 120"
        self.config = Path(tempfile.mkdtemp()) / "tmux.conf"
        self.config.write_text("set -g status off\n")                  # all 40 rows for the pane
        self.tmux("new-session", "-d", "-x", str(width), "-y", str(height), "sh", "-c", script)

    def tmux(self, *args: str) -> str:
        return subprocess.run(["tmux", "-L", self.socket, "-f", str(self.config), *args],
                              check=True, capture_output=True, text=True).stdout

    def screen(self) -> str:
        """What the pane shows now: its rows, trailing spaces cut."""
        return "\n".join(line.rstrip() for line in self.tmux("capture-pane", "-p").split("\n"))

    def history(self) -> str:
        """Everything the pane printed, scrollback included."""
        return "\n".join(line.rstrip()
                         for line in self.tmux("capture-pane", "-p", "-S", "-").split("\n"))

    def wait_for(self, text: str, timeout: float = 30.0, count: int = 1) -> str:
        """The screen once ``text`` stands on it (``count`` times); AssertionError after
        ``timeout`` seconds, with the screen."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if screen.count(text) >= count:
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{text!r} did not appear; the screen:\n{screen}")
            time.sleep(0.1)

    def wait_prompt(self, before: str = "", timeout: float = 30.0) -> str:
        """The screen once the tutor waits again: the printed history differs from
        ``before``, the last line is a prompt (it ends with ':' or ']') and it stays so for a
        moment."""
        deadline = time.monotonic() + timeout
        last = None
        while True:
            history = self.history().rstrip()
            tail = history.splitlines()[-1] if history else ""
            waiting = history != before.rstrip() and tail.endswith((":", "]"))
            if waiting and history == last:
                return self.screen()
            last = history if waiting else None
            if time.monotonic() > deadline:
                raise AssertionError(f"no prompt came; the screen:\n{self.screen()}")
            time.sleep(0.2)

    def type(self, line: str) -> None:
        """Type ``line`` and Enter."""
        if line:
            self.tmux("send-keys", "-t", "0", "-l", "--", line)        # "-0,08" is text
        self.tmux("send-keys", "-t", "0", "Enter")

    def close(self) -> None:
        subprocess.run(["tmux", "-L", self.socket, "kill-server"], capture_output=True)
        shutil.rmtree(self.config.parent, ignore_errors=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
