"""Coding sheets (CSV, or XLSX when openpyxl is installed) and frame-folder indexing.

Dataset owners ship their coding sheets as Excel files (CASME II ``CASME2-coding-*.xlsx``, SAMM
``SAMM_Micro_FACS_Codes_v2.xlsx``). neurotrio reads them with the standard-library ``csv`` module; an
``.xlsx`` is read only when ``openpyxl`` is installed, otherwise export the sheet to CSV ("Save as CSV" in
any spreadsheet program) and pass that file.
"""

from __future__ import annotations

import csv
import re
from pathlib import Path

from neurotrio.core.errors import DependencyError, InputError

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")
_TRAILING_INT = re.compile(r"(\d+)$")


def _norm(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", str(name).lower())


def read_sheet(path: str | Path, required: tuple[str, ...]) -> list[dict[str, str]]:
    """Read a coding sheet into rows keyed by normalised column name (lower case, letters and digits).

    The header is the first row that holds every ``required`` column (sheets often start with a title).

    Args:
        path: a ``.csv`` file (any delimiter ``,``/``;``/tab) or an ``.xlsx`` file (needs openpyxl).
        required: normalised column names that must be present, e.g. ``("subject", "filename")``.

    Returns:
        One dict per data row (blank rows skipped), each with a ``"_row"`` key: the 1-based row number in
        the file, for error messages.

    Raises:
        InputError: unreadable file or no header row with the required columns.
        DependencyError: an ``.xlsx`` without openpyxl installed.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(path, "coding sheet not found")
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        table = _read_xlsx(path)
    else:
        try:
            text = path.read_text(encoding="utf-8-sig", errors="replace")
        except OSError as exc:
            raise InputError(path, f"cannot read coding sheet ({exc})") from None
        try:
            dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        except csv.Error:
            dialect = csv.excel
        table = [list(r) for r in csv.reader(text.splitlines(), dialect)]
    for h, header in enumerate(table):
        names = [_norm(c) for c in header]
        if all(r in names for r in required):
            rows = []
            for i, raw in enumerate(table[h + 1:], start=h + 2):
                if not any(str(c).strip() for c in raw):
                    continue
                row = {n: str(v).strip() for n, v in zip(names, raw) if n}
                row["_row"] = str(i)
                rows.append(row)
            return rows
    raise InputError(path, f"no header row with columns {', '.join(required)} (normalised names); "
                           "is this the dataset's coding sheet?")


def _read_xlsx(path: Path) -> list[list[str]]:
    try:
        import openpyxl
    except ImportError:
        raise DependencyError(f"{path.name} is an Excel file and openpyxl is not installed: "
                              "`pip install openpyxl`, or export the sheet to CSV and pass that") from None
    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # noqa: BLE001 - openpyxl raises many types for a bad file
        raise InputError(path, f"cannot read Excel coding sheet ({exc})") from None
    ws = wb.worksheets[0]
    return [["" if c is None else (str(int(c)) if isinstance(c, float) and c.is_integer() else str(c))
             for c in row] for row in ws.iter_rows(values_only=True)]


def frame_index(folder: str | Path) -> dict[int, Path]:
    """Map frame numbers to image files in ``folder`` by the trailing integer of each file name.

    ``img46.jpg`` → 46 (CASME II), ``006_05562.jpg`` → 5562 (SAMM), ``reg_image046174.bmp`` → 46174 (SMIC).
    Hidden and system files (``frames.is_hidden``: ``._img46.jpg``, ``.DS_Store``, ``Thumbs.db``) are skipped.
    """
    from neurotrio.microexpression.frames import is_hidden

    out: dict[int, Path] = {}
    for p in Path(folder).iterdir():
        if p.suffix.lower() in IMAGE_EXTS and not is_hidden(p) and p.is_file():
            m = _TRAILING_INT.search(p.stem)
            if m:
                out[int(m.group(1))] = p
    return out


def parse_int(value: str, sheet: Path, row: dict[str, str], column: str) -> int:
    """An integer cell, or an InputError naming the sheet, row and column."""
    try:
        return int(float(value))
    except (TypeError, ValueError):
        raise InputError(sheet, f"row {row['_row']}: column '{column}' is {value!r}, not a frame number") from None
