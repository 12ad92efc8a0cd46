"""A minimal AEDAT4 writer for tests: real container bytes, hand-built uncompressed flatbuffers.

Layout written (the same as DV's recorder and the real ``sample.aedat4``, minus compression):

* ``#!AER-DAT4.0\\r\\n``, then a u32 length and an ``IOHE`` flatbuffer (``Ioheader``: compression,
  file_data_position, description). The description is DV's XML naming one ``EVTS`` stream (id 0) with
  ``sizeX``/``sizeY``.
* Packets: u32 stream id, u32 byte size, then a size-prefixed ``EVTS`` flatbuffer ``EventPacket`` whose
  vector holds 16-byte ``Event`` structs (i64 t, i16 x, i16 y, bool on, 3 pad bytes). The byte layout
  mirrors the decompressed packets of the real file (vector data 8-byte aligned at offset 32).
* ``file_data_position`` is set to the end of the last packet (the decoder stops there), or -1 when
  ``with_end_marker=False`` (the decoder then reads until EOF).

No maintained AEDAT4 *writer* exists on PyPI without heavy dependencies (``dv-processing`` is a large C++
build), so tests write their own files with this module.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

MAGIC = b"#!AER-DAT4.0\r\n"

_XML = """<dv version="2.0">
    <node name="outInfo" path="/mainloop/Recorder/outInfo/">
        <node name="0" path="/mainloop/Recorder/outInfo/0/">
            <attr key="compression" type="string">NONE</attr>
            <attr key="originalModuleName" type="string">capture</attr>
            <attr key="originalOutputName" type="string">events</attr>
            <attr key="typeDescription" type="string">Array of events (polarity ON/OFF).</attr>
            <attr key="typeIdentifier" type="string">EVTS</attr>
            <node name="info" path="/mainloop/Recorder/outInfo/0/info/">
                <attr key="sizeX" type="int">{width}</attr>
                <attr key="sizeY" type="int">{height}</attr>
                <attr key="source" type="string">neurotrio-test</attr>
                <attr key="tsOffset" type="long">0</attr>
            </node>
        </node>
    </node>
</dv>
"""


def ioheader(description: str, file_data_position: int, compression: int = 0) -> bytes:
    """An ``Ioheader`` flatbuffer (not size-prefixed), laid out like DV's."""
    desc = description.encode()
    buf = bytearray()
    buf += struct.pack("<I", 24)  # root table offset
    buf += b"IOHE"
    buf += b"\x00" * 6  # pad so the vtable ends where the table starts
    buf += struct.pack("<5H", 10, 20, 4, 12, 8)  # vtable: size, table size, compression, fdp, description
    buf += struct.pack("<i", 24 - 14)  # table: soffset to vtable at 14
    buf += struct.pack("<i", compression)
    buf += struct.pack("<I", 44 - 32)  # description offset (from field at 32 to string at 44)
    buf += struct.pack("<q", file_data_position)
    buf += struct.pack("<I", len(desc)) + desc + b"\x00"
    buf += b"\x00" * (-len(buf) % 4)
    return bytes(buf)


def event_packet(t_us: np.ndarray, x: np.ndarray, y: np.ndarray, on: np.ndarray) -> bytes:
    """A size-prefixed ``EVTS`` flatbuffer holding ``len(t_us)`` events."""
    n = len(t_us)
    rec = np.zeros(n, dtype=np.dtype({"names": ["t", "x", "y", "on"], "formats": ["<i8", "<i2", "<i2", "u1"],
                                      "offsets": [0, 8, 10, 12], "itemsize": 16}))
    rec["t"], rec["x"], rec["y"], rec["on"] = t_us, x, y, on
    body = bytearray()
    body += struct.pack("<I", 16)  # root offset (from byte 4 of the prefixed buffer to the table at 20)
    body += b"EVTS" + b"\x00\x00"
    body += struct.pack("<3H", 6, 8, 4)  # vtable at 14: size, table size, elements at +4
    body += struct.pack("<i", 6)  # table at 20: vtable is 6 bytes before
    body += struct.pack("<I", 4)  # elements vector at 24 + 4 = 28
    body += struct.pack("<I", n) + rec.tobytes()
    return struct.pack("<I", len(body)) + bytes(body)


def write_aedat4(path: str | Path, events: np.ndarray, width: int = 346, height: int = 260,
                 events_per_packet: int = 500, with_end_marker: bool = True) -> Path:
    """Write ``events`` (fields t, x, y, p) as an uncompressed AEDAT4 file; returns the path."""
    packets = bytearray()
    for i in range(0, max(len(events), 1), events_per_packet):
        chunk = events[i:i + events_per_packet]
        if len(chunk) == 0:
            break
        payload = event_packet(chunk["t"], chunk["x"], chunk["y"], chunk["p"].astype(bool))
        packets += struct.pack("<II", 0, len(payload)) + payload
    desc = _XML.format(width=width, height=height)
    head_len = len(ioheader(desc, 0))
    data_start = len(MAGIC) + 4 + head_len
    fdp = data_start + len(packets) if with_end_marker else -1
    head = ioheader(desc, fdp)
    path = Path(path)
    path.write_bytes(MAGIC + struct.pack("<I", len(head)) + head + bytes(packets))
    return path
