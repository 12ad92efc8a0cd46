"""Scoring many nights: a folder or a glob of PSGs, references paired by name, one summary CSV.

:func:`score_nights` scores every night with :func:`neurotrio.sleep.score.score_recording`, each into
``out_dir`` as ``<stem>.*`` (see :mod:`neurotrio.sleep.outputs`), and keeps ``summary.csv`` there: one
row per night with its status, the error when it failed, its statistics and, when an expert hypnogram
was paired, the agreement. The summary is rewritten (atomically) after every night, so an interrupted
run keeps what it finished; a night that fails is reported in its row and the run goes on.

Reference pairing (``reference_pattern``): a file name pattern, resolved in the PSG's folder (or a
path), with ``{stem}`` (the PSG name without extension) and ``{name}`` (with it) filled in by Python's
``str.format`` (so ``{stem:.7}`` is its first 7 characters), then matched as a glob. At most one file
may match; a night with no matching file is scored without a comparison (said in the summary's
``note``), one with several is an error. Examples: ``{stem}-Hypnogram.edf``; Sleep-EDF's
``SC4001E0-PSG.edf`` <-> ``SC4001EC-Hypnogram.edf`` is ``{stem:.7}?-Hypnogram.edf``, also available as
the preset ``sleep-edf``. Two nights with the same file name in different folders get their folder's
name in front (``a_night``, ``b_night``, :func:`night_names`), so no night's outputs replace another's.
"""

from __future__ import annotations

import csv
import glob
import io
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neurotrio.core.errors import InputError, NeurotrioError
from neurotrio.sleep.outputs import check_out_dir, stem_of

log = logging.getLogger(__name__)

PSG_SUFFIXES = (".edf", ".bdf", ".rec")
PRESETS = {"sleep-edf": "{stem:.7}?-Hypnogram.edf"}
"""Named reference patterns."""
SUMMARY = "summary.csv"
_FIXED = ["night", "psg", "reference", "status", "error", "note", "start", "n_epochs", "model", "n_compared", "kappa",
          "accuracy", "macro_f1", "in_sample_epochs"]


@dataclass
class NightsResult:
    """Outcome of :func:`score_nights`.

    Attributes:
        rows: one dict per night, in order (the summary CSV's rows; ``status`` "ok" or "error").
        summary: the summary CSV, or None when nothing was written.
        results: the :class:`~neurotrio.sleep.result.ScoreResult` of every night scored, by PSG path.
    """

    rows: list[dict[str, Any]] = field(default_factory=list)
    summary: Path | None = None
    results: dict[str, Any] = field(default_factory=dict)

    @property
    def n_failed(self) -> int:
        return sum(r["status"] != "ok" for r in self.rows)


def _is_psg(path: Path) -> bool:
    """A signal file (hypnogram-only EDF+ files hold no signal and are left out; unreadable ones are kept,
    so that they are reported)."""
    if path.suffix.lower() not in PSG_SUFFIXES or not path.is_file():
        return False
    from neurotrio.sleep.edfheader import read_edf_header

    try:
        return any(not s.is_annotation for s in read_edf_header(path).signals)
    except NeurotrioError:
        return True


def find_nights(sources: str | Path | Sequence[str | Path]) -> list[Path]:
    """The PSG files named by a folder, a glob pattern, files, or a list of these (sorted, no repeats).

    In a folder, every ``.edf``/``.bdf``/``.rec`` file holding signals is a night (annotation-only EDF+
    files such as hypnograms are not); subfolders are not searched: use a recursive glob
    (``'data/**/*.edf'``) for a tree such as NSRR's ``polysomnography/edfs/shhs1/``.

    Raises:
        InputError: a source that is neither a file, a folder nor a pattern matching a file; or no night.
    """
    items = [sources] if isinstance(sources, (str, Path)) else list(sources)
    found: list[Path] = []
    for item in items:
        p = Path(item)
        if p.is_dir():
            found += [f for f in sorted(p.iterdir()) if _is_psg(f)]
        elif p.is_file():
            found.append(p)
        elif glob.has_magic(str(item)):
            found += [Path(f) for f in sorted(glob.glob(str(item), recursive=True)) if _is_psg(Path(f))]
        else:
            raise InputError(p, "no such file or folder")
    unique: dict[str, Path] = {}
    for f in found:  # a file named twice (also as d/../d/f.edf) is scored once
        unique.setdefault(os.path.abspath(f), f)
    out = list(unique.values())
    if not out:
        raise InputError(None, f"no PSG file ({', '.join(PSG_SUFFIXES)}) in {', '.join(map(str, items))}")
    return out


def find_reference(psg: str | Path, pattern: str) -> Path | None:
    """The expert hypnogram of ``psg`` named by ``pattern`` (see the module docstring), or None when no file
    matches (the night is then scored without a comparison).

    Raises:
        InputError: more than one file matches (ambiguous), or the pattern is malformed.
    """
    psg = Path(psg)
    pattern = PRESETS.get(pattern, pattern)
    try:
        name = pattern.format(stem=stem_of(psg), name=psg.name)
    except (KeyError, IndexError, ValueError) as exc:
        raise InputError(None, f"reference pattern {pattern!r}: {exc} (use {{stem}} or {{name}}, e.g. "
                               "'{stem}-Hypnogram.edf')") from None
    full = Path(name) if Path(name).is_absolute() else psg.parent / name
    hits = [Path(f) for f in sorted(glob.glob(str(full)))] if glob.has_magic(str(full)) else (
        [full] if full.is_file() else [])
    hits = [h for h in hits if h.resolve() != psg.resolve()]
    if len(hits) > 1:
        raise InputError(psg, f"reference pattern {pattern!r} -> {full.name}: {len(hits)} files "
                              f"({', '.join(h.name for h in hits)}) match")
    return hits[0] if hits else None


def pair_reference(psg: str | Path, pattern: str) -> Path:
    """:func:`find_reference`, where a missing hypnogram is an error too.

    Raises:
        InputError: no file, or more than one, matches.
    """
    hit = find_reference(psg, pattern)
    if hit is None:
        pattern = PRESETS.get(pattern, pattern)
        raise InputError(psg, f"reference pattern {pattern!r} -> {_expected(psg, pattern)}: no file match")
    return hit


def _expected(psg: str | Path, pattern: str) -> str:
    psg = Path(psg)
    return Path(PRESETS.get(pattern, pattern).format(stem=stem_of(psg), name=psg.name)).name


def _folders(path: Path) -> list[str]:
    """The folder names above ``path`` (absolute, symbolic links kept as named, no drive or root)."""
    parent = Path(os.path.abspath(path)).parent
    return [part for part in parent.parts if part != parent.anchor]


def night_names(nights: Sequence[Path]) -> list[str]:
    """Output stems of the nights: the file stem, or, when two nights share it (``a/night.edf`` and
    ``b/night.edf``), the stem prefixed by as many parent folders as it takes to tell them apart
    (``a_night``, ``b_night``), so that no night's outputs overwrite another's."""
    names = [stem_of(p) for p in nights]
    depth = 0
    while len(set(names)) < len(names) and depth < 32:
        depth += 1
        seen = {n: names.count(n) for n in names}
        names = ["_".join([*_folders(p)[-depth:], stem_of(p)]) if seen[n] > 1 else n
                 for p, n in zip(nights, names)]
    if len(set(names)) < len(names):  # the same file named twice is removed by find_nights; keep safe anyway
        names = [f"{n}_{i}" for i, n in enumerate(names)]
    return names


def _row(psg: Path, reference: Path | None, res: Any = None, error: str = "", name: str | None = None,
         note: str = "") -> dict[str, Any]:
    row: dict[str, Any] = {"night": name or stem_of(psg), "psg": str(psg), "reference": str(reference or ""),
                           "status": "error" if error else "ok", "error": error, "note": note}
    if res is None:
        return row
    m = res.metrics or {}
    row.update(start=res.start.isoformat() if res.start else "", n_epochs=int(res.stages.size), model=res.model,
               n_compared=m.get("n", ""), kappa=m.get("kappa", ""), accuracy=m.get("accuracy", ""),
               macro_f1=m.get("macro_f1", ""), in_sample_epochs=m.get("in_sample_epochs", ""))
    for who in ("predicted", "expert"):
        for key, value in (res.statistics.get(who) or {}).items():
            if not isinstance(value, (dict, list, tuple)):
                row[key if who == "predicted" else f"expert_{key}"] = value
    return row


def summary_csv(rows: Sequence[dict[str, Any]]) -> str:
    """The summary table as CSV text (fixed columns first, then every statistic seen)."""
    cols = list(_FIXED)
    for r in rows:
        cols += [k for k in r if k not in cols]
    buf = io.StringIO()
    w = csv.DictWriter(buf, cols, restval="", lineterminator="\n")
    w.writeheader()
    for r in rows:
        w.writerow({k: (f"{v:.4f}" if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


def score_nights(sources: str | Path | Sequence[str | Path], out_dir: str | Path | None = None,
                 reference_pattern: str | None = None, progress: bool = True,
                 on_night: Callable[[dict[str, Any]], None] | None = None, **score_kwargs: Any) -> NightsResult:
    """Score every night of a folder / glob / list; one summary row per night.

    Args:
        sources: see :func:`find_nights`.
        out_dir: folder for every night's outputs and ``summary.csv`` (None: nothing is written).
        reference_pattern: pairs each PSG with its expert hypnogram (see :func:`find_reference`); a night
            with no matching hypnogram is scored without a comparison (said in its ``note``), one with
            several is an error row.
        progress: show a progress bar (tqdm, on stderr).
        on_night: called with each finished row (e.g. to print it).
        **score_kwargs: passed to :func:`neurotrio.sleep.score.score_recording` (model, channels, aliases,
            trim_wake_min, plot, lights_off, lights_on, ...).

    Returns:
        A :class:`NightsResult`; check ``n_failed``.

    Raises:
        InputError: no night found, or ``out_dir`` is a file (before anything is scored).
    """
    from tqdm.auto import tqdm

    from neurotrio.core.io import atomic_write_text
    from neurotrio.sleep.score import score_recording

    nights = find_nights(sources)
    names = night_names(nights)
    out = check_out_dir(out_dir) if out_dir is not None else None
    result = NightsResult()
    for psg, name in zip(tqdm(nights, desc="nights", unit="night", disable=not progress), names):
        reference, note = None, ""
        try:
            if reference_pattern:
                reference = find_reference(psg, reference_pattern)
                if reference is None:
                    note = (f"no hypnogram matches {_expected(psg, reference_pattern)} "
                            f"({PRESETS.get(reference_pattern, reference_pattern)}): no comparison")
            res = score_recording(psg, out_dir=out, reference=reference, name=name, **score_kwargs)
            row = _row(psg, reference, res, name=name, note=note)
            result.results[str(psg)] = res
        except (KeyboardInterrupt, SystemExit):
            raise
        except NeurotrioError as exc:
            row = _row(psg, reference, error=str(exc).splitlines()[0], name=name, note=note)
        except Exception as exc:  # noqa: BLE001 - one bad file must not stop the others; logged in full
            log.debug("night %s failed", psg, exc_info=True)
            row = _row(psg, reference, error=f"internal error ({type(exc).__name__}: {str(exc).splitlines()[0][:160]})"
                       if str(exc) else f"internal error ({type(exc).__name__})", name=name, note=note)
        result.rows.append(row)
        if out is not None:  # after every night: an interrupted run keeps what it finished
            out.mkdir(parents=True, exist_ok=True)
            result.summary = atomic_write_text(out / SUMMARY, summary_csv(result.rows))
        if on_night is not None:
            on_night(row)
    return result
