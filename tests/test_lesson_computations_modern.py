"""The lesson computations of the course's third part (rope, rmsnorm, ffn, gqa, norm-placement
in lessons/compute.py) and the lessons built on them: each step shows what the command shows,
each number answer is the closed form, and each question can be solved from the numbers on
the screen, at the decimals shown."""

import math

import numpy as np
import pytest

from cli_helpers import assert_lesson_step_is_the_commands
from tutor.lessons.answers import check_number
from tutor.lessons.compute import ComputeError, run_computation
from tutor.lessons.course import load_course
from tutor.lessons.session import Session

COURSE = load_course()
PART3 = ["rope", "norm-ffn", "gqa-cache"]


@pytest.fixture(scope="module")
def sessions():
    """Each part-3 lesson with every computation run, as the session runs them."""
    out = {}
    for lesson_id in PART3:
        lesson = COURSE.find(lesson_id)
        session = Session(lesson)
        session.prepare(len(lesson.steps))
        out[lesson_id] = session
    return out


def answer(sessions, lesson_id, step_id):
    session = sessions[lesson_id]
    return session.expected(session.lesson.steps[session.lesson.step_index(step_id)])


def shown(sessions, lesson_id, step_id, name):
    """The numbers of ``name`` in the results of the lesson's step ``step_id`` (in full;
    :func:`two_decimals` rounds them as the screen writes most of them)."""
    session = sessions[lesson_id]
    result = session.results[step_id]
    return np.asarray(result.trace[name], dtype=float)


def two_decimals(x):
    return np.round(np.asarray(x, dtype=float), 2)


def accepts(sessions, lesson_id, step_id, reply: float) -> bool:
    """Whether the lesson accepts ``reply`` (a number worked out from the screen)."""
    session = sessions[lesson_id]
    step = session.lesson.steps[session.lesson.step_index(step_id)]
    return check_number(f"{reply:.6f}", session.expected(step), step.tolerance,
                        shown_decimals=step.shown_decimals,
                        rel_tolerance=step.rel_tolerance).correct


# --- the course ------------------------------------------------------------------------------

def test_part_three_follows_generation_and_is_its_own_part():
    ids = [lesson.id for lesson in COURSE.lessons]
    assert ids.index("rope") > ids.index("generation")
    assert ids.index("rope") < ids.index("norm-ffn") < ids.index("gqa-cache")
    part = COURSE.parts[-1]
    assert part.number == 3 and part.title == "From the 2017 Transformer to a model you can run"
    assert ids.index(part.first) > ids.index("generation")
    for lesson_id in PART3:
        lesson = COURSE.find(lesson_id)
        assert len(lesson.questions) >= 5
        assert lesson.steps[-1].is_question                  # the score follows the last one


# --- the command's own screens ---------------------------------------------------------------

@pytest.mark.parametrize("lesson_id, step_id, command", [
    ("rope", "angles", ["rope", "--dim", "8", "--positions", "6", "--seed", "0"]),
    ("rope", "rotate", ["rope", "--dim", "8", "--positions", "6", "--seed", "0"]),
    ("rope", "layouts", ["rope", "--dim", "8", "--positions", "6", "--seed", "0"]),
    ("norm-ffn", "rms", ["rmsnorm", "1,2,3,4"]),
    ("norm-ffn", "rms-cost", ["rmsnorm", "1,2,3,4"]),
    ("norm-ffn", "ffn", ["ffn", "the cat sat", "--seed", "0"]),
    ("norm-ffn", "ffn-params", ["ffn", "the cat sat", "--seed", "0"]),
    ("gqa-cache", "group", ["gqa", "the cat sat", "--heads", "4", "--kv-heads", "2",
                            "--seed", "0"]),
    ("gqa-cache", "cache", ["gqa", "the cat sat", "--heads", "4", "--kv-heads", "2",
                            "--seed", "0"]),
])
def test_a_lesson_step_is_the_commands_own_step(lesson_id, step_id, command):
    """The lesson and the calculator show the same step for the same inputs: title, formula,
    worked lines, meaning and every number of its matrices."""
    lesson = COURSE.find(lesson_id)
    step = lesson.steps[lesson.step_index(step_id)]
    assert_lesson_step_is_the_commands(step, command)


# --- the answers are the closed forms --------------------------------------------------------

def test_rope_answers(sessions):
    assert answer(sessions, "rope", "q-theta") == pytest.approx(10000 ** -0.5, abs=1e-15)
    assert answer(sessions, "rope", "q-angle") == pytest.approx(4 * 10000 ** -0.25, abs=1e-15)
    q = shown(sessions, "rope", "rotate", "queries")[1]                    # the q at p1
    assert answer(sessions, "rope", "q-rotate") == \
        pytest.approx(q[4] * math.cos(1) + q[0] * math.sin(1), abs=1e-12)
    rotated = shown(sessions, "rope", "rotate", "rope.out")
    assert np.linalg.norm(rotated, axis=1) == pytest.approx(np.linalg.norm(q))   # q-length: a
    scores = shown(sessions, "rope", "scores", "scores.rope")
    assert answer(sessions, "rope", "q-score") == scores[4, 1]
    assert scores[5, 2] == pytest.approx(scores[4, 1], abs=1e-12)           # q-same-offset: a
    assert abs(scores[1, 4] - scores[4, 1]) > 0.1 and abs(scores[4, 4] - scores[4, 1]) > 0.1
    sinus = shown(sessions, "rope", "sinusoidal", "scores.sinusoidal")
    assert abs(sinus[4, 1] - sinus[5, 2]) > 0.5                            # q-sinusoidal: b
    assert float(shown(sessions, "rope", "layouts", "layouts.max_diff")) < 1e-12  # q-layouts: a


def test_norm_ffn_answers(sessions):
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert answer(sessions, "norm-ffn", "q-mean-square") == pytest.approx(7.5, abs=1e-15)
    assert answer(sessions, "norm-ffn", "q-normalized") == \
        pytest.approx(4 / math.sqrt(7.5 + 1e-5), abs=1e-12)
    assert answer(sessions, "norm-ffn", "q-params") == 4
    layer = shown(sessions, "norm-ffn", "rms-ln", "layer.out")
    np.testing.assert_allclose(layer, (x - 2.5) / math.sqrt(1.25 + 1e-5), atol=1e-12)
    gate = shown(sessions, "norm-ffn", "ffn", "swiglu.gate")
    assert gate[2, 5] == pytest.approx(-2.0)                                # as the question says
    assert answer(sessions, "norm-ffn", "q-silu") == pytest.approx(-2 / (1 + math.e ** 2))
    silu = shown(sessions, "norm-ffn", "ffn", "swiglu.silu")
    up = shown(sessions, "norm-ffn", "ffn", "swiglu.up")
    assert answer(sessions, "norm-ffn", "q-hidden") == pytest.approx(silu[2, 1] * up[2, 1])
    assert gate[1, 0] == 0 and shown(sessions, "norm-ffn", "ffn-hidden",
                                     "swiglu.hidden")[1, 0] == 0         # q-closed-gate: a
    assert answer(sessions, "norm-ffn", "q-swiglu-params") == 3 * 4 * 6
    smol = shown(sessions, "norm-ffn", "ffn-params", "params_smollm2")
    assert smol.tolist() == [[1536, 3 * 576 * 1536], [2304, 2 * 576 * 2304]]   # q-smollm2: a
    assert answer(sessions, "norm-ffn", "q-post-var") == pytest.approx(1.0, abs=1e-4)
    pre_out = shown(sessions, "norm-ffn", "pn-rows", "pre.encoder.layers.0.output")[0, 0]
    assert answer(sessions, "norm-ffn", "q-pre-var") == pytest.approx(pre_out.var(), abs=1e-12)
    assert abs(answer(sessions, "norm-ffn", "q-pre-var") - 1) > 0.1


def test_pre_norm_adds_the_input_itself(sessions):
    """q-pre-added: x + attention(norm(x)) minus x is attention's output on norm(x), and
    post-norm's norm is layer norm of its sum (the same weights, run both ways)."""
    result = sessions["norm-ffn"].results["pn-pre"]
    pre = "pre.encoder.layers.0."
    np.testing.assert_allclose(result.trace[pre + "add1"] - result.trace[pre + "input"],
                               result.trace[pre + "self_attn.out_proj"], atol=1e-12)
    np.testing.assert_array_equal(result.trace[pre + "self_attn.q"].shape[-1:], (4,))
    post = "post.encoder.layers.0."
    add1 = np.asarray(result.trace[post + "add1"])
    norm = (add1 - add1.mean(-1, keepdims=True)) / np.sqrt(add1.var(-1, keepdims=True) + 1e-5)
    np.testing.assert_allclose(result.trace[post + "norm1.out"], norm, atol=1e-12)


def test_gqa_cache_answers(sessions):
    weights = shown(sessions, "gqa-cache", "group", "gqa.weights")[0]
    assert answer(sessions, "gqa-cache", "q-weight") == weights[1, 0, 1]
    group = shown(sessions, "gqa-cache", "group", "group")
    assert group.tolist() == [0, 0, 1, 1]                                   # q-members: a
    assert float(shown(sessions, "gqa-cache", "equal", "mha.max_diff")) < 1e-12  # q-equal: a
    assert answer(sessions, "gqa-cache", "q-bytes") == 2 * 30 * 3 * 64 * 4 == 46_080
    smol = shown(sessions, "gqa-cache", "cache", "cache.smollm2")
    assert smol[0, 1] / smol[1, 1] == 3 and smol[0, 1] / smol[2, 1] == 9     # q-ratio: a
    assert answer(sessions, "gqa-cache", "q-context") == 46_080 * 2048 == 94_371_840


# --- answerable from the screen, at the decimals shown ---------------------------------------

def test_every_number_question_is_solved_from_the_shown_numbers(sessions):
    """Work each answer out as a learner does, from the numbers as the screen writes them
    (two decimals), and check that the lesson accepts it."""
    theta = two_decimals(shown(sessions, "rope", "angles", "rope.theta"))
    q = two_decimals(shown(sessions, "rope", "rotate", "queries"))[1]
    scores = two_decimals(shown(sessions, "rope", "scores", "scores.rope"))
    replies = {
        ("rope", "q-theta"): theta[2],
        ("rope", "q-angle"): 4 * theta[1],
        ("rope", "q-rotate"): q[4] * math.cos(1) + q[0] * math.sin(1),
        ("rope", "q-score"): scores[4, 1],
        ("norm-ffn", "q-mean-square"): (1 + 4 + 9 + 16) / 4,
        ("norm-ffn", "q-normalized"): 4 / two_decimals(shown(sessions, "norm-ffn", "rms",
                                                             "rms.rms"))[0],
        ("norm-ffn", "q-params"): shown(sessions, "norm-ffn", "rms-cost", "counts")[1, 2],
        ("norm-ffn", "q-silu"): -2 / (1 + math.e ** 2),
        ("norm-ffn", "q-hidden"): two_decimals(shown(sessions, "norm-ffn", "ffn",
                                                     "swiglu.silu"))[2, 1]
        * two_decimals(shown(sessions, "norm-ffn", "ffn", "swiglu.up"))[2, 1],
        ("norm-ffn", "q-swiglu-params"): 3 * 4 * 6,
        ("norm-ffn", "q-post-var"): two_decimals(shown(sessions, "norm-ffn", "pn-rows",
                                                       "post.stats.var"))[0, 0, 0],
        ("norm-ffn", "q-pre-var"): two_decimals(shown(sessions, "norm-ffn", "pn-rows",
                                                      "pre.stats.var"))[0, 0, 0],
        ("gqa-cache", "q-weight"): two_decimals(shown(sessions, "gqa-cache", "group",
                                                      "gqa.weights"))[0, 1, 0, 1],
        ("gqa-cache", "q-bytes"): 2 * 30 * 3 * 64 * 4,
        ("gqa-cache", "q-context"): 9.4e7,                       # "a form such as 9.4e7"
    }
    asked = {(lesson_id, s.id) for lesson_id in PART3 for s in COURSE.find(lesson_id).steps
             if s.kind == "number"}
    assert asked == set(replies)
    for (lesson_id, step_id), reply in replies.items():
        assert accepts(sessions, lesson_id, step_id, float(reply)), (lesson_id, step_id)
    assert not accepts(sessions, "rope", "q-theta", 0.1)              # θ1 instead of θ2
    assert not accepts(sessions, "gqa-cache", "q-bytes", 138_240)     # MHA's cache


# --- arguments -------------------------------------------------------------------------------

@pytest.mark.parametrize("name, args, message", [
    ("rope", {"dim": 7}, "even dim"),
    ("rope", {"dim": 4, "query": [1, 2, 3]}, "query with 4 numbers"),
    ("rope", {"positions": 0}, "positions"),
    ("rmsnorm", {"vector": [1, 2], "gain": [1]}, "gain with 2 numbers"),
    ("rmsnorm", {"vector": [0, 0], "eps": 0}, "only zeros"),
    ("rmsnorm", {"vector": [[1, 2], [3, 4]]}, "one list of numbers"),
    ("ffn", {"kind": "tanh"}, "'swiglu'"),
    ("gqa", {"heads": 6, "kv_heads": 4}, "kv_heads: expected a divisor of heads 6"),
    ("norm-placement", {"dim": 1}, "dim"),
])
def test_bad_arguments_are_one_line_errors(name, args, message):
    with pytest.raises(ComputeError, match=message):
        run_computation(name, args)


def test_rope_with_a_given_query_and_key():
    result = run_computation("rope", {"dim": 2, "positions": 3, "query": [1, 0],
                                      "key": [1, 0]})
    np.testing.assert_allclose(result.trace["rope.out"],
                               [[1, 0], [math.cos(1), math.sin(1)], [math.cos(2), math.sin(2)]],
                               atol=1e-15)
    np.testing.assert_allclose(np.diag(result.trace["scores.rope"]), 1.0, atol=1e-15)


def test_an_answer_read_from_a_vector_names_it_as_shown(sessions):
    """A vector shown as one row is named by its shown name and column, never by its trace
    name ('mean_square, entry d1' before)."""
    def place(lesson_id, step_id):
        session = sessions[lesson_id]
        return session.place(session.lesson.steps[session.lesson.step_index(step_id)])

    assert place("norm-ffn", "q-mean-square") == "mean(x²), column ms"
    assert place("norm-ffn", "q-normalized") == "n, column d4"
    assert place("rope", "q-theta") == "θ, column θ2"
    assert place("gqa-cache", "q-context") == "cache, column GQA"
    assert place("rope", "q-angle") == "pos·θ, row p4, column θ1"              # unchanged
