"""EDF+ time keeping: the onset of every data record, and the contiguous pieces of an EDF+D recording.

EDF+ (Kemp & Olivan 2003, edfplus.info/specs/edfplus.html, section 2.2.4) stores in the first
``EDF Annotations`` signal of every data record a time-keeping TAL, ``+onset\\x14\\x14\\x00``: the
record's start in seconds from the start date/time of the header. In an EDF+C file the records follow
one another; in an EDF+D ("discontinuous") file, records may jump ahead, leaving acquisition gaps.

MNE 1.13 does not read these onsets: it joins the records of an EDF+D file as if continuous, without a
warning, and every sample after a gap lands early. edfio knows them (``Edf.is_continuous``) but only
through private helpers, so they are parsed here from the file's bytes (a memory map: a few bytes per
record). :func:`record_onsets` returns them; :func:`pieces_of` groups records into contiguous pieces.
"""

from __future__ import annotations

import logging
import re

import numpy as np

from neurotrio.core.errors import InputError
from neurotrio.sleep.edfheader import EdfHeader
from neurotrio.sleep.signals import Piece

log = logging.getLogger(__name__)

_TAL_ONSET = re.compile(rb"^([+-]\d+(?:\.\d*)?)\x14")
TOLERANCE_S = 1e-6
"""Two records are contiguous when the second starts within this of the first's end."""


def record_onsets(header: EdfHeader) -> np.ndarray | None:
    """Onset of every data record from its time-keeping annotation, s from the header's start time.

    Args:
        header: the file's parsed header (:func:`neurotrio.sleep.edfheader.read_edf_header`).

    Returns:
        float64 (n_records,), or None for a plain EDF/BDF file (no annotation signal: records are
        contiguous by definition).

    Raises:
        InputError: an EDF+ record without a readable time-keeping annotation, or records whose onsets
            go back in time or overlap (the file's clock cannot be trusted).
    """
    ann = next((i for i, s in enumerate(header.signals) if s.is_annotation), None)
    if ann is None or header.n_records == 0:
        return None
    width = 3 if header.is_bdf else 2
    first = sum(s.n_samples for s in header.signals[:ann]) * width
    size = header.signals[ann].n_samples * width
    data = np.memmap(header.path, dtype=np.uint8, mode="r", offset=header.header_bytes,
                     shape=(header.n_records, header.record_bytes))
    onsets = np.empty(header.n_records, dtype=np.float64)
    for r in range(header.n_records):
        m = _TAL_ONSET.match(bytes(data[r, first:first + size]))
        if m is None:
            raise InputError(header.path, f"{header.edf_plus or 'EDF+'} data record {r + 1} has no time-keeping "
                                          "annotation ('+onset' at the start of its EDF Annotations signal): "
                                          "the record's start time is unknown")
        onsets[r] = float(m.group(1))
    del data
    ends = onsets[:-1] + header.record_s
    back = np.flatnonzero(onsets[1:] < ends - TOLERANCE_S)
    if back.size:
        r = int(back[0]) + 1
        raise InputError(header.path, f"data record {r + 1} starts at {onsets[r]:g} s, before record {r} ends "
                                      f"({ends[r - 1]:g} s): the record onsets in the time-keeping annotations "
                                      "overlap or go back in time")
    return onsets


def pieces_of(header: EdfHeader, onsets: np.ndarray | None) -> list[Piece]:
    """Contiguous pieces of a recording: runs of records each starting where the previous one ends.

    ``data_s`` of a piece is where its first record sits in the file's joined records (what MNE reads as
    one continuous signal); ``onset_s`` is its start on the recording's clock.
    """
    if onsets is None or header.n_records == 0:
        return [Piece(0.0, 0.0, header.duration_s)]
    breaks = np.flatnonzero(np.abs(onsets[1:] - (onsets[:-1] + header.record_s)) > TOLERANCE_S) + 1
    starts = [0, *breaks.tolist()]
    stops = [*breaks.tolist(), header.n_records]
    pieces = [Piece(float(onsets[a]), a * header.record_s, (b - a) * header.record_s) for a, b in zip(starts, stops)]
    if len(pieces) > 1 and header.edf_plus != "EDF+D":
        log.warning("%s: the header says %s but the record onsets jump %d time(s) (first at record %d, "
                    "%g s); staged on the record onsets", header.path.name, header.edf_plus or "EDF",
                    len(pieces) - 1, starts[1] + 1, pieces[1].onset_s)
    return pieces
