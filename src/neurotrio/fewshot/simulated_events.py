"""Training and testing on a ``simulate-events`` output folder (``DataConfig.events_dir``, Omniglot-DVS).

``load_splits`` finds each split's folder with :func:`events_split_dir` and reads only the drawings
simulated there (:class:`SimulatedOnly`), from their files.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import Tensor

from neurotrio.core.errors import InputError


def events_split_dir(events_dir: str | Path, split: str) -> Path:
    """The ``simulate-events`` output folder for ``split`` in ``events_dir`` (see ``DataConfig.events_dir``).

    Raises:
        InputError: ``events_dir`` holds no output for ``split``.
    """
    import json

    root = Path(events_dir)
    for cand in (root / split, root):
        summary = cand / "summary.json"
        if summary.is_file():
            try:
                written = json.loads(summary.read_text()).get("split")
            except (OSError, ValueError) as exc:
                raise InputError(summary, f"cannot read the simulation summary ({exc})") from None
            if written == split:
                return cand
    raise InputError(root, f"no simulated {split!r} events here: run `neurotrio fewshot simulate-events --split "
                           f"{split} --out {root / split}` (a folder with summary.json)")


class SimulatedOnly:
    """The items of an ``OmniglotDVS`` whose event file exists in its ``events_dir``; class ids unchanged.

    Keeps the simulated subset (``simulate-events --alphabets/--characters/--limit``) from being topped up
    silently with drawings simulated on the fly under another simulator config.
    """

    def __init__(self, ds: Any):
        self.ds = ds
        self.keep = [i for i in range(len(ds)) if (ds.events_dir / ds.relpath(i)).is_file()]
        if not self.keep:
            raise InputError(ds.events_dir, "no event file of this split's drawings is in this folder")
        self.targets = [ds.targets[i] for i in self.keep]
        self.class_names = ds.class_names

    def __len__(self) -> int:
        return len(self.keep)

    def __getitem__(self, index: int) -> tuple[Tensor, int]:
        return self.ds[self.keep[index]]


__all__ = ["SimulatedOnly", "events_split_dir"]
