"""`tutor lesson N --html FILE`: the whole lesson as one offline page
(`tutor/render/lesson_page.py`, fed by `tutor/lessons/session.lesson_page`).

Every lesson of the course: each step in order, each computation's pictures holding exactly
the lines the terminal prints, each question with its hints and answer inside a closed
<details>, and nothing that names a URL or fetches a file. One lesson in a real headless
Chromium (skipped where it is absent): no network request, every step laid out, pictures
painted. The command's errors and that it leaves progress alone.
"""

from __future__ import annotations

import base64
import hashlib
import io
import os
import re
import shutil
import struct
import subprocess
import zlib
from html.parser import HTMLParser

import pytest
from click.testing import CliRunner
from rich.cells import cell_len
from rich.console import Console
from rich.panel import Panel
from rich.text import Text

from cli_helpers import entry

from tutor.lessons import recorded
from tutor.lessons.course import load_course
from tutor.lessons.session import Session, lesson_page
from tutor.render import lesson as view
from tutor.render.export import CELL_HEIGHT, FONT_ASPECT_RATIO
from tutor.render.lesson_page import LessonPage, markdown_html

COURSE = load_course()
VOID = {"meta", "br", "img", "input", "link", "hr", "area", "base", "col", "embed", "source",
        "track", "wbr"}


# --- a small DOM from the standard library's parser ----------------------------------------

class Node:
    def __init__(self, tag: str, attrs: dict, parent=None):
        self.tag, self.attrs, self.parent = tag, attrs, parent
        self.children: list = []                 # Nodes and strings, in order

    def classes(self) -> set[str]:
        return set((self.attrs.get("class") or "").split())

    def all(self, tag: str | None = None, cls: str | None = None) -> list["Node"]:
        found = []
        for child in self.children:
            if isinstance(child, Node):
                if (tag is None or child.tag == tag) and (cls is None or cls in child.classes()):
                    found.append(child)
                found += child.all(tag, cls)
        return found

    def text(self) -> str:
        return "".join(c if isinstance(c, str) else c.text() for c in self.children)

    def words(self) -> str:
        return " ".join(self.text().split())

    def inside(self, tag: str) -> bool:
        node = self.parent
        while node is not None:
            if node.tag == tag:
                return True
            node = node.parent
        return False


class TreeBuilder(HTMLParser):
    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.root = self.current = Node("#document", {})

    def handle_starttag(self, tag, attrs):
        node = Node(tag, dict(attrs), self.current)
        self.current.children.append(node)
        if tag not in VOID:
            self.current = node

    def handle_startendtag(self, tag, attrs):
        self.current.children.append(Node(tag, dict(attrs), self.current))

    def handle_endtag(self, tag):
        node = self.current
        while node is not None and node.tag != tag:
            node = node.parent
        assert node is not None, f"</{tag}> closes nothing"
        self.current = node.parent

    def handle_data(self, data):
        self.current.children.append(data)


def parse(html: str) -> Node:
    builder = TreeBuilder()
    builder.feed(html)
    builder.close()
    assert builder.current is builder.root, f"<{builder.current.tag}> is never closed"
    return builder.root


# --- what the pictures show ------------------------------------------------------------------

CHAR_WIDTH = CELL_HEIGHT * FONT_ASPECT_RATIO        # Rich's export: 0.602 × 20 px a column
LINE_HEIGHT = CELL_HEIGHT * 1.22                     # and 1.22 × 20 px a line


def svg_lines(svg: Node) -> list[str]:
    """The lines a picture draws, rebuilt from where each run of text is placed (the window's
    title left out): the screen as the exporter saw it."""
    rows: dict[int, list[tuple[int, str]]] = {}
    for run in svg.all("text"):
        if any(c.endswith("-title") for c in run.classes()):
            continue
        col = round(float(run.attrs["x"]) / CHAR_WIDTH)
        row = round((float(run.attrs["y"]) - CELL_HEIGHT) / LINE_HEIGHT)
        rows.setdefault(row, []).append((col, run.text().replace("\xa0", " ")))
    lines = []
    for row in range(max(rows) + 1 if rows else 0):
        line = ""
        for col, text in sorted(rows.get(row, [])):
            line += " " * (col - cell_len(line)) + text
        lines.append(line.rstrip())
    return lines


def printed_lines(renderable, width: int = 80) -> list[str]:
    """The lines the terminal prints for ``renderable`` (no colour)."""
    out = io.StringIO()
    Console(file=out, width=width, color_system=None, force_terminal=False, no_color=True,
            highlight=False, emoji=False, legacy_windows=False).print(renderable)
    lines = [line.rstrip() for line in out.getvalue().split("\n")]
    while lines and not lines[-1]:
        lines.pop()
    return lines


def words(text: str) -> set[str]:
    return {w.lower() for w in re.findall(r"[A-Za-z]{3,}", text)}


# --- every lesson of the course ----------------------------------------------------------------

@pytest.fixture(scope="module")
def without_minilm():
    """all-MiniLM-L6-v2 absent: the real-model lessons show their recordings (and every page
    is cheap to build)."""
    saved = recorded.open_minilm
    recorded.open_minilm = lambda: None
    yield
    recorded.open_minilm = saved


def check_offline(html: str, tree: Node) -> None:
    """Nothing on the page names a URL or may fetch a file."""
    assert not re.search(r"https?://|//[a-z0-9.-]+\.[a-z]{2,}/", html, re.I), "a URL"
    assert not re.search(r"url\(\s*['\"]?(?!#)", html), "a url() that is not a fragment"
    assert "@import" not in html and "@font-face" not in html
    for node in tree.all():
        assert "src" not in node.attrs, f"<{node.tag} src=...>"
        for name in ("href", "xlink:href", "action", "poster", "data"):
            value = node.attrs.get(name)
            assert value is None or value.startswith("#"), f"<{node.tag} {name}={value!r}>"
        assert node.tag not in ("img", "link", "iframe", "object", "embed", "video", "audio",
                                "image", "use", "base", "form")
    ids = {node.attrs.get("id") for node in tree.all()}
    for link in tree.all("a"):
        assert link.attrs["href"][1:] in ids, f"a link to a missing {link.attrs['href']}"
    policy = next(n.attrs["content"] for n in tree.all("meta")
                  if n.attrs.get("http-equiv") == "Content-Security-Policy")
    assert "default-src 'none'" in policy
    scripts = tree.all("script")
    assert len(scripts) == 1 and "src" not in scripts[0].attrs
    digest = base64.b64encode(hashlib.sha256(scripts[0].text().encode()).digest()).decode()
    assert f"script-src 'sha256-{digest}'" in policy     # the one script, by its hash


@pytest.mark.parametrize("lesson", COURSE.lessons, ids=[x.id for x in COURSE.lessons])
def test_every_lesson_is_one_offline_page_showing_every_step(lesson, without_minilm):
    session = Session(lesson)
    session.prepare(len(lesson.steps))
    html = lesson_page(lesson, len(COURSE.lessons), 80, COURSE.title, session=session)
    tree = parse(html)
    check_offline(html, tree)
    assert tree.all("title")[0].text() == (f"Lesson {lesson.number} of {len(COURSE.lessons)} "
                                            f"· {lesson.title}")
    sections = tree.all("section", "step")
    assert [s.attrs["data-step"] for s in sections] == [s.id for s in lesson.steps]
    for index, (step, section) in enumerate(zip(lesson.steps, sections)):
        assert section.all("p", "rule")[0].text() == f"{index + 1}/{len(lesson.steps)} · {step.id}"
        if step.kind == "prose":
            assert words(session.text(step.text)) <= words(section.text())
        elif step.kind == "compute":
            result = session.compute(step)
            if step.text:
                assert words(session.text(step.text)) <= words(section.text())
            parts = view.computation_parts(result.document, step.show, step.title, width=80)
            figures = section.all("figure", "picture")
            pictures = [r for r, _ in parts if not isinstance(r, Text)]
            assert len(figures) == len(pictures) >= 1
            for figure, renderable in zip(figures, pictures):   # the terminal's very lines
                assert svg_lines(figure.all("svg")[0]) == printed_lines(renderable)
            for heading in [r for r, _ in parts if isinstance(r, Text)]:
                assert heading.plain in [h.text() for h in section.all("h2")]
        else:
            answers = section.all("details", "answer")
            assert len(answers) == 1 and "open" not in answers[0].attrs   # behind a click
            answer = session.answer_text(step)
            assert answer in answers[0].words()
            outside = section.words().replace(answers[0].words(), "")
            assert "Answer:" not in outside and (step.kind == "choice" or answer not in outside)
            hints = section.all("details", "hint")
            assert [h.all("div")[0].words() for h in hints] == \
                [" ".join(session.text(h).split()) for h in step.hints]
            assert all("open" not in h.attrs for h in hints)
            assert [li.words() for li in section.all("li") if li.inside("ol")] == \
                [f"{chr(97 + i)}) {' '.join(c.split())}" for i, c in enumerate(step.choices)]
            assert " ".join(session.text(step.question).split()) in section.words()
    if any(s.compute.startswith("model-") for s in lesson.steps):
        assert "RECORDED" in html                   # MiniLM is absent: said on the page
    assert f"{len(lesson.steps)} steps, {len(lesson.questions)} questions" in html


# --- escaping ----------------------------------------------------------------------------------

def test_lesson_text_is_escaped_and_fetches_nothing():
    """Raw HTML in a lesson's text is shown as text; links and images keep only their words;
    the computation's own text is escaped by the picture's exporter."""
    hostile = ("Hi <script>alert(1)</script> & <img src=x onerror=alert(2)> "
               "[a link](https://example.com/x) ![a picture](http://example.com/p.png) "
               "<https://example.com/auto> **bold** `code`")
    assert "<script>" not in markdown_html(hostile)
    page = LessonPage(1, 1, "A <b>title</b>", "sum & <i>mary</i>", steps=3)
    page.prose("p", hostile)
    page.computation("c", hostile, [Text("<script>x</script>", style="bold"),
                                    Panel(Text("</svg><script>y</script>"))])
    page.question("q", 1, 1, "What is <b>x</b>?", choices=["<i>a</i>", "b"],
                  hints=["<script>z</script>"], answer="a) <i>a</i>", explain=hostile,
                  feedback={"b": "<u>no</u>"})
    html = page.html()
    tree = parse(html)
    check_offline(html.replace("https://example.com", "").replace("http://example.com", ""),
                  tree)
    assert len(tree.all("script")) == 1                    # only the page's own
    assert not tree.all("img") and not [n for n in tree.all() if "onerror" in n.attrs]
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert "a link" in tree.words() and "a picture" in tree.words()
    assert not tree.all("a")                               # links kept as words only
    assert [n.text() for n in tree.all("strong")] == ["bold"] * 3     # text, words, why
    assert tree.all("h1")[0].text() == "Lesson 1 of 1 · A <b>title</b>"
    assert [h.text() for h in tree.all("h2")] == ["<script>x</script>", "Question 1 of 1"]
    assert "</svg><script>y</script>" in tree.all("figure")[0].words()   # in the picture


# --- the command -------------------------------------------------------------------------------

@pytest.fixture
def tutor(tmp_path):
    def invoke(*args):
        env = {"TUTOR_STATE_DIR": str(tmp_path / "state"), "NO_COLOR": "1", "COLUMNS": "80"}
        return CliRunner().invoke(entry, ["lesson", *args], env=env)
    return invoke


def test_html_writes_the_page_atomically_and_leaves_progress_alone(tutor, tmp_path):
    out = tmp_path / "lesson1.html"
    out.write_text("<!DOCTYPE html><p>an earlier page</p>")        # replaced, as an output
    result = tutor("1", "--html", str(out))
    assert result.exit_code == 0, result.output
    lesson = COURSE.lessons[0]
    assert result.output == (f"Wrote lesson 1 ({lesson.title}: {len(lesson.steps)} steps, "
                             f"{len(lesson.questions)} questions) to {out}.\n")
    tree = parse(out.read_text(encoding="utf-8"))
    assert [s.attrs["data-step"] for s in tree.all("section", "step")] == \
        [s.id for s in lesson.steps]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lesson1.html"]   # no temporary,
    assert not (tmp_path / "state").exists()                                 # no progress


@pytest.mark.parametrize("args, says", [
    (["4", "--html", "{dir}"], "expected a file name, got the directory"),
    (["4", "--html", "{dir}/page.txt"], "expected a file name ending in .html or .htm"),
    (["4", "--html", "{dir}/missing/page.html"], "expected a file in an existing folder"),
    (["4", "--html", "{dir}/p.html", "--review"], "got --review with it"),
    (["4", "--html", "{dir}/p.html", "--step", "2"], "got --step with it"),
    (["4", "--html", "{dir}/p.html", "--answer", "q-tie=b"], "got --answer with it"),
    (["4", "--html", "{dir}/p.html", "--no-input"], "got --no-input with it"),
    (["--html", "{dir}/p.html"], "got no lesson"),
    (["reset", "4", "--html", "{dir}/p.html"], "No such option '--html'"),
    (["list", "--html", "{dir}/p.html"], "No such option '--html'"),
])
def test_html_usage_errors_are_one_line_naming_it(tutor, tmp_path, args, says):
    result = tutor(*[a.replace("{dir}", str(tmp_path)) for a in args])
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "--html" in lines[0] and says in lines[0], result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == []               # nothing written


def test_html_in_a_folder_that_cannot_be_written_is_a_usage_error(tutor, tmp_path):
    if os.geteuid() != 0:
        folder = tmp_path / "read-only"
        folder.mkdir()
        folder.chmod(0o500)
    elif os.path.isdir("/sys"):
        folder = "/sys"                          # root may write anywhere but in sysfs
    else:
        pytest.skip("no folder that root cannot write")
    result = tutor("1", "--html", os.path.join(folder, "page.html"))
    assert result.exit_code == 2
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "Invalid value for '--html'" in lines[0]
    assert "expected a file that can be written" in lines[0]


def test_lesson_help_shows_the_page_example(tutor):
    result = tutor("--help")
    assert result.exit_code == 0
    assert "tutor lesson 4 --html page.html  the lesson as one offline web page" in \
        result.output
    assert "--html FILE.html" in result.output


# --- in a real browser ---------------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
WINDOW = (800, 1600)           # CSS pixels, drawn at half scale: a 400×800 screenshot to decode


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit RGB or RGBA PNG, its filters undone."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    assert depth == 8 and colour in (2, 6) and interlace == 0
    bpp = 3 if colour == 2 else 4
    raw, stride, rows, prev = zlib.decompress(idat), width * bpp, [], bytearray(width * bpp)
    for y in range(height):
        kind, line = raw[y * (stride + 1)], bytearray(raw[y * (stride + 1) + 1:(y + 1) * (stride + 1)])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = line
    return width, height, [bytes(r) for r in rows] if bpp == 3 else \
        [b"".join(r[i:i + 3] for i in range(0, len(r), 4)) for r in rows]


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_a_page_in_headless_chromium_fetches_nothing_and_shows_every_step(tmp_path,
                                                                           without_minilm):
    """One launch: the DOM after load (the page's own script wrote what the browser fetched and
    laid out) and a screenshot (the pictures are painted: their dark background is there)."""
    lesson = COURSE.find("4")
    page = tmp_path / "lesson4.html"
    page.write_text(lesson_page(lesson, len(COURSE.lessons), 80, COURSE.title), "utf-8")
    shot = tmp_path / "lesson4.png"
    run = subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--no-first-run", f"--user-data-dir={tmp_path / 'profile'}",
         "--force-device-scale-factor=0.5", f"--window-size={WINDOW[0]},{WINDOW[1]}",
         f"--screenshot={shot}", "--dump-dom",
         page.as_uri()],
        capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    check = re.search(r'<span id="page-check"([^>]*)>', run.stdout)
    assert check, run.stdout[-2000:]
    facts = dict(re.findall(r'data-([a-z-]+)="(\d+)"', check.group(1)))
    pictures = sum(1 for s in lesson.steps if s.kind == "compute")     # one panel or more each
    assert facts["resources"] == "0"                                    # no request at all
    assert facts["steps"] == facts["steps-shown"] == str(len(lesson.steps))
    assert int(facts["pictures"]) == int(facts["pictures-shown"]) >= pictures
    width, height, rows = png_pixels(shot.read_bytes())
    assert (width, height) == (WINDOW[0] // 2, WINDOW[1] // 2)
    pixels = [row[i:i + 3] for row in rows for i in range(0, len(row), 3)]
    white = pixels.count(b"\xff\xff\xff") / len(pixels)
    dark = pixels.count(bytes((41, 41, 41))) / len(pixels)          # the pictures' background
    assert white > 0.3 and dark > 0.05, (white, dark)


def test_the_written_line_escapes_a_control_character_in_the_file_name(tutor, tmp_path):
    out = tmp_path / "page\rWrote nothing\x07.html"                   # a carriage return, a bell
    result = tutor("1", "--html", str(out))
    assert result.exit_code == 0, result.output
    assert "\r" not in result.output and "\x07" not in result.output and out.exists()
