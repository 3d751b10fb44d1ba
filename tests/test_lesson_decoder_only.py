"""The lesson "decoder-only" (lessons/decoder-only.toml, computation `decoder-only` in
tutor/lessons/compute.py): it shows `tutor decoder-only`'s own steps, its answers are the
closed forms, and at 80×40 a resumed question shows its matrix again and the lesson ends
with the score."""

import json

import numpy as np
import pytest

from cli_helpers import invoke_json
from tmux_terminal import Terminal, have_tmux

from tutor.lessons.compute import run_lesson_computation
from tutor.lessons.course import load_course
from tutor.lessons.references import expected
from tutor.render.text import to_json
from tutor.resources import lessons_dir

LESSON = load_course(lessons_dir()).find("decoder-only")


@pytest.fixture(scope="module")
def results():
    return {s.id: run_lesson_computation(s) for s in LESSON.steps if s.kind == "compute"}


def _question(step_id):
    return LESSON.steps[LESSON.step_index(step_id)]


def test_it_follows_generation_in_the_course():
    ids = [lesson.id for lesson in load_course(lessons_dir()).lessons]
    assert ids.index("decoder-only") == ids.index("generation") + 1


def test_the_lesson_shows_tutor_decoder_onlys_own_steps(results):
    theirs = invoke_json("decoder-only", "the cat sat", "--seed", "0")
    for step in LESSON.steps:
        if step.kind != "compute":
            continue
        ours = json.loads(to_json(results[step.id].document))
        for key in step.show:
            mine = next(s for s in ours["steps"] if s["key"] == key)
            assert mine == next(s for s in theirs["steps"] if s["key"] == key), key
        for name in ("attn.weights", "h", "embedding", "logits.tied", "tying"):
            np.testing.assert_array_equal(ours["matrices"][name], theirs["matrices"][name])


def test_answers_are_the_closed_forms(results):
    m = results["mask"].trace
    q, k = np.asarray(m["attn.q"]), np.asarray(m["attn.k"])
    s = q[1] @ k[:2].T / 2.0                                     # CAT sees THE and itself; √4
    assert abs(expected(_question("q-cat-the"), results)
               - np.exp(s[0]) / np.exp(s).sum()) < 1e-12
    h, e = np.asarray(m["h"]), np.asarray(m["embedding"])
    assert abs(expected(_question("q-logit"), results) - h[1] @ e[1]) < 1e-12
    assert expected(_question("q-saved-here"), results) == 6 * 4      # V · d_model


@pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")
def test_at_80x40_a_resumed_question_shows_its_matrix_and_the_lesson_ends_with_a_score(
        tmp_path):
    with Terminal(["lesson", "decoder-only", "--step", "q-logit"], tmp_path / "state") as term:
        screen = term.wait_for("Your answer")
        assert "Shown again" in screen and "logits = h·Eᵀ" in screen
        assert screen.index("Shown again") < screen.index("What is the logit of word w2")
        head = {"head": run_lesson_computation(_question("head"))}
        value = f"{expected(_question('q-logit'), head):.2f}"
        row = next(line for line in screen.splitlines() if line.startswith("│ cat ")
                   and value in line)                              # CAT's row of the logits
        assert len(row) <= 80
        for reply in (value, "a", "", "24"):
            before = term.history()
            term.type(reply)
            term.wait_prompt(before)
        term.type("c")
        screen = term.wait_for("__EXIT__ 0")
        assert "Score: 4 of 7 right at the first try (3 not answered yet)." in screen
