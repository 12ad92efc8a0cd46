"""Dataset adapters: CASME II, SAMM, SMIC-HS and the MEGC2019 composite, as lists of ``MESample``.

Each adapter reads the official layout a licensed user has and returns samples with a subject id (for
LOSO), a label and where the input lives (a flow PNG, a raw frame folder with onset/apex, or an already
magnified and interpolated sequence). ``load_inputs`` turns samples into one float tensor.

Example:
    >>> samples = load_composite("../shared/data/microexpression/megc2019_composite")
    >>> len(samples), len({s.subject for s in samples})
    (442, 68)
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from neurotrio.core.errors import ConfigError, InputError
from neurotrio.microexpression.frames import is_hidden
from neurotrio.microexpression.sheets import frame_index, parse_int, read_sheet

log = logging.getLogger(__name__)

COMPOSITE_CLASSES = ("negative", "positive", "surprise")
CASME2_CLASSES = ("happiness", "disgust", "repression", "surprise", "others")
SAMM_CLASSES = ("anger", "contempt", "happiness", "surprise", "other")
SMIC_CLASSES = ("negative", "positive", "surprise")
#: Emotions present in a sheet but outside the standard 5-class protocol (dropped, logged).
CASME2_EXCLUDED = ("fear", "sadness")
SAMM_EXCLUDED = ("fear", "disgust", "sadness")
DATASETS = ("composite", "casme2", "samm", "smic", "sequences")
Kind = Literal["flow", "frames", "sequence"]


@dataclass(frozen=True)
class MESample:
    """One micro-expression sample.

    Attributes:
        database: ``casme2``, ``samm`` or ``smic`` (the sub-database, also inside the composite).
        subject: subject id unique across databases, e.g. ``casme2/sub01`` (the LOSO unit).
        name: the sample's file name in its database, e.g. ``EP02_01f``.
        label: class index into the dataset's class tuple.
        label_name: class name.
        path: flow PNG (``kind="flow"``), raw frame folder (``"frames"``) or prepared sequence folder.
        kind: which input path the sample takes.
        onset: onset frame number (raw frames only), as numbered in the frame file names.
        apex: apex frame number (raw frames only).
        source: where the sample was defined, e.g. ``coding.csv row 7`` (coding-sheet datasets), for errors.
    """

    database: str
    subject: str
    name: str
    label: int
    label_name: str
    path: Path
    kind: Kind
    onset: int | None = None
    apex: int | None = None
    source: str = ""


def _label(name: str, classes: Sequence[str], excluded: Sequence[str], where: Path, row: str) -> int | None:
    key = name.strip().lower()
    if key in classes:
        return list(classes).index(key)
    if key in excluded:
        return None
    raise InputError(where, f"row {row}: unknown emotion label {name!r}; known: {', '.join(classes)} "
                            f"(excluded from the protocol: {', '.join(excluded) or 'none'})")


# --------------------------------------------------------------------------- MEGC2019 composite
def _composite_flow_name(dataset: str, imagename: str) -> str:
    """The flow PNG stem for a labels.csv ``imagename`` (SMIC rows zero-pad the second token)."""
    stem = Path(imagename).stem
    if dataset == "smic":
        parts = stem.split("_")
        m = re.fullmatch(r"s(\d+)", parts[1]) if len(parts) > 1 else None
        if m:
            parts[1] = f"s{int(m.group(1)):02d}"
        stem = "_".join(parts)
    return stem


def load_composite(root: str | Path) -> list[MESample]:
    """The MEGC2019 composite (SMIC-HS + CASME II + SAMM, 3 classes) as precomputed 28×28 flow maps.

    Args:
        root: folder with ``labels.csv`` (columns dataset, sub, filename_o, label, imagename) and
            ``flow_uvos_28/*.png``. Label 0 negative, 1 positive, 2 surprise; subject = dataset + sub.

    Raises:
        InputError: missing files, a row without its flow PNG, or an unknown label.
    """
    root = Path(root)
    sheet, flows = root / "labels.csv", root / "flow_uvos_28"
    if not sheet.is_file():
        raise InputError(sheet, "composite labels.csv not found (expected <root>/labels.csv)")
    if not flows.is_dir():
        raise InputError(flows, "composite flow folder not found (expected <root>/flow_uvos_28/)")
    try:
        with sheet.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(sheet, f"cannot read ({exc})") from None
    need = {"dataset", "sub", "filename_o", "label", "imagename"}
    if not rows or not need <= set(rows[0]):
        raise InputError(sheet, f"needs columns {', '.join(sorted(need))}")
    out = []
    for i, r in enumerate(rows, start=2):
        db = r["dataset"].strip().lower()
        if db not in ("casme2", "samm", "smic"):
            raise InputError(sheet, f"row {i}: unknown dataset {r['dataset']!r} (casme2, samm, smic)")
        try:
            label = int(r["label"])
        except ValueError:
            label = -1
        if label not in (0, 1, 2):
            raise InputError(sheet, f"row {i}: unknown label {r['label']!r}; known: 0 negative, 1 positive, "
                                    "2 surprise")
        png = flows / (_composite_flow_name(db, r["imagename"]) + ".png")
        if not png.is_file():
            raise InputError(sheet, f"row {i} ({r['imagename']}): no flow map {png.name} in {flows.name}/")
        out.append(MESample(db, f"{db}/{r['sub'].strip()}", r["filename_o"].strip(), label,
                            COMPOSITE_CLASSES[label], png, "flow"))
    extra = len([p for p in flows.glob("*.png") if not is_hidden(p)]) - len({s.path for s in out})
    if extra > 0:
        log.warning("%d flow maps in %s have no row in labels.csv (ignored)", extra, flows)
    return out


# --------------------------------------------------------------------------- CASME II
def _find_dir(root: Path, names: Sequence[str], probe: str) -> Path:
    for n in names:
        if (root / n).is_dir():
            return root / n
    if any(root.glob(probe)):
        return root
    raise InputError(root, f"no {' or '.join(names)} folder and no {probe} folders inside")


def load_casme2(root: str | Path, sheet: str | Path | None = None) -> list[MESample]:
    """CASME II, 5 classes, raw frames ``<root>/CASME2_RAW_selected/subXX/EPxx_xx/imgN.jpg``.

    Args:
        root: the dataset folder (holding ``CASME2_RAW_selected``, ``CASME2_RAW`` or ``subXX`` folders).
        sheet: the coding sheet (columns Subject, Filename, OnsetFrame, ApexFrame, Estimated Emotion);
            default: the first ``*coding*.csv``/``.xlsx`` in ``root``. Fear and sadness rows are dropped
            (the standard 5-class protocol). An apex of ``/`` takes the frame midway to the offset.

    Raises:
        InputError: a row without its frame folder or onset/apex frames, or an unknown emotion.
    """
    root = Path(root)
    frames_root = _find_dir(root, ("CASME2_RAW_selected", "CASME2_RAW", "Cropped"), "sub*")
    sheet = Path(sheet) if sheet else _default_sheet(root, "*coding*")
    rows = read_sheet(sheet, ("subject", "filename", "onsetframe", "apexframe", "estimatedemotion"))
    out: list[MESample] = []
    skipped: list[str] = []
    for r in rows:
        label = _label(r["estimatedemotion"], CASME2_CLASSES, CASME2_EXCLUDED, sheet, r["_row"])
        if label is None:
            continue
        sub = r["subject"]
        sub = f"sub{int(sub):02d}" if sub.isdigit() else sub
        folder = frames_root / sub / r["filename"]
        onset = parse_int(r["onsetframe"], sheet, r, "OnsetFrame")
        if r["apexframe"].strip() in ("/", ""):
            offset = parse_int(r.get("offsetframe", ""), sheet, r, "OffsetFrame")
            apex = (onset + offset) // 2
        else:
            apex = parse_int(r["apexframe"], sheet, r, "ApexFrame")
        if _no_motion(onset, apex, sheet, r["_row"], skipped):
            continue
        _check_frames(folder, onset, apex, sheet, r["_row"])
        out.append(MESample("casme2", f"casme2/{sub}", r["filename"], label, CASME2_CLASSES[label],
                            folder, "frames", onset, apex, f"{sheet.name} row {r['_row']}"))
    _warn_skipped(skipped, sheet)
    return _nonempty(out, sheet)


def _default_sheet(root: Path, pattern: str) -> Path:
    for ext in (".csv", ".xlsx"):
        found = sorted(p for p in root.glob(pattern + ext) if not is_hidden(p))
        if found:
            return found[0]
    raise InputError(root, f"no coding sheet ({pattern}.csv or .xlsx) found; pass it with --sheet")


def _check_frames(folder: Path, onset: int, apex: int, sheet: Path, row: str) -> None:
    if not folder.is_dir():
        raise InputError(sheet, f"row {row}: frame folder {folder} does not exist")
    frames = frame_index(folder)
    if not frames:
        raise InputError(sheet, f"row {row}: no image frames in {folder}")
    for what, n in (("onset", onset), ("apex", apex)):
        if n not in frames:
            raise InputError(sheet, f"row {row}: {what} frame {n} not in {folder.name}/ (frames "
                                    f"{min(frames)}–{max(frames)})")
    if onset > apex:
        raise InputError(sheet, f"row {row}: onset frame {onset} is after apex frame {apex}")


def _no_motion(onset: int, apex: int, sheet: Path, row: str, skipped: list[str]) -> bool:
    """Check onset < apex when the sheet is read (frame numbers as the sheet writes them).

    onset = apex: the row has no motion to recognise (CAS(ME)³ has 55 such rows): it is recorded in
    ``skipped`` and True is returned, so the row is skipped with a counted warning (``_warn_skipped``).
    onset > apex: an InputError naming the sheet, row and frames.
    """
    if onset == apex:
        skipped.append(f"row {row} (onset = apex = frame {onset})")
        return True
    if onset > apex:
        raise InputError(sheet, f"row {row}: onset frame {onset} is after apex frame {apex}")
    return False


def _warn_skipped(skipped: list[str], sheet: Path) -> None:
    if skipped:
        shown = "; ".join(skipped[:10]) + (f"; … {len(skipped) - 10} more" if len(skipped) > 10 else "")
        log.warning("%s: skipped %d row(s) whose onset frame equals the apex frame (no motion): %s",
                    sheet.name, len(skipped), shown)


def _nonempty(out: list[MESample], where: Path) -> list[MESample]:
    if not out:
        raise InputError(where, "no usable samples")
    return out


# --------------------------------------------------------------------------- SAMM
def load_samm(root: str | Path, sheet: str | Path | None = None) -> list[MESample]:
    """SAMM, 5 classes, raw frames ``<root>/<subject>/<filename>/<subject>_<frame>.jpg``.

    Args:
        root: the dataset folder (holding ``SAMM/`` or the 3-digit subject folders).
        sheet: the SAMM coding sheet (columns Subject, Filename, Onset Frame, Apex Frame, Estimated
            Emotion); default: the first ``*SAMM*.csv``/``.xlsx`` in ``root``. Fear, disgust and sadness
            rows are dropped (the standard 5-class protocol).
    """
    root = Path(root)
    frames_root = _find_dir(root, ("SAMM",), "[0-9][0-9][0-9]")
    sheet = Path(sheet) if sheet else _default_sheet(root, "*SAMM*")
    rows = read_sheet(sheet, ("subject", "filename", "onsetframe", "apexframe", "estimatedemotion"))
    out: list[MESample] = []
    skipped: list[str] = []
    for r in rows:
        label = _label(r["estimatedemotion"], SAMM_CLASSES, SAMM_EXCLUDED, sheet, r["_row"])
        if label is None:
            continue
        sub = r["subject"]
        sub = f"{int(sub):03d}" if sub.isdigit() else sub
        folder = frames_root / sub / r["filename"]
        onset = parse_int(r["onsetframe"], sheet, r, "Onset Frame")
        apex = parse_int(r["apexframe"], sheet, r, "Apex Frame")
        if _no_motion(onset, apex, sheet, r["_row"], skipped):
            continue
        _check_frames(folder, onset, apex, sheet, r["_row"])
        out.append(MESample("samm", f"samm/{sub}", r["filename"], label, SAMM_CLASSES[label], folder,
                            "frames", onset, apex, f"{sheet.name} row {r['_row']}"))
    _warn_skipped(skipped, sheet)
    return _nonempty(out, sheet)


# --------------------------------------------------------------------------- SMIC-HS
def load_smic(root: str | Path) -> list[MESample]:
    """SMIC-HS, 3 classes, from its layout ``<root>/HS/sN/micro/{negative,positive,surprise}/<clip>/``.

    SMIC ships no apex annotation and its clips are cut from onset to offset: the onset is the first
    frame and the apex the middle frame (a common convention; documented in docs/mer.md).

    Raises:
        InputError: no subject folders, an unknown emotion folder, or an empty clip folder.
    """
    root = Path(root)
    hs = _find_dir(root, ("HS", "SMIC_all_raw/HS"), "s[0-9]*")
    out = []
    for subj in sorted(p for p in hs.iterdir() if p.is_dir() and re.fullmatch(r"s\d+", p.name)):
        micro = subj / "micro"
        if not micro.is_dir():
            continue
        for emo in sorted(p for p in micro.iterdir() if p.is_dir() and not is_hidden(p)):
            label = _label(emo.name, SMIC_CLASSES, (), emo, "-")
            for clip in sorted(p for p in emo.iterdir() if p.is_dir() and not is_hidden(p)):
                frames = frame_index(clip)
                if not frames:
                    raise InputError(clip, "no image frames in this SMIC clip folder")
                keys = sorted(frames)
                sub = f"s{int(subj.name[1:]):02d}"
                out.append(MESample("smic", f"smic/{sub}", clip.name, label, SMIC_CLASSES[label], clip,
                                    "frames", keys[0], keys[len(keys) // 2]))
    return _nonempty(out, hs)


# --------------------------------------------------------------------------- prepared sequences
def load_sequences(root: str | Path, labels: str | Path) -> list[MESample]:
    """Already magnified and interpolated sequences ``<root>/<sub>/<name>/frame_0..10.png``, 3 classes.

    Labels come from a composite-style CSV (columns sub, filename_o, label 0/1/2; e.g. the composite's
    ``labels.csv``), matched on sub + name. Sequences without a label row are skipped (logged): the shared
    21 CASME II sequences have 13 labelled. A label row whose sequence is absent is not an error (the
    sheet may list a whole database).

    Raises:
        InputError: no sequence folders, an unknown label, or no sequence with a label.
    """
    root, labels = Path(root), Path(labels)
    try:
        with labels.open(newline="", encoding="utf-8-sig") as fh:
            rows = list(csv.DictReader(fh))
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(labels, f"cannot read labels ({exc})") from None
    if not rows or not {"sub", "filename_o", "label"} <= set(rows[0]):
        raise InputError(labels, "needs columns sub, filename_o, label (a composite-style labels.csv)")
    table = {}
    for i, r in enumerate(rows, start=2):
        if r["label"].strip() not in ("0", "1", "2"):
            raise InputError(labels, f"row {i}: unknown label {r['label']!r}; known: 0 negative, 1 positive, 2 surprise")
        table[(r["sub"].strip(), r["filename_o"].strip())] = int(r["label"])
    folders = sorted(p for p in root.glob("*/*") if p.is_dir() and not (is_hidden(p) or is_hidden(p.parent)))
    if not folders:
        raise InputError(root, "no <subject>/<sample> sequence folders")
    out, unlabelled = [], []
    for f in folders:
        label = table.get((f.parent.name, f.name))
        if label is None:
            unlabelled.append(f"{f.parent.name}/{f.name}")
            continue
        out.append(MESample("casme2", f"{root.name}/{f.parent.name}", f.name, label, COMPOSITE_CLASSES[label], f,
                            "sequence"))
    if unlabelled:
        log.warning("%d sequences in %s have no label in %s (skipped): %s", len(unlabelled), root, labels.name,
                    ", ".join(unlabelled))
    return _nonempty(out, labels)


# --------------------------------------------------------------------------- dispatch and tensors
def class_names(dataset: str) -> tuple[str, ...]:
    """The class tuple of ``dataset`` (one of ``DATASETS``)."""
    table = {"composite": COMPOSITE_CLASSES, "casme2": CASME2_CLASSES, "samm": SAMM_CLASSES,
             "smic": SMIC_CLASSES, "sequences": COMPOSITE_CLASSES}
    if dataset not in table:
        raise ConfigError(f"unknown dataset {dataset!r}; choose one of {', '.join(DATASETS)}")
    return table[dataset]


def load_dataset(dataset: str, root: str | Path, sheet: str | Path | None = None) -> list[MESample]:
    """Dispatch to the adapter for ``dataset`` (one of ``DATASETS``); ``sheet`` is the coding sheet, or for
    ``sequences`` the labels CSV (required)."""
    class_names(dataset)
    if dataset == "sequences":
        if not sheet:
            raise ConfigError("the sequences dataset needs a labels CSV: pass --sheet labels.csv")
        return load_sequences(root, sheet)
    if dataset == "composite":
        return load_composite(root)
    if dataset == "smic":
        return load_smic(root)
    return (load_casme2 if dataset == "casme2" else load_samm)(root, sheet)


def frame_positions(sample: MESample) -> tuple[int, int]:
    """0-based positions of the onset and apex frames among the sample's frames in natural order.

    Coding sheets number frames as their file names do (``img46.jpg``); the preprocessing indexes the
    folder's frames from 0.
    """
    from neurotrio.microexpression.frames import list_frame_files

    files = list_frame_files(sample.path)
    numbered = frame_index(sample.path)
    try:
        return files.index(numbered[sample.onset]), files.index(numbered[sample.apex])
    except (KeyError, ValueError):
        where = f" ({sample.source})" if sample.source else ""
        raise InputError(sample.path, f"onset frame {sample.onset} or apex frame {sample.apex}{where} not found "
                                      "among the folder's frames (frame numbers as the sheet writes them)") from None


def load_inputs(samples: Sequence[MESample], prepare_cfg: Any = None, cache_dir: str | Path | None = None,
                workers: int = 2, progress: bool = False) -> Any:
    """Stack every sample's input into one float32 tensor (N, C, T, H, W).

    Flow PNGs give (3, 1, 28, 28); raw frame folders and prepared sequences go through the
    preprocessing pipeline (``prepare_many``, cached in ``cache_dir``) and give (5, 10, 128, 128).
    """
    import numpy as np
    import torch

    from neurotrio.microexpression import preprocess

    kinds = {s.kind for s in samples}
    if len(kinds) > 1:
        raise InputError(None, f"samples mix input kinds {sorted(kinds)}; prepare them all the same way")
    if kinds == {"flow"}:
        arrays = [preprocess.load_flow_map(s.path) for s in samples]
    else:
        cfg = prepare_cfg or preprocess.PrepareConfig()
        if cache_dir is None:
            raise ConfigError("raw-frame datasets need a cache directory for prepared tensors")
        items = [(s.path, *frame_positions(s)) if s.kind == "frames" else s.path for s in samples]
        paths = preprocess.prepare_many(items, cfg, cache_dir, workers=workers, progress=progress)
        arrays = [np.load(p) for p in paths]
    return torch.from_numpy(np.stack(arrays).astype(np.float32))
