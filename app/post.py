"""Running the pipeline for a command: claim the output folder, run, print what happened.

``talkcast post`` and ``talkcast demo`` (and plan, cut, transcribe, publish) all come
through ``run_and_report``, so they lock and summarise alike.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from talkcast.app import pipeline
from talkcast.config import Config, ensure_output_dir
from talkcast.errors import ConfigError, TalkcastError
from talkcast.fsutil import FileLock, LockHeld
from talkcast.stage import StageName

LOCK_FILE = ".talkcast.lock"


class OutputBusy(TalkcastError):
    """Another talkcast is working on the same output folder."""

    exit_code = 2


@contextlib.contextmanager
def working_on(cfg: Config) -> Iterator[None]:
    """Hold the output folder for this process: one talkcast per output folder.

    ``OutputBusy`` when another process holds it; ``ConfigError`` naming
    ``event.output_dir`` when the folder cannot be created or written (read-only file
    system, a file in the way, no permission).
    """
    out = ensure_output_dir(cfg)
    lock = FileLock(out / LOCK_FILE)
    try:
        lock.acquire()
    except LockHeld as err:
        raise OutputBusy(f"another talkcast (pid {err.pid or '?'}) is working on {out}/") from None
    except OSError as err:
        reason = err.strerror or str(err)
        raise ConfigError(cfg.file, "event.output_dir", f"{out} is not writable: {reason}") from err
    try:
        yield
    finally:
        lock.release()


def run_and_report(
    cfg: Config,
    options: pipeline.Options,
    *,
    plain: bool | None = None,
    publisher: pipeline.Publisher | None = None,
    notes: tuple[str, ...] = (),
) -> pipeline.RunReport:
    """Run the pipeline with a live display, then print the summary and the archive page's address.

    ``plain`` None picks the display from the terminal; ``notes`` are shown first.
    """
    from talkcast.app.progress import make_display
    from talkcast.app.summary import print_summary

    with working_on(cfg):
        with make_display(plain) as display:
            for note in notes:
                display.message(note)
            report = pipeline.run(cfg, options, display, publisher=publisher)
        if options.stages == (StageName.PLAN,):
            print(f"wrote {cfg.output_dir / 'cuts.toml'}")
        else:
            print_summary(cfg, report)
        if report.archive is not None:
            print(f"archive page: {report.archive.resolve().as_uri()}")
    return report
