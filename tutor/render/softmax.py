"""The softmax walkthrough (scale and temperature, shift by the maximum, exp, sum, divide),
built from what the engine recorded. Nothing here computes."""

from __future__ import annotations

from .arithmetic import adding_up, shown_value
from .document import Document, Part, difference_text, factor, format_number, percent
from .builder import DocumentBuilder

MAX_TERMS = 6            # terms of a sum written out before "…"


def _terms(values, w: DocumentBuilder, fmt=None) -> str:
    fmt = fmt or w.fmt
    items = [fmt(v) for v in values]
    if len(items) > MAX_TERMS:
        items = items[:3] + ["…"] + items[-2:]
    return " + ".join(items)


def _scale_meaning(factor: float) -> str:
    """What multiplying the numbers by ``factor`` (scale ÷ T) does, for the factor given."""
    general = ("A factor between 0 and 1 (attention scales by 1/√dk; a temperature above 1 "
               "does the same) shrinks the gaps between the numbers, so the weights come out "
               "more even; a factor above 1 widens them and the largest number takes more of "
               "the weight.")
    if factor < 0:
        return (f"Here scale ÷ T = {factor:g} is negative: it turns the order around, so the "
                "smallest number gets the most weight. " + general)
    if factor == 1:
        return "Here scale ÷ T = 1, so z equals x. " + general
    return general


def softmax_document(recording, *, precision: int) -> Document:
    """A ``softmax.softmax_steps`` recording: scale and temperature (when not 1), shift, exp,
    sum, divide."""
    scale, temperature = recording.info["scale"], recording.info["temperature"]
    w = DocumentBuilder(recording.trace, precision)
    x, logits = w["input"], w["logits"]
    shifted, exp, total, out = (w[f"softmax.{n}"] for n in ("shifted", "exp", "sum", "out"))
    n = x.shape[-1]
    cols = [f"x{i + 1}" for i in range(n)]
    adjusted = scale != 1 or temperature != 1
    if adjusted:
        w.step("Scale and temperature", "z = x × scale ÷ T", r"z = x \cdot s / T",
               Part("", [w.view("x", "input", ["x"], cols), w.view("z", "logits", ["z"], cols)],
                    [f"z1 = {w.fmt(x[0])} × {factor(f'{scale:g}')} ÷ {temperature:g} = "
                     f"{w.fmt(logits[0])}"],
                    _scale_meaning(scale / temperature)),
               key="logits")
    name = "z" if adjusted else "x"
    top = logits.max()
    w.step("Shift by the maximum", f"{name} − max({name})", r"z - \max z",
           Part("", [w.view("shifted", "softmax.shifted", ["shifted"], cols)],
                [f"max = {w.fmt(top)};  {name}1 − max = "
                 f"{difference_text(logits[0], top, precision)} = "
                 f"{w.fmt(shifted[0])}"],
                "Subtracting the largest number changes no weight (it cancels in the division) "
                "and makes every exponent ≤ 0, so e^x cannot overflow."), key="shift")
    w.step("Exponentiate", "e^(shifted)", r"e^{z - \max z}",
           Part("", [w.view("exp", "softmax.exp", ["exp"], cols)],
                [f"e^{w.fmt(shifted[i])} = {format_number(exp[i], max(precision, 4))}"
                 for i in range(min(n, MAX_TERMS))],
                "e^x is positive for every x and grows fast, so larger inputs get much larger "
                "shares." + (" In float64, e^x below about e^-745 is too small to hold and "
                             "comes out as exactly 0, as here." if (exp == 0).any() else "")),
           key="exp")
    shown_total = format_number(total[0], max(precision, 4))
    digits = max(precision, 4)                  # more where the terms must add up as printed
    if len(exp) <= MAX_TERMS:
        digits = adding_up(digits, shown_total, lambda d: sum(shown_value(v, d) for v in exp))
    w.step("Sum", "S = Σ e^(shifted)", r"S = \sum_j e^{z_j - \max z}",
           Part("", [w.view("sum", "softmax.sum", ["S"], ["S"])],
                [f"S = {_terms(exp, w, lambda v: format_number(v, digits))} = {shown_total}"],
                "The sum is what each share is divided by."), key="sum")
    fav = int(out.argmax())
    w.step("Divide", "softmax = e^(shifted) ÷ S", r"\mathrm{softmax}(z)_i = e^{z_i - \max z} / S",
           Part("", [w.view("softmax", "softmax.out", ["weight"], cols, heat=True,
                            caption="sums to 1; shaded from 0 (palest) to 1 (darkest)")],
                [f"softmax = [{', '.join(format_number(v, max(precision, 4)) for v in out)}]"
                 if n <= MAX_TERMS else
                 f"weight of x{fav + 1} = {format_number(out[fav], max(precision, 4))}"],
                ("The weights are positive and add up to 1. " if (out > 0).all() else
                 "The weights add up to 1; a weight whose e^x came out as 0 is exactly 0. ")
                + f"x{fav + 1} gets {percent(out[fav])} of the weight."), key="divide")
    numbers = ", ".join(f"{float(v):g}" for v in x)
    settings = {"n": n, "scale": scale, "temperature": temperature}
    return w.document("softmax", f"softmax([{numbers}])", [], settings,
                      subtitle=f"{n} numbers" + (f", scale {scale:g}" if scale != 1 else "")
                      + (f", temperature {temperature:g}" if temperature != 1 else ""))


def softmax_rows_document(recording, *, precision: int = 2, rows: list[str],
                          cols: list[str]) -> Document:
    """A softmax of each row of a matrix (``walkthroughs.softmax.softmax_rows``): the numbers
    (step ``logits``) and their softmax, each row summing to 1 (step ``softmax``). ``rows``,
    ``cols``: the labels of the matrix's rows and columns."""
    w = DocumentBuilder(recording.trace, precision)
    w.matrices_step("logits", w.first_matrix("logits", "logits", rows, cols))
    w.matrices_step("softmax", w.first_matrix("softmax", "softmax.out", rows, cols, heat=True,
                                              caption="each row sums to 1"))
    return w.document("softmax", "softmax", [], {})
