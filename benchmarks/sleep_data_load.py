"""How fast the sleep data layer reads the real 22-h Sleep-EDF night SC4001 (development data).

Run: OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_data_load [--data ../shared/data] [--no-write]
Prints one line and writes the "sleep-data-load" section of BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from neurotrio.core.results import markdown_table, update_markdown_section
from neurotrio.sleep.edf import iter_psg_chunks, load_psg
from neurotrio.sleep.sleepedf import file_sha1, find_records, prepare_record


def _median_s(fn, repeats: int) -> float:
    fn()  # warm-up (imports, page cache)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--data", type=Path, default=Path(__file__).resolve().parents[1] / ".." / "shared" / "data")
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    args = parser.parse_args()
    rec = find_records(args.data / "sleep" / "sleep-edf", "sleep-edf-20")[0]
    n = args.repeats
    with tempfile.TemporaryDirectory() as cache:
        rows = [
            ("load", "load_psg, whole night, 4 channels -> 100 Hz", _median_s(lambda: load_psg(rec.psg), n)),
            ("chunks", "iter_psg_chunks, whole night, 120-epoch chunks",
             _median_s(lambda: sum(c.shape[1] for c in iter_psg_chunks(rec.psg)), n)),
            ("sha1", "SHA1 of PSG + hypnogram (cache key)",
             _median_s(lambda: (file_sha1(rec.psg), file_sha1(rec.hypnogram)), n)),
            ("prepare", "prepare_record, no cache (841 epochs)", _median_s(lambda: prepare_record(rec), n)),
            ("cached", "prepare_record, cache hit", _median_s(lambda: prepare_record(rec, cache_dir=cache), n)),
        ]
    print(f"night={rec.record} " + " ".join(f"{key}_s={s:.3f}" for key, _, s in rows))
    if not args.no_write:
        body = ("### Sleep data loading (development data: Sleep-EDF SC4001, 22.1 h, this 2-core CPU)\n\n"
                "`OMP_NUM_THREADS=1 .venv/bin/python -m benchmarks.sleep_data_load` — median of "
                f"{n} runs after a warm-up, files in the page cache.\n\n"
                + markdown_table(["step", "seconds"], [(name, f"{s:.3f}") for _, name, s in rows]))
        update_markdown_section(Path(__file__).resolve().parents[1] / "BENCHMARKS.md", "sleep-data-load", body)


if __name__ == "__main__":
    main()
