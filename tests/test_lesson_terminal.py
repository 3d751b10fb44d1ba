"""`tutor lesson` in a real terminal (tmux, 80×40): resuming at a question shows its matrix,
a step taller than the terminal pauses with the first page in view, wrong choices are told
what was wrong, the accepted answer forms, the score and the review, and the scores in
`tutor lesson list`. Skipped where tmux is not installed."""

import pytest

from tmux_terminal import HEIGHT, Terminal, have_tmux

pytestmark = pytest.mark.skipif(not have_tmux(), reason="tmux is not installed")


@pytest.fixture
def state(tmp_path):
    return tmp_path / "state"


def test_resuming_at_a_question_in_a_terminal(state):
    with Terminal(["lesson", "4", "--step", "q-tie"], state) as term:
        screen = term.wait_for("Your answer")
        assert "Shown again, from step 5 of 16" in screen
        assert screen.index("Shown again") < screen.index("Which keys get THE's highest")
        assert "the     2     0     2" in screen                       # THE's row of scores
        assert "\x1b" not in screen
        before = term.history()
        term.type("a")
        screen = term.wait_prompt(before)
        assert "Not quite. SAT does score 2 against THE, but so does THE itself" in \
            " ".join(screen.split())
        before = term.history()
        term.type("2")                                                 # b, as a number
        screen = term.wait_prompt(before)
        assert "Right: b) THE and SAT, tied" in screen
        term.type("q")
        term.wait_for("__EXIT__ 0")


def test_a_tall_step_pauses_with_its_first_page_in_view(state):
    with Terminal(["lesson", "multi-head", "--step", "mh"], state) as term:
        screen = term.wait_for("Enter for more, q to quit:")
        lines = screen.splitlines()
        assert len(lines) <= HEIGHT
        assert any(line.startswith("── 2/7 · mh") for line in lines)     # the top is in view
        assert "Step 5 of 8 · Softmax per row" in screen                 # the first panel
        assert "Concatenate the heads" not in screen                     # the next page
        assert lines[-1].startswith("Enter for more") or \
            [line for line in lines if line][-1].startswith("Enter for more")
        before = term.history()
        term.type("")
        screen = term.wait_prompt(before)
        assert "Enter to continue, q to quit:" in screen
        assert "Output projection" in screen
        term.type("q")
        term.wait_for("__EXIT__ 0")


def test_answer_forms_score_review_and_list(state):
    with Terminal(["lesson", "1"], state) as term:
        term.wait_prompt()
        for reply in ["", "", "", "1", "4/2", "b", "a", "2"]:
            # three steps; q-cat-sat: 1 (wrong), 4/2; q-steps: b; q-why: a (wrong), 2 (= b)
            before = term.history()
            term.type(reply)
            screen = term.wait_prompt(before)
        assert "Score: 1 of 3 right at the first try." in screen
        assert "Review the 2 questions you missed (questions 1 and 3)? [y/N]" in screen
        before = term.history()
        term.type("y")
        screen = term.wait_prompt(before)
        assert "Shown again, from step 3 of 6" in screen                # the scores, again
        before = term.history()
        term.type("2,0")                                               # a decimal comma
        screen = term.wait_prompt(before)
        assert "Right: 2 (scores, row cat, column sat" in screen
        before = term.history()
        term.type("200%")                                              # a choice wants a letter
        screen = term.wait_prompt(before)
        assert "Expected a choice from a to c (or 1 to 3), got '200%'." in screen
        term.type("B")
        term.wait_for("Reviewed: every question of this lesson is now answered right.")
        term.wait_for("__EXIT__ 0")
    with Terminal(["lesson", "list"], state) as term:
        screen = term.wait_for("__EXIT__ 0")
        row = next(line for line in screen.splitlines() if line.strip().startswith("1 "))
        assert row.split()[-2:] == ["1/3", "✓"]


def test_a_part_three_question_resumed_keeps_its_table_in_view(state):
    """gqa-cache resumed at the cache question: the cache tables shown again, the SmolLM2
    rows and the question on one 80×40 screen, and the answer checked."""
    with Terminal(["lesson", "gqa-cache", "--step", "q-bytes"], state) as term:
        screen = term.wait_for("Your answer")
        lines = screen.splitlines()
        assert len(lines) <= HEIGHT and "Shown again, from step 9 of 13" in screen
        assert "GQA          3    46080" in screen                        # SmolLM2's GQA row
        assert screen.index("46080") < screen.index("How many bytes of cache")
        before = term.history()
        term.type("46080")
        screen = term.wait_prompt(before)
        assert "Right: 46080 (cache, row GQA, column bytes" in screen
        term.type("q")
        term.wait_for("__EXIT__ 0")
