"""Which file channel feeds which model input: names, built-in aliases, the user's mapping, signal numbers.

The model's inputs carry Sleep-EDF's names (``EEG Fpz-Cz``, ``EEG Pz-Oz``, ``EOG horizontal``,
``EMG submental``); other labs label the same derivations otherwise. :func:`resolve_signals` finds, for
each input, the one signal to read, and refuses in one line what would otherwise be a silent guess: a
label carried by several signals, a mapping for an input the model does not take.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from neurotrio.core.errors import ConfigError, InputError

DEFAULT_CHANNELS: tuple[str, ...] = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental")

# Other names under which the default channels appear in other recordings (tried after exact and
# case-insensitive matches of the requested name, in this order).
CHANNEL_ALIASES: dict[str, tuple[str, ...]] = {
    "EEG Fpz-Cz": ("Fpz-Cz", "EEG Fpz-Cz-Ref", "EEG FPZ-CZ", "Fpz"),
    "EEG Pz-Oz": ("Pz-Oz", "EEG Pz-Oz-Ref", "EEG PZ-OZ", "Pz"),
    "EOG horizontal": ("EOG", "HEOG", "EOG(L)", "EOG LOC-A2", "E1-M2", "LOC-A2", "LOC"),
    "EMG submental": ("EMG", "EMG chin", "Chin EMG", "Chin1-Chin2", "EMG Chin1-Chin2", "CHIN"),
}


def _norm(name: str) -> str:
    return "".join(name.lower().split())


def check_alias_names(requested: Sequence[str], aliases: Mapping[str, str] | None) -> None:
    """Refuse a mapping for a name that is not one of the model's inputs (it would be ignored silently).

    Raises:
        ConfigError: the line lists the unknown names and the inputs.
    """
    unknown = [k for k in (aliases or {}) if k not in requested]
    if unknown:
        raise ConfigError(f"--channel maps {', '.join(repr(k) for k in unknown)}, which the model does not "
                          f"take; its inputs are: {', '.join(requested)} (write --channel 'INPUT=LABEL', e.g. "
                          f"--channel '{requested[0]}=C4-M1')")


def resolve_signals(labels: Sequence[str], requested: Sequence[str], path: str | Path | None,
                    aliases: Mapping[str, str] | None = None, skip: Sequence[int] = ()) -> list[int]:
    """Find the signal to read for each requested channel name: its index in ``labels``.

    Order of matching for each name: the user's ``aliases`` (requested name -> file label, or ``#N``
    for signal number N, counted from 1 in the file's order), the exact label, the label ignoring case
    and spaces, then the built-in :data:`CHANNEL_ALIASES`. One signal may feed several names.

    Args:
        labels: every signal's label, in file order (annotation signals included, listed in ``skip``).
        requested: the names to find (the model's inputs).
        path: the file, for messages.
        aliases: the user's mapping.
        skip: indices that are not data signals (EDF Annotations).

    Raises:
        ConfigError: a mapping for a name not requested.
        InputError: a channel is missing (the message lists the file's channels and how to map one), or
            the label found is carried by several signals (the message names them; choose one with
            ``#N``), or ``#N`` is not a data signal.
    """
    check_alias_names(requested, aliases)
    aliases = dict(aliases or {})
    data = [i for i in range(len(labels)) if i not in set(skip)]
    by_norm: dict[str, list[int]] = {}
    for i in data:
        by_norm.setdefault(_norm(labels[i]), []).append(i)
    out = []
    for name in requested:
        target = aliases.get(name, name)
        if name in aliases and target.startswith("#"):
            number = target[1:].strip()
            if not number.isdigit() or int(number) - 1 not in data:
                raise InputError(path, f"--channel '{name}={target}': no data signal number {number} in the "
                                       f"file (signals {', '.join(f'#{i + 1} {labels[i]}' for i in data)})")
            out.append(int(number) - 1)
            continue
        candidates = [target] if name in aliases else [target, *CHANNEL_ALIASES.get(name, ())]
        found = next((by_norm[_norm(c)] for c in candidates if _norm(c) in by_norm), None)
        if found is None:
            what = f"channel '{target}' (mapped from '{name}')" if name in aliases else f"channel '{name}'"
            raise InputError(path, f"{what} not in the file. Available: {', '.join(labels[i] for i in data)}. "
                                   f"Map one with --channel '{name}=LABEL' (Python: aliases={{'{name}': 'LABEL'}}) "
                                   "or choose other channels with --channels.")
        if len(found) > 1:
            numbers = ", ".join(str(i + 1) for i in found[:-1]) + f" and {found[-1] + 1}"
            raise InputError(path, f"label '{labels[found[0]]}' (for input '{name}') is carried by signals {numbers}; "
                                   f"choose one by number with --channel '{name}=#{found[-1] + 1}' "
                                   f"(Python: aliases={{'{name}': '#{found[-1] + 1}'}})")
        out.append(found[0])
    return out


def resolve_channels(available: Sequence[str], requested: Sequence[str], path: str | Path,
                     aliases: Mapping[str, str] | None = None) -> list[str]:
    """The file label to read for each requested channel name (see :func:`resolve_signals`)."""
    return [available[i] for i in resolve_signals(available, requested, path, aliases)]


MIN_WAVEFORM_HZ = 50.0
"""Lowest native rate accepted for EEG and EOG channels: sleep EEG carries spindles (11-16 Hz) and the
model reads 100-Hz input, so a slower channel cannot hold what the model needs. EMG is exempt: Sleep-EDF
stores it as a 1-Hz envelope."""


def _check_waveform_rates(path: Path, channels: Sequence[str], labels: Sequence[str],
                          rates: Sequence[float]) -> None:
    for name, label, rate in zip(channels, labels, rates):
        kind = next((k for k in ("EEG", "EOG") if k in f"{name} {label}".upper()), None)
        if kind and rate < MIN_WAVEFORM_HZ:
            raise InputError(path, f"channel '{label}' is sampled at {rate:g} Hz; {kind} needs at least "
                                   f"{MIN_WAVEFORM_HZ:g} Hz (sampling rate too low for sleep staging)")
