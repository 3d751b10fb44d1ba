"""Trial finding 17, the cosmetic items: what the screen says matches what it shows."""

from cli_helpers import invoke


def flat(text):
    return " ".join(text.replace("│", " ").split())


def test_models_names_a_toy_models_kind_once():
    text = flat(invoke("models").output)
    assert "copy: a toy model shipped with tutor" in text
    assert "shipped toy model (toy model shipped with tutor)" not in text


def test_add_and_norm_formulas_name_the_residual_sum():
    text = flat(invoke("layernorm", "1,2,3,4", "--residual").output)
    assert "μ = (1/d) Σ r_j" in text and "σ² = (1/d) Σ (r_j − μ)²" in text
    assert "n = (r − μ) / √(σ² + ε)" in text and "Σ x_j" not in text
    plain = flat(invoke("layernorm", "1,2,3,4").output)
    assert "μ = (1/d) Σ x_j" in plain
    latex = invoke("layernorm", "1,2,3,4", "--residual", "--format", "latex").output
    assert r"\sum_j r_j" in latex and r"\hat r = \frac{r-\mu}" in latex


def test_svg_box_borders_are_drawn_unbroken(tmp_path):
    # trial finding 17: in rsvg-rendered SVGs the vertical borders came out dashed, because
    # each line's text was clipped to its box and a 20 px DejaVu Sans Mono '│' (1.164 em
    # tall, 23.3 px) is shorter than Rich's 24.4 px line
    import re

    path = tmp_path / "a.svg"
    assert invoke("attention", "the cat sat", "--step", "1", "--svg", str(path)).exit_code == 0
    svg = path.read_text(encoding="utf-8")
    assert not re.search(r'clip-path="url\(#[\w-]+-line-\d+\)"', svg)
    size = float(re.search(r"-matrix \{[^}]*font-size: ([\d.]+)px", svg).group(1))
    line = float(re.search(r"-matrix \{[^}]*line-height: ([\d.]+)px", svg).group(1))
    spacing = float(re.search(r"-matrix \{[^}]*letter-spacing: ([-\d.]+)px", svg).group(1))
    assert size * 1.164 >= line                                        # the glyphs meet
    assert abs(size * 0.602 + spacing - 20 * 0.602) < 0.01            # in Rich's columns
