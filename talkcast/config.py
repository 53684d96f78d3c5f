"""event.toml, parsed once at the edge into frozen typed objects.

Nothing deeper than this module looks up string keys. A bad value raises
``ConfigError`` naming the file and the dotted key, and unknown keys are errors (with
a "did you mean" hint) so that a typo never silently falls back to a default.

Paths in the file are relative to the file's own folder. Secrets (the OBS password,
stream keys) are never read from event.toml itself: they come from an environment
variable or from the secrets file, and are held in ``Secret`` objects that never print.

Recording consent: a talk the schedule export marks "do not record" (pretalx
``do_not_record``, frab ``<optout>``) is skipped by ``plan``. An organiser who has the
speaker's consent after all overrides it per talk, by the talk's id as ``talkcast
schedule`` shows it::

    [talk_overrides."democon-2901-open-source-executive-info-mediaries"]
    record = true     # record it anyway; `record = false` skips a talk the export allows

Inline ``[[talks]]`` take ``record = false`` directly.
"""

from __future__ import annotations

import dataclasses
import os
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from talkcast.errors import ConfigError
from talkcast.secrets import LIVE_SECRETS_FILE, Secret, read_secrets_file, read_stream_secrets, register_secret
from talkcast.talks import whisper_language
from talkcast.tomlmap import Loader, did_you_mean, read_toml

# Whisper model names faster-whisper knows how to fetch from the hub, plus the bundled one.
KNOWN_MODELS = (
    "tiny.en", "tiny", "base.en", "base", "small.en", "small", "medium.en", "medium", "large-v1", "large-v2",
    "large-v3", "large", "distil-large-v2", "distil-medium.en", "distil-small.en", "distil-large-v3",
    "distil-large-v3.5", "large-v3-turbo", "turbo",
)  # fmt: skip
# [transcribe] model when not set: the bundled tiny.en for English, "auto" (the strongest
# multilingual model reachable; see transcribe/models.py) for every other language.
DEFAULT_MODELS = {"en": "tiny.en", "default": "auto"}


@dataclass(frozen=True)
class EventConfig:
    """The [event] table: what the event is called and where its output goes."""

    name: str
    output_dir: Path
    timezone: str = "UTC"
    secrets_file: Path | None = None
    url: str = ""


@dataclass(frozen=True)
class ScheduleConfig:
    """The [schedule] table: where the programme comes from."""

    file: Path | None = None  # pretalx schedule.json or frab/Pentabarf schedule.xml
    room: str | None = None  # select one room of a multi-room schedule


@dataclass(frozen=True)
class InlineTalk:
    """One ``[[talks]]`` entry written directly in event.toml."""

    id: str
    title: str
    start: str  # ISO 8601 date-time; without an offset it is in event.timezone
    duration: str | float  # "HH:MM", "HH:MM:SS" or minutes
    speakers: tuple[str, ...] = ()
    language: str = ""
    abstract: str = ""
    room: str = ""
    record: bool = True  # false: the speaker asked not to be recorded


@dataclass(frozen=True)
class TalkOverride:
    """One ``[talk_overrides.<talk id>]`` table: the organiser's word over the schedule export's."""

    record: bool | None = None  # None: as the export says


@dataclass(frozen=True)
class ObsConfig:
    """The [obs] table: where OBS's websocket server listens."""

    host: str = "127.0.0.1"
    port: int = 4455
    password_env: str = "TALKCAST_OBS_PASSWORD"  # noqa: S105 - a variable name, not a password
    request_timeout: float = 5.0
    health_interval: float = 2.0
    password: Secret | None = None  # resolved from password_env or the secrets file


@dataclass(frozen=True)
class ScenesConfig:
    """The [scenes] table: which OBS scene plays which role."""

    intro: str = "Intro"
    talk: str = "Talk"
    break_: str = "Break"
    qa: str | None = None
    outro: str = "Outro"
    no_record: str | None = None  # on air during a talk not to be recorded; None: the break scene


@dataclass(frozen=True)
class TranscodeConfig:
    """Optional per-destination transcode for platforms that need a lighter stream."""

    scale: str | None = None  # e.g. "1280:720"
    video_bitrate: str | None = None  # e.g. "2500k"


@dataclass(frozen=True)
class DestinationConfig:
    """One ``[[destinations]]`` entry: a YouTube channel or any RTMP/RTMPS URL."""

    name: str
    kind: Literal["youtube", "rtmp"] = "rtmp"
    url: str = ""  # for youtube: defaults to rtmp://a.rtmp.youtube.com/live2
    backup: bool = True  # youtube only: also feed the backup ingest
    backup_url: str = ""  # youtube only: defaults to rtmp://b.rtmp.youtube.com/live2?backup=1
    key_env: str = ""  # defaults to TALKCAST_KEY_<NAME>
    enabled: bool = True
    transcode: TranscodeConfig | None = None
    key: Secret | None = None  # resolved from key_env or the secrets file


@dataclass(frozen=True)
class RelayConfig:
    """The [relay] table: the local ingest OBS streams to, and the safety recording."""

    ingest_port: int = 1935
    safety_recording: bool = True
    safety_dir: Path | None = None  # defaults to <output_dir>/safety
    stall_timeout: float = 10.0  # restart a destination that makes no progress this long
    backoff_initial: float = 0.5
    backoff_max: float = 30.0
    healthy_after: float = 30.0  # a run this long resets the backoff


@dataclass(frozen=True)
class LiveConfig:
    """The [live] table: how the controller follows the schedule."""

    mode: Literal["auto", "manual"] = "auto"
    intro_lead: float = 300.0  # switch to intro this many seconds before the first talk
    talk_lead: float = 0.0  # switch to the talk scene this early
    outro_after: float = 0.0
    record: bool = True  # start OBS recording when live starts
    stop_recording_on_exit: bool = False
    pause_recording_for_no_record: bool = True  # PauseRecord during a talk whose speaker opted out
    stream: bool = True  # start OBS streaming to the relay
    http_host: str = "127.0.0.1"
    http_port: int = 8787
    token_env: str = "TALKCAST_LIVE_TOKEN"  # noqa: S105 - a variable name
    rooms_file: Path | None = None  # register this room in talkcast rooms' file on start
    token: Secret | None = None
    token_from_env: bool = False  # whether token came from token_env (registration names the variable)


@dataclass(frozen=True)
class MonitorConfig:
    """The [monitor] table: /metrics, the programme's sound and picture, YouTube's own view.

    A threshold of 0 turns its check off. Levels are LUFS (EBU R128 loudness) or dBFS.
    """

    metrics: bool = True  # serve Prometheus metrics at /metrics on the live API
    metrics_token: bool = False  # true: /metrics needs the action token, like the actions
    signal: bool = True  # analyse the programme as it goes out (needs the relay: [[destinations]])
    silence_after: float = 20.0  # seconds of silence during a talk before the warning
    silence_below: float = -50.0  # momentary LUFS below which the programme counts as silent
    freeze_after: float = 10.0  # seconds of an unchanged picture during a talk before the warning
    # How different two keyframes must be (mean absolute difference, 0..1) to count as a change.
    # ffmpeg's default is 0.001, but the encoder keeps refining a picture that just stopped, so
    # the first keyframes of a real freeze differ by about that much: 0.003 catches them.
    freeze_noise: float = 0.003
    # After the stream's lossy AAC a hard-clipped mic decodes a few tenths of a dB below full
    # scale, so "clipped" is "at or above -1 dBFS" (EBU R128's true-peak ceiling), and the
    # warning needs many such samples (a clipping mic gives thousands a second), not one peak.
    clip_level: float = -1.0  # dBFS: a sample at least this loud counts as clipped
    clip_samples: int = 100  # clipped samples within 5 s that raise the warning
    quiet_below: float = -36.0  # short-term LUFS during a talk: quieter than this is too quiet...
    loud_above: float = -9.0  # ...and louder than this too loud for speech
    loudness_after: float = 10.0  # seconds outside that range before the warning
    youtube: bool = True  # ask YouTube how it receives the stream (needs publish.youtube.token_file)
    youtube_stream_id: str = ""  # default: the liveStream whose key a youtube destination uses
    youtube_quota: int = 1000  # quota units a day the polling may spend (of 10,000)
    youtube_min_interval: float = 15.0  # seconds; never poll more often than this


@dataclass(frozen=True)
class RecordingConfig:
    """The [recording] table: how talks are found and cut in the recordings."""

    dir: Path | None = None  # where OBS's recordings are; defaults to the output dir
    padding_before: float = 0.0
    padding_after: float = 0.0
    mode: Literal["smart", "copy", "reencode"] = "smart"
    preset: str = "veryfast"
    crf: int = 20
    loudness_target: float = -16.0  # LUFS, integrated
    true_peak: float = -1.5  # dBTP
    normalize_loudness: bool = True
    title_card: bool = False
    end_card: bool = False
    card_seconds: float = 4.0


@dataclass(frozen=True)
class TranscribeConfig:
    """The [transcribe] table: the Whisper model and the subtitle rules."""

    enabled: bool = True
    # A model name, "auto", or a folder relative to event.toml; or a table of them per
    # language code with a "default" entry (see model_table).
    model: str | dict[str, str] = field(default_factory=lambda: dict(DEFAULT_MODELS))
    auto_max_rtf: float = 1.0  # "auto" picks hub models expected to take at most this x the talk's length
    compute_type: str = "int8"
    threads: int = 0  # 0: 2 per transcription on any machine, so any layout gives the same captions
    beam_size: int = 5  # beam 1 is ~20% faster; 5 made a third of the word errors (benchmarks/)
    vad_filter: bool = True
    language: str | None = None  # None: each talk's own language, else detected
    glossary: tuple[str, ...] = ()
    # Which of the talk's words bias the decoder (as hotwords): the glossary alone, "all"
    # (speakers, glossary, event, title) or "none". Measured: speakers' names made errors
    # on real speech and on a Russian greeting; put a name in the glossary to have it spelled.
    hotwords: Literal["terms", "glossary", "all", "none"] = "glossary"
    max_line_chars: int = 42
    max_lines: int = 2
    min_cue_seconds: float = 1.0
    max_cue_seconds: float = 7.0
    max_chars_per_second: float = 20.0
    pause_seconds: float = 1.5  # a pause this long always ends a cue
    write_json: bool = True


@dataclass(frozen=True)
class CaptionsConfig:
    """The [captions] table: live captions of the programme, sent into the stream as CEA-608."""

    live: bool = False  # caption the stream during `talkcast live`
    model: str = "tiny.en"  # for English talks: a known model name, or a folder relative to event.toml
    multilingual_model: str = "base"  # for talks in any other language
    cpus: int = 1  # cores the captioner may run on (the kernel holds it to them)
    threads: int = 1  # CTranslate2 threads of the captioner
    step: float = 1.0  # seconds of audio between recognition passes
    window: float = 20.0  # the most audio one pass decodes
    max_behind: float = 10.0  # drop audio (and say so) rather than fall further behind


@dataclass(frozen=True)
class YouTubeCosts:
    """The [publish.youtube.costs] table: quota units per API call (Google's published costs)."""

    videos_insert: int = 1600  # only in quota_accounting = "units"
    videos_update: int = 50
    videos_list: int = 1
    captions_insert: int = 400
    captions_update: int = 450
    captions_list: int = 50
    thumbnails_set: int = 50
    playlists_list: int = 1
    playlists_insert: int = 50
    playlist_items_list: int = 1
    playlist_items_insert: int = 50
    playlist_items_delete: int = 50
    live_broadcasts_list: int = 1
    live_broadcasts_insert: int = 50
    live_broadcasts_update: int = 50
    live_broadcasts_bind: int = 50
    live_broadcasts_transition: int = 50
    live_streams_list: int = 1
    live_streams_insert: int = 50


@dataclass(frozen=True)
class YouTubeConfig:
    """The [publish.youtube] table."""

    api_endpoint: str = "https://www.googleapis.com/"
    client_secrets: Path | None = None
    token_file: Path | None = None
    privacy: Literal["private", "unlisted", "public"] = "private"
    publish_at: str | None = None
    playlist: str | None = None
    title_template: str = "{title} ({speakers}) - {event}"
    description_template: str = "{abstract}\n\nSpeakers: {speakers}\nRecorded at {event}, {date}."
    tags: tuple[str, ...] = ()
    category_id: str = "28"  # Science & Technology
    made_for_kids: bool = False
    license: Literal["youtube", "creativeCommon"] = "youtube"
    daily_quota: int = 10_000
    chunk_mib: int = 8
    # "units": videos.insert costs costs.videos_insert units of daily_quota (Google's older
    # accounting); "bucket": it draws on its own allowance of daily_uploads calls a day.
    quota_accounting: Literal["units", "bucket"] = "units"
    daily_uploads: int = 100
    costs: YouTubeCosts = field(default_factory=YouTubeCosts)
    http_timeout: float = 60.0  # seconds without progress on one request before it is retried


@dataclass(frozen=True)
class BroadcastConfig:
    """The [broadcast] table: the YouTube live broadcast talkcast creates, drives and chapters.

    It uses ``[publish.youtube]``'s token and API settings, and feeds the ``kind =
    "youtube"`` destination named ``destination`` (the first one when empty).
    """

    enabled: bool = False
    destination: str = ""
    title: str = ""  # "" : the event's name, and the room when one is selected
    description: str = "{event}\n{url}\n\n{programme}"  # {event} {room} {url} {date} {programme}
    privacy: Literal["private", "unlisted", "public"] = "unlisted"
    auto_start: bool = False  # true: YouTube goes live by itself when the stream arrives
    auto_stop: bool = False  # true: YouTube ends the broadcast by itself when the stream stops
    thumbnail: Path | None = None
    resolution: Literal["240p", "360p", "480p", "720p", "1080p", "1440p", "2160p", "variable"] = "720p"
    frame_rate: Literal["30fps", "60fps", "variable"] = "30fps"
    end_after: float = 60.0  # seconds of outro on air before the broadcast is completed
    check_interval: float = 10.0  # seconds between status checks while a transition waits
    retry_max: float = 300.0  # the longest wait between attempts of a failed transition


@dataclass(frozen=True)
class PublishConfig:
    """The [publish] table."""

    enabled: bool = False
    require_review: bool = False  # publish (and archive) only talks approved with `talkcast review`
    youtube: YouTubeConfig = field(default_factory=YouTubeConfig)


@dataclass(frozen=True)
class ReviewConfig:
    """The [review] table: where ``talkcast review`` serves its page."""

    http_host: str = "127.0.0.1"
    http_port: int = 8788
    window: float = 60.0  # seconds either side of a planned boundary searched for suggestions
    schedule_window: float = 300.0  # the same for times from the schedule, which are off by minutes


@dataclass(frozen=True)
class Config:
    """A whole event.toml, resolved: every path absolute, every secret loaded."""

    file: Path
    event: EventConfig
    schedule: ScheduleConfig = field(default_factory=ScheduleConfig)
    talks: tuple[InlineTalk, ...] = ()
    talk_overrides: dict[str, TalkOverride] = field(default_factory=dict)
    obs: ObsConfig = field(default_factory=ObsConfig)
    scenes: ScenesConfig = field(default_factory=ScenesConfig)
    destinations: tuple[DestinationConfig, ...] = ()
    relay: RelayConfig = field(default_factory=RelayConfig)
    live: LiveConfig = field(default_factory=LiveConfig)
    monitor: MonitorConfig = field(default_factory=MonitorConfig)
    recording: RecordingConfig = field(default_factory=RecordingConfig)
    transcribe: TranscribeConfig = field(default_factory=TranscribeConfig)
    captions: CaptionsConfig = field(default_factory=CaptionsConfig)
    publish: PublishConfig = field(default_factory=PublishConfig)
    broadcast: BroadcastConfig = field(default_factory=BroadcastConfig)
    review: ReviewConfig = field(default_factory=ReviewConfig)

    @property
    def base_dir(self) -> Path:
        """The folder relative paths in event.toml are resolved against."""
        return self.file.parent

    @property
    def output_dir(self) -> Path:
        """Where every artefact of the event goes."""
        return self.event.output_dir

    @property
    def recordings_dir(self) -> Path:
        """Where OBS's recordings are looked for."""
        return self.recording.dir or self.event.output_dir


def load_config(path: Path | str, *, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate event.toml; resolve relative paths and load the secrets."""
    file = Path(path).expanduser().resolve()
    if not file.is_file():
        raise ConfigError(file, None, "file not found" if not file.exists() else "not a file")
    data = read_toml(file)
    loader = Loader(file)
    if "event" not in data:
        loader.fail("event", "missing required table [event]")
    cfg = _build_config(loader, data, file)
    return _resolve_secrets(loader, cfg, environ if environ is not None else os.environ)


def _build_config(loader: Loader, data: dict[str, Any], file: Path) -> Config:
    hints = typing.get_type_hints(Config)
    names = [f.name for f in dataclasses.fields(Config) if f.name != "file"]
    values: dict[str, Any] = {}
    for name, value in data.items():
        if name not in names:
            loader.fail(name, "unknown table" + did_you_mean(name, names))
        values[name] = loader.convert(hints[name], value, name)
    cfg = Config(file=file, **values)
    _check(loader, cfg)
    return cfg


def _check(loader: Loader, cfg: Config) -> None:
    """Cross-field checks that the types alone cannot express."""
    try:
        ZoneInfo(cfg.event.timezone)
    except (ZoneInfoNotFoundError, ValueError):
        loader.fail("event.timezone", f"unknown time zone '{cfg.event.timezone}'")
    _check_models(loader, cfg)
    _check_captions(loader, cfg.captions)
    if cfg.schedule.file is not None and not cfg.schedule.file.is_file():
        loader.fail("schedule.file", f"file '{cfg.schedule.file}' does not exist")
    if cfg.event.secrets_file is not None and not cfg.event.secrets_file.is_file():
        loader.fail("event.secrets_file", f"file '{cfg.event.secrets_file}' does not exist")
    _check_destinations(loader, cfg)
    _check_broadcast(loader, cfg)
    _check_monitor(loader, cfg.monitor)
    for key, port, lowest in (
        ("obs.port", cfg.obs.port, 1),
        ("relay.ingest_port", cfg.relay.ingest_port, 1),
        ("live.http_port", cfg.live.http_port, 0),  # 0: any free port (the API prints where)
        ("review.http_port", cfg.review.http_port, 0),
    ):
        if not lowest <= port <= 65535:
            loader.fail(key, f"port {port} is out of range ({lowest}..65535)")
    if cfg.recording.padding_before < 0 or cfg.recording.padding_after < 0:
        loader.fail("recording.padding_before", "padding must not be negative")
    seen: set[str] = set()
    for i, talk in enumerate(cfg.talks):
        if talk.id in seen:
            loader.fail(f"talks[{i}].id", f"'{talk.id}' is used twice")
        seen.add(talk.id)


def _check_captions(loader: Loader, captions: CaptionsConfig) -> None:
    for key, value, low, high in (
        ("cpus", captions.cpus, 1, os.cpu_count() or 1),
        ("threads", captions.threads, 1, 16),
        ("step", captions.step, 0.25, 5.0),
        ("window", captions.window, 3 * captions.step, 30.0),  # Whisper hears at most 30 s
        ("max_behind", captions.max_behind, 2.0, 60.0),
    ):
        if not low <= value <= high:
            loader.fail(f"captions.{key}", f"{value:g} is out of range ({low:g}..{high:g})")


def _check_destinations(loader: Loader, cfg: Config) -> None:
    names: set[str] = set()
    for i, dest in enumerate(cfg.destinations):
        if dest.name in names:
            loader.fail(f"destinations[{i}].name", f"'{dest.name}' is used twice")
        names.add(dest.name)
        if dest.kind == "rtmp" and not dest.url.startswith(("rtmp://", "rtmps://")):
            loader.fail(f"destinations[{i}].url", "expected an rtmp:// or rtmps:// URL")


def _check_broadcast(loader: Loader, cfg: Config) -> None:
    settings = cfg.broadcast
    if settings.enabled and broadcast_destination(cfg) is None:
        wanted = f"'{settings.destination}'" if settings.destination else "one"
        loader.fail("broadcast.destination", f'needs {wanted} of the [[destinations]] with kind = "youtube"')
    if settings.thumbnail is not None and not settings.thumbnail.is_file():
        loader.fail("broadcast.thumbnail", f"file '{settings.thumbnail}' does not exist")
    if settings.end_after < 0:
        loader.fail("broadcast.end_after", "must not be negative")
    if settings.check_interval <= 0:
        loader.fail("broadcast.check_interval", "must be more than 0 seconds")
    if settings.retry_max < settings.check_interval:
        loader.fail("broadcast.retry_max", "must be at least broadcast.check_interval")


def broadcast_destination(cfg: Config) -> DestinationConfig | None:
    """The ``kind = "youtube"`` destination the [broadcast] feeds, or None."""
    name = cfg.broadcast.destination
    return next((d for d in cfg.destinations if d.kind == "youtube" and name in ("", d.name)), None)


def _check_monitor(loader: Loader, mon: MonitorConfig) -> None:
    for name in ("silence_after", "freeze_after", "loudness_after", "clip_samples", "youtube_min_interval"):
        if getattr(mon, name) < 0:
            loader.fail(f"monitor.{name}", "must not be negative (0 turns the check off)")
    if not 0 < mon.freeze_noise < 1:
        loader.fail("monitor.freeze_noise", f"must be between 0 and 1, got {mon.freeze_noise:g}")
    if mon.clip_level > 0:
        loader.fail("monitor.clip_level", f"a level in dBFS is 0 or below, got {mon.clip_level:g}")
    if not mon.silence_below < mon.quiet_below < mon.loud_above:
        loader.fail("monitor.quiet_below", "expected silence_below < quiet_below < loud_above")
    if mon.youtube_quota < 1:
        loader.fail("monitor.youtube_quota", "must be at least 1 unit")


def ensure_output_dir(cfg: Config) -> Path:
    """Create the output folder if needed, for the commands that write into it.

    ``ConfigError`` naming ``event.output_dir`` when it cannot be created or written (a
    read-only file system, no permission, a file in the way). Not part of ``load_config``,
    so that read-only commands (``schedule``, ``doctor``) still work and report it.
    """
    folder = cfg.output_dir
    if folder.exists() and not folder.is_dir():
        raise ConfigError(cfg.file, "event.output_dir", f"{folder} is not a folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConfigError(cfg.file, "event.output_dir", f"{folder} cannot be created: {err.strerror or err}") from err
    if not os.access(folder, os.W_OK | os.X_OK):
        why = "is not writable (read-only file system or no permission)"
        raise ConfigError(cfg.file, "event.output_dir", f"{folder} {why}")
    return folder


def _looks_like_path(model: str) -> bool:
    return "/" in model or model.startswith(".")


def _check_models(loader: Loader, cfg: Config) -> None:
    configured = cfg.transcribe.model
    entries = {"": configured} if isinstance(configured, str) else configured
    checked = [(f"transcribe.model.{lang}" if lang else "transcribe.model", lang, m) for lang, m in entries.items()]
    checked += [("captions.model", "", cfg.captions.model)]
    checked += [("captions.multilingual_model", "", cfg.captions.multilingual_model)]
    for key, language, model in checked:
        if language and language != "default" and whisper_language(language) != language:
            loader.fail(key, f"'{language}' is not a Whisper language code (like en, ru, fr) or 'default'")
        known = (*KNOWN_MODELS, "auto") if key.startswith("transcribe.") else KNOWN_MODELS
        if not _looks_like_path(model) and model not in known:
            loader.fail(key, f"unknown model '{model}'" + did_you_mean(model, list(known)))
        if _looks_like_path(model) and not (cfg.base_dir / model).is_dir():
            loader.fail(key, f"model folder '{model}' does not exist")


def model_path(model: str, base_dir: Path) -> str:
    """A configured Whisper model as loaded: a name stays one; a folder relative to ``base_dir`` made absolute."""
    return str((base_dir / model).resolve()) if _looks_like_path(model) else model


def _resolve_secrets(loader: Loader, cfg: Config, environ: Mapping[str, str]) -> Config:
    """Fill in the Secret fields from the environment, then from the secrets file."""
    file_secrets = _read_secrets_file(cfg)

    def lookup(env_name: str, file_key: str) -> Secret | None:
        value = environ.get(env_name) if env_name else None
        if value is None:
            value = file_secrets.get(file_key)
        if value is None or value == "":
            return None
        return register_secret(Secret(value))

    obs = dataclasses.replace(cfg.obs, password=lookup(cfg.obs.password_env, "obs_password"))
    token_from_env = bool(cfg.live.token_env and environ.get(cfg.live.token_env))
    live = dataclasses.replace(cfg.live, token=lookup(cfg.live.token_env, "live_token"), token_from_env=token_from_env)
    stored = read_stream_secrets(cfg.output_dir / LIVE_SECRETS_FILE, [d.name for d in cfg.destinations])
    dests = []
    for d in cfg.destinations:
        env = d.key_env or "TALKCAST_KEY_" + "".join(c if c.isalnum() else "_" for c in d.name).upper()
        d = dataclasses.replace(d, key_env=env, key=lookup(env, f"keys.{d.name}"))
        fetched = stored.get(d.name)
        if d.kind == "youtube" and d.key is None and fetched is not None:
            # `talkcast broadcast create` fetched this stream; a key given by hand wins over it.
            url, backup = d.url or fetched.ingestion_address, d.backup_url or fetched.backup_address
            d = dataclasses.replace(d, key=fetched.stream_name, url=url, backup_url=backup)
        dests.append(d)
    return dataclasses.replace(cfg, obs=obs, live=live, destinations=tuple(dests))


def _read_secrets_file(cfg: Config) -> dict[str, str]:
    """secrets.toml as dotted keys; its default place is beside event.toml."""
    path = cfg.event.secrets_file or cfg.base_dir / "secrets.toml"
    allowed = ["obs_password", "live_token", *(f"keys.{d.name}" for d in cfg.destinations)]
    return read_secrets_file(path, allowed)


def minimal_config(output_dir: Path, *, name: str = "talkcast", file: Path | None = None) -> Config:
    """A config for commands run without event.toml (for example ``cut`` on a cuts.toml)."""
    base = file or output_dir / "event.toml"
    return Config(file=base, event=EventConfig(name=name, output_dir=output_dir))
