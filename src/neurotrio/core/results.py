"""Results as JSON + Markdown, with config and provenance; and Markdown sections of BENCHMARKS.md."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from neurotrio.core.config import save_config, to_dict
from neurotrio.core.io import atomic_write_text, write_json
from neurotrio.core.seed import provenance


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines) + "\n"


def write_results(out_dir: str | Path, name: str, metrics: dict[str, Any], config: Any = None,
                  seed: int | None = None, markdown: str | None = None) -> Path:
    """Write ``name.json`` (metrics, config, provenance), ``name.md`` and ``config.yaml`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    record = {"metrics": metrics, "config": to_dict(config) if config is not None else None,
              "provenance": provenance(seed)}
    write_json(out / f"{name}.json", record)
    if config is not None:
        save_config(config, out / "config.yaml")
    if markdown is not None:
        atomic_write_text(out / f"{name}.md", markdown)
    return out / f"{name}.json"


def update_markdown_section(path: str | Path, key: str, body: str) -> Path:
    """Replace (or append) the block between ``<!-- key -->`` and ``<!-- /key -->`` in a Markdown file."""
    path = Path(path)
    text = path.read_text() if path.exists() else ""
    block = f"<!-- {key} -->\n{body.rstrip()}\n<!-- /{key} -->"
    pattern = re.compile(rf"<!-- {re.escape(key)} -->.*?<!-- /{re.escape(key)} -->", re.S)
    text = pattern.sub(lambda _m: block, text) if pattern.search(text) else text.rstrip() + "\n\n" + block + "\n"
    return atomic_write_text(path, text)
