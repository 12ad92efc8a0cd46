"""Which names a data-set walk must skip: hidden files and folders and OS litter, never data.

One rule for every few-shot reader (Omniglot folders and zips, N-Omniglot, Omniglot-DVS stroke folders
and zips, CUB, miniImageNet, simulated-event folders): a path is skipped when any of its parts

* starts with a dot (``.ipynb_checkpoints/``, ``.DS_Store``, macOS ``._name`` AppleDouble companions,
  ``.git/``, ``.Trash-1000/``),
* is ``__MACOSX`` (the folder macOS's zip tool adds), or
* is ``Thumbs.db`` / ``desktop.ini`` (Windows Explorer's files), compared case-insensitively.

A user's bug report (issue 9, ``../shared/cases/fewshot/omniglot-ipynb-checkpoints``) showed a Jupyter
``.ipynb_checkpoints/`` folder inside a character folder read as a fifth class.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

LITTER_NAMES = frozenset({"__macosx", "thumbs.db", "desktop.ini"})


def is_skipped_name(name: str) -> bool:
    """True for one path part that is hidden (dot-name) or OS litter (``__MACOSX``, ``Thumbs.db``, ``desktop.ini``)."""
    return name.startswith(".") or name.lower() in LITTER_NAMES


def is_skipped_path(path: str | Path) -> bool:
    """True when any part of ``path`` (relative to the data root, or a zip member name) is skipped."""
    parts = PurePosixPath(str(path).replace("\\", "/")).parts
    return any(is_skipped_name(p) for p in parts if p not in ("/", ""))


def visible(paths: Iterable[str | Path], root: str | Path | None = None) -> list:
    """``paths`` without the skipped ones; with ``root`` only the parts below it are judged."""
    out = []
    for p in paths:
        rel = Path(p).relative_to(root) if root is not None else p
        if not is_skipped_path(rel):
            out.append(p)
    return out


__all__ = ["LITTER_NAMES", "is_skipped_name", "is_skipped_path", "visible"]
