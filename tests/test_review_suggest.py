"""Suggested boundaries from generated media: espeak-ng speech with silences, applause-like noise, a scene change."""

from __future__ import annotations

import numpy as np
import pytest

from talkcast.media import probe
from talkcast.recorder.boundaries import Word, agreement, applause, describe, evidence, in_speech, silences, suggest
from talkcast.recorder.signals import read_audio, read_picture
from talkcast.recorder.smart import read_source
from tests.support.review_media import BREAK_RGB, ReviewMedia, make_review_recording

BREAK_LOOK = np.array(BREAK_RGB, dtype=float)


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> ReviewMedia:
    return make_review_recording(tmp_path_factory.mktemp("review-media"))


@pytest.fixture(scope="module")
def signals(media: ReviewMedia):
    index, _ = read_source(media.path, probe(media.path))
    keyframes = [index.frame_times[k] for k in index.keyframes]
    audio = read_audio(media.path, 0.0, media.seconds)
    return audio, read_picture(media.path, 0.0, media.seconds, keyframes=keyframes)


def close(a: float, b: float, tolerance: float = 0.35) -> bool:
    return abs(a - b) <= tolerance


def test_silences_and_applause_are_found_where_they_were_made(media: ReviewMedia, signals) -> None:
    audio, _ = signals
    found = silences(audio)
    opening_end, middle_start = media.speech[0][1], media.speech[1][0]
    assert close(found[0][1], media.applause_in[0])  # the break's quiet, up to the applause
    # espeak-ng's own quiet edges belong to the silence between the two sentences
    assert any(a <= opening_end and b >= middle_start - 0.4 for a, b in found)
    clapped = applause(audio)
    assert len(clapped) == 2
    made = (media.applause_in, media.applause_out)
    assert all(close(a, b[0]) and close(c, b[1]) for (a, c), b in zip(clapped, made, strict=True))


def test_a_schedule_start_minutes_off_gets_the_scene_change_after_the_applause(media: ReviewMedia, signals) -> None:
    audio, picture = signals
    planned = 3.0  # from the schedule: the talk really starts when the break card goes
    best, *_ = suggest(planned, evidence("start", audio, picture, looks=[BREAK_LOOK]), window=60.0)
    assert close(best.at, media.talk_scene[0], 0.5), best
    assert best.kinds[:2] == ("picture", "applause") and best.score > 0.8
    assert best.reason == "the picture changes from the break/intro scene; applause (3 s) ends"
    assert describe(best, planned).endswith("s later): " + best.reason)


def test_an_end_in_the_middle_of_speech_is_flagged_and_the_end_of_the_applause_offered(
    media: ReviewMedia, signals
) -> None:
    audio, picture = signals
    planned = sum(media.speech[0]) / 2
    assert in_speech(audio, planned)
    assert not in_speech(audio, media.applause_in[0] - 2) and not in_speech(audio, media.talk_scene[1] + 2)
    suggestions = suggest(planned, evidence("end", audio, picture), window=60.0)
    assert len(suggestions) == 2
    best = suggestions[0]
    assert close(best.at, media.talk_scene[1], 0.5), best
    assert "the picture changes to a still picture" in best.reasons and "applause (3 s) ends" in best.reasons


def test_the_transcript_adds_thank_you_at_the_end_and_the_first_words_at_the_start(media: ReviewMedia) -> None:
    said = media.speech[2]
    words = [
        Word(said[0] + 0.1, said[0] + 0.4, " Thank"),
        Word(said[0] + 0.4, said[0] + 0.7, " you"),
        Word(said[0] + 0.7, said[0] + 1.0, " very"),
        Word(said[0] + 1.0, said[0] + 1.4, " much."),
    ]
    (ending,) = evidence("end", None, None, words)
    assert ending.reason == 'the speaker says "thank you"' and close(ending.at, said[0] + 1.2, 0.01)
    opening = [
        Word(12.2, 12.5, " Good"),
        Word(12.5, 12.9, " evening"),
        Word(13.0, 13.5, " everyone."),
        Word(16.0, 16.3, " Today"),
    ]
    first, second = evidence("start", None, None, opening)
    assert first.reason == 'the first words after a silence: "Good evening everyone. Today"'
    assert close(first.at, 11.9, 0.01) and second.reason == 'the first words after a silence: "Today"'
    assert in_speech(read_audio(media.path, 0, 1), 12.7, opening)  # inside a word, whatever the sound says


def test_a_boundary_already_in_the_right_place_is_confirmed_not_second_guessed(media: ReviewMedia, signals) -> None:
    audio, picture = signals
    planned = media.talk_scene[0]  # a volunteer pressed the key on time
    found = evidence("start", audio, picture, looks=[BREAK_LOOK])
    agreed = agreement(planned, found, window=60.0)
    assert agreed is not None and agreed.kinds[:2] == ("picture", "applause")
    assert suggest(planned, found, window=60.0) == []  # nothing near is better founded
