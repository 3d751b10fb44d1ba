"""The learner's progress: one JSON file in the state folder, written atomically and merged.

Where
    ``$TUTOR_STATE_DIR`` if set, else this platform's user state folder as ``platformdirs``
    gives it for the app ``tutor``: ``$XDG_STATE_HOME/tutor`` or ``~/.local/state/tutor`` on
    Linux, ``~/Library/Application Support/tutor`` on macOS (recent platformdirs versions
    honour ``$XDG_STATE_HOME`` there too), ``%LOCALAPPDATA%\\tutor`` on Windows. The file is
    ``progress.json``. Earlier versions used ``$XDG_STATE_HOME/tutor`` or
    ``~/.local/state/tutor`` everywhere (:func:`legacy_state_dir`): where that differs and
    only the old file exists, it is read and copied to the new place (the old file is left
    as it was).

Writing
    Every change is saved at once. A save takes an exclusive lock (``fcntl.flock`` on the
    state folder, where the platform has it), re-reads the file, replays this process's
    changes on what it read and writes the result to a temporary file in the same folder,
    which is flushed, fsync'ed and renamed over the old one. So two lesson processes at once
    lose nothing (each one's steps end up in the file), and an interrupted write never
    leaves half a file. Without the lock (Windows, a file system without flock) the re-read
    and merge still keeps both processes' changes unless two saves overlap exactly.

    While another process holds the lock, a save waits for it (saying so, once, after
    ``WAIT_NOTICE`` seconds) up to ``LOCK_TIMEOUT`` seconds, then goes on without it. Either
    way the write never overwrites what it did not read: just before the rename, the file is
    checked to be the one that was read (its inode, size and modification time); if another
    process replaced it meanwhile, it is read again and this process's changes are replayed
    on the newer file (read-modify-write, repeated until it holds).

    A write killed before its rename leaves a hidden temporary file beside the target; the
    next save removes those older than ``files.STALE_TEMPORARY_SECONDS``.

    A file that cannot be read (not a regular file, larger than ``MAX_PROGRESS_BYTES``, not
    UTF-8 JSON, nested more than ``MAX_NESTING`` deep), or was written by another format
    version, is renamed aside (``progress.json.bad-<time>``) with a warning and the learner
    starts afresh; it never stops the tutor.

Format (version 1)::

    {"version": 1,
     "lessons": {"self-attention": {"done": {"intro": "seen", "q1": "answered",
                                             "q2": "revealed"},
                                    "inputs": {"mine": "my own sentence"},
                                    "outcomes": {"q1": {"first": "right", "last": "right"},
                                                 "q2": {"first": "missed",
                                                        "last": "missed"}}}},
     "last": "self-attention"}

``done`` holds each finished step's state; a state never goes down: "answered" beats
"revealed" beats "seen". ``last`` (optional) is the lesson whose step was finished most
recently: ``tutor lesson`` resumes there while it is unfinished.

``outcomes`` (optional, added without a version bump: older readers keep unknown keys, and
files without it read as before) records for each question whether it was answered right at
the first try ("right") or not ("missed": a wrong answer first, or the answer revealed):
``first`` is the first attempt's outcome and is never changed (it makes the lesson's score),
``last`` the latest attempt's (a question whose ``last`` is "missed" is listed for review).
A question answered in a file without a record (written before outcomes were kept) counts
as right, and is counted in :attr:`Score.assumed`; a revealed one counts as missed.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from ..errors import FileReadError, TutorError
from ..files import parse_json, read_bytes, remove_stale_temporaries
from ..limits import MAX_PROGRESS_BYTES

VERSION = 1
APP_NAME = "tutor"
FILE_NAME = "progress.json"
STATES = ("seen", "answered", "revealed")
RANK = {"seen": 0, "revealed": 1, "answered": 2}         # a step's state never goes down
OUTCOMES = ("right", "missed")
LOCK_TIMEOUT = 10.0                                       # seconds; then save unlocked
WAIT_NOTICE = 1.0                                         # seconds; then say it is waiting
MAX_MERGES = 20                                           # re-reads when the file keeps changing
TEMPORARY_PREFIX = ".progress-"                           # a save's temporary file: .progress-*.tmp
_ENVIRON_LOCK = threading.Lock()


# --- where ----------------------------------------------------------------------------------

def state_dir(environ=None) -> Path:
    """The folder of the progress file: ``$TUTOR_STATE_DIR``, else the platform's user state
    folder for ``tutor`` (platformdirs ``user_state_dir``).

    ``environ`` (tests) is read instead of ``os.environ`` for ``TUTOR_STATE_DIR`` and
    ``XDG_STATE_HOME``.
    """
    environ = os.environ if environ is None else environ
    if environ.get("TUTOR_STATE_DIR"):
        return Path(environ["TUTOR_STATE_DIR"]).expanduser()
    return _platform_state_dir(environ)


def _platform_state_dir(environ) -> Path:
    import platformdirs

    if environ is os.environ:
        return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
    with _ENVIRON_LOCK:                      # platformdirs reads os.environ; lend it ours
        saved = os.environ.get("XDG_STATE_HOME")
        try:
            if environ.get("XDG_STATE_HOME"):
                os.environ["XDG_STATE_HOME"] = environ["XDG_STATE_HOME"]
            else:
                os.environ.pop("XDG_STATE_HOME", None)
            return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))
        finally:
            if saved is None:
                os.environ.pop("XDG_STATE_HOME", None)
            else:
                os.environ["XDG_STATE_HOME"] = saved


def legacy_state_dir(environ=None) -> Path:
    """Where versions before platformdirs kept progress, on every platform:
    ``$XDG_STATE_HOME/tutor``, else ``~/.local/state/tutor``. Read to find old files only."""
    environ = os.environ if environ is None else environ
    base = environ.get("XDG_STATE_HOME") or os.path.join(os.path.expanduser("~"), ".local",
                                                        "state")
    return Path(base).expanduser() / APP_NAME


def default_paths(environ=None) -> tuple[Path, Path | None]:
    """(the progress file, the old-location file to read if the first is missing, or None)."""
    environ = os.environ if environ is None else environ
    path = state_dir(environ) / FILE_NAME
    if environ.get("TUTOR_STATE_DIR"):
        return path, None
    legacy = legacy_state_dir(environ) / FILE_NAME
    return path, (None if _same_path(legacy, path) else legacy)


def _same_path(a: Path, b: Path) -> bool:
    return os.path.normcase(os.path.abspath(a)) == os.path.normcase(os.path.abspath(b))


# --- scores ---------------------------------------------------------------------------------

@dataclass(frozen=True)
class Score:
    """A lesson's questions by their first attempt."""

    right: int          # answered right at the first try
    missed: int         # a wrong answer first, or the answer revealed
    unanswered: int     # not reached yet
    assumed: int = 0    # of ``right``: answered before first tries were recorded

    @property
    def total(self) -> int:
        return self.right + self.missed + self.unanswered

    @property
    def complete(self) -> bool:
        return self.unanswered == 0

    def __str__(self) -> str:
        return f"{self.right} of {self.total} right at the first try"


# --- the file -------------------------------------------------------------------------------

class Progress:
    """What the learner has done, by lesson id and step id.

    ``path`` defaults to :func:`default_paths`; ``legacy`` is a file read (and copied to
    ``path``) when ``path`` does not exist, None for none. ``warn(message)`` receives
    one-line warnings (a file set aside, a file copied from the old location).
    """

    def __init__(self, path: Path | None = None, warn=None, *, legacy: Path | None = None):
        if path is None:
            path, default_legacy = default_paths()
            legacy = default_legacy if legacy is None else legacy
        self.path = Path(path)
        self.legacy = Path(legacy) if legacy is not None else None
        self.warn = warn or (lambda message: None)
        self.data = {"version": VERSION, "lessons": {}}
        self._pending: list = []                 # changes not yet saved, replayed on save
        self._load()

    # -- reading --------------------------------------------------------------------------
    def _load(self) -> None:
        data = self._read(self.path)
        if data is not None:
            self.data = data
            return
        if self.legacy is None or self.path.exists() or not self.legacy.exists():
            return
        data = self._read(self.legacy, set_aside=False)
        if data is None:
            return
        self.data = data
        try:
            self.save()
        except TutorError:
            return                               # keep reading the old file; a change will say
        self.warn(f"copied your lesson progress from {self.legacy} to {self.path} (this "
                  f"platform's place for it); the old file is left as it was")

    def _read(self, path: Path, set_aside: bool = True) -> dict | None:
        """The progress in ``path``, or None when there is none or it is unusable (set
        aside with a warning, or only a warning when ``set_aside`` is False)."""
        try:
            raw = read_bytes(path, MAX_PROGRESS_BYTES, "a progress file")
        except FileNotFoundError:
            return None
        except FileReadError as exc:
            text = str(exc)
            reason = text[len(f"{path}: "):] if text.startswith(f"{path}: ") else text
            reason = f"it cannot be read ({reason})"
        else:
            try:
                data = parse_json(raw, FILE_NAME)
            except FileReadError as exc:
                reason = f"it is {str(exc)[len(FILE_NAME) + 2:]}"         # not valid JSON (...)
            else:
                reason = _problem(data)
                if reason is None:
                    return data
        if set_aside:
            self._set_aside(path, reason)
        else:
            self.warn(f"the progress file {path} was not read because {reason}")
        return None

    def _set_aside(self, path: Path, reason: str) -> None:
        aside = path.with_name(f"{path.name}.bad-{time.strftime('%Y%m%d-%H%M%S')}")
        try:
            os.replace(path, aside)
            where = f"moved it to {aside}"
        except OSError as exc:
            where = f"could not move it aside ({exc.strerror or exc}); it will be overwritten"
        self.warn(f"the progress file {path} was set aside because {reason}; {where}; "
                  f"starting afresh")

    # -- queries --------------------------------------------------------------------------
    def _entry(self, lesson_id: str) -> dict:
        return self.data["lessons"].get(lesson_id, {})

    def state(self, lesson_id: str, step_id: str) -> str | None:
        return self._entry(lesson_id).get("done", {}).get(step_id)

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
        return self._entry(lesson_id).get("inputs", {}).get(step_id)

    def outcome(self, lesson_id: str, step_id: str) -> tuple[str, str] | None:
        """(first, last) outcome of a question, each "right" or "missed"; None when it was
        not answered. For a question finished before outcomes were kept it follows from
        the state: answered -> right, revealed -> missed."""
        record = self._entry(lesson_id).get("outcomes", {}).get(step_id)
        if record:
            return record["first"], record["last"]
        derived = _from_state(self.state(lesson_id, step_id))
        return (derived, derived) if derived else None

    def score(self, lesson) -> Score:
        """The lesson's questions counted by their first attempt (see :class:`Score`)."""
        right = missed = unanswered = assumed = 0
        for step in _questions(lesson):
            outcome = self.outcome(lesson.id, step.id)
            if outcome is None:
                unanswered += 1
            elif outcome[0] == "right":
                right += 1
                recorded = self._entry(lesson.id).get("outcomes", {}).get(step.id)
                assumed += recorded is None
            else:
                missed += 1
        return Score(right, missed, unanswered, assumed)

    def missed_questions(self, lesson) -> list:
        """The lesson's questions to review, in lesson order: those whose latest attempt was
        missed (a wrong answer first, or revealed). Answering one right at the first try
        (``mark(..., "answered", first_try=True)``) takes it off the list; the score keeps
        its first attempt."""
        return [step for step in _questions(lesson)
                if (self.outcome(lesson.id, step.id) or ("", ""))[1] == "missed"]

    # -- changes (each one is saved) ------------------------------------------------------
    def mark(self, lesson_id: str, step_id: str, state: str, *,
             first_try: bool | None = None) -> None:
        """Record a finished step. The stored state never goes down (answered > revealed >
        seen). For a question, ``first_try`` says whether this attempt was right with no
        wrong answer before it; "revealed" is always a miss; "answered" with
        ``first_try=None`` records no outcome (as before scores were kept).
        Raises ValueError for an unknown state or a ``first_try`` that contradicts it."""
        if state not in STATES:
            raise ValueError(f"expected a step state in {STATES}, got {state!r}")
        if first_try is not None and state == "seen":
            raise ValueError("expected first_try only for a question (answered or revealed)")
        if first_try and state == "revealed":
            raise ValueError("expected first_try=False or None for a revealed answer")
        outcome = ("missed" if state == "revealed" else
                   None if first_try is None else "right" if first_try else "missed")

        def change(data: dict) -> None:
            entry = _lesson_entry(data, lesson_id)
            done = entry["done"]
            before = done.get(step_id)
            if outcome is not None:
                outcomes = entry.setdefault("outcomes", {})
                first = (outcomes.get(step_id, {}).get("first") or _from_state(before)
                         or outcome)
                outcomes[step_id] = {"first": first, "last": outcome}
            if before is None or RANK[state] > RANK[before]:
                done[step_id] = state
            data["last"] = lesson_id                           # where `tutor lesson` resumes

        self._change(change)

    def set_input(self, lesson_id: str, step_id: str, text: str) -> None:
        def change(data: dict) -> None:
            _lesson_entry(data, lesson_id)["inputs"][step_id] = text

        self._change(change)

    def reset(self, lesson_id: str | None = None) -> None:
        """Forget one lesson, or everything."""
        def change(data: dict) -> None:
            if lesson_id is None:
                data["lessons"] = {}
                data.pop("last", None)
            else:
                data["lessons"].pop(lesson_id, None)

        self._change(change)

    def _change(self, change) -> None:
        change(self.data)                        # every change is idempotent: replayed on save
        self._pending.append(change)
        self.save()

    def save(self) -> None:
        """Lock, re-read, replay this process's changes, write atomically. A folder that
        cannot be written is the user's error (TutorError), not a crash."""
        try:
            self._save()
        except OSError as exc:
            raise TutorError(f"cannot save lesson progress in {self.path.parent} "
                             f"({exc.strerror or exc}); set TUTOR_STATE_DIR to a folder you "
                             f"can write") from None

    def _save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        waiting = (lambda: self.warn(f"waiting for another tutor process that is saving "
                                     f"lesson progress in {self.path.parent} ..."))
        with _locked(self.path.parent, waiting):
            remove_stale_temporaries(self.path.parent, TEMPORARY_PREFIX)
            for attempt in range(MAX_MERGES):
                seen = _identity(self.path) if attempt < MAX_MERGES - 1 else "any"
                merged = self._read(self.path)
                if merged is None:               # no file (yet): what this process knows
                    merged = self.data
                else:
                    for change in self._pending:
                        change(merged)
                if _write_atomically(self.path, merged, unless_changed_from=seen):
                    break
        self.data = merged
        self._pending.clear()


def _identity(path: Path) -> tuple | None:
    """What tells one version of the file from the next: every save renames a new file (a new
    inode) over it. None when there is no file."""
    try:
        info = os.stat(path)
    except OSError:
        return None
    return info.st_ino, info.st_size, info.st_mtime_ns


def _lesson_entry(data: dict, lesson_id: str) -> dict:
    entry = data["lessons"].setdefault(lesson_id, {})
    entry.setdefault("done", {})
    entry.setdefault("inputs", {})
    return entry


def _from_state(state: str | None) -> str | None:
    return {"answered": "right", "revealed": "missed"}.get(state)


def _questions(lesson) -> list:
    questions = getattr(lesson, "questions", None)
    if questions is None:
        questions = [s for s in lesson.steps if s.kind in ("number", "choice")]
    return list(questions)


@contextmanager
def _locked(folder: Path, waiting=None):
    """Hold an exclusive flock on ``folder`` (released when its descriptor closes). Without
    fcntl, a folder that cannot be opened or locked, or after LOCK_TIMEOUT seconds, go on
    without it: the re-read and merge still keep other processes' changes. ``waiting()`` is
    called once when the lock is still held by another process after WAIT_NOTICE seconds."""
    try:
        import fcntl
    except ImportError:                                     # Windows
        fcntl = None
    fd = None
    if fcntl is not None:
        try:
            fd = os.open(folder, os.O_RDONLY)
        except OSError:
            fd = None
    try:
        if fd is not None:
            start = time.monotonic()
            told = waiting is None
            while True:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except BlockingIOError:
                    waited = time.monotonic() - start
                    if waited > LOCK_TIMEOUT:
                        break
                    if not told and waited > WAIT_NOTICE:
                        told = True
                        waiting()
                    time.sleep(0.005)
                except OSError:                             # no flock here (some NFS)
                    break
        yield
    finally:
        if fd is not None:
            os.close(fd)


def _write_atomically(path: Path, data: dict, *, unless_changed_from="any") -> bool:
    """Write ``data`` to a temporary file beside ``path``, then rename it over ``path``;
    with ``unless_changed_from`` (an :func:`_identity`), only if the file is still that one
    just before the rename. Returns whether it was written (False: another process replaced
    the file since it was read; read it again)."""
    fd, tmp = tempfile.mkstemp(prefix=TEMPORARY_PREFIX, suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=1, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        if unless_changed_from != "any" and _identity(path) != unless_changed_from:
            os.unlink(tmp)
            return False
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:                                                  # make the rename itself durable
        dir_fd = os.open(path.parent, os.O_RDONLY)
    except OSError:
        return True
    try:
        os.fsync(dir_fd)
    except OSError:
        pass
    finally:
        os.close(dir_fd)
    return True


def _problem(data) -> str | None:
    """Why ``data`` is not a progress file of this version, or None (then ``data`` has been
    completed with the tables a lesson entry always has)."""
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
                or not isinstance(entry.get("inputs", {}), dict) \
                or not isinstance(entry.get("outcomes", {}), dict):
            return f"its entry for {lesson_id!r} is not in the expected form"
        if any(state not in STATES for state in entry.get("done", {}).values()):
            return f"its entry for {lesson_id!r} has an unknown step state"
        if any(not isinstance(v, str) for v in entry.get("inputs", {}).values()):
            return f"its entry for {lesson_id!r} has an input that is not text"
        if any(not isinstance(r, dict) or r.get("first") not in OUTCOMES
               or r.get("last") not in OUTCOMES for r in entry.get("outcomes", {}).values()):
            return f"its entry for {lesson_id!r} has an unknown question outcome"
        entry.setdefault("done", {})
        entry.setdefault("inputs", {})
    return None
