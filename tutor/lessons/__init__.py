"""Lesson mode: the course as data (TOML files in the top-level ``lessons/`` folder), the
computations lessons may run, answer checking, progress and the session that shows a lesson.

* :mod:`.course`   -- the lesson format and its loader (``load_course``);
* :mod:`.compute`  -- the registry of computations (each checks its arguments with
  :mod:`.arguments`, runs a walkthrough and takes a renderer's document);
* :mod:`.references` -- answer references into their results (``"attn:weights[the, sat]"``);
* :mod:`.recorded` -- recordings shown instead of a live run (MiniLM absent, training);
* :mod:`.answers`  -- reading a learner's answer and checking it;
* :mod:`.check`    -- the validator behind ``tutor lesson check`` and the tests;
* :mod:`.progress` -- the progress file, written atomically;
* :mod:`.session`  -- showing a lesson, asking its questions.

Nothing here computes model math: every number comes from a walkthrough
(:mod:`tutor.walkthroughs`), the same one the commands run.
"""

from .course import Course, Lesson, LessonError, LessonStep, load_course

__all__ = ["Course", "Lesson", "LessonError", "LessonStep", "load_course"]
