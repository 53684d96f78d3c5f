"""Title cards and thumbnails: every script drawn with a font that has it, text kept inside the frame.

Cards are rendered with ffmpeg and read back as grey pixels; a CJK or emoji glyph that
no font has would be drawn as the same empty box ("tofu") for every character, so the
tests compare different characters with each other as well as with an empty card.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest

from talkcast.config import RecordingConfig
from talkcast.cuts import Span, TalkCut
from talkcast.media import probe, tool
from talkcast.recorder import cards
from talkcast.recorder.cut import cut_talk
from tests.support.recorder_media import make_indexed_source

W, H = 640, 360


def render(tmp_path: Path, lines: list[cards.CardText], name: str) -> np.ndarray:
    """The card drawn on its background, as a HxW array of grey levels."""
    vf = cards.card_filter(lines, cards.write_text_files(lines, tmp_path, name))
    raw = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-f", "lavfi", "-i", f"color=c={cards.BACKGROUND}:s={W}x{H}", "-vf", vf,
         "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    return np.frombuffer(raw, dtype=np.uint8).reshape(H, W)


def drawn(image: np.ndarray, empty: np.ndarray) -> int:
    """How many pixels the text changed."""
    return int((np.abs(image.astype(int) - empty.astype(int)) > 40).sum())


def title_card(title: str, speakers: tuple[str, ...] = ()) -> list[cards.CardText]:
    return cards.card_layout("title", event="", title=title, speakers=speakers, width=W, height=H)


def test_control_characters_are_dropped_before_drawtext():
    assert cards.clean_text("Kafka\x00 at\tscale\x1b[31m\u202e!\r\n") == "Kafka at scale[31m!"
    lines = title_card("a\x07b\x7fc", ("Ann\x0b Lee",))
    assert [line.text for line in lines] == ["abc", "Ann Lee"]


def test_fonts_follow_the_script_of_each_line():
    assert cards.font_for("Вера Шмидт, O'Neil") == cards.FONT
    assert cards.font_for("カフカ 入門") == cards.FONT_CJK
    assert cards.font_for("Launch day 🚀") == cards.FONT_EMOJI
    # No scalable font has both: the CJK stays, the emoji goes.
    assert cards.drawable("入門 🚀") == "入門"


def test_cjk_title_is_drawn_with_real_glyphs(tmp_path):
    empty = render(tmp_path, [], "empty")
    one, two = (render(tmp_path, title_card(ch), f"cjk{i}") for i, ch in enumerate("日本"))
    assert drawn(one, empty) > 100 and drawn(two, empty) > 100
    # Two different glyphs, not the same missing-glyph box twice.
    assert drawn(one, two) > 100
    whole = render(tmp_path, title_card("日本語のタイトル"), "title")
    title_rows = slice(round(H * 0.34) - 5, round(H * 0.34) + round(H * 0.085) + 10)
    assert drawn(whole[title_rows], empty[title_rows]) > 1000


RUSSIAN_LETTERS = "абвгдеёжзийклмнопрстуфхцчшщъыьэюя"
FRENCH_LETTERS = "àâæçéèêëîïôœùûüÿ"


@pytest.mark.parametrize("letters", [RUSSIAN_LETTERS, FRENCH_LETTERS], ids=["russian", "french"])
def test_the_card_font_has_every_letter_of_the_talk_languages(letters):
    # fontconfig answers which installed fonts have every one of these code points.
    charset = " ".join(f"{ord(ch):x}" for ch in letters + letters.upper())
    families = subprocess.run(["fc-list", f"{cards.FONT}:charset={charset}", "family"],
                              capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert cards.FONT in families, f"{cards.FONT} lacks some of {letters}"
    assert cards.font_for(letters) == cards.FONT


@pytest.mark.parametrize("pair", ["ЖЩ", "éè"], ids=["cyrillic", "french"])
def test_cyrillic_and_accented_titles_are_drawn_with_real_glyphs(tmp_path, pair):
    empty = render(tmp_path, [], "empty")
    one, two = (render(tmp_path, title_card(ch * 3), f"g{i}") for i, ch in enumerate(pair))
    assert drawn(one, empty) > 100 and drawn(two, empty) > 100
    assert drawn(one, two) > 30  # two glyphs, not one missing-glyph box twice


def test_emoji_are_drawn_with_real_glyphs(tmp_path):
    empty = render(tmp_path, [], "empty")
    rocket, party = render(tmp_path, title_card("🚀"), "e0"), render(tmp_path, title_card("🎉"), "e1")
    assert drawn(rocket, empty) > 100 and drawn(party, empty) > 100
    assert drawn(rocket, party) > 100


@pytest.mark.parametrize("kind", ["title", "end"])
def test_a_very_long_speaker_list_wraps_inside_the_frame(tmp_path, kind):
    speakers = tuple(f"Speaker Number {i} Longname-Doublebarrel" for i in range(40))
    lines = cards.card_layout(kind, event="Meetup", title="Talk", speakers=speakers, width=W, height=H)
    names = [line for line in lines if "Speaker" in line.text]
    assert 2 <= len(names) <= 3 and names[-1].text.endswith("…")
    assert all(line.y + line.size < H for line in lines)
    image = render(tmp_path, lines, kind)
    empty = render(tmp_path, [], "empty")
    edge = round(W * 0.03)
    assert drawn(image, empty) > 2000
    assert drawn(image[:, :edge], empty[:, :edge]) == 0
    assert drawn(image[:, -edge:], empty[:, -edge:]) == 0


def test_every_talk_gets_a_thumbnail_over_a_frame_of_the_talk(tmp_path):
    src = make_indexed_source(tmp_path / "s.mkv", seconds=3, fps=25, gop=25)
    settings = RecordingConfig(normalize_loudness=False)  # title and end cards off
    assert not settings.title_card
    talk = TalkCut(id="t", title="日本語 and English 🚀", spans=(Span(src.path, 0.5, 2.5),), speakers=("Ann",))
    result = cut_talk(talk, tmp_path / "t", settings, event_name="Meetup")
    assert result.thumbnail == tmp_path / "t" / "thumbnail.jpg"
    thumb = probe(result.thumbnail)
    assert thumb.video is not None and (thumb.video.width, thumb.video.height) == (1280, 720)
    raw = subprocess.run(
        [tool("ffmpeg"), "-v", "error", "-i", str(result.thumbnail), "-f", "rawvideo", "-pix_fmt", "gray", "-"],
        capture_output=True, check=True,
    ).stdout  # fmt: skip
    grey = np.frombuffer(raw, dtype=np.uint8)
    assert (grey > 180).sum() > 2000  # the white text
    # The frame's white index blocks, shaded to mid grey: the picture is there, not a blank card.
    assert ((grey > 70) & (grey < 150)).sum() > 20_000
