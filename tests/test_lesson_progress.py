"""Progress: the platform's state folder (platformdirs) and the old location, progress files of
the nine-lesson course, saves that merge (two processes at once lose nothing), states that
never go down, and scores with the questions missed."""

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

import platformdirs
import pytest

from tutor.lessons import progress as progress_module
from tutor.lessons.course import load_course
from tutor.lessons.progress import (Progress, Score, default_paths, legacy_state_dir,
                                    state_dir)

ROOT = Path(__file__).resolve().parents[1]
# Written by the nine-lesson tutor's own Progress class (tutor/lessons/progress.py at commit
# d281f2c; format version 1, before outcomes were kept): every step of lessons 1-8 marked in
# order (a question at a step index divisible by 3 revealed, the others answered; the
# sentence "my dog barked loudly" for self-attention's own-sentence step), and the first
# three steps of lesson 9.
NINE = Path(__file__).parent / "data" / "progress-v1-nine-lessons.json"


def lesson_of(lesson_id, step_ids):
    """A stand-in lesson: steps whose ids start with 'q-' are questions."""
    steps = [SimpleNamespace(id=s, kind="number" if s.startswith("q-") else "prose")
             for s in step_ids]
    return SimpleNamespace(id=lesson_id, steps=steps,
                           questions=[s for s in steps if s.kind == "number"])


# --- where -----------------------------------------------------------------------------------

def test_the_state_folder_is_the_platforms(monkeypatch, tmp_path):
    monkeypatch.delenv("TUTOR_STATE_DIR", raising=False)
    monkeypatch.delenv("XDG_STATE_HOME", raising=False)
    assert state_dir() == Path(platformdirs.user_state_dir("tutor", appauthor=False))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert state_dir() == Path(platformdirs.user_state_dir("tutor", appauthor=False))
    if sys.platform.startswith("linux"):                  # the XDG rule, as before
        assert state_dir() == tmp_path / "xdg" / "tutor"
    monkeypatch.setenv("TUTOR_STATE_DIR", str(tmp_path / "mine"))
    assert state_dir() == tmp_path / "mine"
    assert default_paths() == (tmp_path / "mine" / "progress.json", None)


def test_a_given_environment_leaves_os_environ_alone(monkeypatch, tmp_path):
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "real"))
    state_dir({"XDG_STATE_HOME": str(tmp_path / "given")})
    state_dir({})
    assert os.environ["XDG_STATE_HOME"] == str(tmp_path / "real")
    monkeypatch.delenv("XDG_STATE_HOME")
    state_dir({"XDG_STATE_HOME": str(tmp_path / "given")})
    assert "XDG_STATE_HOME" not in os.environ


def test_on_linux_the_old_and_new_places_are_one(monkeypatch, tmp_path):
    if not sys.platform.startswith("linux"):
        pytest.skip("platformdirs follows XDG only on Linux")
    monkeypatch.delenv("TUTOR_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path))
    assert default_paths() == (tmp_path / "tutor" / "progress.json", None)


@pytest.fixture
def platform_elsewhere(monkeypatch, tmp_path):
    """A platform whose state folder is not the old one (macOS, Windows)."""
    new = tmp_path / "Library" / "tutor"
    monkeypatch.setattr(platformdirs, "user_state_dir", lambda *a, **k: str(new))
    monkeypatch.delenv("TUTOR_STATE_DIR", raising=False)
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "old"))
    return new / "progress.json", tmp_path / "old" / "tutor" / "progress.json"


def test_progress_in_the_old_place_is_read_and_copied(platform_elsewhere):
    new, old = platform_elsewhere
    assert default_paths() == (new, old) and legacy_state_dir() == old.parent
    old.parent.mkdir(parents=True)
    old.write_bytes(NINE.read_bytes())
    warnings = []
    progress = Progress(warn=warnings.append)                          # the default paths
    assert progress.path == new and progress.state("scaling", "q-six-four") is not None
    assert len(warnings) == 1 and f"copied your lesson progress from {old} to {new}" \
        in warnings[0]
    assert json.loads(new.read_text()) == json.loads(NINE.read_text())
    assert old.read_bytes() == NINE.read_bytes()                       # left as it was
    progress.mark("together", "new-step", "seen")
    again = Progress(warn=warnings.append)
    assert len(warnings) == 1 and again.state("together", "new-step") == "seen"
    assert "new-step" not in old.read_text()


def test_a_bad_file_in_the_old_place_is_not_touched(platform_elsewhere):
    new, old = platform_elsewhere
    old.parent.mkdir(parents=True)
    old.write_text("{ not json")
    warnings = []
    progress = Progress(warn=warnings.append)
    assert progress.data["lessons"] == {} and not new.exists()
    assert len(warnings) == 1 and "was not read because it is not valid JSON" in warnings[0]
    assert old.read_text() == "{ not json" and list(old.parent.iterdir()) == [old]


def test_an_unwritable_new_place_keeps_reading_the_old_file(platform_elsewhere, tmp_path):
    new, old = platform_elsewhere
    old.parent.mkdir(parents=True)
    old.write_bytes(NINE.read_bytes())
    new.parent.parent.mkdir(parents=True)
    new.parent.write_text("a file where the folder should be")
    progress = Progress()
    assert progress.state("scaling", "q-six-four") is not None


# --- the nine-lesson course's progress file ---------------------------------------------------

def test_a_nine_lesson_progress_file_of_todays_format_loads(tmp_path):
    path = tmp_path / "progress.json"
    path.write_bytes(NINE.read_bytes())
    original = json.loads(NINE.read_text())
    warnings = []
    progress = Progress(path, warn=warnings.append)
    assert warnings == [] and original["version"] == 1 and len(original["lessons"]) == 9
    assert progress.last_lesson == "together"
    assert progress.input("self-attention", "mine") == "my dog barked loudly"
    for lesson_id, entry in original["lessons"].items():
        for step_id, state in entry["done"].items():
            assert progress.state(lesson_id, step_id) == state
    # Scores of a file without outcomes: answered counts as right (assumed), revealed missed.
    entry = original["lessons"]["self-attention"]["done"]
    lesson = lesson_of("self-attention", list(entry))
    answered = [s for s, v in entry.items() if s.startswith("q-") and v == "answered"]
    revealed = [s for s, v in entry.items() if s.startswith("q-") and v == "revealed"]
    assert answered and revealed
    assert progress.score(lesson) == Score(len(answered), len(revealed), 0, len(answered))
    assert [s.id for s in progress.missed_questions(lesson)] == \
        [s for s in entry if s in revealed]
    # The shipped course knows every lesson in it; saving keeps everything.
    course = load_course()
    ids = {lesson.id for lesson in course.lessons}
    assert set(original["lessons"]) <= ids
    for known in course.lessons:
        if known.id in original["lessons"]:
            assert progress.done_count(known) >= 1
            assert progress.score(known).total == len(known.questions)
    progress.mark("together", "later", "seen")
    saved = json.loads(path.read_text())
    assert saved["lessons"]["together"]["done"].pop("later") == "seen"
    assert saved == original


# --- merging saves ------------------------------------------------------------------------------

def test_two_processes_interleaving_saves_lose_nothing(tmp_path):
    path = tmp_path / "progress.json"
    first, second = Progress(path), Progress(path)          # both read the file before
    first.mark("scaling", "a", "seen")
    second.mark("scaling", "b", "seen")                     # knew nothing of a
    second.set_input("self-attention", "mine", "my cat")
    first.mark("add-norm", "c", "answered", first_try=True)
    saved = Progress(path)
    assert saved.state("scaling", "a") == saved.state("scaling", "b") == "seen"
    assert saved.input("self-attention", "mine") == "my cat"
    assert saved.outcome("add-norm", "c") == ("right", "right")
    assert first.state("scaling", "b") == "seen"            # a save brings the others' steps
    second.reset("scaling")                                 # a reset is a change too
    first.mark("add-norm", "d", "seen")
    saved = Progress(path)
    assert "scaling" not in saved.data["lessons"] and saved.state("add-norm", "d") == "seen"
    assert saved.state("add-norm", "c") == "answered"
    first.reset()
    second.mark("scaling", "e", "seen")
    assert Progress(path).data["lessons"] == {"scaling": {"done": {"e": "seen"},
                                                          "inputs": {}}}


def test_threads_saving_at_once_lose_nothing(tmp_path):
    path = tmp_path / "progress.json"
    learners = [Progress(path) for _ in range(4)]
    start = threading.Barrier(len(learners))

    def work(who, progress):
        start.wait()
        for i in range(20):
            progress.mark("race", f"{who}-{i}", "seen")

    threads = [threading.Thread(target=work, args=(w, p)) for w, p in enumerate(learners)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    done = Progress(path).data["lessons"]["race"]["done"]
    assert len(done) == 80 and set(done.values()) == {"seen"}


RACER = """
import sys, time
from pathlib import Path
from tutor.lessons.progress import Progress
path, who, n, go = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
progress = Progress(path)
Path(str(go) + "." + who).touch()
while not go.exists():
    time.sleep(0.001)
for i in range(n):
    progress.mark("race", f"{who}-{i}", "seen")
"""


def test_processes_saving_at_once_lose_nothing(tmp_path):
    path, go, n = tmp_path / "state" / "progress.json", tmp_path / "go", 25
    racers = [subprocess.Popen([sys.executable, "-c", RACER, str(path), str(who), str(n),
                                str(go)], cwd=ROOT) for who in range(3)]
    deadline = time.monotonic() + 60
    while len(list(tmp_path.glob("go.*"))) < len(racers) and time.monotonic() < deadline:
        time.sleep(0.01)                                  # every racer has read the file
    go.touch()
    assert [racer.wait(timeout=120) for racer in racers] == [0, 0, 0]
    done = Progress(path).data["lessons"]["race"]["done"]
    assert sorted(done) == sorted(f"{who}-{i}" for who in range(3) for i in range(n))
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]


# --- states never go down -----------------------------------------------------------------------

@pytest.mark.parametrize("states, final", [
    (["answered", "revealed"], "answered"),
    (["answered", "seen"], "answered"),
    (["revealed", "seen"], "revealed"),
    (["revealed", "answered"], "answered"),
    (["seen", "revealed"], "revealed"),
])
def test_rerunning_a_step_never_downgrades_it(tmp_path, states, final):
    path = tmp_path / "progress.json"
    progress = Progress(path)
    for state in states:
        progress.mark("self-attention", "q-the-sat", state)
    assert progress.state("self-attention", "q-the-sat") == final
    assert Progress(path).state("self-attention", "q-the-sat") == final


def test_a_stale_process_does_not_downgrade_either(tmp_path):
    path = tmp_path / "progress.json"
    stale, fresh = Progress(path), Progress(path)
    fresh.mark("self-attention", "q-the-sat", "answered", first_try=True)
    stale.mark("self-attention", "q-the-sat", "revealed")
    assert Progress(path).state("self-attention", "q-the-sat") == "answered"
    assert Progress(path).outcome("self-attention", "q-the-sat") == ("right", "missed")


# --- scores and review --------------------------------------------------------------------------

def test_scores_count_first_tries_and_review_lists_the_missed(tmp_path):
    lesson = lesson_of("scaling", ["intro", "q-a", "calc", "q-b", "q-c", "q-d", "q-e"])
    path = tmp_path / "progress.json"
    progress = Progress(path)
    assert progress.score(lesson) == Score(0, 0, 5) and progress.missed_questions(lesson) == []
    progress.mark("scaling", "intro", "seen")
    progress.mark("scaling", "q-a", "answered", first_try=True)
    progress.mark("scaling", "q-b", "answered", first_try=False)       # right after a miss
    progress.mark("scaling", "q-c", "revealed")
    progress.mark("scaling", "q-d", "answered")                        # not recorded: assumed
    score = Progress(path).score(lesson)
    assert score == Score(right=2, missed=2, unanswered=1, assumed=1)
    assert score.total == 5 and not score.complete
    assert str(score) == "2 of 5 right at the first try"
    assert [s.id for s in progress.missed_questions(lesson)] == ["q-b", "q-c"]
    # Review: q-c right at the first try leaves the list; the score keeps the first attempt.
    progress.mark("scaling", "q-c", "answered", first_try=True)
    progress.mark("scaling", "q-b", "answered", first_try=False)       # missed again
    progress.mark("scaling", "q-e", "answered", first_try=True)
    again = Progress(path)
    assert [s.id for s in again.missed_questions(lesson)] == ["q-b"]
    assert again.score(lesson) == Score(right=3, missed=2, unanswered=0, assumed=1)
    assert again.score(lesson).complete
    assert again.outcome("scaling", "q-c") == ("missed", "right")
    assert again.state("scaling", "q-c") == "answered"


def test_an_old_answer_keeps_its_first_outcome_when_asked_again(tmp_path):
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"version": 1, "lessons": {
        "scaling": {"done": {"q-a": "answered", "q-b": "revealed"}, "inputs": {}}}}))
    progress = Progress(path)
    progress.mark("scaling", "q-a", "answered", first_try=False)
    progress.mark("scaling", "q-b", "answered", first_try=True)
    assert progress.outcome("scaling", "q-a") == ("right", "missed")
    assert progress.outcome("scaling", "q-b") == ("missed", "right")


@pytest.mark.parametrize("state, first_try", [("seen", True), ("seen", False),
                                              ("revealed", True), ("done", None)])
def test_contradictory_marks_are_refused(tmp_path, state, first_try):
    with pytest.raises(ValueError, match="expected"):
        Progress(tmp_path / "p.json").mark("scaling", "q-a", state, first_try=first_try)


@pytest.mark.parametrize("outcomes", [{"q-a": {"first": "right"}}, {"q-a": "right"},
                                      {"q-a": {"first": "maybe", "last": "right"}}, []])
def test_a_bad_outcomes_table_is_set_aside(tmp_path, outcomes):
    path = tmp_path / "progress.json"
    path.write_text(json.dumps({"version": 1, "lessons": {"scaling": {
        "done": {"q-a": "answered"}, "inputs": {}, "outcomes": outcomes}}}))
    warnings = []
    assert Progress(path, warn=warnings.append).data["lessons"] == {}
    assert len(warnings) == 1 and "set aside" in warnings[0]


def test_the_lock_is_not_held_after_a_failed_write(tmp_path, monkeypatch):
    path = tmp_path / "progress.json"
    progress = Progress(path)

    def fail(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(progress_module, "_write_atomically", fail)
    with pytest.raises(Exception, match="cannot save lesson progress .*No space left"):
        progress.mark("scaling", "a", "seen")
    monkeypatch.undo()
    if hasattr(os, "O_RDONLY") and sys.platform != "win32":
        import fcntl
        fd = os.open(tmp_path, os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)   # raises if the lock were held
        finally:
            os.close(fd)
    other = Progress(path)
    other.mark("scaling", "b", "seen")
    progress.mark("scaling", "c", "seen")                  # the failed change is replayed
    assert set(Progress(path).data["lessons"]["scaling"]["done"]) == {"a", "b", "c"}


# -- files that are not progress files, a lock held by another process, killed writes --------

def _set_aside_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir() if ".bad-" in p.name)


@pytest.mark.parametrize("make, reason", [
    (lambda p: p.write_text('{"version": 1, "lessons": ' + "[" * 100_000 + "]" * 100_000 + "}"),
     "nested more than 100 levels deep"),
    (lambda p: p.write_text('{"version": 1, "lessons": {"a": {"done": {"x": '
                            + '{"y": ' * 150 + "1" + "}" * 150 + "}}}}"),
     "nested more than 100 levels deep"),
    (lambda p: p.write_bytes(b" " * (progress_module.MAX_PROGRESS_BYTES + 1)),
     "2,000,001 bytes, expected a progress file of at most 2,000,000 bytes"),
    (lambda p: p.symlink_to("/dev/zero"), "is a device"),
    (lambda p: os.mkfifo(p), "is a named pipe"),
])
def test_a_progress_file_that_cannot_be_read_is_set_aside_never_stopping_the_tutor(
        tmp_path, make, reason):
    if "mkfifo" in repr(make) and not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    path = tmp_path / "progress.json"
    make(path)
    # in a child process with a timeout: a FIFO would make a plain open() wait forever
    script = ("import sys; from pathlib import Path; from tutor.lessons.progress import Progress; "
              "p = Progress(Path(sys.argv[1]), warn=print); p.mark('scaling', 'a', 'seen'); "
              "print('saved', Progress(Path(sys.argv[1])).state('scaling', 'a'))")
    env = dict(os.environ, PYTHONPATH=str(Path(progress_module.__file__).parents[2]))
    done = subprocess.run([sys.executable, "-c", script, str(path)], capture_output=True,
                          text=True, timeout=60, env=env)
    assert done.returncode == 0, done.stderr
    assert reason in done.stdout and "set aside" in done.stdout
    assert done.stdout.strip().endswith("saved seen")
    assert len(_set_aside_files(tmp_path)) == 1


needs_flock = pytest.mark.skipif(sys.platform == "win32", reason="fcntl.flock is POSIX")


@needs_flock
def test_a_save_says_it_waits_for_the_lock_and_still_saves(tmp_path, monkeypatch):
    import fcntl

    monkeypatch.setattr(progress_module, "WAIT_NOTICE", 0.1)
    monkeypatch.setattr(progress_module, "LOCK_TIMEOUT", 0.6)
    warnings = []
    progress = Progress(tmp_path / "progress.json", warn=warnings.append)
    holder = os.open(tmp_path, os.O_RDONLY)                            # another process's lock
    try:
        fcntl.flock(holder, fcntl.LOCK_EX)
        start = time.monotonic()
        progress.mark("scaling", "a", "seen")
        waited = time.monotonic() - start
    finally:
        os.close(holder)
    assert waited >= 0.6
    assert len(warnings) == 1
    assert warnings[0].startswith(f"waiting for another tutor process that is saving lesson "
                                  f"progress in {tmp_path}")
    assert Progress(tmp_path / "progress.json").state("scaling", "a") == "seen"


def test_a_late_save_merges_with_a_newer_file_instead_of_overwriting_it(tmp_path, monkeypatch):
    """Process A has read the file and is about to write when process B (which could not get
    the lock) saves its answer: A's write must keep B's answer."""
    monkeypatch.setattr(progress_module, "LOCK_TIMEOUT", 0.05)
    path = tmp_path / "progress.json"
    a, b = Progress(path), Progress(path)
    real_write = progress_module._write_atomically
    calls = []

    def write_after_b_saved(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:                                            # A stalls; B saves
            b.mark("scaling", "q2", "answered", first_try=True)
        return real_write(*args, **kwargs)

    monkeypatch.setattr(progress_module, "_write_atomically", write_after_b_saved)
    a.mark("scaling", "q1", "revealed")
    after = Progress(path)
    assert after.state("scaling", "q1") == "revealed"                 # A's change
    assert after.state("scaling", "q2") == "answered"                 # B's, not overwritten
    assert after.outcome("scaling", "q2") == ("right", "right")
    assert a.state("scaling", "q2") == "answered"                     # A now knows it too


def test_a_save_removes_stale_temporary_files_of_killed_writes(tmp_path):
    path = tmp_path / "progress.json"
    stale = tmp_path / ".progress-abc123.tmp"                         # a write killed long ago
    fresh = tmp_path / ".progress-def456.tmp"                         # a write in progress now
    other = tmp_path / ".notes-abc.tmp"                               # not ours
    for file in (stale, fresh, other):
        file.write_text("{")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    Progress(path).mark("scaling", "a", "seen")
    assert not stale.exists() and fresh.exists() and other.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == [".notes-abc.tmp", ".progress-def456.tmp",
                                                          "progress.json"]
