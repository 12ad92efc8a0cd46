"""Reading polysomnography (PSG) EDF/EDF+ files through MNE (being written)."""

from __future__ import annotations

DEFAULT_CHANNELS: tuple[str, ...] = ("EEG Fpz-Cz", "EEG Pz-Oz", "EOG horizontal", "EMG submental")
