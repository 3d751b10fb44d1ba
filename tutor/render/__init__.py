"""The presentation layer: arrays and recorded steps -> tables, heatmaps, step panels and text.

Render functions return renderables or strings; they never print and never compute model
math (every number shown comes from the engine's trace). The pieces:

* :mod:`tutor.render.document` -- a format-free walkthrough (steps, parts, labelled matrices)
  and number formatting;
* :mod:`tutor.render.builder` -- the one document builder every renderer uses;
* :mod:`tutor.render.console` -- Rich renderables (matrix tables, heatmaps, step panels);
* :mod:`tutor.render.text` -- plain JSON, Markdown and LaTeX emitters;
* :mod:`tutor.render.attention`, ``multihead``, ``posenc``, ``norm``, ``softmax``,
  ``scaling``, ``stack`` -- one document per walkthrough, built from its trace;
* :mod:`tutor.render.lesson` -- lesson views (a computation's document, questions, progress).
"""
