"""Cue segmentation, the writers and the quality gate, on plain values (no model)."""

from __future__ import annotations

import itertools
import json
from pathlib import Path

import pysubs2
import pytest
import srt
import webvtt

from talkcast.captions import Cue, parse_srt, parse_vtt, render_srt, render_vtt
from talkcast.transcribe.gate import (
    GateRules,
    RawSegment,
    gate_segments,
    has_loop,
    low_confidence_stretches,
    review_reasons,
)
from talkcast.transcribe.segment import (
    CueRules,
    Word,
    check_cue,
    join_fragments,
    segment_words,
    snap_to_speech,
    wrap_lines,
)
from talkcast.transcribe.writers import render_json, render_transcript, write_text

RULES = CueRules()


def words_at(text: str, *, start: float = 0.0, wps: float = 2.5, gaps: dict[int, float] | None = None) -> list[Word]:
    """Words of ``text`` spoken evenly at ``wps`` words a second; ``gaps`` adds a pause before word i."""
    out = []
    t = start
    for i, w in enumerate(text.split()):
        t += (gaps or {}).get(i, 0.0)
        out.append(Word(t, t + 0.8 / wps, " " + w, 0.9))
        t += 1 / wps
    return out


def assert_valid(cues: list[Cue], rules: CueRules = RULES) -> None:
    for cue in cues:
        assert check_cue(cue, rules) == [], (cue, check_cue(cue, rules))
    for a, b in itertools.pairwise(cues):
        assert a.end <= b.start, (a, b)
        assert a.start < b.start


LONG = (
    "Kafka keeps every partition on several brokers, and one of them leads. When a broker fails, "
    "the controller elects a new leader from the in-sync replicas, so producers see a short pause "
    "rather than an error. We measured that pause on our cluster of forty two brokers; it stayed "
    "under two seconds for ninety nine percent of the elections. The rest took longer because the "
    "controller itself was moving, which is why we now run it on dedicated nodes with more memory."
)


def test_long_text_keeps_every_limit_and_every_word() -> None:
    words = words_at(LONG)
    cues = segment_words(words)
    assert_valid(cues)
    assert " ".join(c.text for c in cues).split() == LONG.split()


def test_breaks_at_sentence_ends_when_they_fit() -> None:
    text = "We measured the pause. It stayed under two seconds. The rest took longer."
    cues = segment_words(words_at(text))
    # Sentences may share a cue, each on its own line; none starts mid-line or mid-cue.
    assert [c.lines for c in cues] == [
        ("We measured the pause.", "It stayed under two seconds."),
        ("The rest took longer.",),
    ]


def test_prefers_clause_punctuation_over_the_middle_of_a_phrase() -> None:
    text = (
        "When the controller moves to another node in the cluster, every partition leader has to be "
        "confirmed again by the brokers that follow it"
    )
    cues = segment_words(words_at(text))
    assert_valid(cues)
    assert cues[0].text.endswith("cluster,")


def test_a_long_pause_always_ends_a_cue_and_no_cue_spans_it() -> None:
    words = words_at("so that is the plan and then after lunch we will look at the results", gaps={6: 4.0})
    cues = segment_words(words)
    pause_start, pause_end = words[5].end, words[6].start
    assert any(c.text.endswith("and") for c in cues)
    for c in cues:
        assert not (c.start < pause_start and c.end > pause_end)


def test_short_cue_is_stretched_to_the_minimum_duration() -> None:
    words = [Word(1.0, 1.3, " Yes.", 0.9), Word(5.0, 5.4, " Next", 0.9), Word(5.4, 5.9, " slide.", 0.9)]
    cues = segment_words(words)
    assert [c.text for c in cues] == ["Yes.", "Next slide."]
    assert_valid(cues)


def test_fast_speech_is_split_to_stay_readable() -> None:
    # About 18 characters a second overall: close to the limit, so cues must split well.
    words = words_at(LONG, wps=2.9)
    cues = segment_words(words)
    assert_valid(cues)


def test_configured_rules_are_followed() -> None:
    rules = CueRules(max_line_chars=32, max_lines=1, max_seconds=4.0, max_chars_per_second=17.0)
    cues = segment_words(words_at(LONG, wps=2.0), rules)
    assert_valid(cues, rules)
    assert all(len(c.lines) == 1 for c in cues)


def test_fragments_join_and_times_become_monotonic() -> None:
    words = [Word(0.0, 0.4, " 99", 0.9), Word(0.4, 0.8, ".9%", 0.9), Word(0.7, 1.0, " uptime", 0.9)]
    tokens = join_fragments(words)
    assert [t.text for t in tokens] == ["99.9%", "uptime"]
    back = [Word(2.0, 2.5, " one", 0.9), Word(1.9, 2.2, " two", 0.9)]
    assert [t.start for t in join_fragments(back)] == [2.0, 2.0]


def test_an_overlong_word_still_gets_a_cue() -> None:
    word = "x" * 50
    cues = segment_words([Word(0.0, 1.0, " " + word, 0.9), Word(1.0, 1.5, " end.", 0.9)])
    assert cues[0].lines == (word,)
    assert segment_words([]) == []


def test_wrap_lines_balances_and_refuses_what_does_not_fit() -> None:
    words = ["the", "controller", "elects", "a", "new", "leader", "from", "the", "in-sync", "replicas", "quickly"]
    lines = wrap_lines(words, 42, 2)
    assert lines is not None and len(lines) == 2
    assert abs(len(lines[0]) - len(lines[1])) <= 12
    assert wrap_lines(["short"], 42, 2) == ["short"]
    assert wrap_lines(("word " * 30).split(), 42, 2) is None


# ---------------------------------------------------------------- writers

CUES = [
    Cue(0.5, 2.75, ("Welcome to the SRE meetup.",)),
    Cue(3.0, 6.5, ("Latency <p99> & throughput", "--> both matter")),
    Cue(3661.25, 3663.0, ("Über-long talks pass an hour.",)),
]


CYRILLIC = (
    "Добрый вечер, коллеги. Сегодня я расскажу, как мы переносили разделы между брокерами Кафки "
    "и почему никогда не стоит переносить всё сразу. Наблюдайте за сетью, двигайтесь маленькими шагами."
)


def test_cyrillic_lines_are_limited_in_characters_not_bytes() -> None:
    # Every Cyrillic letter is two bytes in UTF-8: counting bytes would halve the lines.
    cues = segment_words(words_at(CYRILLIC, wps=2.0), RULES)
    assert_valid(cues)
    assert " ".join(c.text for c in cues).split() == CYRILLIC.split()
    lines = [line for c in cues for line in c.lines]
    assert max(len(line) for line in lines) <= 42
    assert max(len(line.encode()) for line in lines) > 42, "lines as short as bytes allow: counted bytes?"
    assert wrap_lines(["Добрый", "вечер,", "коллеги"], 22, 1) == ["Добрый вечер, коллеги"]


FRENCH = (
    "Après chaque incident, l'équipe écrit un rapport détaillé sans chercher de coupable, "
    "et nous en parlons ensemble à la réunion de la semaine, où chacun réfléchit à la prévention."
)


def test_accented_latin_counts_characters_whatever_the_unicode_form() -> None:
    # Decomposed text ("e" + U+0301) has more code points than letters: count what is seen.
    import unicodedata

    decomposed = unicodedata.normalize("NFD", FRENCH)
    assert len(decomposed) > len(FRENCH)
    cues = segment_words(words_at(decomposed, wps=2.0), RULES)
    assert_valid(cues)
    assert " ".join(c.text for c in cues) == FRENCH  # composed again, every word kept
    lines = [line for c in cues for line in c.lines]
    assert max(len(line) for line in lines) <= 42
    assert segment_words(words_at(decomposed, wps=2.0), RULES) == cues == segment_words(words_at(FRENCH, wps=2.0))
    # 45 letters, 52 code points when decomposed: one full line, not two.
    line = "Après l'événement, l'équipe réfléchit à tout."
    (cue,) = segment_words(words_at(unicodedata.normalize("NFD", line), wps=1.0), CueRules(max_line_chars=len(line)))
    assert cue.lines == (line,)


def test_a_cue_stays_until_its_last_word_is_said_and_a_short_hold() -> None:
    words = [Word(1.0, 1.4, " The", 0.9), Word(1.4, 2.0, " horizon", 0.9), Word(2.0, 3.5, " seems.", 0.9)]
    (cue,) = segment_words(words)
    assert cue.start == 1.0 and cue.end == pytest.approx(3.5 + RULES.hold)
    # The next cue's start caps the hold: cues never overlap.
    more = [*words, Word(3.6, 4.0, " Next", 0.9), Word(4.0, 5.2, " slide.", 0.9)]
    first, second = segment_words(more, CueRules(max_line_chars=20, max_lines=1))
    assert first.text == "The horizon seems."
    assert first.end == pytest.approx(second.start - RULES.min_gap) and first.end > 3.5
    # A short cue appears at most max_lead_in (0.3 s) before its first word.
    (short,) = segment_words([Word(5.0, 5.2, " Yes.", 0.9)])
    assert short.start >= 5.0 - 0.3 and short.duration >= RULES.min_seconds


def test_word_times_snap_to_the_voice_at_the_edges_of_speech() -> None:
    # Whisper's times run early: the first word before the voice, the last one ending before it.
    words = [Word(0.9, 1.5, " The", 0.9), Word(1.5, 2.4, " horizon", 0.9), Word(2.4, 3.2, " seems.", 0.9),
             Word(6.0, 6.5, " Next", 0.9), Word(6.5, 7.0, " one.", 0.9)]  # fmt: skip
    voice = [(1.3, 3.55), (6.1, 9.0)]
    snapped = snap_to_speech(words, voice)
    assert [(w.start, w.end) for w in snapped] == [(1.3, 1.5), (1.5, 2.4), (2.4, 3.55), (6.1, 6.5), (6.5, 7.0)]
    # The second region ends 2 s after its last word: too far to be that word (reach 1 s).
    assert snapped[-1].end == 7.0
    # Never past the next word, never a word outside every region.
    assert snap_to_speech([Word(0.0, 0.5, " a", 0.9), Word(0.6, 1.0, " b", 0.9)], [(0.0, 0.55)])[0].end == 0.55
    assert snap_to_speech([Word(4.0, 4.5, " x", 0.9)], voice) == [Word(4.0, 4.5, " x", 0.9)]
    assert snap_to_speech([], voice) == []


def test_srt_and_vtt_parse_back_with_real_parsers_and_agree(tmp_path: Path) -> None:
    srt_file = write_text(tmp_path / "talk.en.srt", render_srt(CUES))
    vtt_file = write_text(tmp_path / "talk.en.vtt", render_vtt(CUES))
    parsed_srt = list(srt.parse(srt_file.read_text(encoding="utf-8")))
    parsed_vtt = webvtt.read(str(vtt_file))
    assert [s.content for s in parsed_srt] == ["\n".join(c.lines) for c in CUES]
    assert [s.start.total_seconds() for s in parsed_srt] == [c.start for c in CUES]
    assert [s.end.total_seconds() for s in parsed_srt] == [c.end for c in CUES]
    assert [(_clock(c.start), _clock(c.end)) for c in parsed_vtt.captions] == [
        (s.start.total_seconds(), s.end.total_seconds()) for s in parsed_srt
    ]
    # The VTT text is escaped on disk, and the parser gives back the words shown.
    assert "&lt;p99&gt; &amp; throughput" in vtt_file.read_text(encoding="utf-8")
    assert [c.text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&") for c in parsed_vtt.captions] == [
        s.content for s in parsed_srt
    ]
    # A third parser agrees on times for both files.
    for f in (srt_file, vtt_file):
        events = pysubs2.load(str(f))
        assert [(e.start, e.end) for e in events] == [(round(c.start * 1000), round(c.end * 1000)) for c in CUES]


def _clock(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_our_parser_reads_back_what_we_render_as_the_real_parsers_do(tmp_path: Path) -> None:
    assert parse_srt(render_srt(CUES)) == list(CUES)
    assert parse_vtt(render_vtt(CUES)) == list(CUES)  # entities decoded: the words as shown
    vtt_file = write_text(tmp_path / "talk.en.vtt", render_vtt(CUES))
    theirs = [(_clock(c.start), _clock(c.end)) for c in webvtt.read(str(vtt_file)).captions]
    assert [(c.start, c.end) for c in parse_vtt(vtt_file.read_text(encoding="utf-8"))] == theirs


def test_a_file_that_is_not_webvtt_is_named_and_bad_cues_are_skipped_like_a_player_does() -> None:
    from talkcast.errors import CaptionError

    with pytest.raises(CaptionError, match=r"^talk\.en\.vtt: not a WebVTT file: the first line must be WEBVTT$"):
        parse_vtt("1\n00:00:01.000 --> 00:00:02.000\nhi\n", "talk.en.vtt")
    srt_text = (
        "1\n00:00:01 --> 2\nbad\n\n"
        "2\n00:00:03,000 --> 00:00:02,000\nbackwards\n\n"
        "3\n00:00:04,000 --> 00:00:05,000\nok\n"
    )
    assert parse_srt(srt_text) == [Cue(4.0, 5.0, ("ok",))]


def test_empty_captions_are_valid_files(tmp_path: Path) -> None:
    assert render_srt([]) == ""
    vtt = write_text(tmp_path / "e.vtt", render_vtt([]))
    assert vtt.read_text(encoding="utf-8").startswith("WEBVTT")
    assert len(webvtt.read(str(vtt))) == 0
    assert parse_vtt(vtt.read_text(encoding="utf-8")) == [] == parse_srt("")


def test_transcript_paragraphs_break_at_pauses_and_length() -> None:
    words = words_at("First part ends here.", start=0) + words_at("Second part starts now.", start=10)
    text = render_transcript(words)
    assert text == "First part ends here.\n\nSecond part starts now.\n"
    long_text = render_transcript(words_at(LONG + " " + LONG), paragraph_chars=300)
    paragraphs = long_text.strip().split("\n\n")
    assert len(paragraphs) >= 3
    assert all(p.rstrip().endswith(".") for p in paragraphs)
    assert max(len(line) for line in long_text.splitlines()) <= 80


def test_json_holds_words_and_cues() -> None:
    words = words_at("Hello world.")
    doc = json.loads(render_json(words, CUES[:1], talk_id="t", language="en", model="tiny.en", audio_seconds=3))
    assert [w["word"] for w in doc["words"]] == [" Hello", " world."]
    assert doc["cues"][0]["lines"] == ["Welcome to the SRE meetup."]


# ---------------------------------------------------------------- the gate


def seg(text: str, start: float, end: float, **stats: float) -> RawSegment:
    ws = text.split()
    step = (end - start) / len(ws)
    words = tuple(Word(start + i * step, start + (i + 1) * step, " " + w, 0.9) for i, w in enumerate(ws))
    return RawSegment(start, end, " " + text, words, **stats)


SPEECH = [(0.0, 30.0)]


def test_gate_drops_repetition_loops() -> None:
    loop = seg("and then we and then we and then we and then we", 10, 14)
    zipped = seg("the same words", 14, 16, compression_ratio=3.1)
    ok = seg("A normal sentence about brokers.", 0, 3)
    report = gate_segments([ok, loop, zipped], SPEECH)
    assert report.kept == [ok]
    assert report.dropped == {"repetition": 2}
    assert has_loop("I see. I see. I see.")
    interleaved = "et de rassume et à cette référence et de rassume et de rassume et à cette référence"
    assert has_loop(interleaved)
    assert not has_loop("very very good")
    assert not has_loop(LONG)


def test_gate_drops_text_over_silence_and_outro_hallucinations() -> None:
    over_silence = seg("Thank you for watching.", 40, 43)
    stats_say_silence = seg("Some words here", 5, 7, no_speech_prob=0.9, avg_logprob=-1.5)
    real = seg("Questions are welcome at the end.", 25, 28)
    tacked = RawSegment(
        25, 29, " Questions are welcome. Thank you.",
        (*real.words[:3], Word(28.0, 28.4, " Thank", 0.01), Word(28.4, 28.4, " you.", 0.95)),
    )  # fmt: skip
    report = gate_segments([stats_say_silence, tacked, over_silence], SPEECH)
    assert report.dropped == {"no speech": 2, "hallucination": 1}
    assert len(report.kept) == 1
    assert [w.text for w in report.kept[0].words] == [" Questions", " are", " welcome"]
    # A real "thank you", spoken clearly, stays.
    assert gate_segments([seg("Thank you.", 20, 21)], SPEECH).kept


def test_gate_measures_confidence_and_flags_low_stretches() -> None:
    words = [Word(i, i + 0.5, f" w{i}", 0.2 if 3 <= i < 7 else 0.95) for i in range(10)]
    assert low_confidence_stretches(words) == [(3, 6.5)]
    report = gate_segments([RawSegment(0, 10, "x", tuple(words))], SPEECH)
    assert report.confidence == pytest.approx((6 * 0.95 + 4 * 0.2) / 10)
    cues = segment_words(report.words)
    reasons = review_reasons(report, cues, speech_seconds=10, audio_seconds=10, cue_rules=RULES)
    assert any("low-confidence" in r for r in reasons)


def test_review_reasons() -> None:
    empty = gate_segments([], [])
    assert review_reasons(empty, [], speech_seconds=0, audio_seconds=20, cue_rules=RULES) == [
        "no speech found in 20.0 s of audio"
    ]
    assert review_reasons(empty, [], speech_seconds=12, audio_seconds=20, cue_rules=RULES) == [
        "no captions for 12.0 s of speech"
    ]
    good = gate_segments([seg(LONG, 0, 30)], SPEECH)
    assert review_reasons(good, segment_words(good.words), speech_seconds=30, audio_seconds=30, cue_rules=RULES) == []
    mostly_dropped = gate_segments([seg("fine words here", 0, 2)] + [seg("la la la la la", 3, 5)] * 3, SPEECH)
    reasons = review_reasons(
        mostly_dropped, segment_words(mostly_dropped.words), speech_seconds=5, audio_seconds=5, cue_rules=RULES
    )
    assert reasons == ["3 of 4 segments dropped (3 repetition)"]
    strict = GateRules(review_confidence=0.95)
    assert review_reasons(good, segment_words(good.words), speech_seconds=30, audio_seconds=30,
                          cue_rules=RULES, rules=strict)  # fmt: skip
