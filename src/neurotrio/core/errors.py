"""The project's exception types. The CLI turns any of them into one line and exit code 2."""

from __future__ import annotations

from pathlib import Path


class NeurotrioError(Exception):
    """Base class of every error the project raises on purpose."""


class InputError(NeurotrioError):
    """A user's file or value is unusable. The message names the file and the problem.

    Example:
        >>> raise InputError("night.edf", "truncated: header says 2650 records, file holds 12")
    """

    def __init__(self, path: str | Path | None, problem: str):
        self.path = None if path is None else str(path)
        self.problem = problem
        super().__init__(f"{Path(self.path).name}: {problem}" if self.path else problem)


class ConfigError(NeurotrioError):
    """A configuration key or value is wrong; the message lists what is allowed."""


class DependencyError(NeurotrioError):
    """An optional dependency is missing; the message gives the install command."""


class CheckpointError(InputError):
    """A model file is unreadable, unsafe, or of another architecture."""
