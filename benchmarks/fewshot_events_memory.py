"""Peak memory of turning a large AEDAT4 event file into frames: streamed vs the whole event array.

A synthetic DAVIS346 recording (uniform random pixels and polarities, monotonic timestamps) is written
packet by packet to a temporary folder as an uncompressed AEDAT4 file (``tests/fewshot/aedat4_writer``'s
packet layout, 16 bytes per event). Each measurement runs in its own child process, and the peak
resident set size (``ru_maxrss`` of a small parent that runs only that child) is reported for:

- ``streamed``: ``aedat4_to_frames(path, 4, (28, 28), "count", crop=N-Omniglot crop, t_range_us=...)``
  (``iter_aedat4`` chunks of 2^18 events binned one by one into a preallocated count array);
- ``whole``: ``events_to_frames(read_aedat4(path), ...)`` with the same settings (the full event array);
- ``imports``: torch and ``neurotrio.fewshot.events`` imported, doing nothing (the floor);
- the same two for a file a third as long, to show how each grows with the file;
- and, for the choice of ``NOmniglot``'s whole-file threshold, the time to read the 20 items of one
  N-Omniglot-sized character (20 × 49,000 events) decoded whole once vs streamed per item.

Run: OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_events_memory [--events 30000000] [--no-write]
Writes the "fewshot-events-memory" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import json
import struct
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.sleep_score_memory import peak_rss_mib
from neurotrio.core.results import markdown_table, update_markdown_section

ROOT = Path(__file__).resolve().parents[1]
COMMAND = "OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.fewshot_events_memory"
T0_US, US_PER_EVENT = 1_000_000, 2  # 500k events/s: a busy DAVIS346 recording
_CONVERT = (
    "import sys\n"
    "from neurotrio.fewshot.events import read_aedat4\n"
    "from neurotrio.fewshot.frames import aedat4_to_frames, events_to_frames\n"
    "from neurotrio.fewshot.nomniglot import NOMNIGLOT_CROP as C, NOMNIGLOT_SENSOR_HW as HW\n"
    "how, path, t0, t1 = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])\n"
    "if how == 'streamed':\n"
    "    f = aedat4_to_frames(path, 4, (28, 28), 'count', crop=C, t_range_us=(t0, t1))\n"
    "else:\n"
    "    f = events_to_frames(read_aedat4(path), 4, (28, 28), HW, 'count', crop=C, t_range_us=(t0, t1))\n"
    "print(float(f.sum()))\n"
)


def write_recording(path: Path, n_events: int, per_packet: int = 1 << 16, seed: int = 0) -> tuple[int, int]:
    """Write ``n_events`` random events as an AEDAT4 file, one packet at a time; (first, last) timestamp."""
    sys.path.insert(0, str(ROOT))
    from tests.fewshot.aedat4_writer import _XML, MAGIC, event_packet, ioheader

    rng = np.random.default_rng(seed)
    head = ioheader(_XML.format(width=346, height=260), -1)  # no file-data table: read to the end
    first = last = T0_US
    with open(path, "wb") as fh:
        fh.write(MAGIC + struct.pack("<I", len(head)) + head)
        for start in range(0, n_events, per_packet):
            n = min(per_packet, n_events - start)
            t = T0_US + (start + np.arange(n)) * US_PER_EVENT + rng.integers(0, US_PER_EVENT, n)
            payload = event_packet(t, rng.integers(0, 346, n), rng.integers(0, 260, n), rng.integers(0, 2, n) > 0)
            fh.write(struct.pack("<II", 0, len(payload)) + payload)
            first, last = (int(t[0]) if start == 0 else first), int(t[-1])
    return first, last


def nomniglot_item_times(root: Path, per_sample: int = 49_000, repeats: int = 3) -> dict[str, float]:
    """Best-of-``repeats`` seconds to read all 20 items of one character, cached whole vs streamed per item."""
    from neurotrio.fewshot.nomniglot import NOmniglot

    char = root / "dvs_background" / "Alpha" / "character01"
    char.mkdir(parents=True)
    first, _last = write_recording(char / "0001.aedat4", 20 * per_sample, per_packet=4096, seed=2)
    step = per_sample * US_PER_EVENT
    (char / "0001.csv").write_text("index,start,end\n" + "".join(
        f"{k},{first + k * step},{first + (k + 1) * step}\n" for k in range(20)))
    out = {}
    for name, limit in (("whole", 1 << 40), ("streamed", 0)):
        best = float("inf")
        for _ in range(repeats):
            ds = NOmniglot(root, frames=4, size=28, whole_file_max_bytes=limit)
            t = time.perf_counter()
            for i in range(len(ds)):
                ds[i]
            best = min(best, time.perf_counter() - t)
        out[name] = best
    out["file_mib"] = (char / "0001.aedat4").stat().st_size / 2**20
    return out


def measure(path: Path, t_range: tuple[int, int]) -> dict[str, tuple[float, float]]:
    args = [str(path), str(t_range[0]), str(t_range[1])]
    return {how: peak_rss_mib([sys.executable, "-c", _CONVERT, how, *args]) for how in ("streamed", "whole")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=30_000_000)
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    n_long, n_short = args.events, args.events // 3
    with tempfile.TemporaryDirectory(dir="/tmp") as d:
        d = Path(d)
        t0 = time.perf_counter()
        long_rng = write_recording(d / "long.aedat4", n_long)
        short_rng = write_recording(d / "short.aedat4", n_short, seed=1)
        size_mib = (d / "long.aedat4").stat().st_size / 2**20
        print(f"wrote {n_long:,} + {n_short:,} events in {time.perf_counter() - t0:.0f} s ({size_mib:.0f} MiB)")
        floor = peak_rss_mib([sys.executable, "-c", "import torch, neurotrio.fewshot.events"])
        long_m = measure(d / "long.aedat4", long_rng)
        short_m = measure(d / "short.aedat4", short_rng)
        items = nomniglot_item_times(d / "nomni")
    array_mib = n_long * 13 / 2**20  # EVENT_DTYPE: 13 bytes per event
    dur = (long_rng[1] - long_rng[0]) / 1e6
    rows = [
        [f"streamed `aedat4_to_frames` ({n_long / 1e6:g}M events, {size_mib:.0f} MiB file)",
         f"{long_m['streamed'][0]:.0f}", f"{long_m['streamed'][1]:.1f}"],
        [f"streamed `aedat4_to_frames` ({n_short / 1e6:g}M events)", f"{short_m['streamed'][0]:.0f}",
         f"{short_m['streamed'][1]:.1f}"],
        [f"whole `events_to_frames(read_aedat4(...))` ({n_long / 1e6:g}M; the array alone is {array_mib:.0f} MiB)",
         f"{long_m['whole'][0]:.0f}", f"{long_m['whole'][1]:.1f}"],
        [f"whole `events_to_frames(read_aedat4(...))` ({n_short / 1e6:g}M)", f"{short_m['whole'][0]:.0f}",
         f"{short_m['whole'][1]:.1f}"],
        ["imports only: torch, neurotrio.fewshot.events (the floor)", f"{floor[0]:.0f}", f"{floor[1]:.1f}"],
    ]
    grow_s = long_m["streamed"][0] - short_m["streamed"][0]
    grow_w = long_m["whole"][0] - short_m["whole"][0]
    text = (
        f"### Event-file conversion memory ({n_long / 1e6:g}M-event AEDAT4, synthetic, this 2-core CPU, shared)\n\n"
        f"`{COMMAND}` — peak resident memory (`ru_maxrss` of the child process) of turning a {dur:.0f}-s "
        "synthetic DAVIS346 recording (uncompressed AEDAT4 written to /tmp) into 4 count frames of 28×28 "
        "(N-Omniglot crop), each command run alone.\n\n"
        + markdown_table(["conversion", "peak RSS (MiB)", "wall (s)"], rows)
        + f"\n\nFrom {n_short / 1e6:g}M to {n_long / 1e6:g}M events the streamed peak grows by {round(grow_s)} MiB and the "
          f"whole-array peak by {round(grow_w)} MiB. Streaming holds one chunk of 2^18 events (3.4 MiB) plus the "
          "binning's per-slice temporaries and the count array, so its peak does not depend on the file's "
          "length.\n\n"
        f"`NOmniglot` reads the 20 items of one N-Omniglot-sized character (20 × 49,000 events, "
        f"{items['file_mib']:.0f} MiB uncompressed) in {items['whole']:.2f} s when the file is decoded whole and "
        f"cached, {items['streamed']:.2f} s when each item is streamed (every item re-reads the file up to its "
        "end); so recordings up to 32 MiB (`WHOLE_FILE_MAX_BYTES`) are read whole and larger ones streamed.\n"
    )
    print(text)
    print(json.dumps({"streamed_mib": long_m["streamed"][0], "whole_mib": long_m["whole"][0], "floor_mib": floor[0],
                      "nomniglot_items_s": items}))
    if not args.no_write:
        update_markdown_section(ROOT / "BENCHMARKS.md", "fewshot-events-memory", text)


if __name__ == "__main__":
    main()
