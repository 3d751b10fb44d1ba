"""Trial finding 17, the cosmetic items: what the screen says matches what it shows."""

from cli_helpers import invoke


def flat(text):
    return " ".join(text.replace("│", " ").split())


def test_models_names_a_toy_models_kind_once():
    text = flat(invoke("models").output)
    assert "copy: toy model shipped with tutor" in text
    assert "shipped toy model (toy model shipped with tutor)" not in text


def test_add_and_norm_formulas_name_the_residual_sum():
    text = flat(invoke("layernorm", "1,2,3,4", "--residual").output)
    assert "μ = (1/d) Σ r_j" in text and "σ² = (1/d) Σ (r_j − μ)²" in text
    assert "n = (r − μ) / √(σ² + ε)" in text and "Σ x_j" not in text
    plain = flat(invoke("layernorm", "1,2,3,4").output)
    assert "μ = (1/d) Σ x_j" in plain
    latex = invoke("layernorm", "1,2,3,4", "--residual", "--format", "latex").output
    assert r"\sum_j r_j" in latex and r"\hat r = \frac{r-\mu}" in latex
