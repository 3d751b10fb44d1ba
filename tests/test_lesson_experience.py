"""A learner's experience of the lessons (issue 16): every step fits a 40-row terminal or
pauses; a question's matrix is shown again when it has scrolled away or the lesson resumes
at it; the accepted answer forms and what a wrong answer is told; the score and the review
of missed questions; lessons that name no notes and no internal names; old progress files
through `tutor lesson list`; the feed-forward step. Piped input here; a real terminal
(tmux) in tests/test_lesson_terminal.py."""

import io
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from rich.console import Console

from cli_helpers import entry

from tutor.lessons.check import check_course
from tutor.lessons.compute import run_lesson_computation
from tutor.lessons.course import load_course
from tutor.lessons.progress import Progress
from tutor.lessons.session import Interactive, Quit, Session
from tutor.render.lesson import score_cell
from tutor.walkthroughs import names

COURSE = load_course()
LESSONS = Path(__file__).resolve().parents[1] / "lessons"
NINE = Path(__file__).parent / "data" / "progress-v1-nine-lessons.json"
ROWS = 40


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


@pytest.fixture
def tutor(state):
    def invoke(*args, input=None, env=None):
        base = {"TUTOR_STATE_DIR": str(state), "NO_COLOR": "1", "COLUMNS": "80"}
        result = CliRunner().invoke(entry, ["lesson", *args], input=input,
                                    env={**base, **(env or {})})
        result.text = " ".join(result.stdout.split())
        return result
    return invoke


def piped(tutor, lesson, *lines, step=None, env=None):
    args = [lesson, "--interactive"] + (["--step", step] if step else [])
    return tutor(*args, input="".join(line + "\n" for line in lines), env=env)


def outcomes_of(state, lesson_id):
    return json.loads((state / "progress.json").read_text())["lessons"][lesson_id]


# --- 40 rows: every step of every lesson, as a learner's terminal shows it -------------------

class Transcript:
    """A console at 80 columns writing into a buffer, and a reader that echoes each prompt
    and its reply on one line, as a terminal does; the screen between two prompts is what a
    learner sees while the session waits."""

    def __init__(self, replies):
        self.file = io.StringIO()
        self.console = Console(file=self.file, width=80, height=ROWS, color_system=None,
                               force_terminal=False)
        self.replies = replies
        self.prompts = []

    def read(self, prompt: str) -> str:
        reply = self.replies(prompt)
        self.file.write(prompt + reply + "\n")
        self.prompts.append(prompt)
        return reply

    def screens(self) -> list[list[str]]:
        """The output cut after each prompt line: what stands on the screen at each wait."""
        screens, current = [], []
        for line in self.file.getvalue().split("\n")[:-1]:
            current.append(line)
            if any(line.startswith(p) for p in set(self.prompts)):
                screens.append(current)
                current = []
        return screens


def walk(lesson, tmp_path, rows=ROWS, paging=True):
    """The whole lesson with every question revealed; returns the transcript and session."""
    def replies(prompt):
        return "r" if prompt.startswith("Your answer") else ""

    transcript = Transcript(replies)
    progress = Progress(tmp_path / f"{lesson.id}.json")
    interactive = Interactive(transcript.console, lesson, len(COURSE.lessons), progress,
                              transcript.read, 80, rows, paging)
    interactive.run(0)
    return transcript, interactive


@pytest.mark.parametrize("lesson", COURSE.lessons, ids=lambda l: l.id)
def test_every_wait_shows_at_most_40_rows(lesson, tmp_path):
    transcript, interactive = walk(lesson, tmp_path)
    screens = transcript.screens()
    out = transcript.file.getvalue()
    assert interactive.screen.line == out.count("\n")              # every line is counted
    assert all(len(line) <= 80 for line in out.splitlines())
    first = screens[0]                       # the lesson's heading may scroll away unpaused
    screens[0] = first[next(i for i, line in enumerate(first) if line.startswith("── ")) - 1:]
    tall = [(i, len(s)) for i, s in enumerate(screens) if len(s) > ROWS]
    assert tall == [], "\n".join(screens[tall[0][0]]) if tall else ""


def test_steps_taller_than_the_terminal_pause_and_shorter_ones_do_not(tmp_path):
    heights = {}
    for lesson in COURSE.lessons:
        session = Session(lesson)
        console = Console(file=io.StringIO(), width=80, color_system=None)
        for index, step in enumerate(lesson.steps):
            if step.kind == "compute":
                from tutor.lessons.session import step_items
                heights[(lesson.id, step.id)] = 1 + sum(
                    len(console.render_lines(r, console.options, pad=False))
                    for r, _ in step_items(session, index, 80))
    tall = {key for key, h in heights.items() if h + 1 > ROWS - 1}
    assert ("multi-head", "mh") in tall                             # 60-odd rows: it must pause
    mh = COURSE.find("multi-head")
    transcript, _ = walk(mh, tmp_path)
    assert "Enter for more, q to quit: " in transcript.prompts
    short = COURSE.find("why-transformers")                         # every step fits
    assert not any(h + 1 > ROWS - 1 for (lid, _), h in heights.items() if lid == short.id)
    transcript, _ = walk(short, tmp_path)
    assert "Enter for more, q to quit: " not in transcript.prompts


def test_without_paging_nothing_pauses(tmp_path):
    transcript, _ = walk(COURSE.find("multi-head"), tmp_path, paging=False)
    assert "Enter for more, q to quit: " not in transcript.prompts


def test_lines_environment_pages_piped_input(tutor, state):
    lines = ["", "", "", ""]                                          # idea, mh (paged)...
    paged = piped(tutor, "multi-head", *lines, env={"LINES": "40"})
    assert "Enter for more, q to quit:" in paged.stdout
    unpaged = piped(tutor, "multi-head", *lines)
    assert "Enter for more" not in unpaged.stdout


def test_q_quits_at_a_pause(tutor, state):
    result = piped(tutor, "multi-head", "", "q", env={"LINES": "40"})
    assert "Enter for more, q to quit:" in result.stdout
    assert outcomes_of(state, "multi-head")["done"] == {"idea": "seen"}
    assert "'tutor lesson 7' resumes at step mh" in result.text


# --- the question's matrix, again -------------------------------------------------------------

def test_resuming_at_a_question_shows_its_matrix_again(tutor, state):
    result = piped(tutor, "4", "b", step="q-tie")
    out = result.stdout
    assert "Shown again, from step 5 of 16" in out
    again = out[out.index("Shown again"):out.index("Question 3 of 8")]
    assert "scores  3×3" in again and re.search(r"the\s+2\s+0\s+2", again)
    assert out.index("Shown again") < out.index("Which keys get THE's highest score?")


def test_quitting_at_a_question_and_resuming_shows_its_matrix(tutor, state):
    first = piped(tutor, "4", "", "", "", "0", "", "2", "q")         # quit at q-tie
    assert "'tutor lesson 4' resumes at step q-tie" in first.text
    again = tutor("--interactive", input="b\n")                       # plain `tutor lesson`
    out = again.stdout
    assert out.index("── 7/16 · q-tie") < out.index("Shown again, from step 5 of 16") \
        < out.index("Which keys get THE's highest score?")
    assert "Right: b) THE and SAT, tied" in again.text


def test_a_number_question_resumed_shows_the_matrix_its_answer_is_read_from(tutor):
    out = piped(tutor, "4", "0.42", step="q-the-sat").stdout
    again = out[out.index("Shown again, from step 8 of 16"):out.index("Question 5 of 8")]
    assert "weights  3×3" in again and "0.42" in again


def test_a_matrix_still_on_screen_is_not_shown_again(tutor):
    result = piped(tutor, "4", "", "2", step="scores")
    assert "Right: 2" in result.text and "Shown again" not in result.stdout


def test_a_matrix_scrolled_away_is_shown_again(tutor):
    # 'mine' prints the scores and the weights (about 40 rows): the scores have scrolled off
    result = piped(tutor, "4", "", "", step="mine")
    assert result.stdout.count("Shown again") == 1
    again = result.stdout[result.stdout.index("Shown again"):]
    assert again.index("scores  5×5") < again.index("raw score of 'my'")


def test_no_input_from_a_question_shows_its_matrix(tutor):
    out = tutor("4", "--step", "q-tie", "--no-input").stdout
    assert "Shown again, from step 5 of 16" in out
    whole = tutor("4", "--no-input").stdout
    assert "Shown again" not in whole                                 # printed in full above


def test_every_question_knows_its_matrix_or_asks_none():
    about = {(lesson.id, step.id): step.about_ref for lesson in COURSE.lessons
             for step in lesson.questions}
    assert all(ref for (lid, sid), ref in about.items()
               if COURSE.find(lid).steps[COURSE.find(lid).step_index(sid)].kind == "number")
    assert about[("self-attention", "q-tie")] == "scores:scores"
    for lesson in COURSE.lessons:
        session = Session(lesson)
        session.prepare(len(lesson.steps))
        for step in lesson.questions:
            if step.about_ref:
                matrix = session.about_matrix(step)
                assert matrix is not None, (lesson.id, step.id)


# --- answers: forms, tolerances, notes --------------------------------------------------------

@pytest.mark.parametrize("step, reply", [
    ("q-the-sat", "0,42"), ("q-the-sat", "42%"), ("q-the-sat", "0.43"),   # 0.4223 shown 0.42
    ("q-the-sat-score", "4/2"), ("q-the-sat-score", "2,0"),
])
def test_accepted_forms_in_the_session(tutor, state, step, reply):
    result = piped(tutor, "4", reply, step=step)
    assert "Right:" in result.text, result.text
    assert outcomes_of(state, "self-attention")["outcomes"][step] == \
        {"first": "right", "last": "right"}


@pytest.mark.parametrize("reply", ["-0.67", "\u22120.67", "-2/3", "-67%", "-0,67"])
def test_negative_answers(tutor, state, reply):
    result = piped(tutor, "add-norm", reply, step="q-ln-out")         # -0.671
    assert "Right: -0.671 (layer norm, row cat, column d1; checked to ±0.01)" in result.text


def test_a_sign_slip_is_named(tutor, state):
    result = piped(tutor, "add-norm", "0.671", step="q-ln-out")
    assert "Not quite. The size is right but the sign is not. 2 more tries" in result.text


def test_working_from_the_shown_values_is_accepted():
    # THE's output d1: 0.42·1 + 0.16·0 + 0.42·1 from the shown weights = 0.84 (true 0.845)
    lesson = COURSE.find("self-attention")
    session = Session(lesson)
    session.prepare(len(lesson.steps))
    step = lesson.steps[lesson.step_index("q-out")]
    assert session.check(step, "0.84").correct
    assert not session.check(step, "0.82").correct
    pe = COURSE.find("positional-encoding")
    session = Session(pe)
    session.prepare(len(pe.steps))
    last = pe.steps[pe.step_index("q-pe-last")]                       # asks for 5 decimals
    assert last.shown_decimals is None and not session.check(last, "0.995").correct


def test_a_wrong_choice_is_told_what_was_wrong(tutor, state):
    result = piped(tutor, "4", "a", "b", step="q-tie")
    assert ("Not quite. SAT does score 2 against THE, but so does THE itself "
            "(THE·THE = 1 + 0 + 1 + 0 = 2): the two tie.") in result.text
    assert "Right: b) THE and SAT, tied" in result.text
    # the screen says why a right answer after a miss is still counted as missed (a trial
    # found the progress file's "missed" after "Right" unexplained)
    assert "on try 2: the score counts first tries" in " ".join(result.text.split())
    # right after a miss: still listed for review until answered right at the first try
    assert outcomes_of(state, "self-attention")["outcomes"]["q-tie"] == \
        {"first": "missed", "last": "missed"}


def test_scripted_answers_get_the_same_notes(tutor):
    result = tutor("4", "--answer", "q-tie=a", "--answer", "q-the-sat=0,43")
    assert "✗ q-tie: a is wrong (SAT does score 2 against THE" in result.stdout
    assert "✓ q-the-sat: 0,43 is right (checked to ±0.01)" in result.stdout


def test_the_common_mistakes_have_feedback():
    tie = COURSE.find("self-attention").steps[COURSE.find("self-attention").step_index("q-tie")]
    assert tie.choices[0] == "SAT alone" and "tie" in tie.feedback["a"]
    scaling = COURSE.find("scaling")
    what = scaling.steps[scaling.step_index("q-what-scaling-does")]
    assert "presents" in what.choices[0] and "a" in what.feedback


# --- the end of a lesson: score and review ------------------------------------------------------

WHY = ["", "", ""]                                # rnn, parallel, all-pairs


def test_score_review_and_list(tutor, state):
    result = piped(tutor, "1", *WHY, "1", "2", "b", "a", "b", "y", "2", "b")
    out = result.text
    assert "Lesson 1 is complete." in out
    assert "Score: 1 of 3 right at the first try." in out
    assert "Review the 2 questions you missed (questions 1 and 3)? [y/N]" in out
    assert "Reviewed: every question of this lesson is now answered right." in out
    outcomes = outcomes_of(state, "why-transformers")["outcomes"]
    assert outcomes == {"q-cat-sat": {"first": "missed", "last": "right"},
                        "q-steps": {"first": "right", "last": "right"},
                        "q-why": {"first": "missed", "last": "right"}}
    row = next(l for l in tutor("list").stdout.splitlines() if l.strip().startswith("1 "))
    assert row.split()[-2:] == ["1/3", "✓"]                       # the score keeps first tries


def test_declining_the_review_and_reviewing_later(tutor, state):
    out = piped(tutor, "1", *WHY, "r", "b", "b", "").text
    assert "Score: 2 of 3 right at the first try." in out and "Reviewed" not in out
    later = tutor("1", "--review", input="9\n2\n").text
    assert "Score: 2 of 3 right at the first try." in later
    assert "Shown again" in later and "Not quite." in later and "Right: 2" in later
    assert "Still to review: question 1" in later                  # right, but not at once
    again = tutor("1", "--review", input="2\n").text
    assert "Reviewed: every question of this lesson is now answered right." in again
    assert "Score: 2 of 3 right at the first try." in again      # the score keeps first tries
    assert tutor("1", "--review", input="").text.endswith(
        "Nothing to review: no question of this lesson was missed.")


def test_a_review_that_misses_again_keeps_the_question(tutor, state):
    piped(tutor, "1", *WHY, "r", "b", "b", "")
    out = tutor("1", "--review", input="r\n").text
    assert "Still to review: question 1 ('tutor lesson 1 --review')." in out
    assert outcomes_of(state, "why-transformers")["outcomes"]["q-cat-sat"]["last"] == "missed"


def test_review_needs_a_lesson(tutor):
    result = tutor("--review")
    assert result.exit_code == 2 and "expected a lesson" in result.stderr


def test_a_perfect_lesson_offers_no_review(tutor):
    out = piped(tutor, "1", *WHY, "2", "b", "b").text
    assert "Score: 3 of 3 right at the first try." in out and "Review the" not in out


# --- progress files of the nine-lesson course, through `tutor lesson list` --------------------

def test_a_nine_lesson_progress_file_through_lesson_list(tutor, state):
    state.mkdir(parents=True)
    shutil.copy(NINE, state / "progress.json")
    result = tutor("list")
    assert result.exit_code == 0 and result.stderr == ""
    rows = {line.split()[1]: line for line in result.stdout.splitlines()
            if line[:2].strip().isdigit()}
    assert set(rows) == {lesson.id for lesson in COURSE.lessons}
    progress = Progress(state / "progress.json")
    old = json.loads(NINE.read_text())["lessons"]
    for lesson in COURSE.lessons:
        score = progress.score(lesson)
        assert f" {score_cell(score)} " in rows[lesson.id] + " "
        done = old.get(lesson.id, {"done": {}})["done"]            # the four new lessons: none
        answered = sum(v == "answered" for s, v in done.items())
        assert score.right == answered                             # answered counts as right
    assert len(COURSE.lessons) >= 13 and len(old) == 9           # part 3 adds lessons 14 on
    for new in COURSE.lessons[9:]:                                 # not started: 0%, nothing lost
        assert new.id not in old and rows[new.id].split()[-1] == "0%"
    sa = rows["self-attention"].split()
    assert sa[-2:] == ["4/8", "✓"]                                 # 4 answered, 4 revealed
    arch = rows["architecture"].split()                            # the new feed-forward step
    assert arch[-1] == "60%" and arch[-2] == "2/5"
    assert "'tutor lesson' resumes at lesson 9, step q-first-row." in result.stdout
    assert json.loads((state / "progress.json").read_text()) == json.loads(NINE.read_text())


def test_lesson_list_heads_each_part(tutor):
    """`tutor lesson list` names each part of the course on one line above its first lesson
    (the title used to wrap inside the lessons' column), its lessons in line below."""
    lines = tutor("list").stdout.splitlines()
    for part in COURSE.parts:
        first = COURSE.find(part.first)
        heading = next(i for i, line in enumerate(lines)
                       if line == f"Part {part.number} · {part.title}")
        row = next(i for i, line in enumerate(lines) if line.split()[:2] == [str(first.number),
                                                                             first.id])
        assert 1 <= row - heading <= 3                                   # the header rule between
    assert "Part 3" in " ".join(lines) and all(len(line) <= 80 for line in lines)
    rows = [line for line in lines if line[:2].strip().isdigit()]       # every lesson's row:
    assert len({line.index(line.split()[1]) for line in rows}) == 1      # ids in one column


def test_lesson_list_leaves_the_titles_out_when_narrow(tutor):
    lines = tutor("list", env={"COLUMNS": "60"}).stdout.splitlines()
    assert "…" not in "\n".join(lines) and all(len(line) <= 60 for line in lines)
    assert any(line.split()[:2] == ["17", "gqa-cache"] for line in lines)


# --- lessons stand on their own -----------------------------------------------------------------

def test_no_lesson_file_mentions_notes():
    for path in LESSONS.glob("*.toml"):
        text = path.read_text().lower()
        assert "notes" not in text and "lecture" not in text, path.name


REFERENCE = re.compile(r"\b[a-z0-9-]+:[A-Za-z_][A-Za-z0-9_.]*\[")
DOTTED = sorted({n for n in names.ALL if "." in n and "{" not in n})


@pytest.mark.parametrize("lesson", COURSE.lessons, ids=lambda l: l.id)
def test_the_rendered_lesson_names_no_internal_name(tutor, lesson):
    out = tutor(lesson.id, "--no-input").stdout
    assert not REFERENCE.search(out), REFERENCE.search(out).group(0)
    for internal in ("encoder.layers", "decoder.layers", "self_attn", "multihead_attn",
                     "head0.", "ff.", "norm2", "ln.", "bn.", *DOTTED):
        found = re.search(rf"(?<![\w.]){re.escape(internal)}", out)   # not "off." or "1.5"
        assert not found, internal
    assert "notes" not in out.lower()
    for step in lesson.steps:
        if step.kind == "number":
            assert step.answer not in out


# --- the feed-forward step ------------------------------------------------------------------------

def test_the_feed_forward_question_is_gelu_of_a_negative_hidden_value():
    lesson = COURSE.find("architecture")
    session = Session(lesson)
    session.prepare(len(lesson.steps))
    step = lesson.steps[lesson.step_index("q-gelu")]
    result = session.results["ffn-run"]
    hidden = float(result.trace["ff.hidden"][0, 0])
    assert hidden < 0                                              # what the question says
    assert session.expected(step) == pytest.approx(
        0.5 * hidden * (1 + math.erf(hidden / math.sqrt(2))), abs=1e-12)
    assert float(result.trace["relu"][0, 0]) == 0.0
    assert session.check(step, f"{session.expected(step):.2f}").correct


def test_the_feed_forward_network_treats_each_token_on_its_own():
    lesson = COURSE.find("architecture")
    step = lesson.steps[lesson.step_index("ffn-run")]
    a = run_lesson_computation(step).trace["ff.out"]
    b = run_lesson_computation(step, "the dog sat").trace["ff.out"]
    assert np.array_equal(a[[0, 2]], b[[0, 2]]) and not np.allclose(a[1], b[1])


# --- the check validates the new keys ---------------------------------------------------------

GOOD = '''
id = "demo"
title = "Demo"

[[steps]]
id = "attn"
compute = "attention"
args = { sentence = "the cat sat" }
show = ["scores"]

[[steps]]
id = "q1"
question = "Score of THE on SAT?"
answer = "attn:scores[the, sat]"
hints = ["Look at the first row."]

[[steps]]
id = "c1"
question = "Pick"
choices = ["x", "y"]
correct = "b"
about = "attn:scores"
feedback = { a = "x is not it." }
hints = ["h"]
'''


def write_course(folder, text):
    (folder / "course.toml").write_text('lessons = ["demo"]\n')
    (folder / "demo.toml").write_text(text)
    return folder


def test_a_good_course_with_the_new_keys_passes(tmp_path):
    assert check_course(write_course(tmp_path, GOOD)).problems == []


@pytest.mark.parametrize("old, new, message", [
    ('feedback = { a = "x is not it." }', 'feedback = { b = "y is right." }',
     "'b' is the correct choice"),
    ('feedback = { a = "x is not it." }', 'feedback = { z = "nope" }',
     "expected choice letters from a to b, got 'z'"),
    ('feedback = { a = "x is not it." }', 'feedback = { a = " " }',
     "expected a non-empty note for 'a'"),
    ('about = "attn:scores"', 'about = "attn:weights"',
     "'weights' is not a matrix, chart or step that step"),
    ('about = "attn:scores"', 'about = "attn:scores[the, sat]"', "names a matrix"),
    ('about = "attn:scores"', 'about = "later:scores"', "not a computation before"),
    ('hints = ["Look at the first row."]',
     'hints = ["Look at the first row."]\nshown_decimals = 2', "2 is whole and shown exactly"),
    ('answer = "attn:scores[the, sat]"',
     'answer = "attn:weights[the, sat]"\nshown_decimals = 3',               # 0.4223
     "expected shown_decimals = 2, the decimals a lesson shows, got 3"),
])
def test_the_check_refuses_bad_new_keys(tmp_path, tutor, old, new, message):
    report = check_course(write_course(tmp_path, GOOD.replace(old, new, 1)))
    assert any(message in p for p in report.problems), report.problems
    result = tutor("check", "--dir", str(tmp_path))
    assert result.exit_code == 1 and message in result.stdout


def test_the_check_requires_about_on_every_choice_question(tmp_path, tutor):
    """A choice question must say what on the screen it is answered from, so that it is
    shown again on resume, or say "none" (answered from the text)."""
    report = check_course(write_course(tmp_path, GOOD.replace('about = "attn:scores"\n', "")))
    assert any("step 'c1': expected 'about'" in p for p in report.problems), report.problems
    result = tutor("check", "--dir", str(tmp_path))
    assert result.exit_code == 1 and "step 'c1': expected 'about'" in result.stdout
    assert check_course(write_course(
        tmp_path, GOOD.replace('about = "attn:scores"', 'about = "none"'))).problems == []
    report = check_course(write_course(tmp_path, GOOD.replace(
        'hints = ["Look at the first row."]',
        'hints = ["Look at the first row."]\nabout = "none"', 1)))
    assert any("step 'q1': a number question is answered from the matrix its answer names"
               in p for p in report.problems), report.problems


def test_about_may_name_a_step_the_computation_shows(tmp_path):
    text = GOOD.replace('show = ["scores"]', 'show = ["scores", "softmax"]')
    assert check_course(write_course(
        tmp_path, text.replace('about = "attn:scores"', 'about = "attn:softmax"'))).problems == []
    report = check_course(write_course(
        tmp_path, text.replace('about = "attn:scores"', 'about = "attn:output"')))  # not shown
    assert any("'output' is not a matrix, chart or step that step 'attn' shows" in p
               for p in report.problems), report.problems


@pytest.mark.parametrize("lesson, step, shown", [
    ("11", "q-cls", "Step 2 of 6 · Layer 2 of 6"),             # layer 2's heatmaps, labelled
    ("11", "q-control", "cos(she in A, she in B)  (control)"),
    ("13", "q-third-reads", "Step 4 of 7 · token 3: 7"),
    ("13", "q-cache-size", "cache/layer: K,V 192 numbers"),
    ("13", "q-work", "counted: "),
    ("13", "q-hot-output", "token ids"),
    ("13", "q-beam", "token ids"),
])
def test_a_choice_question_resumed_shows_what_it_asks_about(tutor, lesson, step, shown):
    """The seven choice questions of lessons 11 and 13 that named nothing showed nothing
    when the lesson resumed at them."""
    result = piped(tutor, lesson, "q", step=step)
    out = result.stdout
    assert out.count("Shown again, from step") == 1, out
    again = out[out.index("Shown again, from step"):out.index("╭─ Question")]
    assert shown in again.replace("RECORDED · ", "")     # MiniLM absent: its recording, marked


def test_a_step_still_on_screen_is_not_shown_again(tutor):
    # the cache computation ends with the third step's panel; its question follows at once
    result = piped(tutor, "13", "", "", "q", step="cache", env={"LINES": "40"})  # a page, on
    out = result.stdout
    assert "cache/layer: K,V 192 numbers" in out and "Question 3 of 9" in out
    assert "Shown again" not in out


@pytest.mark.parametrize("line, message", [
    ("shown_decimals = 0", "expected 'shown_decimals' as a whole number from 1 to 10"),
    ("rel_tolerance = 2", "expected 'rel_tolerance' as a fraction"),
    ("feedback = 3", "unknown keys for a number step: feedback"),
])
def test_the_loader_refuses_bad_values(tmp_path, line, message):
    text = GOOD.replace('hints = ["Look at the first row."]',
                        'hints = ["Look at the first row."]\n' + line, 1)
    report = check_course(write_course(tmp_path, text))
    assert any(message in p for p in report.problems), report.problems


def test_a_chart_can_be_shown_again():
    from tutor.render.document import Chart, Document, MatrixView, Part, Step
    from tutor.render.lesson import find_matrix, shown_again, view_title

    chart = Chart("std(q·k)", "table", ["dk4", "dk64"], np.array([2.0, 8.0]))
    matrix = MatrixView("scores", "scores", np.eye(2), ["a", "b"], ["a", "b"])
    doc = Document("demo", "demo", [], [Step(1, "spread", "sd", "sd",
                                             [Part("", [matrix], charts=[chart])], key="sd")],
                   {})
    assert find_matrix(doc, None, "table") is chart and find_matrix(doc, None, "nope") is None
    assert view_title(chart) == "std(q·k)" and view_title(matrix) == "scores  2×2"
    console = Console(file=io.StringIO(), width=80, color_system=None)
    console.print(shown_again(chart, "step 2 of 5"))
    out = console.file.getvalue()
    assert "Shown again, from step 2 of 5" in out and "std(q·k)" in out
    assert re.search(r"dk64\s+█+\s+8\.00", out) and re.search(r"dk4\s+█+\s+2\.00", out)


@pytest.mark.parametrize("rows", [16, 24])
def test_a_panel_taller_than_a_small_terminal_is_cut_into_pages(rows, tmp_path):
    lesson = COURSE.find("multi-head")                            # a 36-row panel
    transcript, interactive = walk(lesson, tmp_path, rows=rows)
    screens = transcript.screens()
    first = screens[0]
    screens[0] = first[next(i for i, line in enumerate(first) if line.startswith("── ")) - 1:]
    assert max(len(s) for s in screens) <= rows
    out = transcript.file.getvalue()
    assert interactive.screen.line == out.count("\n")
    whole, _ = walk(lesson, tmp_path / "whole", paging=False)
    strip = [line for line in out.splitlines() if not line.startswith("Enter for more")]
    assert strip == [line for line in whole.file.getvalue().splitlines()]   # nothing lost
