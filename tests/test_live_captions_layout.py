"""The live captions' screen layout, as plain values: roll-up in 2 x 32, the 608 set, OBS's double flip."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from talkcast.streamer.captions.layout import (
    COLUMNS,
    OBS_TEXT_BYTES,
    RollUp,
    flips_twice,
    obs_codes,
    safe_text,
    to_608,
    visible,
)

SPOKEN = "we measure the consumer lag on every partition then we move the leaders one broker at a time"
WORDS = SPOKEN.split()
REPRODUCED = "cannot hear the speaker well, so they need the words"  # OBS re-shows the caption before it


def test_roll_up_grows_the_bottom_line_and_scrolls_whole_lines():
    screen = RollUp()
    assert screen.add(WORDS[:5]) == ["we measure the consumer lag"]
    assert screen.lines == ["we measure the consumer lag"]
    assert len(screen.add(WORDS[5:8])) == 1
    assert screen.lines == ["we measure the consumer lag on", "every partition"]
    screen.add(WORDS[8:])
    assert screen.lines == ["every partition then we move the", "leaders one broker at a time"]
    assert all(len(line) <= COLUMNS for line in screen.lines)
    assert screen.add([]) == []  # nothing new: nothing to send
    assert screen.clear() and screen.text == "" and not screen.clear()


def test_a_burst_of_words_shows_every_line_at_least_once():
    screen = RollUp()
    screen.add(WORDS[:3])
    sent = screen.add(WORDS[3:])  # three lines' worth at once
    assert [visible(text).split("\n") for text in sent] == [
        ["we measure the consumer lag on", "every partition then we move the"],
        ["every partition then we move the", "leaders one broker at a time"],
    ]
    assert screen.lines == ["every partition then we move the", "leaders one broker at a time"]


def test_a_word_is_never_shown_twice_nor_taken_back():
    words = ("Kafka " * 3 + "rebalancing needs a plan that never loses the quorum of the brokers").split()
    screen, shown = RollUp(), []
    for word in words:
        before = list(screen.lines)
        screen.add([word])
        # What was on the bottom line is still there, unchanged, or has moved up whole.
        assert not before or screen.lines[-1].startswith(before[-1]) or screen.lines[0] == before[-1]
        shown.append(visible(screen.text))
    assert visible(screen.text).split()[-3:] == ["of", "the", "brokers"]


def test_a_word_longer_than_a_line_is_split():
    screen = RollUp()
    screen.add(["https://example.org/a/very/long/path/to/the/slides.pdf"])
    assert screen.lines == ["https://example.org/a/very/long/", "path/to/the/slides.pdf"]


def test_text_is_mapped_to_the_608_set():
    assert to_608("don't") == "don’t"  # the ASCII apostrophe is an extended character; ’ is basic
    assert to_608("café naïve") == "café naïve"  # é is basic, ï extended: both kept; ...
    assert to_608("Łódź") == "Lódz"  # ... ó is basic; ź and Ł are not in 608 and lose their marks
    assert to_608("emoji 😀 gone") == "emoji  gone"


def test_the_reproduced_double_flip_is_predicted_and_avoided():
    lines = ["cannot hear the speaker well, so", "they need the words"]
    assert " ".join(lines) == REPRODUCED
    # 17 codes for the first row (preamble + 16 character pairs), 11 for the second: 28 = 28 mod 29.
    assert obs_codes("\n".join(lines)) == 28 and flips_twice("\n".join(lines))
    fixed = safe_text(lines)
    assert not flips_twice(fixed) and visible(fixed) == "\n".join(lines)


def test_the_rule_is_28_codes_modulo_29():
    # A row is its preamble plus one code per two basic characters; an extended one costs two.
    assert obs_codes("x" * 19) == 1 + 10 and obs_codes("x" * 32 + "\n" + "x" * 3) == 17 + 3
    assert obs_codes("l’été") == 1 + 3 and obs_codes("l'ete") == 1 + 4  # the ASCII apostrophe is extended
    texts = ["x" * 32 + "\n" + "x" * n for n in range(1, 33)] + ["y" * n for n in range(1, 33)]
    bad = [text for text in texts if flips_twice(text)]
    assert [obs_codes(text) for text in bad] == [28, 28]  # 2 of 64 lengths; about 1 caption in 29
    assert all(flips_twice(text) == (obs_codes(text) % 29 == 28) for text in texts)


lines_of_words = st.lists(
    st.lists(st.text("abcdefghijklmnopqrstuvwxyzé’.,?!- ", min_size=1, max_size=9).map(str.strip).filter(bool),
             min_size=1, max_size=12),
    min_size=1, max_size=2,
)  # fmt: skip


@given(lines_of_words)
def test_whatever_the_words_the_caption_sent_is_shown_as_it_is(groups):
    screen = RollUp()
    for group in groups:
        screen.add(group)
        text = screen.text
        assert not flips_twice(text)
        assert len(text.encode()) <= OBS_TEXT_BYTES
        assert visible(text) == "\n".join(screen.lines)
        assert all(len(line) <= COLUMNS for line in text.split("\n"))
