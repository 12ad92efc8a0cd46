"""Omniglot-DVS: Omniglot drawings as simulated event streams, on the fly or written to a folder.

Stroke files (``strokes_*`` zips or folders) are found and read here; each drawing is turned into
events by :mod:`neurotrio.fewshot.simulate` (pen strokes, or saccades when it has no stroke file) and
binned like N-Omniglot by :func:`~neurotrio.fewshot.frames.events_to_frames`.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from neurotrio.core.errors import InputError
from neurotrio.fewshot.frames import events_to_frames
from neurotrio.fewshot.simulate import SimulatorConfig, saccade_events, strokes_to_events
from neurotrio.fewshot.walk import is_skipped_path


def stroke_index(sources: list[str | Path]) -> dict[str, tuple[Path, str]]:
    """Map drawing stems (``0108_01``) to (zip or folder, member) across stroke zips/folders."""
    index: dict[str, tuple[Path, str]] = {}
    for src in map(Path, sources):
        if src.is_dir():
            for p in src.rglob("*.txt"):
                if is_skipped_path(p.relative_to(src)):
                    continue
                index[p.stem] = (src, str(p.relative_to(src)))
        else:
            try:
                with zipfile.ZipFile(src) as zf:
                    for n in zf.namelist():
                        if n.endswith(".txt") and not is_skipped_path(n):
                            index[Path(n).stem] = (src, n)
            except (zipfile.BadZipFile, OSError) as exc:
                raise InputError(src, f"not a readable stroke zip or folder ({exc})") from None
    return index


def find_stroke_sources(root: str | Path) -> list[Path]:
    """``strokes_*.zip`` files and ``strokes_*`` folders directly in ``root`` (sorted)."""
    root = Path(root)
    if not root.is_dir():
        return []
    return sorted(p for p in root.glob("strokes_*") if (p.suffix == ".zip" or p.is_dir()) and not is_skipped_path(p.name))


def read_stroke_member(src: Path, member: str) -> bytes:
    """The bytes of one stroke file from a zip or folder found by ``stroke_index``."""
    if src.is_dir():
        return (src / member).read_bytes()
    with zipfile.ZipFile(src) as zf:
        return zf.read(member)


class OmniglotDVS(Dataset):
    """Omniglot as simulated event streams, binned like N-Omniglot: (frames, 2, size, size), class.

    Drawings with a stroke file (found by stem, e.g. ``0108_01``, in ``strokes`` zips/folders) are written
    out by the pen; the others get saccades over the static image. Events come from ``events_dir`` (written
    by ``simulate_folder``) when present there, else they are simulated on the fly (seeded per item).

    Args:
        root, split: as for ``Omniglot``.
        strokes: stroke zips or folders (e.g. ``strokes_background_small1.zip``); None = every
            ``strokes_*.zip`` or ``strokes_*/`` folder in ``root``.
        events_dir: a ``simulate_folder`` output folder for this split, or None.
        frames, mode, size: binning as for ``NOmniglot`` (crop = ``config.display_box``).
        only_strokes: keep only drawings that have stroke files.
    """

    def __init__(self, root: str | Path, split: str = "background", strokes: tuple[str | Path, ...] | None = None,
                 events_dir: str | Path | None = None, frames: int = 4, mode: str = "binary", size: int = 28,
                 config: SimulatorConfig | None = None, seed: int = 0, only_strokes: bool = False):
        from neurotrio.fewshot.datasets import Omniglot

        self.images = Omniglot(root, split, image_size=105)
        if strokes is None:
            strokes = find_stroke_sources(root)
        self.strokes = stroke_index(list(strokes)) if strokes else {}
        self.events_dir = Path(events_dir) if events_dir is not None else None
        self.frames, self.mode, self.size, self.seed = frames, mode, size, seed
        self.config = config or SimulatorConfig()
        keep = [i for i, p in enumerate(self.images.paths) if not only_strokes or Path(p).stem in self.strokes]
        if not keep:
            raise InputError(self.images.source, "no drawing has a stroke file in the given stroke sources")
        used = sorted({self.images.targets[i] for i in keep})
        remap = {c: k for k, c in enumerate(used)}
        self._index = keep
        self.class_names = [self.images.class_names[c] for c in used]
        self.targets = [remap[self.images.targets[i]] for i in keep]

    def __len__(self) -> int:
        return len(self._index)

    def relpath(self, index: int) -> Path:
        """``Alphabet/characterNN/stem.npz`` of item ``index`` (where ``simulate_folder`` writes it)."""
        parts = Path(self.images.paths[self._index[index]]).parts
        return Path(*parts[-3:]).with_suffix(".npz")

    def has_strokes(self, index: int) -> bool:
        return Path(self.images.paths[self._index[index]]).stem in self.strokes

    def sample_events(self, index: int) -> np.ndarray:
        """The simulated events of item ``index`` (read from ``events_dir`` when there)."""
        from neurotrio.fewshot.events import load_events_npz

        if self.events_dir is not None and (self.events_dir / self.relpath(index)).is_file():
            return load_events_npz(self.events_dir / self.relpath(index))[0]
        j = self._index[index]
        stem = Path(self.images.paths[j]).stem
        seed = self.seed * 1_000_003 + j
        if stem in self.strokes:
            return strokes_to_events(read_stroke_member(*self.strokes[stem]), self.config, seed, name=stem)
        return saccade_events(self.images.image(j), self.config, seed)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        ev = self.sample_events(index)
        frames = events_to_frames(ev, self.frames, (self.size, self.size), self.config.sensor_hw, self.mode,
                                  crop=self.config.display_box)
        return torch.from_numpy(frames), self.targets[index]


def select_classes(class_names: list[str], alphabets: tuple[str, ...] = (), characters: tuple[str, ...] = (),
                   source: str | Path | None = None) -> list[int]:
    """Indices of the classes (``Alphabet/characterNN``) in the given alphabets and characters, in order.

    Raises:
        InputError: a named alphabet or character does not exist (the known alphabets are listed).
    """
    known_alpha = sorted({n.split("/")[0] for n in class_names})
    for a in alphabets:
        if a not in known_alpha:
            raise InputError(source, f"no alphabet {a!r} here; alphabets: {', '.join(known_alpha)}")
    for c in characters:
        if c not in class_names:
            raise InputError(source, f"no character {c!r} here (names are Alphabet/characterNN, e.g. {class_names[0]})")
    chosen = [k for k, n in enumerate(class_names)
              if (not alphabets or n.split("/")[0] in alphabets) and (not characters or n in characters)]
    if not chosen:  # both filters apply: characters outside the chosen alphabets select nothing
        raise InputError(source, "no character is in both the chosen alphabets and the chosen characters")
    return chosen


def simulate_folder(root: str | Path, out_dir: str | Path, split: str = "background",
                    strokes: tuple[str | Path, ...] | None = None, limit: int = 0,
                    only_strokes: bool = False, config: SimulatorConfig | None = None, seed: int = 0,
                    progress: bool = True, alphabets: tuple[str, ...] = (), characters: tuple[str, ...] = ()) -> dict:
    """Simulate events for Omniglot drawings and write one ``.npz`` (``EVENT_DTYPE`` + sensor size) each.

    The folder appears whole or not at all (``atomic_dir``): ``<out_dir>/<Alphabet>/<characterNN>/<stem>.npz``,
    ``config.yaml`` (the simulator settings) and ``summary.json`` (counts, events and duration statistics).

    Args:
        root: Omniglot folder (images zips or folders; ``strokes_*`` zips/folders are found there when
            ``strokes`` is None).
        limit: simulate only the first ``limit`` characters (classes) of the selection; 0 = all.
        alphabets: only these alphabets (folder names, e.g. ``"Greek"``); empty = all.
        characters: only these characters (``"Alphabet/characterNN"``); empty = all.

    Raises:
        InputError: an alphabet or character named in the selection is not in ``split``; ``out_dir`` is
            not empty (an earlier run's files would be mixed in, under a summary of this run only).

    Returns:
        the summary (without provenance, which is in ``summary.json``); ``selection`` records the source
        folder and the filters.
    """
    from tqdm.auto import tqdm

    from neurotrio.core.config import save_config
    from neurotrio.core.io import atomic_dir, write_json
    from neurotrio.core.seed import provenance
    from neurotrio.fewshot.events import save_events_npz

    if Path(out_dir).is_dir() and any(Path(out_dir).iterdir()):
        raise InputError(out_dir, "output folder is not empty: simulate into a new folder (an earlier run's event "
                                  "files would be mixed with this one's, and training reads every file there)")
    cfg = config or SimulatorConfig()
    ds = OmniglotDVS(root, split, strokes, None, config=cfg, seed=seed, only_strokes=only_strokes)
    chosen = select_classes(ds.class_names, alphabets, characters, ds.images.source)
    if limit:
        chosen = chosen[:limit]
    keep = set(chosen)
    items = [i for i in range(len(ds)) if ds.targets[i] in keep]
    n_ev, dur, n_str = [], [], 0
    with atomic_dir(out_dir) as tmp:
        for i in tqdm(items, desc=f"simulate {split}", disable=not progress):
            ev = ds.sample_events(i)
            save_events_npz(tmp / ds.relpath(i), ev, cfg.sensor_hw)
            n_ev.append(len(ev))
            dur.append((int(ev["t"][-1]) - int(ev["t"][0])) / 1e6 if len(ev) else 0.0)
            n_str += ds.has_strokes(i)
        summary: dict = {"split": split, "samples": len(items), "from_strokes": n_str, "from_saccades": len(items) - n_str,
                   "classes": len({ds.targets[i] for i in items}),
                   "events_mean": float(np.mean(n_ev)) if n_ev else 0.0,
                   "duration_s_mean": round(float(np.mean(dur)), 3) if dur else 0.0,
                   "selection": {"source": str(Path(root).resolve()), "alphabets": list(alphabets),
                                 "characters": list(characters), "limit": limit, "only_strokes": only_strokes}}
        summary["events_mean"] = round(summary["events_mean"], 1)
        save_config(cfg, tmp / "config.yaml")
        write_json(tmp / "summary.json", {**summary, "provenance": provenance(seed)})
    return summary


__all__ = ["OmniglotDVS", "find_stroke_sources", "read_stroke_member", "select_classes", "simulate_folder",
           "stroke_index"]
