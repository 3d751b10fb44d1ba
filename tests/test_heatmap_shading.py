"""Trial finding 6: a heatmap of attention weights is shaded within each row in every command
(a row's largest weight is drawn darkest, █), and says so; other heatmaps (softmax's weights)
are shaded on one scale, 0 palest to 1 darkest."""

from pathlib import Path

from cli_helpers import invoke

TINY_BERT = Path(__file__).parent / "data" / "hf_tiny_bert"


def table_rows(text, title, labels):
    """The lines of the table titled ``title`` whose first word is one of ``labels``."""
    lines = [line.strip("│ ") for line in text.splitlines()]
    start = next(i for i, line in enumerate(lines) if line.startswith(title))
    rows = []
    for line in lines[start + 3:]:
        if not line or line.split()[0] not in labels:
            break
        rows.append(line)
    return rows


def test_generate_cross_attention_is_shaded_within_each_row():
    result = invoke("generate", "3 1 4")
    assert result.exit_code == 0, result.output
    rows = table_rows(result.output, "cross-attention over the source", {"layer"})
    assert rows and all("█" in row for row in rows), rows
    assert "scaled to each row's largest weight" in " ".join(result.output.split())


def test_heads_layer_is_shaded_within_each_row():
    result = invoke("heads", "the cat sat on the mat", "--model", str(TINY_BERT), "--layer", "1")
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.replace("│", " ").split())
    assert "scaled to each row's largest weight" in text and "palest = 0 … darkest = 1" not in text
    labels = {"[CLS]", "[SEP]", "the#2", "the#6", "cat", "sat", "on", "mat"}
    rows = table_rows(result.output, "weights L1 H1", labels)
    assert len(rows) >= 2 and all("█" in row for row in rows), rows


def test_softmax_weights_keep_one_scale():
    result = invoke("softmax", "6", "4")
    assert "0.88▇" in result.output and "0.12▂" in result.output      # 0.88 of 1, not of 0.88
    assert "shaded from 0 (palest) to 1 (darkest)" in result.output
