"""N-Omniglot (Li et al., Sci. Data 2022): the official release read directly, one character at a time.

Release layout (figshare 10.6084/m9.figshare.16821427, as read by the authors' loader)::

    <root>/dvs_background/<Alphabet>/characterNN/NNNN.aedat4   one DAVIS346 recording of 20 drawings
    <root>/dvs_background/<Alphabet>/characterNN/NNNN.csv      one row per drawing: index, start, end
    <root>/dvs_evaluation/...                                  the 20 evaluation alphabets

The CSV has a header row and 20 rows; the authors' loader takes the second and third columns of each row
as the absolute start and end timestamps (µs, the AEDAT4 clock) and cuts ``start <= t < end``. A sample
must lie within 1 ms of the recording's first and last events, else the table
is rejected as not belonging to the recording. Two-column
tables (start, end) are accepted too. Samples are binned into ``frames`` equal time bins over
``[start, end]``, 2 polarities, cropped to y 4:254, x 54:304 of the 346×260 sensor and resized.
"""

from __future__ import annotations

import csv
import re
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from neurotrio.core.errors import InputError
from neurotrio.fewshot.events import empty_events, iter_aedat4
from neurotrio.fewshot.frames import stream_events_to_frames
from neurotrio.fewshot.walk import is_skipped_name

NOMNIGLOT_SENSOR_HW = (260, 346)
NOMNIGLOT_CROP = (4, 254, 54, 304)
BOUNDARY_SLACK_US = 1000  # a sample may start/end up to 1 ms outside the recorded events
WHOLE_FILE_MAX_BYTES = 32 << 20
"""Recordings up to this size are decoded whole and cached; larger ones are streamed per item."""


def read_nomniglot_sample_table(csv_path: str | Path, recording_duration_us: int | None = None,
                                recording_range_us: tuple[int, int] | None = None) -> list[tuple[int, int]]:
    """Read a character's sample table: one (start_us, end_us) per drawing, in file order.

    Args:
        csv_path: the character's ``NNNN.csv``.
        recording_duration_us: when the table holds times relative to the recording start, its length;
            every boundary must lie in ``[0, recording_duration_us]``.
        recording_range_us: (first, last) event time of the recording (absolute µs); every boundary must
            lie inside it.

    Returns:
        list of (start_us, end_us) with start < end.

    Raises:
        InputError: unreadable table, non-integer times, start >= end, or boundaries outside the recording.
    """
    path = Path(csv_path)
    try:
        rows = [r for r in csv.reader(path.read_text().splitlines()) if any(c.strip() for c in r)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise InputError(path, f"cannot read the sample table ({exc})") from None
    out: list[tuple[int, int]] = []
    for i, row in enumerate(rows):
        cells = [c.strip() for c in row]
        if i == 0 and not all(re.fullmatch(r"-?\d+(\.0*)?", c) for c in cells if c):
            continue  # header row
        if len(cells) < 2:
            raise InputError(path, f"row {i + 1} has {len(cells)} column(s); expected index,start,end or start,end")
        try:
            start, end = (int(float(c)) for c in (cells[-2:] if len(cells) == 2 else cells[1:3]))
        except ValueError:
            raise InputError(path, f"row {i + 1}: start/end are not integer microseconds: {row}") from None
        if end <= start:
            raise InputError(path, f"row {i + 1}: end {end} is not after start {start}")
        out.append((start, end))
    if not out:
        raise InputError(path, "the sample table has no rows")
    lo, hi = None, None
    if recording_duration_us is not None:
        lo, hi = 0, int(recording_duration_us)
    if recording_range_us is not None:
        lo, hi = int(recording_range_us[0]), int(recording_range_us[1])
    if lo is not None:
        for i, (s, e) in enumerate(out):
            if s < lo or e > hi:
                raise InputError(path, f"sample {i + 1} spans {s}..{e} µs, outside the recording "
                                       f"({lo}..{hi} µs): the table does not belong to this recording")
    return out


class NOmniglot(Dataset):
    """N-Omniglot samples as (frames, label), streamed per character from the official release.

    Each item reads only its character's AEDAT4 file (about 5 MB per character in the 9 GB release).
    Files up to ``whole_file_max_bytes`` are decoded whole and the events of the last ``cache_characters``
    characters stay in memory, so iterating a character's 20 drawings in order reads its file once.
    Larger files are streamed per item: read from the start up to the item's end ``chunk_events`` events
    at a time and binned chunk by chunk, so memory is bounded by the chunk size, not the file size.

    Args:
        root: folder holding ``dvs_background`` / ``dvs_evaluation``.
        split: ``"background"`` or ``"evaluation"``.
        frames: number of equal time bins (4 or 12 in the paper).
        mode: ``"binary"`` or ``"count"`` frames.
        size: output side, 28 or 105 (any positive int works).
        crop: apply the standard crop y 4:254, x 54:304.
        cache_characters: how many characters' events to keep decoded (files read whole only).
        whole_file_max_bytes: larger recordings are streamed per item instead of decoded whole.
        chunk_events: events per chunk when streaming.

    Returns (per item):
        float32 tensor (frames, 2, size, size) and the integer class (character) index.

    Attributes:
        targets: class index of every item; class_names: ``Alphabet/characterNN`` per class.
    """

    def __init__(self, root: str | Path, split: str = "background", frames: int = 4, mode: str = "binary",
                 size: int = 28, crop: bool = True, cache_characters: int = 2,
                 whole_file_max_bytes: int = WHOLE_FILE_MAX_BYTES, chunk_events: int = 1 << 18):
        if split not in ("background", "evaluation"):
            raise InputError(None, f"split must be 'background' or 'evaluation', got {split!r}")
        base = Path(root) / f"dvs_{split}"
        if not base.is_dir():
            raise InputError(base, f"N-Omniglot folder not found (expected <root>/dvs_{split}/<Alphabet>/characterNN/)")
        self.frames, self.mode, self.size, self.crop = frames, mode, size, crop
        self.class_names: list[str] = []
        self._files: list[tuple[Path, Path]] = []
        self._items: list[tuple[int, int, int, int]] = []  # (class, row, start_us, end_us)
        for alphabet in sorted(p for p in base.iterdir() if p.is_dir() and not is_skipped_name(p.name)):
            for char in sorted(p for p in alphabet.iterdir() if p.is_dir() and not is_skipped_name(p.name)):
                recs = sorted(p for p in char.glob("*.aedat4") if not is_skipped_name(p.name))
                tables = sorted(p for p in char.glob("*.csv") if not is_skipped_name(p.name))
                if len(recs) != 1 or len(tables) != 1:
                    raise InputError(char, f"expected one .aedat4 and one .csv, found {len(recs)} and {len(tables)}")
                cls = len(self.class_names)
                self.class_names.append(f"{alphabet.name}/{char.name}")
                self._files.append((recs[0], tables[0]))
                self._items += [(cls, r, s, e) for r, (s, e) in enumerate(read_nomniglot_sample_table(tables[0]))]
        if not self._items:
            raise InputError(base, "no characters found")
        self.targets = [c for c, _, _, _ in self._items]
        self._cache: OrderedDict[int, np.ndarray] = OrderedDict()
        self._cache_size = max(int(cache_characters), 0)
        self._whole_max, self._chunk_events = int(whole_file_max_bytes), max(int(chunk_events), 1)

    def __len__(self) -> int:
        return len(self._items)

    def sample_events(self, index: int) -> np.ndarray:
        """The raw events of item ``index`` (``EVENT_DTYPE``), with boundaries checked against the recording."""
        chunks = list(self._sample_chunks(index))
        return np.concatenate(chunks) if chunks else empty_events()

    def _sample_chunks(self, index: int) -> Iterator[np.ndarray]:
        """The events of item ``index`` in chunks: one slice of the cached recording, or streamed.

        Recordings up to ``whole_file_max_bytes`` are decoded whole and cached; larger ones are streamed
        from the start to the chunk holding the item's end, ``chunk_events`` events at a time, so memory
        is bounded by the chunk size rather than the file size. Either way a table row more than
        ``BOUNDARY_SLACK_US`` outside the recording's first/last event raises ``InputError``.
        """
        cls, row, start, end = self._items[index]
        rec = self._files[cls][0]
        if cls in self._cache or (rec.is_file() and rec.stat().st_size <= self._whole_max):
            ev = self._character_events(cls)
            self._check_bounds(index, int(ev["t"][0]), int(ev["t"][-1]))
            lo, hi = np.searchsorted(ev["t"], [start, end], side="left")
            if hi > lo:
                yield ev[lo:hi]
            return
        first = last = None
        for chunk in iter_aedat4(rec, chunk_events=self._chunk_events):
            if first is None:
                first = int(chunk["t"][0])
                self._check_bounds(index, first, None)
            last = int(chunk["t"][-1])
            lo, hi = np.searchsorted(chunk["t"], [start, end], side="left")
            if hi > lo:
                yield chunk[lo:hi]
            if last >= end:  # timestamps are monotonic: nothing later belongs to this item
                break
        if first is None or last is None:
            raise InputError(rec, "the recording holds no events")
        self._check_bounds(index, first, last)

    def _check_bounds(self, index: int, first: int, last: int | None) -> None:
        cls, row, start, end = self._items[index]
        rec, table = self._files[cls]
        if start < first - BOUNDARY_SLACK_US or (last is not None and end > last + BOUNDARY_SLACK_US):
            span = f"{first}..{last}" if last is not None else f"starting at {first}"
            raise InputError(table, f"row {row + 1} of its samples (dataset item {index}) "
                                    f"spans {start}..{end} µs, outside the recording {rec.name} "
                                    f"({span} µs)")

    def _character_events(self, cls: int) -> np.ndarray:
        """All events of one character's recording (read whole, then kept in a small LRU cache)."""
        if cls in self._cache:
            self._cache.move_to_end(cls)
            return self._cache[cls]
        rec = self._files[cls][0]
        chunks = list(iter_aedat4(rec))
        if not chunks:
            raise InputError(rec, "the recording holds no events")
        ev = np.concatenate(chunks)
        if self._cache_size:
            self._cache[cls] = ev
            while len(self._cache) > self._cache_size:
                self._cache.popitem(last=False)
        return ev

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        cls, _row, start, end = self._items[index]
        frames = stream_events_to_frames(self._sample_chunks(index), self.frames, (self.size, self.size),
                                         NOMNIGLOT_SENSOR_HW, self.mode, crop=NOMNIGLOT_CROP if self.crop else None,
                                         t_range_us=(start, end))
        return torch.from_numpy(frames), cls


__all__ = ["NOMNIGLOT_CROP", "NOMNIGLOT_SENSOR_HW", "NOmniglot", "read_nomniglot_sample_table"]
