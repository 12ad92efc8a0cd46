"""Download Sleep-EDF Expanded (sleep-cassette) from PhysioNet with SHA1 checks and resume.

Files land in PhysioNet's layout, ``DEST/sleep-cassette/SC4001E0-PSG.edf`` and ``...-Hypnogram.edf``,
which :func:`neurotrio.sleep.sleepedf.find_records` reads. The SHA1 sums are those of MNE's
sleep_physionet record table. Only the standard library's ``urllib`` is used.

Data: Sleep-EDF Expanded, Kemp et al. (2000), PhysioNet (Goldberger et al. 2000), Open Data Commons
Attribution 1.0 (https://physionet.org/content/sleep-edfx/1.0.0/).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from http.client import HTTPException
from pathlib import Path
from typing import Any

from neurotrio.core.errors import NeurotrioError
from neurotrio.sleep.sleepedf import RecordFiles, Subset, file_sha1, sleep_cassette_table, subset_records

log = logging.getLogger(__name__)

PHYSIONET_URL = "https://physionet.org/files/sleep-edfx/1.0.0/"
_BLOCK = 1 << 20


class DownloadError(NeurotrioError):
    """A download failed (network, server or checksum); rerunning resumes where it stopped."""


def _hash_prefix(path: Path) -> tuple[Any, int]:
    h = hashlib.sha1()
    n = 0
    if path.is_file():
        with open(path, "rb") as fh:
            while block := fh.read(_BLOCK):
                h.update(block)
                n += len(block)
    return h, n


def download_file(url: str, dest: str | Path, sha1: str | None = None, progress: bool = True,
                  retries: int = 3, timeout_s: float = 60.0, backoff_s: float = 2.0) -> Path:
    """Download ``url`` to ``dest`` through ``dest.part``, resuming a partial file with an HTTP Range request.

    The file is renamed onto ``dest`` only once complete and (when ``sha1`` is given) verified, so
    ``dest`` is never partial. Network errors are retried ``retries`` times, each retry resuming.

    Args:
        url: file URL.
        dest: final path.
        sha1: expected SHA1 (hex); a mismatch deletes the partial file and raises.
        progress: show a byte progress bar.
        retries: extra attempts after a network error.
        timeout_s: socket timeout, s.
        backoff_s: wait before the first retry, doubled each time, s.

    Returns:
        ``Path(dest)``.

    Raises:
        DownloadError: the server refuses, the network keeps failing, or the SHA1 differs.
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    for attempt in range(retries + 1):
        h, have = _hash_prefix(part)
        request = urllib.request.Request(url, headers={"User-Agent": "neurotrio"})
        if have:
            request.add_header("Range", f"bytes={have}-")
        try:
            with urllib.request.urlopen(request, timeout=timeout_s) as resp:
                status = getattr(resp, "status", 200)
                if have and status != 206:  # the server ignored the range: start over
                    h, have = hashlib.sha1(), 0
                total = resp.headers.get("Content-Length")
                total = int(total) + have if total is not None else None
                bar = None
                if progress:
                    from tqdm import tqdm

                    bar = tqdm(total=total, initial=have, unit="B", unit_scale=True, desc=dest.name, leave=False)
                with open(part, "ab" if have else "wb") as fh:
                    while block := resp.read(_BLOCK):
                        fh.write(block)
                        h.update(block)
                        have += len(block)
                        if bar is not None:
                            bar.update(len(block))
                    fh.flush()
                    os.fsync(fh.fileno())
                if bar is not None:
                    bar.close()
                if total is not None and have < total:
                    raise HTTPException(f"connection closed after {have} of {total} bytes")
            break
        except urllib.error.HTTPError as exc:
            if exc.code == 416 and have:  # nothing left to fetch: the .part file is complete
                break
            if exc.code < 500 or attempt == retries:
                raise DownloadError(f"cannot download {url}: HTTP {exc.code} {exc.reason}") from exc
            reason = f"HTTP {exc.code}"
        except (urllib.error.URLError, HTTPException, OSError, TimeoutError) as exc:
            if attempt == retries:
                raise DownloadError(f"cannot download {url}: {exc}; rerun the command to resume "
                                    f"({part.name} keeps the {part.stat().st_size if part.exists() else 0} "
                                    "bytes received)") from exc
            reason = str(exc)
        log.warning("%s: %s; retrying (%d of %d)", dest.name, reason, attempt + 1, retries)
        time.sleep(backoff_s * 2 ** attempt)
    digest = _hash_prefix(part)[0].hexdigest()
    if sha1 is not None and digest != sha1.lower():
        part.unlink(missing_ok=True)
        raise DownloadError(f"{dest.name}: SHA1 {digest} differs from the expected {sha1} "
                            f"(download from {url} corrupt; the partial file was deleted, rerun to retry)")
    os.replace(part, dest)
    return dest


def fetch_sleepedf(dest: str | Path, subset: Subset = "sleep-edf-20", base_url: str = PHYSIONET_URL,
                   progress: bool = True, records: Sequence[RecordFiles] | None = None,
                   retries: int = 3) -> list[Path]:
    """Download the PSG and hypnogram files of a Sleep-EDF subset into PhysioNet's layout.

    Files already present with the right SHA1 are skipped; a file with a wrong SHA1 is downloaded again;
    a ``.part`` file left by an interrupted run is resumed.

    Args:
        dest: dataset folder (files go to ``dest/sleep-cassette/``).
        subset: "sleep-edf-20" (39 nights of subjects 0-19), "sleep-edf-78" or "all" (the 153
            sleep-cassette nights of 78 subjects).
        base_url: dataset root URL, holding ``sleep-cassette/``.
        progress: show progress bars.
        records: the nights to fetch (default: the subset's rows of MNE's record table).
        retries: extra attempts per file after a network error.

    Returns:
        Paths of every file of the subset, PSG then hypnogram per night.

    Raises:
        DownloadError: a file cannot be downloaded or fails its SHA1 check.

    Example:
        >>> fetch_sleepedf("data/sleep-edf", subset="sleep-edf-20")  # doctest: +SKIP
    """
    if records is None:
        wanted = subset_records(subset)
        records = [r for r in sleep_cassette_table() if wanted is None or r.record in wanted]
    folder = Path(dest) / "sleep-cassette"
    files = [(name, sha) for r in records for name, sha in ((r.psg_name, r.psg_sha1),
                                                            (r.hypnogram_name, r.hypnogram_sha1))]
    out = []
    iterator = files
    if progress:
        from tqdm import tqdm

        iterator = tqdm(files, desc="Sleep-EDF files", unit="file")
    for name, sha in iterator:
        target = folder / name
        if target.is_file():
            if file_sha1(target) == sha:
                out.append(target)
                continue
            log.warning("%s: SHA1 differs from the record table: downloading it again", target)
            target.unlink()
        url = base_url.rstrip("/") + "/sleep-cassette/" + name
        out.append(download_file(url, target, sha, progress=progress, retries=retries))
    return out
