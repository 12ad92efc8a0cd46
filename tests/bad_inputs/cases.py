"""The case type of the bad-input corpus, and a pickle payload that proves unpickling never ran."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class BadInput:
    """One malformed input fed to one command.

    Attributes:
        argv: arguments of ``neurotrio`` (without the program name).
        name: base name of the file (or folder) the error line must name.
        problem: regex the error line must match (the problem, in words).
        out: output path the command was given; it must not exist after the failure.
    """

    argv: list[str]
    name: str
    problem: str
    out: Path


class Payload:
    """Unpickling this creates ``marker``: proves a pickle payload was never run."""

    def __init__(self, marker: str):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))
