"""NSRR XML hypnograms (SHHS, MESA, ... as shared by the National Sleep Research Resource).

Layout (NSRR "XML annotation" exports, https://sleepdata.org)::

    <PSGAnnotation>
      <EpochLength>30</EpochLength>
      <ScoredEvents>
        <ScoredEvent><EventType/><EventConcept>Recording Start Time</EventConcept><Start>0</Start>
          <Duration>30600.0</Duration><ClockTime>00.00.00 22.00.00</ClockTime></ScoredEvent>
        <ScoredEvent><EventType>Stages|Stages</EventType><EventConcept>Wake|0</EventConcept>
          <Start>0</Start><Duration>930.0</Duration></ScoredEvent>
        ...

``Start`` and ``Duration`` are seconds from the recording start; the concept's number after ``|`` is the
R&K code (0 W, 1-4, 5 REM, 6 movement, 9 unscored; 3 and 4 become N3). The "Recording Start Time"
``ClockTime`` is "dd.mm.yy HH.MM.SS" with the date often blanked to 00.00.00: then only the time of day
is kept. Compumedics Profusion XML (``<CMPStudyConfig><EpochLength>30</EpochLength><SleepStages>
<SleepStage>0</SleepStage>...``, one R&K code per epoch from the recording start) is read too.

Parsed with the standard library's ElementTree (pandas/xmltodict are not dependencies); Python's expat
refuses entity-expansion bombs.
"""

from __future__ import annotations

import datetime as dt
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from neurotrio.core.errors import InputError
from neurotrio.sleep.hypnogram import ANONYMOUS_DATE, UNKNOWN, ExpertHypnogram, StageInterval, refuse_layout
from neurotrio.sleep.hypnogram_lists import RK_CODES, name_code

_CLOCKTIME = re.compile(r"(?:(\d\d)\.(\d\d)\.(\d\d)\s+)?(\d{1,2})[.:](\d\d)[.:](\d\d)")


def _text(el: ET.Element | None) -> str:
    return "" if el is None or el.text is None else el.text.strip()


def _concept_code(concept: str) -> int | None:
    """'Wake|0' -> 0, 'Stage 4 sleep|4' -> 3 (N3), 'REM sleep|5' -> 4, 'Unscored|9' -> -1."""
    name, _, number = concept.partition("|")
    if number.strip().lstrip("-").isdigit():
        return RK_CODES.get(int(number), None)
    return name_code(name)


def _clock_start(text: str) -> tuple[dt.datetime | None, bool]:
    m = _CLOCKTIME.search(text)
    if m is None:
        return None, False
    d, mo, y, h, mi, s = m.groups()
    t = dt.time(int(h) % 24, int(mi), int(s))
    if d and int(d) > 0 and int(mo) > 0:
        year = int(y) + (1900 if int(y) >= 85 else 2000)
        try:
            return dt.datetime.combine(dt.date(year, int(mo), int(d)), t), False
        except ValueError:
            pass
    return dt.datetime.combine(ANONYMOUS_DATE, t), True


def read_scored_events_xml(path: str | Path, epoch_s: float | None = None) -> ExpertHypnogram:
    """Read the sleep stages of an NSRR (or Compumedics Profusion) XML annotation file.

    Args:
        path: the ``.xml`` file.
        epoch_s: used only when the file has no ``EpochLength``.

    Returns:
        An :class:`~neurotrio.sleep.hypnogram.ExpertHypnogram` (format "nsrr-xml" or "profusion-xml").

    Raises:
        InputError: not XML, another XML layout (listing the accepted ones), no stage event, an unknown
            stage concept, a bad number.
    """
    path = Path(path)
    try:
        root = ET.parse(path).getroot()
    except (ET.ParseError, ValueError, LookupError, UnicodeError) as exc:  # LookupError: unknown encoding
        raise refuse_layout(path, f"not well-formed XML ({exc})") from exc
    epoch_text = _text(root.find("EpochLength"))
    try:
        stated = float(epoch_text) if epoch_text else epoch_s
    except ValueError:
        raise InputError(path, f"EpochLength is not a number: {epoch_text[:20]!r}") from None
    if root.tag == "CMPStudyConfig":
        return _read_profusion(path, root, stated or 30.0)
    if root.tag != "PSGAnnotation" or root.find("ScoredEvents") is None:
        raise refuse_layout(path, f"an XML file with root <{root.tag}>, not NSRR's <PSGAnnotation><ScoredEvents>")
    start, clock_only = None, False
    intervals: list[StageInterval] = []
    for ev in root.iter("ScoredEvent"):
        concept = _text(ev.find("EventConcept"))
        if concept.lower().startswith("recording start time"):
            start, clock_only = _clock_start(_text(ev.find("ClockTime")))
            continue
        if _text(ev.find("EventType")).lower() != "stages|stages":
            continue
        code = _concept_code(concept)
        if code is None:
            raise InputError(path, f"unknown stage concept {concept[:40]!r} (expected e.g. 'Wake|0', "
                                   "'Stage 2 sleep|2', 'REM sleep|5', 'Unscored|9')")
        try:
            onset, duration = float(_text(ev.find("Start"))), float(_text(ev.find("Duration")))
        except ValueError:
            raise InputError(path, f"a '{concept}' event has no numeric Start/Duration") from None
        intervals.append((onset, duration, code))
    if not intervals:
        raise InputError(path, "no sleep-stage event (EventType 'Stages|Stages') in the NSRR XML")
    return ExpertHypnogram(start, intervals, str(path), "nsrr-xml", epoch_s=stated, clock_only=clock_only)


def _read_profusion(path: Path, root: ET.Element, epoch_s: float) -> ExpertHypnogram:
    values = [_text(el) for el in root.iter("SleepStage")]
    if not values:
        raise InputError(path, "no <SleepStage> in the Profusion XML")
    intervals: list[StageInterval] = []
    for i, v in enumerate(values):
        if not v.lstrip("-").isdigit() or int(v) not in RK_CODES:
            raise InputError(path, f"SleepStage {i + 1}: code {v[:10]!r} is not an R&K code (0-5, 6, 9)")
        code = RK_CODES[int(v)] if int(v) in RK_CODES else UNKNOWN
        if intervals and intervals[-1][2] == code:
            intervals[-1] = (intervals[-1][0], intervals[-1][1] + epoch_s, code)
        else:
            intervals.append((i * epoch_s, epoch_s, code))
    return ExpertHypnogram(None, intervals, str(path), "profusion-xml", epoch_s=epoch_s)
