"""The active warnings of one source, raised and cleared, each change journaled once.

Journal: a ``health`` entry whose ``data`` names the source and the check
(``{"programme": "silence"}``), with ``state`` "raised" and the warning's text, or
"cleared" with how long it lasted (``after``, seconds) and, if known, why (``reason``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping

from talkcast.errors import JournalError
from talkcast.journal import JournalWriter, Kind

log = logging.getLogger(__name__)


class WarningBoard:
    """The active warnings of one source ("programme", "youtube"), each journaled when it changes."""

    def __init__(self, source: str, journal: JournalWriter, note: Callable[..., None]) -> None:
        self.source = source
        self.journal = journal
        self.note = note
        self.active: dict[str, str] = {}  # check -> its current text
        self.raised: dict[str, int] = {}  # check -> times raised since start
        self._since: dict[str, float] = {}

    def update(self, found: Mapping[str, str], *, reason: str = "") -> None:
        """Make ``found`` the active warnings: new ones are raised, missing ones cleared."""
        now = time.monotonic()
        for check, text in found.items():
            if check not in self.active:
                self._since[check] = now
                self.raised[check] = self.raised.get(check, 0) + 1
                self.note(text, level=logging.WARNING)
                self._journal({self.source: check, "state": "raised", "warning": text})
        for check in [c for c in self.active if c not in found]:
            lasted = round(now - self._since.pop(check, now), 1)
            self.note(f"{self.source} {check}: cleared after {lasted:g} s" + (f" ({reason})" if reason else ""))
            data: dict[str, object] = {self.source: check, "state": "cleared", "after": lasted}
            self._journal(data | ({"reason": reason} if reason else {}))
        self.active = dict(found)

    def messages(self) -> list[str]:
        """The active warnings' texts, for the snapshot."""
        return list(self.active.values())

    def _journal(self, data: dict[str, object]) -> None:
        try:
            self.journal.record(Kind.HEALTH, data=data)
        except JournalError as err:  # a full disk must not stop the checks (the metric counts it)
            log.error("%s", err)
