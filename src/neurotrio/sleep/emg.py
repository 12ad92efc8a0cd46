"""Raw chin EMG turned into the 1-Hz RMS envelope that Sleep-EDF stores (and the embedded model was trained on).

Sleep-EDF's cassette recordings do not hold the submental EMG waveform. PhysioNet's description of the data
set (Kemp et al., "Sleep-EDF Database Expanded", physionet.org/content/sleep-edfx) says the EMG "was
electronically highpass filtered, rectified and low-pass filtered after which the resulting EMG envelope
expressed in uV rms (root-mean-square) was sampled at 1 Hz", and each file's prefiltering field gives the
settings: ``HP:16Hz Rectification LP:0.7Hz``. Clinical PSGs store the raw chin EMG at 100-512 Hz
instead; fed as is, the model would see a signal it never learned. :func:`rms_envelope` rebuilds the
envelope from raw EMG with the same steps in software:

1. high-pass at 16 Hz (4th-order Butterworth, zero-phase), as the cassette hardware did; no other band
   limit (Sleep-EDF names none: the whole band the file holds counts, as it did in the hardware);
2. square (rectification of the power) and low-pass at 0.7 Hz (2nd-order Butterworth, zero-phase): the
   local mean power;
3. square root: the envelope in uV rms;
4. sampled at whole seconds of the recording (1 Hz), then interpolated linearly to the model's rate,
   exactly as a stored 1-Hz envelope is (:func:`neurotrio.sleep.signals.resample`).

The filter orders are not given by Sleep-EDF; they are the lowest that give the stated corners a clean
roll-off. A channel is treated as raw EMG when it feeds an EMG input, its native rate is above
:data:`RAW_EMG_MIN_HZ` (:func:`is_raw_emg`), and its content is a waveform rather than an envelope
(:func:`looks_like_envelope`): an envelope stored or resampled at a higher rate (MNE brings Sleep-EDF's
1-Hz EMG to 100 Hz when it reads the file whole, as YASA users do) is slow and almost all above zero,
raw EMG has nearly all its power above 10 Hz.
"""

from __future__ import annotations

import numpy as np

RAW_EMG_MIN_HZ = 10.0
"""EMG channels sampled above this rate are raw EMG (an envelope is stored at 1 Hz, a waveform at >= 100 Hz)."""
HIGHPASS_HZ = 16.0
ENVELOPE_LP_HZ = 0.7


def is_raw_emg(input_name: str, label: str, rate_hz: float) -> bool:
    """Whether a channel read for a model input is raw EMG to be turned into an envelope.

    True when the model input's name or the file label says EMG (or chin) and the rate is above
    :data:`RAW_EMG_MIN_HZ`.
    """
    text = f"{input_name} {label}".upper()
    return ("EMG" in text or "CHIN" in text) and rate_hz > RAW_EMG_MIN_HZ


HF_SHARE_RAW = 0.5
"""Share of a channel's RMS above 10 Hz from which it is raw EMG (an envelope has < 0.1, raw EMG > 0.9)."""


def looks_like_envelope(x: np.ndarray, rate_hz: float) -> bool:
    """Whether EMG samples are an envelope already (slow, non-negative) rather than the raw waveform.

    Args:
        x: float (n,), samples of the channel (a few minutes are enough).
        rate_hz: their rate, Hz.

    Returns:
        True when less than :data:`HF_SHARE_RAW` of the signal's RMS (about zero) lies above 10 Hz, or when
        the rate (<= 32 Hz) cannot hold the band above 16 Hz that Sleep-EDF's envelope measures.
    """
    from scipy.signal import butter, sosfiltfilt

    if rate_hz <= 2 * HIGHPASS_HZ:  # cannot hold the band above 16 Hz that the envelope measures
        return True
    x = np.asarray(x, dtype=np.float64)
    total = float(np.sqrt(np.mean(x * x))) if x.size else 0.0
    if x.size < 4 * rate_hz or total == 0.0:
        return False
    high = sosfiltfilt(butter(4, 10.0, btype="highpass", fs=rate_hz, output="sos"), x)
    return float(np.sqrt(np.mean(high * high))) / total < HF_SHARE_RAW


def rms_envelope(x: np.ndarray, rate_hz: float, t_first_s: float, t_out_s: np.ndarray) -> np.ndarray:
    """The 1-Hz RMS envelope of raw EMG, interpolated at ``t_out_s`` (see the module docstring).

    Args:
        x: float (n,), raw EMG at ``rate_hz`` in its stored unit (the envelope keeps that unit).
        rate_hz: native rate, Hz (> :data:`RAW_EMG_MIN_HZ`).
        t_first_s: time of ``x[0]``, s (whole seconds of this clock are the envelope's sample times).
        t_out_s: float (m,), times to return the envelope at, s; they should lie inside ``x``'s span
            with about 2 s to spare on each side (filter edges), else the nearest envelope value is held.

    Returns:
        float64 (m,), envelope (>= 0).
    """
    from scipy.signal import butter, sosfiltfilt

    x = np.asarray(x, dtype=np.float64)
    if x.size and x.min() == x.max():  # a constant (disconnected) channel stays itself: the flat check names it
        return np.full(len(t_out_s), float(x[0]))
    nyq = rate_hz / 2.0
    sos = butter(4, min(HIGHPASS_HZ, 0.4 * nyq), btype="highpass", fs=rate_hz, output="sos")
    pad = min(x.size - 1, int(3 * rate_hz))
    if x.size < 8:  # too short to filter: its RMS about the mean
        level = float(np.sqrt(np.mean((x - x.mean()) ** 2))) if x.size else 0.0
        return np.full(len(t_out_s), level)
    band = sosfiltfilt(sos, x, padlen=pad)
    power = sosfiltfilt(butter(2, ENVELOPE_LP_HZ, fs=rate_hz, output="sos"), band * band, padlen=pad)
    env = np.sqrt(np.clip(power, 0.0, None))
    t = t_first_s + np.arange(x.size) / rate_hz
    seconds = np.arange(np.ceil(t[0] - 1e-9), np.floor(t[-1] + 1e-9) + 1.0)
    if seconds.size == 0:
        return np.full(len(t_out_s), float(env.mean()))
    at_1hz = env[np.clip(np.round((seconds - t_first_s) * rate_hz).astype(np.int64), 0, x.size - 1)]
    return np.interp(np.asarray(t_out_s, dtype=np.float64), seconds, at_1hz)
