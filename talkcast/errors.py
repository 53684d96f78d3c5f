"""The one exception tree of talkcast.

Every error a user can see is a ``TalkcastError``; its ``str()`` is the one line the CLI
prints, naming the file, key, talk or request at fault. Third-party exceptions are
converted at the boundary with ``raise ... from err``.

::

    TalkcastError
     +-- ConfigError          event.toml / secrets / cuts.toml: file and key    (exit 2)
     +-- ScheduleError        pretalx JSON, frab XML, inline talks: file and talk (exit 2)
     +-- JournalError         journal.jsonl that cannot be read or written
     +-- StateError           state.db that cannot be opened or is too new
     +-- MediaError           ffmpeg / ffprobe failed: exit code and stderr tail
     |    +-- ToolMissing     ffmpeg / ffprobe / espeak-ng / obs not installed
     +-- TalkError            one talk's work failed: talk id, stage; others carry on
     +-- CaptionError         an SRT or WebVTT file that cannot be read
     +-- ModelError           a Whisper model that cannot be found, fetched or loaded
     +-- ObsError             the OBS websocket connection or a request failed
     |    +-- ObsAuthError    wrong password: never retried
     +-- RelayError           a restream destination could not be supervised
     +-- PublishError         a YouTube request failed: which request, which talk
          +-- QuotaExceeded   quota is used up: carries when it resets
"""

from __future__ import annotations

from pathlib import Path


def _rebuild(cls: type[TalkcastError], message: str, fields: dict[str, object]) -> TalkcastError:
    error = cls.__new__(cls)
    Exception.__init__(error, message)
    error.__dict__.update(fields)
    return error


class TalkcastError(Exception):
    """Base of every error talkcast reports to a user as one line."""

    exit_code = 1

    def __reduce__(self) -> tuple[object, ...]:
        # Errors cross process boundaries (worker pools, Dask); the subclasses' __init__
        # signatures differ from Exception's, so rebuild from the message and fields.
        return (_rebuild, (type(self), str(self), dict(self.__dict__)))


class ConfigError(TalkcastError):
    """A config file is missing, malformed, or has a bad key or value."""

    exit_code = 2

    def __init__(self, file: Path | str, key: str | None, message: str) -> None:
        self.file = Path(file)
        self.key = key
        self.message = message
        where = f"{self.file.name}: {key}: " if key else f"{self.file.name}: "
        super().__init__(where + message)


class ScheduleError(TalkcastError):
    """A schedule is malformed or inconsistent; names the file and the talk."""

    exit_code = 2

    def __init__(self, file: Path | str, talk: str | None, message: str) -> None:
        self.file = Path(file)
        self.talk = talk
        self.message = message
        where = f"{self.file.name}: talk '{talk}': " if talk else f"{self.file.name}: "
        super().__init__(where + message)


class JournalError(TalkcastError):
    """The journal cannot be written or read."""


class StateError(TalkcastError):
    """The state store cannot be opened or is of an unknown schema."""


class MediaError(TalkcastError):
    """An ffmpeg or ffprobe run failed.

    ``command`` is already redacted; ``stderr_tail`` holds the last lines ffmpeg printed.
    """

    def __init__(self, message: str, *, command: str = "", exit_code: int | None = None, stderr_tail: str = "") -> None:
        self.command = command
        self.returncode = exit_code
        self.stderr_tail = stderr_tail
        super().__init__(message)


class ToolMissing(MediaError):
    """A required external program is not installed."""


class TalkError(TalkcastError):
    """One talk's stage failed; the other talks carry on."""

    def __init__(self, talk: str, message: str, *, stage: str | None = None) -> None:
        self.talk = talk
        self.stage = stage
        self.message = message
        where = f"talk '{talk}'" + (f" ({stage})" if stage else "")
        super().__init__(f"{where}: {message}")


class CaptionError(TalkcastError):
    """An SRT or WebVTT text cannot be read; the message names the file and the cue."""


class ModelError(TalkcastError):
    """A Whisper model cannot be found, fetched or loaded; names the model."""

    def __init__(self, model: str, message: str) -> None:
        self.model = model
        super().__init__(f"Whisper model '{model}': {message}")


class ObsError(TalkcastError):
    """The OBS websocket connection or one of its requests failed."""


class ObsAuthError(ObsError):
    """OBS refused the password. Retrying will not help."""

    exit_code = 2


class RelayError(TalkcastError):
    """A restream destination could not be started or supervised."""


class PublishError(TalkcastError):
    """A YouTube request failed; names the request and the talk.

    ``reason`` is the API's own error reason (``quotaExceeded``, ``captionExists``, ...) and
    ``status`` the HTTP status, when the failure was an answer from YouTube; code decides on
    these fields, never on the message.
    """

    def __init__(
        self,
        message: str,
        *,
        talk: str | None = None,
        request: str | None = None,
        reason: str = "",
        status: int | None = None,
    ) -> None:
        self.talk = talk
        self.request = request
        self.reason = reason
        self.status = status
        parts = [p for p in (f"talk '{talk}'" if talk else "", request or "") if p]
        super().__init__(": ".join([*parts, message]))


class QuotaExceeded(PublishError):
    """YouTube's daily quota (or upload limit) is used up; ``resets_at`` says when.

    ``finished`` holds the results of the talks published before the quota ran out (talk
    id -> the publish stage's output), so the caller records them.
    """

    def __init__(
        self,
        message: str,
        *,
        resets_at: str,
        talk: str | None = None,
        request: str | None = None,
        reason: str = "quotaExceeded",
        status: int | None = 403,
    ) -> None:
        self.resets_at = resets_at
        self.finished: dict[str, object] = {}
        super().__init__(message, talk=talk, request=request, reason=reason, status=status)
