"""The course as data: the format, the validator, the computations and references, answer
parsing and the progress file."""

import json
from pathlib import Path

import numpy as np
import os

import pytest

from tutor.lessons.answers import (AnswerError, check_number, decimals_for, parse_choice,
                                   parse_number)
from tutor.lessons.check import check_course
from tutor.lessons.compute import run_computation, run_lesson_computation
from tutor.lessons.references import ComputeError, expected, fill, parse_reference, resolve
from tutor.lessons.course import load_course
from tutor.lessons.progress import Progress, state_dir
from tutor.resources import lessons_dir

COURSE = load_course()


def results_of(lesson):
    return {s.id: run_lesson_computation(s) for s in lesson.steps if s.kind == "compute"}


# --- the shipped course ---------------------------------------------------------------------

def test_the_shipped_course_passes_the_check():
    report = check_course()
    assert report.problems == []
    assert report.questions >= 3 * len(report.course.lessons)


def test_course_order_and_ids():
    ids = [lesson.id for lesson in COURSE.lessons]
    assert len(ids) == len(set(ids))
    assert COURSE.folder == lessons_dir()
    assert COURSE.find("1") is COURSE.lessons[0]
    assert COURSE.find("self-attention").id == "self-attention"
    with pytest.raises(KeyError):
        COURSE.find(str(len(ids) + 1))


def test_every_question_refers_to_an_engine_value_never_a_literal():
    for lesson in COURSE.lessons:
        results = results_of(lesson)
        for step in lesson.questions:
            assert all(h.strip() for h in step.hints) and step.hints
            if step.kind == "number":
                ref = parse_reference(step.answer)
                assert ref.step in results
                assert np.isfinite(expected(step, results))


@pytest.mark.parametrize("lesson_id, step_id, value, tol", [
    ("self-attention", "q-the-sat-score", 2.0, 0),                     # THE·SAT = 2
    ("self-attention", "q-the-sat", np.e / (2 * np.e + 1), 1e-12),     # THE and SAT tie
    ("scaling", "q-six-four", 0.8807970779778823, 1e-12),              # softmax([6,4])[0]
    ("positional-encoding", "q-pe-last", np.cos(0.01), 1e-12),         # 0.99995, not 0.995
    ("positional-encoding", "q-pe-first", np.sin(1.0), 1e-12),
])
def test_answers_are_the_closed_forms(lesson_id, step_id, value, tol):
    lesson = COURSE.find(lesson_id)
    step = lesson.steps[lesson.step_index(step_id)]
    assert abs(expected(step, results_of(lesson)) - value) <= tol


def test_the_notes_mistake_for_pe_is_marked_wrong():
    lesson = COURSE.find("positional-encoding")
    step = lesson.steps[lesson.step_index("q-pe-last")]
    value = expected(step, results_of(lesson))
    assert not check_number("0.995", value, step.tolerance).correct
    assert check_number("0.99995", value, step.tolerance).correct


def test_the_tie_question_rejects_the_notes_answer():
    lesson = COURSE.find("self-attention")
    step = lesson.steps[lesson.step_index("q-tie")]
    assert step.choices[step.correct_index()] == "THE and SAT, tied"
    assert step.choices[0] == "SAT alone" and step.correct != "a"


# --- the validator on broken courses -------------------------------------------------------

def write_course(folder: Path, lesson_text: str, lesson_id="demo"):
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "course.toml").write_text(f'lessons = ["{lesson_id}"]\n')
    (folder / f"{lesson_id}.toml").write_text(lesson_text)
    return folder


GOOD = '''
id = "demo"
title = "Demo"

[[steps]]
id = "attn"
compute = "attention"
args = { sentence = "the cat sat" }

[[steps]]
id = "q1"
question = "Weight of THE on SAT?"
answer = "attn:weights[the, sat]"
hints = ["Look at the first row."]
'''


def test_a_good_course_passes(tmp_path):
    report = check_course(write_course(tmp_path, GOOD))
    assert report.problems == [] and report.questions == 1 and report.steps == 2


@pytest.mark.parametrize("change, message", [
    (('answer = "attn:weights[the, sat]"', 'answer = 0.42'), "not a literal value"),
    (('answer = "attn:weights[the, sat]"', 'answer = "attn:weights[the, dog]"'),
     "'dog' is not a label"),
    (('answer = "attn:weights[the, sat]"', 'answer = "attn:nope[0, 0]"'), "'nope' is not in"),
    (('answer = "attn:weights[the, sat]"', 'answer = "other:weights[0, 0]"'),
     "no computation 'other'"),
    (('answer = "attn:weights[the, sat]"', 'answer = "attn:weights[0]"'), "expected 2 indices"),
    (('answer = "attn:weights[the, sat]"', 'answer = "weights the sat"'), "expected a reference"),
    (('hints = ["Look at the first row."]', 'hints = ["  "]'), "a hint is empty"),
    (('hints = ["Look at the first row."]', 'hints = []'), "at least one hint"),
    (('hints = ["Look at the first row."]', 'hints = ["It is 0.42, roughly."]'),
     "the answer 0.42 is written"),
    (('id = "q1"', 'id = "attn"'), "used twice"),
    (('compute = "attention"', 'compute = "nonsense"'), "unknown computation"),
    (('args = { sentence = "the cat sat" }', 'args = { sentense = "x" }'), "unknown argument"),
    (('question = "Weight of THE on SAT?"', 'question = "Weight?"\ncolor = 1'), "unknown keys"),
    (('id = "demo"', 'id = "other"'), "must match the file name"),
    (('title = "Demo"', 'title = "Demo'), "not valid TOML"),
    (('title = "Demo"', 'title = "Demo"\nx = ' + "[" * 100_000 + "]" * 100_000),
     "demo.toml: nested more than 100 levels deep"),
    (('title = "Demo"', 'title = "Demo"\nx = ' + "{a = " * 150 + "1" + "}" * 150),
     "demo.toml: nested more than 100 levels deep"),
    (('title = "Demo"', 'title = "Demo"\n' + ".".join(["a"] * 100_000) + " = 1"),
     "demo.toml: a dotted key of more than 20 parts"),
    (('title = "Demo"', 'title = "Demo"\n#' + "x" * 256_000),
     "bytes, expected a lesson file of at most 256,000 bytes"),
])
def test_the_validator_finds_each_problem(tmp_path, change, message):
    old, new = change
    assert old in GOOD
    report = check_course(write_course(tmp_path, GOOD.replace(old, new, 1)))
    assert not report.ok
    assert any(message in p for p in report.problems), report.problems


def test_a_lesson_file_that_is_a_fifo_is_refused_without_waiting(tmp_path):
    if not hasattr(os, "mkfifo"):
        pytest.skip("no FIFOs here")
    write_course(tmp_path, GOOD)
    (tmp_path / "demo.toml").unlink()
    os.mkfifo(tmp_path / "demo.toml")
    report = check_course(tmp_path)                                    # returns: no open() wait
    assert report.problems == ["demo.toml: is a named pipe (FIFO), expected a lesson file "
                               "(a regular file)"]


def test_course_file_problems(tmp_path):
    write_course(tmp_path, GOOD)
    (tmp_path / "course.toml").write_text('lessons = ["demo", "demo"]\n')
    assert "listed twice" in check_course(tmp_path).problems[0]
    (tmp_path / "course.toml").write_text('lessons = ["list"]\n')
    assert "not list/reset/check/run" in check_course(tmp_path).problems[0]
    (tmp_path / "course.toml").write_text('lessons = ["missing"]\n')
    assert "file not found" in check_course(tmp_path).problems[0]


def test_course_parts(tmp_path):
    """[[parts]] in course.toml: each from its first lesson to the next part's first; a
    course without them is one part, as before."""
    write_course(tmp_path, GOOD)
    (tmp_path / "other.toml").write_text(GOOD.replace('id = "demo"', 'id = "other"'))
    lessons = 'lessons = ["demo", "other"]\n'
    part = '[[parts]]\ntitle = "{}"\nfirst = "{}"\n'
    (tmp_path / "course.toml").write_text(lessons)
    assert load_course(tmp_path).parts == []
    (tmp_path / "course.toml").write_text(lessons + part.format("One", "demo")
                                          + part.format("Two", "other"))
    course = load_course(tmp_path)
    assert [(p.number, p.title, p.first) for p in course.parts] == [(1, "One", "demo"),
                                                                    (2, "Two", "other")]
    assert course.part_starting_at(course.lessons[1]).title == "Two"
    assert course.part_starting_at(course.lessons[0]).number == 1
    for parts, message in ((part.format("Two", "other"), "the first starting at 'demo'"),
                           (part.format("One", "demo") + part.format("Two", "demo"),
                            "in the order of 'lessons'"),
                           (part.format("One", "nope"), "a lesson of 'lessons', got 'nope'"),
                           ('[[parts]]\ntitle = "One"\n', "'first'"),
                           (part.format("One", "demo") + 'colour = "red"\n', "unknown keys")):
        (tmp_path / "course.toml").write_text(lessons + parts)
        assert message in check_course(tmp_path).problems[0], parts
    (tmp_path / "course.toml").write_text(lessons + 'chapters = 2\n')
    assert "unknown keys chapters" in check_course(tmp_path).problems[0]


def test_the_shipped_course_has_three_parts():
    assert [p.title for p in COURSE.parts] == [
        "The Transformer, step by step", "Real vectors, real models, learning and writing",
        "From the 2017 Transformer to a model you can run"]
    assert [p.first for p in COURSE.parts][:2] == ["why-transformers", "word-vectors"]
    assert COURSE.find(COURSE.parts[2].first).number == 14


def test_a_choice_needs_a_valid_letter(tmp_path):
    text = GOOD + '''
[[steps]]
id = "c1"
question = "Pick"
choices = ["x", "y"]
correct = "c"
hints = ["h"]
'''
    report = check_course(write_course(tmp_path, text))
    assert any("'correct' must be one of a, b" in p for p in report.problems)


# --- computations and references ------------------------------------------------------------

def test_references_by_label_and_by_index_agree():
    result = run_computation("attention", {"sentence": "the cat sat"})
    by_label = resolve(result, parse_reference("a:weights[the, sat]"))
    by_index = resolve(result, parse_reference("a:weights[0, -1]"))
    assert by_label == by_index == pytest.approx(np.e / (2 * np.e + 1))
    assert resolve(result, parse_reference("a:q[cat, d2]")) == 1.0
    with pytest.raises(ComputeError, match="outside axis 1"):
        resolve(result, parse_reference("a:weights[3, 0]"))


def test_batched_engine_results_drop_the_batch_of_one():
    result = run_computation("transformer", {})
    masked = parse_reference("t:decoder.layers.0.self_attn.weights[head1, <s>, le]")
    assert resolve(result, masked) == 0.0                               # causal: no peeking
    diagonal = parse_reference("t:decoder.layers.0.self_attn.weights[head2, <s>, <s>]")
    assert resolve(result, diagonal) == pytest.approx(1.0)


def test_computation_arguments_are_checked():
    with pytest.raises(ComputeError, match="at most 8 words"):
        run_computation("attention", {"sentence": "a b c d e f g h i"})
    with pytest.raises(ComputeError, match="^heads: expected a number that divides dim 4, got 3$"):
        run_computation("attention", {"heads": 3})
    with pytest.raises(ComputeError, match="finite numbers"):
        run_computation("softmax", {"logits": [[1.0, float("nan")]]})


def test_a_computations_arguments_and_defaults_are_its_signature():
    import inspect

    from tutor.lessons.compute import REGISTRY, SIGNATURES

    for name, function in REGISTRY.items():
        parameters = inspect.signature(function).parameters.values()
        assert SIGNATURES[name] == {p.name: p.default for p in parameters}, name
    assert SIGNATURES["posenc"] == {"positions": 4, "dim": 4, "learned": False, "seed": 0}
    with pytest.raises(ComputeError, match="expected dim as a whole number from 1 to"):
        run_computation("posenc", {"dim": "4"})                        # the annotation checks it
    with pytest.raises(ComputeError, match="'relu'"):
        run_computation("feed-forward", {"activation": "tanh"})


def test_the_transformer_lesson_shows_tutor_transformers_own_steps():
    """A command and a lesson on one topic show the same screens: every step the lesson
    'together' shows of its transformer computation is the step `tutor transformer` prints
    for the same sentences, heads and seed (title, formula, worked line, meaning, numbers)."""
    from cli_helpers import assert_lesson_step_is_the_commands

    lesson = COURSE.find("together")
    step = lesson.steps[lesson.step_index("tf")]
    args = step.args
    assert_lesson_step_is_the_commands(step, ["transformer", "--src", args["source"], "--tgt",
                                              args["target"], "--heads", str(args["heads"]),
                                              "--seed", "0"])


def test_placeholders_name_the_learners_tokens():
    result = run_computation("attention", {"sentence": "my dog barked"})
    assert fill("'{mine.token[0]}' and '{mine.token[-1]}'", {"mine": result}) == "'my' and 'barked'"
    with pytest.raises(ComputeError):
        fill("{other.token[0]}", {"mine": result})


# --- answers --------------------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [("0.42", 0.42), (" -3 ", -3.0), ("3/7", 3 / 7),
                                         ("-1/2", -0.5), (".5", 0.5), ("1e-3", 0.001)])
def test_numbers_and_fractions(text, value):
    assert parse_number(text) == pytest.approx(value)


@pytest.mark.parametrize("text", ["nan", "inf", "-inf", "1/0", "abc", "1/2/3", "", "0x10",
                                  "1e999"])
def test_not_a_finite_number(text):
    with pytest.raises(AnswerError, match="expected a"):
        parse_number(text)


def test_tolerance_is_inclusive_and_ten_times_is_wrong():
    assert check_number("0.425", 0.42, 0.005).correct
    assert not check_number(str(0.42 + 0.05), 0.42, 0.005).correct
    assert decimals_for(0.005) == 4 and decimals_for(0.5) == 2


def test_choices_by_letter_or_number():
    assert parse_choice("B", 3) == 1 and parse_choice("b)", 3) == 1 and parse_choice("3", 3) == 2
    with pytest.raises(AnswerError, match="from a to c"):
        parse_choice("d", 3)


# --- progress -------------------------------------------------------------------------------

def test_state_dir_follows_the_environment(tmp_path):
    assert state_dir({"TUTOR_STATE_DIR": str(tmp_path)}) == tmp_path
    assert state_dir({"XDG_STATE_HOME": str(tmp_path)}) == tmp_path / "tutor"
    assert state_dir({}) == Path.home() / ".local" / "state" / "tutor"


def test_progress_round_trip_and_atomic_files(tmp_path):
    path = tmp_path / "state" / "progress.json"
    progress = Progress(path)
    progress.mark("scaling", "problem", "seen")
    progress.set_input("self-attention", "mine", "my own words")
    again = Progress(path)
    assert again.state("scaling", "problem") == "seen"
    assert again.input("self-attention", "mine") == "my own words"
    assert json.loads(path.read_text())["version"] == 1
    assert [p.name for p in path.parent.iterdir()] == ["progress.json"]   # no temporary left


@pytest.mark.parametrize("content, reason", [
    ("{not json", "not valid JSON"),
    ('{"version": 99, "lessons": {}}', "format version 99"),
    ('{"version": 1, "lessons": {"x": {"done": {"a": "maybe"}}}}', "unknown step state"),
    ("[1, 2]", "does not hold a JSON object"),
])
def test_a_bad_progress_file_is_set_aside_with_a_warning(tmp_path, content, reason):
    path = tmp_path / "progress.json"
    path.write_text(content)
    warnings = []
    progress = Progress(path, warn=warnings.append)
    assert len(warnings) == 1 and reason in warnings[0]
    assert progress.data["lessons"] == {}
    aside = [p for p in tmp_path.iterdir() if p.name.startswith("progress.json.bad-")]
    assert len(aside) == 1 and aside[0].read_text() == content


def test_the_together_lesson_adds_positional_encoding_like_tutor_transformer():
    result = run_computation("transformer", {"source": "the cat sat", "target": "le chat"})
    trace = result.trace
    embedded, pe = trace["src_input.embedded"], trace["src_input.pe"]
    np.testing.assert_allclose(pe[1], [np.sin(1), np.cos(1), np.sin(0.01), np.cos(0.01)])
    np.testing.assert_allclose(trace["encoder.layers.0.input"][0], embedded + pe)


@pytest.mark.parametrize("args", [{"scale": "false"}, {"causal": 1}])
def test_boolean_arguments_must_be_booleans(args):
    with pytest.raises(ComputeError, match="as true or false"):
        run_computation("attention", args)


def test_dot_growth_is_bounded_like_tutor_scaling():
    with pytest.raises(ComputeError, match="30,000,000"):
        run_computation("dot-growth", {"dims": [4096], "samples": 20000, "keys": 64})


def test_a_progress_folder_that_cannot_be_written_is_a_user_error(tmp_path):
    from tutor.errors import TutorError
    from tutor.lessons.progress import Progress

    blocker = tmp_path / "file"
    blocker.write_text("")
    progress = Progress(blocker / "sub" / "progress.json")
    with pytest.raises(TutorError, match="cannot save lesson progress .* set TUTOR_STATE_DIR"):
        progress.mark("scaling", "problem", "seen")
