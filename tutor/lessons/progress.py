"""The learner's progress: one JSON file in the state directory, written atomically.

Where: ``$TUTOR_STATE_DIR`` if set, else ``$XDG_STATE_HOME/tutor``, else
``~/.local/state/tutor``; the file is ``progress.json``. Each write goes to a temporary file
in the same folder, is flushed and fsync'ed, then renamed over the old file, so an
interrupted write never leaves half a file. A file that cannot be read, or was written by
another format version, is renamed aside (``progress.json.bad-<time>``) with a warning and
the learner starts afresh; it never stops the tutor.

Format (version 1)::

    {"version": 1,
     "lessons": {"self-attention": {"done": {"intro": "seen", "q1": "answered",
                                             "q2": "revealed"},
                                    "inputs": {"mine": "my own sentence"}}},
     "last": "self-attention"}

``last`` (optional) is the lesson whose step was finished most recently: ``tutor lesson``
resumes there while it is unfinished.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from pathlib import Path

from ..errors import TutorError

VERSION = 1
FILE_NAME = "progress.json"
STATES = ("seen", "answered", "revealed")


def state_dir(environ=None) -> Path:
    environ = os.environ if environ is None else environ
    if environ.get("TUTOR_STATE_DIR"):
        return Path(environ["TUTOR_STATE_DIR"]).expanduser()
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                        "state")
    return Path(base).expanduser() / "tutor"


class Progress:
    """What the learner has done, by lesson id and step id."""

    def __init__(self, path: Path | None = None, warn=None):
        self.path = path or state_dir() / FILE_NAME
        self.warn = warn or (lambda message: None)
        self.data = {"version": VERSION, "lessons": {}}
        self._load()

    # -- reading --------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return
        except (OSError, UnicodeDecodeError) as exc:
            self._set_aside(f"it cannot be read ({getattr(exc, 'strerror', None) or exc})")
            return
        try:
            data = json.loads(text)
        except ValueError:
            self._set_aside("it is not valid JSON")
            return
        problem = _problem(data)
        if problem:
            self._set_aside(problem)
            return
        self.data = data

    def _set_aside(self, reason: str) -> None:
        aside = self.path.with_name(f"{self.path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(self.path, aside)
            where = f"moved it to {aside}"
        except OSError as exc:
            where = f"could not move it aside ({exc.strerror or exc}); it will be overwritten"
        self.warn(f"the progress file {self.path} was set aside because {reason}; {where}; "
                  f"starting afresh")

    # -- queries --------------------------------------------------------------------------
    def _lesson(self, lesson_id: str) -> dict:
        return self.data["lessons"].setdefault(lesson_id, {"done": {}, "inputs": {}})

    def state(self, lesson_id: str, step_id: str) -> str | None:
        return self.data["lessons"].get(lesson_id, {}).get("done", {}).get(step_id)

    def is_done(self, lesson_id: str, step_id: str) -> bool:
        return self.state(lesson_id, step_id) is not None

    def done_count(self, lesson) -> int:
        return sum(1 for s in lesson.steps if self.is_done(lesson.id, s.id))

    def first_unfinished(self, lesson) -> int | None:
        for i, step in enumerate(lesson.steps):
            if not self.is_done(lesson.id, step.id):
                return i
        return None

    @property
    def last_lesson(self) -> str | None:
        """The lesson whose step was finished most recently."""
        last = self.data.get("last")
        return last if isinstance(last, str) else None

    def input(self, lesson_id: str, step_id: str) -> str | None:
        return self.data["lessons"].get(lesson_id, {}).get("inputs", {}).get(step_id)

    # -- changes (each one is saved) ------------------------------------------------------
    def mark(self, lesson_id: str, step_id: str, state: str) -> None:
        if state not in STATES:
            raise ValueError(f"expected a step state in {STATES}, got {state!r}")
        self._lesson(lesson_id)["done"][step_id] = state
        self.data["last"] = lesson_id                                  # where `tutor lesson` resumes
        self.save()

    def set_input(self, lesson_id: str, step_id: str, text: str) -> None:
        self._lesson(lesson_id)["inputs"][step_id] = text
        self.save()

    def reset(self, lesson_id: str | None = None) -> None:
        """Forget one lesson, or everything."""
        if lesson_id is None:
            self.data["lessons"] = {}
            self.data.pop("last", None)
        else:
            self.data["lessons"].pop(lesson_id, None)
        self.save()

    def save(self) -> None:
        """Write atomically: temporary file in the same folder, fsync, rename. A folder that
        cannot be written is the user's error (TutorError), not a crash."""
        try:
            self._save()
        except OSError as exc:
            raise TutorError(f"cannot save lesson progress in {self.path.parent} "
                             f"({exc.strerror or exc}); set TUTOR_STATE_DIR to a folder you "
                             f"can write") from None

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=".progress-", suffix=".tmp", dir=self.path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(self.data, handle, indent=1, sort_keys=True)
                handle.write("\n")
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
        except BaseException:
            try:
                os.unlink(tmp)
            except OSError:
                pass
            raise
        try:                                                  # make the rename itself durable
            dir_fd = os.open(self.path.parent, os.O_RDONLY)
        except OSError:
            return
        try:
            os.fsync(dir_fd)
        except OSError:
            pass
        finally:
            os.close(dir_fd)


def _problem(data) -> str | None:
    """Why ``data`` is not a progress file of this version, or None."""
    if not isinstance(data, dict):
        return "it does not hold a JSON object"
    if data.get("version") != VERSION:
        return (f"it was written in format version {data.get('version')!r} and this tutor "
                f"reads version {VERSION}")
    lessons = data.get("lessons")
    if not isinstance(lessons, dict):
        return "it has no 'lessons' table"
    for lesson_id, entry in lessons.items():
        if not isinstance(entry, dict) or not isinstance(entry.get("done", {}), dict) \
                or not isinstance(entry.get("inputs", {}), dict):
            return f"its entry for {lesson_id!r} is not in the expected form"
        if any(state not in STATES for state in entry.get("done", {}).values()):
            return f"its entry for {lesson_id!r} has an unknown step state"
        if any(not isinstance(v, str) for v in entry.get("inputs", {}).values()):
            return f"its entry for {lesson_id!r} has an input that is not text"
        entry.setdefault("done", {})
        entry.setdefault("inputs", {})
    return None
