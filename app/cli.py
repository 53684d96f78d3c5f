"""``talkcast [-c event.toml] <command>``: thin handlers over the library.

Exit codes: 0 success, 1 the work failed, 2 bad usage or an invalid config. Errors are
one line naming the file, key or talk at fault; ``--debug`` adds the traceback.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from talkcast import __version__
from talkcast.config import Config, ensure_output_dir, load_config
from talkcast.errors import TalkcastError
from talkcast.secrets import RedactingFilter, redact
from talkcast.stage import POST_STAGES, StageName

if TYPE_CHECKING:
    from talkcast.app.pipeline import Publisher
    from talkcast.streamer.youtube_health import Fetch

log = logging.getLogger("talkcast")

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every command."""
    parser = argparse.ArgumentParser(prog="talkcast", description="Put tech talks on video.")
    parser.add_argument(
        "-c", "--config", type=Path, default=Path("event.toml"), help="event.toml (default: ./event.toml)"
    )
    parser.add_argument("--debug", action="store_true", help="verbose logs and tracebacks")
    parser.add_argument("--plain", action="store_true", help="plain line-per-event output, no live table")
    parser.add_argument("--version", action="version", version=f"talkcast {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="command")

    live = sub.add_parser("live", help="run the event: drive OBS on the schedule, restream, mark talks")
    live.add_argument("--setup-scenes", action="store_true", help="create missing scenes in OBS (first rehearsal)")
    live.add_argument("--mode", choices=["auto", "manual"], help="start in this mode (default: from event.toml)")
    live.add_argument("--no-ui", action="store_true", help="no terminal status screen (log lines instead)")

    rooms = sub.add_parser("rooms", help="one page with every room's state, for a conference with several rooms")
    rooms.add_argument("--rooms", type=Path, default=Path("rooms.toml"), help="the rooms file (default: ./rooms.toml)")
    rooms.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this machine)")
    rooms.add_argument("--port", type=int, default=8790, help="port to listen on (default: 8790)")

    sched = sub.add_parser("schedule", help="show the configured room's talks as talkcast reads them")
    sched.add_argument("--json", action="store_true", help="a JSON array instead of a table")

    sub.add_parser("plan", help="write cuts.toml from the journal and the schedule")

    def talk_option(p: argparse.ArgumentParser) -> None:
        p.add_argument("--talk", metavar="ID", help="only this talk")

    cut = sub.add_parser("cut", help="cut each talk out of the recordings")
    talk_option(cut)
    cut.add_argument("--mode", choices=["smart", "copy", "reencode"], help="cut mode (default: smart)")
    cut.add_argument("--workers", type=int, default=0, help="talks cut at once (default: cores)")

    tr = sub.add_parser("transcribe", help="write subtitles and transcripts for each cut talk")
    talk_option(tr)
    tr.add_argument("--workers", type=int, default=0, help="talks transcribed at once")

    pub = sub.add_parser("publish", help="upload talks to YouTube with captions, thumbnail and playlist")
    talk_option(pub)
    pub.add_argument("--dry-run", action="store_true", help="print the requests and quota, send nothing")
    pub.add_argument("--force-metadata", action="store_true", help="update titles/descriptions of uploaded talks")

    post = sub.add_parser("post", help="plan + cut + transcribe + publish; resumable")
    talk_option(post)
    post.add_argument("--until", choices=["plan", "cut", "transcribe", "publish"], help="stop after this stage")
    post.add_argument("--redo", choices=["cut", "transcribe", "publish"], help="redo this stage and what follows")
    post.add_argument("--skip-publish", action="store_true", help="do everything but upload")
    post.add_argument("--mode", choices=["smart", "copy", "reencode"], help="cut mode (default: smart)")
    post.add_argument("--cluster", metavar="tcp://HOST:8786", help="run stages on a Dask cluster")
    post.add_argument("--workers", type=int, default=0, help="local worker processes (default: cores)")

    sub.add_parser("review", help="check and fix every cut's start and end in the browser, and approve it")

    demo = sub.add_parser("demo", help="generate a small example event and run the whole pipeline on it")
    demo.add_argument("dir", nargs="?", type=Path, default=Path("demo-event"), help="where (default: ./demo-event)")

    sub.add_parser("doctor", help="check ffmpeg, disk, the Whisper model and OBS")

    cast = sub.add_parser("broadcast", help="the room's YouTube live broadcast: create it, write its chapters")
    cast_sub = cast.add_subparsers(dest="broadcast_command", required=True, metavar="what")
    create = cast_sub.add_parser("create", help="create (or find) the broadcast and its stream; store the stream key")
    create.add_argument("--dry-run", action="store_true", help="print the requests and quota, send nothing")
    create.add_argument("--new", action="store_true", help="forget the remembered broadcast (the next event)")
    chapters = cast_sub.add_parser("chapters", help="write chapters from the journal on the stream's recording")
    chapters.add_argument("--dry-run", action="store_true", help="print the requests and quota, send nothing")

    auth = sub.add_parser("auth", help="authorise talkcast to upload to a YouTube channel")
    auth.add_argument("service", choices=["youtube"])
    auth.add_argument("--no-browser", action="store_true", help="print the URL instead of opening a browser")
    return parser


class RedactingFormatter(logging.Formatter):
    """Redacts the whole formatted record, tracebacks included (the filter sees only the message)."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as text, with every known secret masked."""
        return redact(super().format(record))


def setup_logging(debug: bool) -> None:
    """Log to stderr, every line redacted."""
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(RedactingFormatter("%(levelname)s %(name)s: %(message)s" if debug else "%(message)s"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.DEBUG if debug else logging.WARNING)
    logging.getLogger("talkcast").setLevel(logging.DEBUG if debug else logging.INFO)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``talkcast`` console script."""
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.debug)
    handler: Callable[[argparse.Namespace], int] = COMMANDS[args.command]
    try:
        return handler(args)
    except TalkcastError as err:
        if args.debug:
            print(redact(traceback.format_exc()), file=sys.stderr)
        print(f"talkcast: error: {redact(str(err))}", file=sys.stderr)
        return err.exit_code
    except KeyboardInterrupt:
        print("talkcast: interrupted; run the same command again to resume", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # The reader went away (`talkcast schedule | head`): nothing more to say to it.
        # Point stdout at /dev/null so the interpreter's own flush at exit stays quiet.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as err:
        # A bug, or a third-party error that escaped conversion: still one line, still redacted.
        if args.debug:
            print(redact(traceback.format_exc()), file=sys.stderr)
        message = redact(f"{type(err).__name__}: {err}")
        print(f"talkcast: internal error: {message} (run with --debug for details)", file=sys.stderr)
        return EXIT_FAILED


def _config(args: argparse.Namespace) -> Config:
    cfg = load_config(args.config)
    if args.command != "schedule":  # every other command here writes into the output folder
        ensure_output_dir(cfg)
    return cfg


# ---------------------------------------------------------------- post-event commands


def _run_pipeline(args: argparse.Namespace, stages: tuple[StageName, ...], **extra: Any) -> int:
    from talkcast.app import pipeline
    from talkcast.app.post import run_and_report

    cfg = _config(args)
    options = pipeline.Options(
        talk=getattr(args, "talk", None),
        stages=stages,
        redo=StageName(args.redo) if getattr(args, "redo", None) else None,
        cut_mode=getattr(args, "mode", None),
        cluster=getattr(args, "cluster", None),
        workers=getattr(args, "workers", 0) or 0,
        **extra,
    )
    publisher = _publisher(cfg) if "publish" in stages else None
    report = run_and_report(cfg, options, plain=True if args.plain else None, publisher=publisher)
    return EXIT_FAILED if report.failed or report.messages else EXIT_OK


def _publisher(cfg: Config) -> Publisher | None:
    if not cfg.publish.enabled:
        return None
    from talkcast.publish.pipeline import publish_jobs

    return publish_jobs


def cmd_plan(args: argparse.Namespace) -> int:
    """``talkcast plan``: write cuts.toml and print one line per talk."""
    return _run_pipeline(args, (StageName.PLAN,))


def cmd_cut(args: argparse.Namespace) -> int:
    """``talkcast cut``: cut every talk of cuts.toml."""
    return _run_pipeline(args, (StageName.CUT,))


def cmd_transcribe(args: argparse.Namespace) -> int:
    """``talkcast transcribe``: subtitles for every cut talk."""
    return _run_pipeline(args, (StageName.TRANSCRIBE,))


def cmd_publish(args: argparse.Namespace) -> int:
    """``talkcast publish``: upload every transcribed talk."""
    cfg = _config(args)
    if not cfg.publish.enabled:
        print(f"{cfg.file.name}: publish.enabled is false; nothing to publish")
        return EXIT_OK
    return _run_pipeline(args, (StageName.PUBLISH,), dry_run=args.dry_run, force_metadata=args.force_metadata)


def cmd_post(args: argparse.Namespace) -> int:
    """``talkcast post``: the whole evening, resumable, then the archive page."""
    stages: tuple[StageName, ...] = POST_STAGES
    if args.until:  # stop after that stage; the archive page still shows what is done
        stages = (*POST_STAGES[: POST_STAGES.index(StageName(args.until)) + 1], StageName.ARCHIVE)
    if args.skip_publish:
        stages = tuple(s for s in stages if s != StageName.PUBLISH)
    code = _run_pipeline(args, stages, metrics_file=True)
    if StageName.PUBLISH in stages:
        from talkcast.app.broadcast import chapters_after_post

        chapters_after_post(_config(args))  # the stream's recording links the talks just published
    return code


def cmd_review(args: argparse.Namespace) -> int:
    """``talkcast review``: the review page on [review] http_host:http_port, until Ctrl-C."""
    from talkcast.app.review.serve import run_review

    return run_review(_config(args))


def cmd_demo(args: argparse.Namespace) -> int:
    """``talkcast demo``: generate an example event and run the pipeline on it."""
    from talkcast.app.demo import run_demo

    return run_demo(args.dir, plain=args.plain)


def cmd_doctor(args: argparse.Namespace) -> int:
    """``talkcast doctor``: one line per check with ok/fail and a hint."""
    from talkcast.app.doctor import run_doctor

    return run_doctor(args.config)


def cmd_live(args: argparse.Namespace) -> int:
    """``talkcast live``: the controller for the night."""
    from talkcast.schedule import load_schedule
    from talkcast.streamer.live import run_live

    cfg = _config(args)
    schedule = load_schedule(cfg)
    youtube = _youtube_health(cfg)
    options: dict[str, Any] = {"setup_scenes": args.setup_scenes, "mode": args.mode, "ui": not args.no_ui}
    if cfg.broadcast.enabled:
        from talkcast.app.broadcast import run_live_with_broadcast

        return run_live_with_broadcast(cfg, schedule, youtube=youtube, **options)
    return run_live(cfg, schedule, youtube=youtube, **options)


def _youtube_health(cfg: Config) -> Fetch | None:
    """What ``live`` polls for YouTube's view of the stream, when a YouTube token is there; else None."""
    token = cfg.publish.youtube.token_file
    if not cfg.monitor.youtube or token is None or not token.exists():
        return None
    from talkcast.publish.livestream import stream_lister

    try:
        return stream_lister(cfg.publish.youtube, cfg.file)
    except TalkcastError as err:  # the evening goes on without YouTube's view; say why once
        log.warning("YouTube's view of the stream is not checked: %s", err)
        return None


def cmd_rooms(args: argparse.Namespace) -> int:
    """``talkcast rooms``: the overview of every room's ``talkcast live``; needs no event.toml."""
    from talkcast.streamer.overview.serve import run_rooms

    return run_rooms(args.rooms, host=args.host, port=args.port)


def cmd_schedule(args: argparse.Namespace) -> int:
    """``talkcast schedule [--json]``: the talks as the import read them; warnings on stderr."""
    import json

    from talkcast.schedule import load_schedule

    schedule = load_schedule(_config(args))
    for warning in schedule.warnings:
        print(f"warning: {redact(warning)}", file=sys.stderr)
    rows = [
        {
            "id": t.id,
            "title": t.title,
            "speakers": list(t.speakers),
            "start": t.start.isoformat(),
            "duration": t.duration.total_seconds(),
            "language": t.language,
            "record": t.record,
        }
        for t in schedule.talks
    ]
    if args.json:
        print(json.dumps(rows, ensure_ascii=False, indent=2))
        return EXIT_OK
    header = ("start", "min", "lang", "rec", "id", "title", "speakers")
    lines = [header]
    for t in schedule.talks:
        rec = "yes" if t.record else "no"
        minutes = f"{t.duration.total_seconds() / 60:g}"
        lines.append((t.start.isoformat(), minutes, t.language or "-", rec, t.id, t.title, ", ".join(t.speakers)))
    widths = [max(len(line[i]) for line in lines) for i in range(len(header) - 1)]
    for line in lines:
        print("  ".join(cell.ljust(w) for cell, w in zip(line, widths, strict=False)) + "  " + line[-1])
    skipped = [f"  {t.id}: {t.no_record_reason}" for t in schedule.talks if not t.record]
    if skipped:
        print("\nnot to be recorded:\n" + "\n".join(skipped))
    return EXIT_OK


def cmd_broadcast(args: argparse.Namespace) -> int:
    """``talkcast broadcast create|chapters``: the room's YouTube live broadcast."""
    from talkcast.app import broadcast

    cfg = _config(args)
    if args.broadcast_command == "create":
        return broadcast.create(cfg, dry_run=args.dry_run, new=args.new)
    return broadcast.chapters(cfg, dry_run=args.dry_run)


def cmd_auth(args: argparse.Namespace) -> int:
    """``talkcast auth youtube``: the installed-app OAuth flow with a loopback redirect."""
    from talkcast.publish.auth import authorize

    cfg = _config(args)
    authorize(cfg, open_browser=not args.no_browser)
    return EXIT_OK


COMMANDS: dict[str, Callable[[argparse.Namespace], int]] = {
    "live": cmd_live,
    "rooms": cmd_rooms,
    "schedule": cmd_schedule,
    "plan": cmd_plan,
    "cut": cmd_cut,
    "transcribe": cmd_transcribe,
    "publish": cmd_publish,
    "post": cmd_post,
    "review": cmd_review,
    "demo": cmd_demo,
    "doctor": cmd_doctor,
    "broadcast": cmd_broadcast,
    "auth": cmd_auth,
}


if __name__ == "__main__":
    raise SystemExit(main())
