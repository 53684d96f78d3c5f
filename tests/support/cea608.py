"""A small, strict reader of the CEA-608 captions OBS embeds in an H.264 stream, from an FLV file.

Why our own: Debian's ffmpeg 5.1 finds nothing in OBS's captions (``movie=...[out0+subcc]``
gives no subtitles and logs "Late SEI is not implemented"), because OBS appends the
caption SEI after the picture's slice data in each access unit (libobs ``add_caption``),
and ccextractor is not in Debian 12. So the tests read what arrived at the stand-in
themselves::

    captions = read_captions(path)      # [Caption(pts=12.345, text="LINE ONE\\nLINE TWO"), ...]

Layers, each strict (anything unexpected raises ``CaptionStreamError`` naming where):

* FLV: header, tags, PreviousTagSize; H.264 video (codec 7) with its decoder
  configuration record (NAL length size) and composition time (PTS = DTS + CTS);
* H.264: length-prefixed NAL units; SEI (type 6) with emulation prevention removed;
  ``user_data_registered_itu_t_t35`` messages (type 4);
* ATSC A/53 ``GA94`` user data (type 3): ``cc_data`` triples with their marker bits;
* CEA-608 on CC1 (NTSC field 1, ``cc_type`` 0), odd parity checked on every byte, in
  pop-on mode as libcaption writes it: RCL, ENM, PACs, tab offsets, characters (basic,
  special and extended), mid-row codes, EOC (flip: the caption is shown) and EDM
  (cleared). A control code repeated in the very next pair is ignored, as decoders do.
  Roll-up and paint-on codes raise: OBS never writes them.

``reorder_sei(src, dst)`` writes a copy of the FLV with each caption SEI moved before the
slice data; ffmpeg can then read the captions too, which cross-checks this reader.
"""

from __future__ import annotations

import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROWS, COLS = 15, 32


class CaptionStreamError(ValueError):
    """The file is not what OBS writes; the message says where."""


@dataclass(frozen=True)
class Caption:
    """What the screen shows from ``pts`` (seconds, the frame's presentation time) on."""

    pts: float
    text: str  # rows top to bottom joined by "\n"; "" when the screen was cleared

    @property
    def lines(self) -> list[str]:
        """The caption's rows."""
        return self.text.split("\n") if self.text else []


@dataclass(frozen=True)
class VideoTag:
    """One FLV video tag: where it is, its times (ms) and its AVC packet."""

    offset: int  # of the tag header in the file
    dts_ms: int
    cts_ms: int
    packet_type: int  # 0: sequence header, 1: NAL units, 2: end of sequence
    body: bytes  # after the 5-byte video/AVC header


# -- FLV ------------------------------------------------------------------------------


def video_tags(data: bytes, *, complete: bool = True) -> Iterator[VideoTag]:
    """The H.264 video tags of an FLV file; ``complete=False`` ignores a torn last tag (a file still growing)."""
    if data[:3] != b"FLV" or len(data) < 13 or data[3] != 1:
        raise CaptionStreamError("not an FLV file (version 1)")
    (header_size,) = struct.unpack(">I", data[5:9])
    pos = header_size
    if struct.unpack(">I", data[pos : pos + 4])[0] != 0:
        raise CaptionStreamError("PreviousTagSize0 is not 0")
    pos += 4
    while pos < len(data):
        if pos + 11 > len(data):
            if complete:
                raise CaptionStreamError(f"torn tag header at byte {pos}")
            return
        kind = data[pos] & 0x1F
        size = int.from_bytes(data[pos + 1 : pos + 4], "big")
        stamp = int.from_bytes(data[pos + 4 : pos + 7], "big") | (data[pos + 7] << 24)
        end = pos + 11 + size
        if end + 4 > len(data):
            if complete:
                raise CaptionStreamError(f"tag at byte {pos} runs past the end of the file")
            return
        (previous,) = struct.unpack(">I", data[end : end + 4])
        if previous != 11 + size:
            raise CaptionStreamError(f"tag at byte {pos}: PreviousTagSize {previous}, expected {11 + size}")
        if kind not in (8, 9, 18):
            raise CaptionStreamError(f"tag at byte {pos}: unknown tag type {kind}")
        if kind == 9 and size >= 5:
            body = data[pos + 11 : end]
            if body[0] & 0x0F != 7:
                raise CaptionStreamError(f"tag at byte {pos}: video codec {body[0] & 0x0F}, expected H.264 (7)")
            cts = int.from_bytes(body[2:5], "big", signed=True)
            yield VideoTag(pos, stamp, cts, body[1], body[5:])
        pos = end + 4


def nal_length_size(record: bytes) -> int:
    """The NAL length field size from an AVCDecoderConfigurationRecord."""
    if len(record) < 7 or record[0] != 1:
        raise CaptionStreamError("bad AVCDecoderConfigurationRecord")
    return (record[4] & 0x03) + 1


def nal_units(body: bytes, length_size: int) -> list[bytes]:
    """The NAL units of one AVC packet (each without its length prefix)."""
    units, pos = [], 0
    while pos < len(body):
        if pos + length_size > len(body):
            raise CaptionStreamError("torn NAL length")
        size = int.from_bytes(body[pos : pos + length_size], "big")
        pos += length_size
        if size == 0 or pos + size > len(body):
            raise CaptionStreamError(f"NAL unit of {size} bytes does not fit its packet")
        units.append(body[pos : pos + size])
        pos += size
    return units


# -- H.264 SEI ---------------------------------------------------------------------------


def unescape(rbsp: bytes) -> bytes:
    """Remove H.264 emulation prevention bytes (00 00 03 -> 00 00)."""
    out = bytearray()
    zeros = 0
    for byte in rbsp:
        if zeros >= 2 and byte == 3:
            zeros = 0
            continue
        out.append(byte)
        zeros = zeros + 1 if byte == 0 else 0
    return bytes(out)


def sei_messages(nal: bytes) -> list[tuple[int, bytes]]:
    """(payloadType, payload) of every message in an SEI NAL unit."""
    if nal[0] & 0x1F != 6:
        raise CaptionStreamError("not an SEI NAL unit")
    data = unescape(nal[1:])
    messages, pos = [], 0
    while pos < len(data) and data[pos:] != b"\x80":
        kind = size = 0
        while data[pos] == 0xFF:
            kind, pos = kind + 255, pos + 1
        kind, pos = kind + data[pos], pos + 1
        while data[pos] == 0xFF:
            size, pos = size + 255, pos + 1
        size, pos = size + data[pos], pos + 1
        if pos + size > len(data):
            raise CaptionStreamError(f"SEI message of {size} bytes runs past its NAL unit")
        messages.append((kind, data[pos : pos + size]))
        pos += size
    if data[pos:] != b"\x80":
        raise CaptionStreamError("SEI without its rbsp stop bit")
    return messages


def cc_pairs(t35: bytes) -> list[tuple[int, int]]:
    """The CC1 byte pairs (parity bits still on) of one ATSC A/53 ``GA94`` caption payload."""
    if t35[:8] != b"\xb5\x00\x31GA94\x03":
        raise CaptionStreamError(f"not ATSC caption data: {t35[:8].hex()}")
    flags, count = t35[8], t35[8] & 0x1F
    if not flags & 0x40:
        raise CaptionStreamError("process_cc_data_flag is off")
    body = t35[10 : 10 + 3 * count]
    if len(body) != 3 * count or t35[10 + 3 * count :] != b"\xff":
        raise CaptionStreamError(f"cc_data holds {len(t35) - 11} bytes for cc_count {count}")
    pairs = []
    for i in range(0, len(body), 3):
        head = body[i]
        if head >> 3 != 0x1F:
            raise CaptionStreamError(f"cc_data marker bits {head >> 3:#x}")
        valid, kind = (head >> 2) & 1, head & 3
        if kind != 0 or not valid:
            raise CaptionStreamError(f"cc_data of type {kind} (valid {valid}); OBS writes only CC1 field 1")
        pairs.append((body[i + 1], body[i + 2]))
    return pairs


# -- CEA-608 -----------------------------------------------------------------------------

_PAC_ROWS = {0x11: (1, 2), 0x12: (3, 4), 0x15: (5, 6), 0x16: (7, 8), 0x17: (9, 10), 0x10: (11, 11),
             0x13: (12, 13), 0x14: (14, 15)}  # fmt: skip
# Where the basic character set differs from ASCII.
_BASIC = {0x27: "’", 0x2A: "á", 0x5C: "é", 0x5E: "í", 0x5F: "ó", 0x60: "ú", 0x7B: "ç", 0x7C: "÷", 0x7D: "Ñ",
          0x7E: "ñ", 0x7F: "█"}  # fmt: skip
_SPECIAL = "®°½¿™¢£♪à\u00a0èâêîôû"
_EXTENDED = {
    0x12: "ÁÉÓÚÜü‘¡*'—©℠•“”ÀÂÇÈÊËëÎÏïÔÙùÛ«»",
    0x13: "ÃãÍÌìÒòÕõ{}\\^_|~ÄäÖöß¥¤¦ÅåØø┌┐└┘",
}


def strip_parity(byte: int) -> int:
    """The 7-bit value of a CEA-608 byte; raises if its odd parity is wrong."""
    if bin(byte).count("1") % 2 != 1:
        raise CaptionStreamError(f"parity error in byte {byte:#04x}")
    return byte & 0x7F


@dataclass
class Decoder:
    """CEA-608 CC1 in pop-on mode: feed byte pairs with their frame's PTS, collect ``captions``."""

    captions: list[Caption] = field(default_factory=list)
    shown: list[list[str]] = field(default_factory=lambda: _blank())
    loading: list[list[str]] = field(default_factory=lambda: _blank())
    row: int = ROWS - 1
    col: int = 0
    pop_on: bool = False
    last: tuple[int, int] | None = None

    def feed(self, pair: tuple[int, int], pts: float) -> None:
        """One byte pair of the frame shown at ``pts``."""
        b1, b2 = strip_parity(pair[0]), strip_parity(pair[1])
        if b1 == 0 and b2 == 0:
            return  # padding
        if 0x10 <= b1 <= 0x1F:
            if (b1, b2) == self.last:
                self.last = None  # the redundant copy of a control code
                return
            self.last = (b1, b2)
            self._control(b1, b2, pts)
            return
        self.last = None
        if b1 < 0x20:
            raise CaptionStreamError(f"unknown byte pair {b1:#04x} {b2:#04x}")
        self._put(_char(b1))
        if b2:
            self._put(_char(b2))

    def _control(self, b1: int, b2: int, pts: float) -> None:
        if b1 & 0x08:
            raise CaptionStreamError(f"code for CC2 ({b1:#04x} {b2:#04x}); OBS writes CC1")
        if 0x40 <= b2 <= 0x7F:  # preamble address code
            rows = _PAC_ROWS.get(b1)
            if rows is None:
                raise CaptionStreamError(f"bad PAC {b1:#04x} {b2:#04x}")
            self.row = rows[1 if b2 & 0x20 else 0] - 1
            self.col = ((b2 & 0x0E) >> 1) * 4 if b2 & 0x10 else 0
        elif b1 == 0x11 and 0x20 <= b2 <= 0x2F:  # mid-row style change: shown as a space
            self._put(" ")
        elif b1 == 0x11 and 0x30 <= b2 <= 0x3F:
            self._put(_SPECIAL[b2 - 0x30])
        elif b1 in _EXTENDED and 0x20 <= b2 <= 0x3F:
            self.col = max(self.col - 1, 0)  # an extended character replaces the one before it
            self._put(_EXTENDED[b1][b2 - 0x20])
        elif b1 == 0x17 and 0x21 <= b2 <= 0x23:
            self.col = min(self.col + b2 - 0x20, COLS - 1)
        elif b1 == 0x14 and 0x20 <= b2 <= 0x2F:
            self._misc(b2, pts)
        else:
            raise CaptionStreamError(f"unknown control code {b1:#04x} {b2:#04x}")

    def _misc(self, code: int, pts: float) -> None:
        if code == 0x20:  # RCL: resume caption loading (pop-on)
            self.pop_on = True
        elif code == 0x2E:  # ENM: erase non-displayed memory
            self.loading = _blank()
        elif code == 0x2F:  # EOC: end of caption, flip memories
            self.shown, self.loading = self.loading, self.shown
            self.captions.append(Caption(pts, _text(self.shown)))
        elif code == 0x2C:  # EDM: erase displayed memory
            self.shown = _blank()
            self.captions.append(Caption(pts, ""))
        elif code == 0x21 and self.pop_on:  # BS
            self.col = max(self.col - 1, 0)
            self.loading[self.row][self.col] = ""
        else:
            raise CaptionStreamError(f"control code 0x14 {code:#04x} (roll-up or paint-on): OBS writes pop-on only")

    def _put(self, char: str) -> None:
        if not self.pop_on:
            raise CaptionStreamError("a character before RCL")
        self.loading[self.row][self.col] = char
        self.col = min(self.col + 1, COLS - 1)


def _blank() -> list[list[str]]:
    return [[""] * COLS for _ in range(ROWS)]


def _char(code: int) -> str:
    return _BASIC.get(code, chr(code))


def _text(screen: list[list[str]]) -> str:
    rows = ["".join(c or " " for c in row).rstrip() for row in screen]
    return "\n".join(row for row in rows if row)


# -- the whole file ----------------------------------------------------------------------


def caption_payloads(data: bytes, *, complete: bool = True) -> Iterator[tuple[float, VideoTag, list[bytes]]]:
    """(PTS in seconds, the tag, its caption payloads) for every video tag with captions."""
    length_size: int | None = None
    for tag in video_tags(data, complete=complete):
        if tag.packet_type == 0:
            length_size = nal_length_size(tag.body)
            continue
        if tag.packet_type != 1:
            continue
        if length_size is None:
            raise CaptionStreamError(f"tag at byte {tag.offset}: NAL units before the decoder configuration")
        payloads = []
        for nal in nal_units(tag.body, length_size):
            if nal[0] & 0x1F == 6:
                payloads += [body for kind, body in sei_messages(nal) if kind == 4]
        if payloads:
            yield (tag.dts_ms + tag.cts_ms) / 1000, tag, payloads


def read_captions(path: Path, *, complete: bool = True) -> list[Caption]:
    """Every caption shown in the FLV file at ``path``, in order, with its PTS."""
    decoder = Decoder()
    for pts, _, payloads in caption_payloads(path.read_bytes(), complete=complete):
        for payload in payloads:
            for pair in cc_pairs(payload):
                decoder.feed(pair, pts)
    return decoder.captions


def reorder_sei(src: Path, dst: Path) -> int:
    """Copy the FLV with each access unit's SEI NAL units first; the number of tags changed."""
    data = bytearray(src.read_bytes())
    length_size, changed = 4, 0
    for tag in video_tags(bytes(data)):
        if tag.packet_type == 0:
            length_size = nal_length_size(tag.body)
            continue
        if tag.packet_type != 1:
            continue
        units = nal_units(tag.body, length_size)
        ordered = sorted(units, key=lambda nal: nal[0] & 0x1F != 6)  # stable: SEI first, the rest in order
        if ordered != units:
            body = b"".join(len(nal).to_bytes(length_size, "big") + nal for nal in ordered)
            start = tag.offset + 11 + 5
            data[start : start + len(body)] = body
            changed += 1
    dst.write_bytes(bytes(data))
    return changed
