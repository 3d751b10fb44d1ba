"""Saying what a slow command is doing: after a second of work, a line on standard error (a
Rich spinner with the elapsed time on a terminal; plain lines when it is not one), so that a
big input never leaves the screen silent. Standard output (the document) is untouched.

    with working("encode: 6 layers on 16×512 vectors") as status:
        ...
        status.update("encode: drawing the steps")
"""

from __future__ import annotations

import sys
import threading
import time

DELAY = 1.0          # seconds of work before anything is said
PLAIN_EVERY = 10.0   # seconds between two plain lines (not a terminal)


class Working:
    """A notice of the work under way, shown after ``DELAY`` seconds, gone when it ends.

    On a terminal (standard error is one, and NO_COLOR/TERM=dumb do not ask for plain text)
    it is a transient Rich status line: a spinner, the text and the seconds so far. Otherwise
    it is a plain line ``text… (3 s)`` at ``DELAY`` and then every ``PLAIN_EVERY`` seconds.
    A thread of its own draws it, so it shows while NumPy computes; Ctrl-C still reaches the
    main thread, and leaving the ``with`` block (normally or by an exception) removes it.
    """

    def __init__(self, text: str, stream=None):
        self.text = text
        self.stream = stream if stream is not None else sys.stderr
        self.start = time.perf_counter()
        self._done = threading.Event()
        self._lock = threading.Lock()
        self._status = None
        self._thread = threading.Thread(target=self._run, name="tutor-working", daemon=True)

    def update(self, text: str) -> None:
        """What is being done now (shown from the next refresh on)."""
        with self._lock:
            self.text = text
            if self._status is not None:
                self._status.update(self._status_text())

    def _status_text(self) -> str:
        from rich.markup import escape

        return escape(self.text)

    def _terminal(self) -> bool:
        import os

        try:
            return (self.stream.isatty() and not os.environ.get("NO_COLOR")
                    and os.environ.get("TERM") != "dumb")
        except (AttributeError, ValueError):
            return False

    def _run(self) -> None:
        if self._done.wait(DELAY):
            return
        if self._terminal():
            self._spin()
        else:
            self._plain()

    def _spin(self) -> None:
        from rich.console import Console
        from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

        console = Console(file=self.stream, stderr=True)
        progress = Progress(SpinnerColumn(), TextColumn("{task.description}"),
                            TimeElapsedColumn(), console=console, transient=True)
        with self._lock:
            if self._done.is_set():
                return
            task = progress.add_task(self._status_text(), total=None)
            progress.start()
            self._status = _Updater(progress, task)
        self._done.wait()
        with self._lock:
            progress.stop()
            self._status = None

    def _plain(self) -> None:
        while True:
            with self._lock:
                if self._done.is_set():
                    return
                seconds = time.perf_counter() - self.start
                try:
                    self.stream.write(f"{self.text}… ({seconds:.0f} s)\n")
                    self.stream.flush()
                except (OSError, ValueError):            # a closed or full standard error
                    return
            if self._done.wait(PLAIN_EVERY):
                return

    def __enter__(self) -> "Working":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._done.set()
        self._thread.join(timeout=2.0)


class _Updater:
    """Progress.update for the one task, as ``status.update(text)``."""

    def __init__(self, progress, task):
        self.progress, self.task = progress, task

    def update(self, text: str) -> None:
        self.progress.update(self.task, description=text)


def working(text: str, stream=None, *, when: bool = True):
    """A :class:`Working` notice for a ``with`` block (nothing unless ``when``)."""
    if not when:
        import contextlib

        return contextlib.nullcontext()
    return Working(text, stream)
