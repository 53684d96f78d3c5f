"""Atomic file writes: a crash never leaves a half-written file under the final name.

Final outputs (talks, captions, pages, the manifest, cuts.toml) follow the umask, as any
file a program creates would, so a web server running as another user can serve them.
Secrets pass an explicit ``mode`` (0o600). The temporary file is private while it is
written (``mkstemp`` makes it 0600) and gets its final mode just before the rename.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path


def current_umask() -> int:
    """The process umask, read without changing it where Linux allows (else set and restored)."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    # Elsewhere the only way is to set it and put it back (a brief race with other threads).
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def default_file_mode() -> int:
    """The mode a newly created regular file gets under the current umask (0644 under 022)."""
    return 0o666 & ~current_umask()


@contextlib.contextmanager
def atomic_path(final: Path, *, suffix: str | None = None, mode: int | None = None) -> Iterator[Path]:
    """Yield a temporary path beside ``final``; rename it over ``final`` on success.

    The temporary name keeps ``final``'s extension (ffmpeg picks the container from it).
    The file ends with ``mode``, or the umask's default for new files when ``mode`` is None.
    On error the temporary file is removed and ``final`` is left as it was.
    """
    final.parent.mkdir(parents=True, exist_ok=True)
    ext = suffix if suffix is not None else final.suffix
    fd, name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".part{ext}", dir=final.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.chmod(default_file_mode() if mode is None else mode)
        tmp.replace(final)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_write_text(final: Path, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` to ``final`` through a temporary file, fsynced, then renamed.

    ``mode`` None follows the umask (outputs); secrets pass 0o600.
    """
    with atomic_path(final, mode=mode) as tmp, tmp.open("w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


class LockHeld(Exception):
    """Another process holds the lock; ``pid`` is the one it wrote (0 if unreadable)."""

    def __init__(self, path: Path, pid: int) -> None:
        self.path = path
        self.pid = pid
        super().__init__(f"{path} is held by pid {pid or '?'}")


def _read_pid(fd: int) -> int:
    # The holder writes its pid right after locking; a reader may catch the moment between.
    for _ in range(20):
        with contextlib.suppress(ValueError):
            return int(os.pread(fd, 32, 0).decode().strip())
        time.sleep(0.01)
    return 0


class FileLock:
    """An exclusive ``flock`` on ``path`` (created if needed), holding this process's pid.

    The kernel releases the lock when its holder dies, however it dies, so a stale file
    left by a killed process never blocks anyone.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None

    def acquire(self) -> None:
        """Take the lock now; ``LockHeld`` if another process has it, ``OSError`` if it cannot be created."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise LockHeld(self.path, pid) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        self._fd = fd

    def release(self) -> None:
        """Let go of the lock (the file stays: removing it would race with the next taker)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def sha256_file(path: Path) -> str:
    """The SHA-256 of a file's content, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()
