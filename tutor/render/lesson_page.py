"""A lesson as one offline HTML page (``tutor lesson N --html FILE``).

The page holds everything in one file: the lesson's text (its Markdown as HTML, every
character escaped, raw HTML shown as text, links and images kept as text), each
computation's pictures (the Rich renderables the session prints, :func:`picture`, each an
inline SVG as ``--svg`` draws it, its text selectable and searchable), and the questions with their choices, each hint and the answer behind a click (``<details>``).

Nothing is fetched: no external URL, no web font (a stack of locally installed fonts,
:data:`tutor.render.export.MONOSPACE` and ``SANS``), no image file; a Content-Security-Policy
forbids any request the page might still make. A tiny inline script (allowed by its hash)
writes into the page, on load, how many resources the browser fetched (``performance``'s
resource entries) and how many steps it laid out, so a headless browser's dump proves both.

This module only lays out what it is given (the session, :func:`tutor.lessons.session.
lesson_page`, hands it the texts and the renderables of every step); it computes nothing.
"""

from __future__ import annotations

import base64
import hashlib
import io
from html import escape

from rich.text import Text

from .export import MONOSPACE, SANS, export_svg

# what the page's check element is called and what it records (a test reads them)
CHECK_ID = "page-check"

SCRIPT = """\
addEventListener("load", function () {
  var steps = document.querySelectorAll("section.step");
  var pictures = document.querySelectorAll("section.step figure.picture");
  var shown = 0, drawn = 0;
  steps.forEach(function (s) { if (s.getBoundingClientRect().height > 0) shown++; });
  pictures.forEach(function (p) { if (p.getBoundingClientRect().height > 0) drawn++; });
  var check = document.getElementById("page-check");
  check.setAttribute("data-resources", performance.getEntriesByType("resource").length);
  check.setAttribute("data-steps", steps.length);
  check.setAttribute("data-steps-shown", shown);
  check.setAttribute("data-pictures", pictures.length);
  check.setAttribute("data-pictures-shown", drawn);
});
"""

STYLE = """\
:root { color-scheme: light; }
body { font-family: %(sans)s; color: #1b1b1b; background: #ffffff; margin: 0;
       line-height: 1.5; }
main { max-width: 46rem; margin: 0 auto; padding: 1.5rem 1rem 3rem; }
header h1 { font-size: 1.5rem; margin: 0 0 .25rem; }
header .summary { color: #555; margin: 0 0 1rem; }
header .course { color: #777; font-size: .9rem; margin: 0; }
section.step { border-top: 1px solid #ddd; padding: .5rem 0 .75rem; }
.rule { color: #888; font-size: .8rem; margin: 0; font-family: %(mono)s; }
h2 { font-size: 1.05rem; margin: .4rem 0; }
code, pre { font-family: %(mono)s; }
code { background: #f2f2f2; padding: 0 .2em; border-radius: 3px; }
figure.picture { margin: .5rem 0; }
figure.picture svg { display: block; width: 100%%; height: auto; }
.ask { color: #555; font-style: italic; }
section.question { background: #fffbea; border: 1px solid #e8d48a; border-radius: 6px;
                   padding: .5rem 1rem .75rem; margin: .75rem 0; }
ol.choices { list-style: none; padding-left: 1rem; }
.how { color: #666; font-size: .9rem; }
details { margin: .35rem 0; }
details > summary { cursor: pointer; color: #1a4f9c; }
details.answer > summary { font-weight: bold; }
details .body { padding: .25rem 0 0 1rem; }
.value { color: #116622; font-weight: bold; }
footer { color: #888; font-size: .8rem; margin-top: 2rem; }
""" % {"sans": SANS, "mono": MONOSPACE}


def markdown_html(text: str) -> str:
    """A lesson's Markdown as HTML: CommonMark with raw HTML escaped (shown as text), and
    links, images and autolinks off (their text stays; a page that fetches nothing)."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark", {"html": False})
    md.disable(["link", "image", "autolink"])
    return md.render(text.strip())


def picture(renderable, width: int = 80, title: str = "tutor") -> str:
    """A Rich renderable (a step panel, a matrix table) as the console would print it
    ``width`` columns wide, in colour: the SVG picture of ``tutor --svg``
    (:func:`tutor.render.export.export_svg`: local fonts, borders that join), inline in a
    ``<figure class="picture">``. Its text is escaped by Rich's exporter; the namespace
    attribute an HTML page does not need is dropped, so the page names no URL at all."""
    from rich.console import Console

    console = Console(record=True, file=io.StringIO(), width=width, force_terminal=True,
                      color_system="truecolor", highlight=False, emoji=False,
                      legacy_windows=False)
    console.print(renderable)
    svg = export_svg(console, title).replace(' xmlns="http://www.w3.org/2000/svg"', "", 1)
    return f'<figure class="picture">{svg.strip()}</figure>'


def script_hash(script: str = SCRIPT) -> str:
    """The Content-Security-Policy source that allows exactly ``script``: 'sha256-…'."""
    digest = hashlib.sha256(script.encode("utf-8")).digest()
    return f"'sha256-{base64.b64encode(digest).decode('ascii')}'"


def _paragraph(text: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<p{cls}>{escape(' '.join(text.split()))}</p>"


class LessonPage:
    """One lesson's page, step by step in the lesson's order. ``steps``: how many steps the
    lesson has (each section says 'i/n · id', as the terminal's rule does)."""

    def __init__(self, number: int, total: int, title: str, summary: str, steps: int,
                 course: str = "", width: int = 80):
        self.number = number
        self.total = total
        self.title = title
        self.summary = summary
        self.steps = steps
        self.course = course
        self.width = width
        self.sections: list[str] = []
        self.questions = 0
        self.pictures = 0

    def _section(self, step_id: str, body: list[str], css: str = "") -> None:
        index = len(self.sections) + 1
        rule = f'<p class="rule">{index}/{self.steps} · {escape(step_id)}</p>'
        classes = "step" + (f" {css}" if css else "")
        self.sections.append(f'<section class="{classes}" id="step-{escape(step_id)}" '
                             f'data-step="{escape(step_id)}">\n{rule}\n'
                             + "\n".join(body) + "\n</section>")

    def prose(self, step_id: str, text: str) -> None:
        """A step of text: ``text`` is Markdown."""
        self._section(step_id, [markdown_html(text)], "prose")

    def computation(self, step_id: str, text: str, renderables: list, *, ask: str = "",
                    sentence: str = "") -> None:
        """A computation: the words before it (Markdown), then each renderable the session
        prints for it: a line of text (a rich ``Text``, the computation's title) as a heading,
        anything else as a picture titled 'tutor lesson N' (the screen that command shows).
        ``ask``: the prompt a learner answers in the terminal
        (the page shows the lesson's own ``sentence``)."""
        body = [markdown_html(text)] if text.strip() else []
        if ask:
            body.append(_paragraph(f"In the terminal the lesson asks here: “{ask}” This page "
                                   f"shows its example, “{sentence}”." if sentence else
                                   f"In the terminal the lesson asks here: “{ask}”", "ask"))
        for renderable in renderables:
            if isinstance(renderable, Text):             # a heading line: text, not a picture
                line = escape(" ".join(renderable.plain.split()))
                bold = "bold" in str(renderable.style)
                body.append(f"<h2>{line}</h2>" if bold else f"<p>{line}</p>")
                continue
            body.append(picture(renderable, self.width, f"tutor lesson {self.number}"))
            self.pictures += 1
        self._section(step_id, body, "compute")

    def question(self, step_id: str, number: int, total: int, text: str, *,
                 choices: list[str] = (), how: str = "", hints: list[str] = (),
                 answer: str = "", explain: str = "", feedback: dict[str, str] | None = None,
                 about: tuple[str, str] | None = None) -> None:
        """A question: its text, the choices (a, b, …), how it is checked, then each hint
        and the answer (with ``explain`` and the notes on wrong choices, ``feedback`` by
        letter) behind a click. ``about``: (the step id, its title) the numbers are read
        from, linked within the page."""
        self.questions += 1
        body = [f"<h2>Question {number} of {total}</h2>", _paragraph(text)]
        if choices:
            body.append('<ol class="choices">' + "".join(               # a) as the answer says
                f"<li>{chr(ord('a') + i)}) {escape(' '.join(c.split()))}</li>"
                for i, c in enumerate(choices)) + "</ol>")
        if about:
            body.append(f'<p class="how">Read it from <a href="#step-{escape(about[0])}">'
                        f'{escape(about[1])}</a> above.</p>')
        if how:
            body.append(_paragraph(how, "how"))
        for i, hint in enumerate(hints, 1):
            body.append(f'<details class="hint"><summary>Hint {i}</summary>'
                        f'<div class="body">{_paragraph(hint)}</div></details>')
        inner = [f'<p>Answer: <span class="value">{escape(answer)}</span></p>']
        if explain.strip():
            inner.append(markdown_html(explain))
        for letter, note in sorted((feedback or {}).items()):
            inner.append(_paragraph(f"If you chose {letter}): {note}", "how"))
        body.append(f'<details class="answer" id="answer-{escape(step_id)}"><summary>Show the '
                    f'answer</summary><div class="body">{"".join(inner)}</div></details>')
        self._section(step_id, body, "question")

    def html(self) -> str:
        """The page: one HTML document, nothing outside it."""
        title = f"Lesson {self.number} of {self.total} · {self.title}"
        policy = ("default-src 'none'; style-src 'unsafe-inline'; "
                  f"script-src {script_hash()}; base-uri 'none'; form-action 'none'")
        course = (f'<p class="course">{escape(self.course)}</p>' if self.course else "")
        summary = (f'<p class="summary">{escape(" ".join(self.summary.split()))}</p>'
                   if self.summary.strip() else "")
        return "\n".join([
            "<!DOCTYPE html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="UTF-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            f"<title>{escape(title)}</title>",
            f"<style>\n{STYLE}</style>",
            f"<script>{SCRIPT}</script>",
            "</head>",
            "<body>",
            "<main>",
            f"<header>{course}<h1>{escape(title)}</h1>{summary}</header>",
            *self.sections,
            f'<footer>Written by tutor lesson {self.number} --html: {self.steps} steps, '
            f'{self.questions} questions, {self.pictures} pictures, all in this one file. '
            f'<span id="{CHECK_ID}"></span></footer>',
            "</main>",
            "</body>",
            "</html>",
            "",
        ])
