"""fetch_sleepedf / download_file against a local HTTP server on 127.0.0.1 (no internet)."""

from __future__ import annotations

import hashlib
import http.server
import threading

import pytest

from neurotrio.sleep import fetch
from neurotrio.sleep.fetch import DownloadError, download_file, fetch_sleepedf
from neurotrio.sleep.sleepedf import RecordFiles, find_records


class _Handler(http.server.BaseHTTPRequestHandler):
    files: dict[str, bytes] = {}
    log: list[tuple[str, str | None]] = []
    cut_first: set[str] = set()  # paths whose first response stops half-way

    def do_GET(self):  # noqa: N802 - http.server's naming
        self.log.append((self.path, self.headers.get("Range")))
        body = self.files.get(self.path)
        if body is None:
            self.send_error(404)
            return
        start = 0
        rng = self.headers.get("Range")
        if rng:
            start = int(rng.split("=")[1].rstrip("-"))
            if start >= len(body):
                self.send_error(416)
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(body) - 1}/{len(body)}")
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(body) - start))
        self.end_headers()
        if self.path in self.cut_first:
            self.cut_first.discard(self.path)
            self.wfile.write(body[start:start + (len(body) - start) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body[start:])

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Handler.files, _Handler.log, _Handler.cut_first = {}, [], set()
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/", _Handler
    httpd.shutdown()
    httpd.server_close()


def _publish(handler, name, size, seed):
    body = bytes((seed * 7 + i * 13) % 251 for i in range(size))
    handler.files[f"/sleep-cassette/{name}"] = body
    return body, hashlib.sha1(body).hexdigest()


def _two_files(handler):
    psg, psg_sha = _publish(handler, "SC4001E0-PSG.edf", 300_000, 1)
    hyp, hyp_sha = _publish(handler, "SC4001EC-Hypnogram.edf", 5_000, 2)
    return psg, hyp, [RecordFiles("SC4001", 0, 1, "SC4001E0-PSG.edf", psg_sha, "SC4001EC-Hypnogram.edf", hyp_sha)]


def test_fetch_into_physionet_layout(server, tmp_path):
    url, handler = server
    psg, hyp, records = _two_files(handler)
    paths = fetch_sleepedf(tmp_path, base_url=url, progress=False, records=records)
    assert [p.name for p in paths] == ["SC4001E0-PSG.edf", "SC4001EC-Hypnogram.edf"]
    assert paths[0].read_bytes() == psg and paths[1].read_bytes() == hyp
    assert [r.record for r in find_records(tmp_path)] == ["SC4001"]
    assert not list(tmp_path.rglob("*.part"))
    n = len(handler.log)
    fetch_sleepedf(tmp_path, base_url=url, progress=False, records=records)  # verified files are skipped
    assert len(handler.log) == n


def test_resume_partial_file_with_range(server, tmp_path):
    url, handler = server
    psg, _, records = _two_files(handler)
    part = tmp_path / "sleep-cassette" / "SC4001E0-PSG.edf.part"
    part.parent.mkdir(parents=True)
    part.write_bytes(psg[:123_456])
    fetch_sleepedf(tmp_path, base_url=url, progress=False, records=records)
    assert ("/sleep-cassette/SC4001E0-PSG.edf", "bytes=123456-") in handler.log
    assert (tmp_path / "sleep-cassette" / "SC4001E0-PSG.edf").read_bytes() == psg


def test_connection_cut_is_retried_and_resumed(server, tmp_path):
    url, handler = server
    body, sha = _publish(handler, "f.edf", 200_000, 3)
    handler.cut_first.add("/sleep-cassette/f.edf")
    out = download_file(url + "sleep-cassette/f.edf", tmp_path / "f.edf", sha, progress=False, backoff_s=0)
    assert out.read_bytes() == body
    assert handler.log[1] == ("/sleep-cassette/f.edf", "bytes=100000-")


def test_sha1_mismatch_leaves_nothing(server, tmp_path):
    url, handler = server
    _publish(handler, "f.edf", 1000, 4)
    with pytest.raises(DownloadError, match="SHA1 .* differs from the expected 0000"):
        download_file(url + "sleep-cassette/f.edf", tmp_path / "f.edf", "0" * 40, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_missing_file_names_the_url(server, tmp_path):
    url, _ = server
    with pytest.raises(DownloadError, match="nope.edf: HTTP 404"):
        download_file(url + "nope.edf", tmp_path / "nope.edf", progress=False, backoff_s=0)
    assert list(tmp_path.iterdir()) == []


def test_default_records_use_mne_table(monkeypatch, tmp_path):
    calls = []
    monkeypatch.setattr(fetch, "download_file", lambda u, d, s, **k: calls.append((u, d, s)) or d)
    paths = fetch_sleepedf(tmp_path, subset="sleep-edf-20", base_url="https://example.org/x/", progress=False)
    assert len(paths) == 78 and len(calls) == 78
    assert calls[0] == ("https://example.org/x/sleep-cassette/SC4001E0-PSG.edf",
                        tmp_path / "sleep-cassette" / "SC4001E0-PSG.edf", "adabd3b01fc7bb75c523a974f38ee3ae4e57b40f")
    assert calls[1][2].startswith("21c998ea")
    assert fetch.PHYSIONET_URL == "https://physionet.org/files/sleep-edfx/1.0.0/"
