"""Sleep-EDF Expanded (sleep-cassette): record lists, DeepSleepNet preprocessing, cache of prepared epochs.

Record table and SHA1 sums come from the table MNE ships (``mne/datasets/sleep_physionet/age_records.csv``),
not a copy. Data: Kemp et al. (2000), IEEE TBME 47(9):1185-94; PhysioNet (Goldberger et al. 2000);
Open Data Commons Attribution 1.0.
"""

from __future__ import annotations

import csv
import functools
import hashlib
import importlib.util
import json
import logging
import re
import zlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.edf import DEFAULT_CHANNELS, load_psg
from neurotrio.sleep.edfheader import read_edf_header
from neurotrio.sleep.hypnogram import STAGES, UNKNOWN, check_coverage, read_hypnogram, stage_labels

log = logging.getLogger(__name__)

Subset = Literal["sleep-edf-20", "sleep-edf-78", "all"]
SUBSETS: tuple[str, ...] = ("sleep-edf-20", "sleep-edf-78", "all")
# Sleep-EDF-20: the first 20 subjects (0-19) of the sleep-cassette study; subject 13's second night
# (SC4132) was never recorded, hence 39 nights.
SLEEP_EDF_20: tuple[str, ...] = tuple(
    f"SC4{s:02d}{n}" for s in range(20) for n in (1, 2) if (s, n) != (13, 2))
CACHE_VERSION = 2  # bump when the preprocessing changes: old cache entries are then ignored
_PSG_NAME = re.compile(r"^(S[CT]\d{4})[A-Z0-9]{2}-PSG\.edf$", re.IGNORECASE)


@dataclass(frozen=True)
class Record:
    """One Sleep-EDF night: ``subject = int(record[3:5])``, ``night = int(record[5])``."""

    record: str
    subject: int
    night: int
    psg: Path
    hypnogram: Path


@dataclass(frozen=True)
class RecordFiles:
    """One night in MNE's record table: file names and SHA1 sums as PhysioNet publishes them."""

    record: str
    subject: int
    night: int
    psg_name: str
    psg_sha1: str
    hypnogram_name: str
    hypnogram_sha1: str


@dataclass
class PreparedEpochs:
    """The scored epochs of one night after preprocessing.

    Attributes:
        x: float32 (n, n_channels, epoch_s * sfreq_hz), microvolts.
        y: int64 (n,), stage codes 0..4 (W, N1, N2, N3, REM).
        onset_s: float64 (n,), epoch onsets from the recording start, s.
        record, subject, night: which night.
        channels: channel names of ``x``'s second axis.
    """

    x: np.ndarray
    y: np.ndarray
    onset_s: np.ndarray
    record: str
    subject: int
    night: int
    channels: tuple[str, ...]

    def counts(self) -> dict[str, int]:
        """Epochs per stage, e.g. ``{"W": 188, "N1": 58, ...}``."""
        return {s: int((self.y == i).sum()) for i, s in enumerate(STAGES)}


@functools.lru_cache(maxsize=1)
def sleep_cassette_table() -> tuple[RecordFiles, ...]:
    """The 153 sleep-cassette nights (78 subjects) of MNE's ``age_records.csv``, in table order."""
    spec = importlib.util.find_spec("mne")
    if spec is None or not spec.submodule_search_locations:
        raise InputError(None, "the Sleep-EDF record table needs MNE: pip install mne")
    table = Path(spec.submodule_search_locations[0]) / "datasets" / "sleep_physionet" / "age_records.csv"
    rows: dict[str, dict[str, str]] = {}
    with open(table, newline="") as fh:
        for row in csv.DictReader(fh):
            rows.setdefault(row["fname"][:6], {})[row["record type"]] = row
    out = []
    for rec, kinds in rows.items():
        psg, hyp = kinds["PSG"], kinds["Hypnogram"]
        out.append(RecordFiles(rec, int(psg["subject"]), int(psg["night"]), psg["fname"], psg["sha"],
                               hyp["fname"], hyp["sha"]))
    return tuple(out)


def subset_records(subset: Subset) -> tuple[str, ...] | None:
    """Record ids of a subset (``None`` for "all": every night found)."""
    if subset not in SUBSETS:
        raise InputError(None, f"unknown Sleep-EDF subset {subset!r}; choose one of {', '.join(SUBSETS)}")
    if subset == "sleep-edf-20":
        return SLEEP_EDF_20
    if subset == "sleep-edf-78":
        return tuple(r.record for r in sleep_cassette_table())
    return None


def find_records(root: str | Path, subset: Subset = "all") -> list[Record]:
    """Find Sleep-EDF nights in a folder laid out as PhysioNet's ``sleep-edfx/1.0.0/``.

    PSG files ``<id>??-PSG.edf`` are looked for in ``root/sleep-cassette/``, ``root/sleep-telemetry/``
    and ``root`` itself; each needs its ``<id>??-Hypnogram.edf`` beside it. Nights of the subset that are
    absent are logged, not an error (a partial download still loads).

    Args:
        root: the dataset folder.
        subset: "sleep-edf-20" (39 nights), "sleep-edf-78" (153 nights) or "all" (every night found).

    Returns:
        Records sorted by id.

    Raises:
        InputError: ``root`` missing, no night of the subset found, or a PSG without its hypnogram.
    """
    root = Path(root)
    if not root.is_dir():
        raise InputError(root, "Sleep-EDF folder not found (expected PhysioNet's layout: "
                               "ROOT/sleep-cassette/SC4001E0-PSG.edf; download with `neurotrio sleep fetch`)")
    wanted = subset_records(subset)
    folders = [d for d in (root / "sleep-cassette", root / "sleep-telemetry", root) if d.is_dir()]
    records: dict[str, Record] = {}
    for folder in folders:
        for psg in sorted(folder.iterdir()):
            m = _PSG_NAME.match(psg.name)
            if not m or m.group(1).upper() in records:
                continue
            rec = m.group(1).upper()
            if wanted is not None and rec not in wanted:
                continue
            hyps = sorted(folder.glob(f"{psg.name[:7]}?-Hypnogram.edf")) or sorted(
                p for p in folder.iterdir() if p.name.upper().startswith(rec) and "HYPNOGRAM" in p.name.upper())
            if not hyps:
                raise InputError(psg, f"no hypnogram {rec}??-Hypnogram.edf beside it in {folder}")
            records[rec] = Record(rec, int(rec[3:5]), int(rec[5]), psg, hyps[0])
    if not records:
        raise InputError(root, f"no Sleep-EDF night of subset {subset!r} found (looked for *-PSG.edf with "
                               f"*-Hypnogram.edf in {', '.join(str(f) for f in folders)})")
    if wanted is not None and len(records) < len(wanted):
        log.warning("%s: %d of the %d nights of %s found", root, len(records), len(wanted), subset)
    return [records[k] for k in sorted(records)]


def select_epochs(labels: np.ndarray, trim_wake_epochs: int | None) -> np.ndarray:
    """DeepSleepNet's epoch selection: indices of the epochs to keep.

    As in DeepSleepNet's ``prepare_physionet.py``: unscored/movement epochs (``UNKNOWN``) are removed
    first; then, counted in the remaining sequence, ``trim_wake_epochs`` epochs are kept before the first
    and after the last non-wake epoch and the wake outside is dropped. ``None`` keeps every scored epoch.
    """
    scored = np.flatnonzero(labels != UNKNOWN)
    if trim_wake_epochs is None or scored.size == 0:
        return scored
    sleep = np.flatnonzero(labels[scored] != 0)
    if sleep.size == 0:
        log.warning("no sleep epoch scored: every scored (wake) epoch is kept")
        return scored
    first = max(sleep[0] - trim_wake_epochs, 0)
    last = min(sleep[-1] + trim_wake_epochs, scored.size - 1)
    return scored[first:last + 1]


def file_sha1(path: str | Path, chunk_bytes: int = 1 << 20) -> str:
    """SHA1 of a file's bytes, read in 1-MiB chunks."""
    h = hashlib.sha1()
    with open(path, "rb") as fh:
        while block := fh.read(chunk_bytes):
            h.update(block)
    return h.hexdigest()


def cache_key(record: Record, settings: Mapping[str, object]) -> str:
    """Cache key: SHA1 over both files' SHA1s, the settings (JSON) and :data:`CACHE_VERSION`."""
    text = json.dumps({"psg": file_sha1(record.psg), "hypnogram": file_sha1(record.hypnogram),
                       "settings": settings, "version": CACHE_VERSION}, sort_keys=True)
    return hashlib.sha1(text.encode()).hexdigest()


def _checksum(x: np.ndarray, y: np.ndarray, onset_s: np.ndarray) -> str:
    """CRC-32 of the arrays' bytes and shapes: detects a damaged or altered entry (not tampering)."""
    crc = zlib.crc32(repr((x.shape, y.shape, onset_s.shape)).encode())
    for a in (x, y, onset_s):
        crc = zlib.crc32(memoryview(np.ascontiguousarray(a)).cast("B"), crc)
    return f"{crc:08x}"


def _read_cache(path: Path, record: Record, channels: tuple[str, ...]) -> PreparedEpochs | None:
    """A verified cache entry, or None when absent or unusable (corrupt entries are never trusted)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as z:
            x, y, onset_s = z["x"], z["y"], z["onset_s"]
            stored = str(z["checksum"])
        ok = (x.dtype == np.float32 and y.dtype == np.int64 and x.ndim == 3 and x.shape[0] == y.shape[0]
              == onset_s.shape[0] and x.shape[1] == len(channels) and stored == _checksum(x, y, onset_s))
    except Exception as exc:  # zip/npy errors of a damaged file
        log.warning("%s: unreadable cache entry (%s): rebuilding", path.name, exc)
        return None
    if not ok:
        log.warning("%s: cache entry fails its checksum: rebuilding", path.name)
        return None
    return PreparedEpochs(x, y, onset_s, record.record, record.subject, record.night, channels)


def _write_cache(path: Path, ep: PreparedEpochs) -> None:
    from neurotrio.core.io import atomic_path

    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        np.savez(fh, x=ep.x, y=ep.y, onset_s=ep.onset_s, checksum=np.array(_checksum(ep.x, ep.y, ep.onset_s)),
                 channels=np.array(ep.channels), record=np.array(ep.record))


def prepare_record(record: Record, channels: Sequence[str] = DEFAULT_CHANNELS, sfreq_hz: float = 100.0,
                   trim_wake_min: float | None = 30.0, cache_dir: str | Path | None = None,
                   aliases: Mapping[str, str] | None = None, epoch_s: float = 30.0) -> PreparedEpochs:
    """Prepare one night's epochs with the DeepSleepNet preprocessing.

    Steps: read the hypnogram and check it covers the PSG (see
    :func:`neurotrio.sleep.hypnogram.check_coverage`); label 30-s epochs (S3+S4 -> N3); drop
    movement/unknown epochs; keep ``trim_wake_min`` minutes of wake before the first and after the last
    sleep epoch (:func:`select_epochs`); read only that span of the PSG (resampled to ``sfreq_hz``).

    Args:
        record: the night (from :func:`find_records`).
        channels: channel names (see :func:`neurotrio.sleep.edf.load_psg`).
        sfreq_hz: sampling rate of the epochs, Hz.
        trim_wake_min: minutes of wake kept at each side of the sleep period; None keeps all scored epochs.
        cache_dir: folder of ``.npz`` cache entries keyed by file content and settings (None: no cache).
        aliases: user channel mapping requested name -> file label.
        epoch_s: epoch length, s.

    Returns:
        :class:`PreparedEpochs` with ``x`` float32 (n, n_channels, epoch_s * sfreq_hz).

    Raises:
        InputError: bad PSG or hypnogram (naming the file).
    """
    channels = tuple(channels)
    settings = {"channels": channels, "aliases": dict(sorted((aliases or {}).items())), "sfreq_hz": sfreq_hz,
                "trim_wake_min": trim_wake_min, "epoch_s": epoch_s}
    cache_path = None
    if cache_dir is not None:
        cache_path = Path(cache_dir) / f"{record.record}-{cache_key(record, settings)[:20]}.npz"
        cached = _read_cache(cache_path, record, channels)
        if cached is not None:
            return cached
    header = read_edf_header(record.psg)
    n_epochs = int(header.duration_s // epoch_s)
    if n_epochs < 1:
        raise InputError(record.psg, f"recording lasts {header.duration_s:g} s, shorter than one {epoch_s:g}-s epoch")
    annotations = read_hypnogram(record.hypnogram)
    check_coverage(annotations, n_epochs, record.hypnogram, epoch_s)
    labels = stage_labels(annotations, n_epochs, epoch_s)
    trim = None if trim_wake_min is None else int(round(trim_wake_min * 60 / epoch_s))
    keep = select_epochs(labels, trim)
    psg = load_psg(record.psg, channels, sfreq_hz, aliases=aliases, start_s=keep[0] * epoch_s,
                   stop_s=(keep[-1] + 1) * epoch_s, epoch_s=epoch_s)
    x = np.ascontiguousarray(psg.epochs(epoch_s)[keep - keep[0]])
    ep = PreparedEpochs(x=x, y=labels[keep].astype(np.int64), onset_s=keep.astype(np.float64) * epoch_s,
                        record=record.record, subject=record.subject, night=record.night, channels=channels)
    if cache_path is not None:
        _write_cache(cache_path, ep)
    return ep


def load_sleepedf(root: str | Path, subset: Subset = "all", channels: Sequence[str] = DEFAULT_CHANNELS,
                  cache_dir: str | Path | None = None, progress: bool = True, sfreq_hz: float = 100.0,
                  trim_wake_min: float | None = 30.0, aliases: Mapping[str, str] | None = None
                  ) -> list[PreparedEpochs]:
    """Load and prepare every night of a Sleep-EDF subset found under ``root``.

    Example:
        >>> nights = load_sleepedf("../shared/data/sleep/sleep-edf")  # doctest: +SKIP
        >>> nights[0].record, nights[0].counts()                      # doctest: +SKIP
        ('SC4001', {'W': 188, 'N1': 58, 'N2': 250, 'N3': 220, 'REM': 125})
    """
    records = find_records(root, subset)
    if progress:
        from tqdm import tqdm

        records = tqdm(records, desc="Sleep-EDF", unit="night")
    return [prepare_record(r, channels, sfreq_hz, trim_wake_min, cache_dir, aliases) for r in records]
