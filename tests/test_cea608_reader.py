"""The tests' own CEA-608 reader (tests/support/cea608.py), on FLV files built here byte by byte.

The live captions test reads what OBS wrote with it, so it must be right and strict: it
is checked here on hand-made streams (and, in the live captions test, against ffmpeg on
the same stream with its SEI moved in front of the picture).
"""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from tests.support.cea608 import Caption, CaptionStreamError, read_captions, reorder_sei, unescape

RCL, ENM, EOC, EDM, RU2 = (0x14, 0x20), (0x14, 0x2E), (0x14, 0x2F), (0x14, 0x2C), (0x14, 0x25)
ROW1 = (0x11, 0x40)  # preamble address code: row 1, column 0


def odd(byte: int) -> int:
    return byte | (0x80 if bin(byte).count("1") % 2 == 0 else 0)


def chars(text: str) -> list[tuple[int, int]]:
    codes = [ord(c) for c in text] + ([0] if len(text) % 2 else [])
    return list(zip(codes[::2], codes[1::2], strict=True))


def caption(*rows: str) -> list[tuple[int, int]]:
    """A pop-on caption the way libcaption writes one."""
    pairs = [ENM, RCL]
    for i, row in enumerate(rows):
        pairs += [(0x11, 0x40 | (0x20 if i % 2 else 0)) if i < 2 else ROW1, *chars(row)]
    return [*pairs, EOC, EOC]


def escape(rbsp: bytes) -> bytes:
    out, zeros = bytearray(), 0
    for byte in rbsp:
        if zeros >= 2 and byte <= 3:
            out.append(3)
            zeros = 0
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sei(pairs: list[tuple[int, int]], *, parity: bool = True) -> bytes:
    cc = b"".join(bytes([0xFC, odd(a) if parity else a, odd(b) if parity else b]) for a, b in pairs)
    t35 = b"\xb5\x00\x31GA94\x03" + bytes([0x40 | len(pairs), 0xFF]) + cc + b"\xff"
    return b"\x06" + escape(bytes([4, len(t35)]) + t35) + b"\x80"


def tag(kind: int, dts_ms: int, body: bytes) -> bytes:
    head = bytes([kind]) + len(body).to_bytes(3, "big") + (dts_ms & 0xFFFFFF).to_bytes(3, "big") + bytes([dts_ms >> 24])
    return head + b"\0\0\0" + body + struct.pack(">I", 11 + len(body))


def flv(*access_units: tuple[int, list[bytes]], cts_ms: int = 33) -> bytes:
    config = bytes([1, 0x42, 0, 0x1E, 0xFF, 0xE0, 0])  # AVCDecoderConfigurationRecord, 4-byte NAL lengths
    out = b"FLV\x01\x01\0\0\0\x09" + struct.pack(">I", 0) + tag(9, 0, b"\x17\x00\0\0\0" + config)
    for dts, nals in access_units:
        body = b"".join(struct.pack(">I", len(n)) + n for n in nals)
        out += tag(9, dts, b"\x27\x01" + cts_ms.to_bytes(3, "big") + body)
    return out


SLICE = b"\x41\x9a\x00\x00\x01\x02"  # a non-IDR slice (its payload is never read)


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "stream.flv"
    path.write_bytes(data)
    return path


def test_a_caption_after_the_slice_is_read_with_its_presentation_time(tmp_path):
    path = write(tmp_path, flv((1000, [SLICE, sei(caption("HELLO KAFKA", "BROKERS"))]), (1033, [SLICE])))
    assert read_captions(path) == [Caption(1.033, "HELLO KAFKA\nBROKERS")]


def test_the_double_flip_shows_the_previous_caption_again(tmp_path):
    late = [ENM, RCL, ROW1, *chars("NEW"), EOC, RCL, RCL, EOC]  # the second EOC behind RCL RCL: not a copy
    units = (0, [SLICE, sei(caption("OLD"))]), (500, [SLICE, sei(late)]), (900, [SLICE, sei([EDM])])
    path = write(tmp_path, flv(*units))
    assert [c.text for c in read_captions(path)] == ["OLD", "NEW", "OLD", ""]


def test_special_and_extended_characters(tmp_path):
    # é is basic; à is special; an extended character replaces the space sent before it.
    pairs = [ENM, RCL, ROW1, (0x63, 0x5C), (0x11, 0x38), *chars("l "), (0x12, 0x29), *chars("t"), EOC]
    assert read_captions(write(tmp_path, flv((0, [SLICE, sei(pairs)]))))[0].text == "céàl't"


def test_emulation_prevention_is_removed():
    assert unescape(escape(b"\x00\x00\x01\x00\x00\x00\x00\x00\x03")) == b"\x00\x00\x01\x00\x00\x00\x00\x00\x03"


@pytest.mark.parametrize(
    ("data", "error"),
    [
        (flv((0, [SLICE, sei(caption("X"), parity=False)])), "parity"),
        (flv((0, [SLICE, sei([ENM, RCL, RU2, *chars("X")])])), "roll-up"),
        (flv((0, [SLICE, sei([(0x1C, 0x20)])])), "CC2"),
        (flv((0, [SLICE, sei(caption("X"))]))[:-9], "runs past the end"),
        (flv((0, [SLICE]))[:-1] + b"\x00", "PreviousTagSize"),
    ],
    ids=["parity", "roll-up", "cc2", "torn", "tag-size"],
)
def test_anything_unexpected_is_an_error(tmp_path, data, error):
    with pytest.raises(CaptionStreamError, match=error):
        read_captions(write(tmp_path, data))


def test_a_growing_file_is_read_up_to_its_last_whole_tag(tmp_path):
    data = flv((0, [SLICE, sei(caption("FIRST"))]), (40, [SLICE, sei(caption("SECOND"))]))
    assert [c.text for c in read_captions(write(tmp_path, data[:-20]), complete=False)] == ["FIRST"]


def test_reordering_puts_the_sei_first_and_keeps_everything_else(tmp_path):
    src = write(tmp_path, flv((0, [SLICE, sei(caption("A"))]), (40, [SLICE])))
    dst = tmp_path / "fixed.flv"
    assert reorder_sei(src, dst) == 1
    assert dst.stat().st_size == src.stat().st_size
    assert read_captions(dst) == read_captions(src)
    assert dst.read_bytes().index(b"GA94") < dst.read_bytes().index(SLICE)
