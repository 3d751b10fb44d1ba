"""tutor.cli.progress: a slow command says what it is doing on standard error after a second
(plain lines when standard error is not a terminal), and nothing when it is quick."""

import io
import re
import time

import pytest

from tutor.cli import progress


@pytest.fixture
def quick_notice(monkeypatch):
    monkeypatch.setattr(progress, "DELAY", 0.05)
    monkeypatch.setattr(progress, "PLAIN_EVERY", 0.2)


def test_slow_work_is_said_plainly_when_not_a_terminal(quick_notice):
    stream = io.StringIO()
    with progress.working("encode: 6 layers on 4×64 vectors", stream) as status:
        time.sleep(0.15)
        status.update("encode: writing the results")
        time.sleep(0.3)
    lines = stream.getvalue().splitlines()
    assert re.fullmatch(r"encode: 6 layers on 4×64 vectors… \(\d+ s\)", lines[0]), lines
    assert re.fullmatch(r"encode: writing the results… \(\d+ s\)", lines[-1]), lines
    assert "\x1b" not in stream.getvalue()                           # plain text, no codes


def test_quick_work_says_nothing(quick_notice):
    stream = io.StringIO()
    with progress.working("encode", stream):
        pass
    time.sleep(0.1)
    assert stream.getvalue() == ""
    with progress.working("encode", stream, when=False):            # nothing asked
        time.sleep(0.1)
    assert stream.getvalue() == ""


def test_the_notice_ends_with_the_work_even_on_an_error(quick_notice):
    stream = io.StringIO()
    with pytest.raises(KeyboardInterrupt):
        with progress.working("train", stream) as status:
            time.sleep(0.1)
            raise KeyboardInterrupt
    said = stream.getvalue()
    time.sleep(0.3)
    assert stream.getvalue() == said and not status._thread.is_alive()
