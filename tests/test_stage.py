"""The stage contract: outputs round-trip through the JSON kept in state.db."""

from __future__ import annotations

from talkcast.stage import CutOutput, PublishOutput, Status, TranscriptOutput


def test_status_says_what_counts_as_success() -> None:
    assert [s for s in Status if s.succeeded] == [Status.DONE, Status.REVIEW]
    assert Status.of("review") is Status.REVIEW
    assert Status.of("something an older version wrote") is Status.FAILED


def test_cut_output_round_trips() -> None:
    out = CutOutput(video="talks/k/talk.mp4", thumbnail="talks/k/thumbnail.jpg", duration=61.5, mode="smart",
                    sha256="ab", notes=("moved 0.2 s",), loudness={"output_i": -16.0})  # fmt: skip
    data = out.to_json()
    assert data["artefacts"] == {"video": "talks/k/talk.mp4", "thumbnail": "talks/k/thumbnail.jpg"}
    assert CutOutput.from_json(data) == out


def test_transcript_output_round_trips_with_its_tracks() -> None:
    out = TranscriptOutput(
        language="ru",
        tracks={
            "ru": {"srt": "talks/k/talk.ru.srt", "vtt": "talks/k/talk.ru.vtt"},
            "en": {"vtt": "talks/k/talk.en.vtt"},
        },
        transcript="talks/k/transcript.txt",
        cues=12,
        review_reasons=("low confidence",),
    )
    data = out.to_json()
    assert data["artefacts"] == {"srt": "talks/k/talk.ru.srt", "vtt": "talks/k/talk.ru.vtt",
                                 "transcript": "talks/k/transcript.txt"}  # fmt: skip
    assert TranscriptOutput.from_json(data) == out
    assert out.status is Status.REVIEW


def test_transcript_records_from_before_tracks_still_read() -> None:
    old = {"language": "en", "artefacts": {"srt": "t/talk.en.srt", "vtt": "t/talk.en.vtt", "transcript": "t/x.txt"}}
    assert TranscriptOutput.from_json(old).tracks == {"en": {"srt": "t/talk.en.srt", "vtt": "t/talk.en.vtt"}}


def test_publish_output_keeps_details_beside_the_known_fields() -> None:
    out = PublishOutput(status=Status.DONE, video_id="v1", url="https://youtu.be/v1", privacy="unlisted",
                        details={"writes": 3})  # fmt: skip
    assert PublishOutput.from_json(out.to_json(), Status.DONE) == out
    assert PublishOutput.failed("quota").to_json() == {"error": "quota"}
