"""How a loop that works in rounds in the background reports a round that failed: the sweep,
following the event log, webhook deliveries, the bulk export worker.

The store being unavailable is trouble that ends by itself: it is logged once, as a warning,
when a loop first meets it, and once, as info, when a round succeeds again. Logged on every
round, the event log's follower (every 50 ms) wrote a traceback twenty times a second for as
long as an outage lasted. Any other error is a bug, logged with its traceback every time.
"""

from __future__ import annotations

import logging
import sys
import time

from datastore.store import STORE_TROUBLE


class RoundFailures:
    """One per loop: :meth:`failed` in its ``except`` block, :meth:`succeeded` after a round."""

    def __init__(self, logger: logging.Logger, what: str) -> None:
        self._logger = logger
        self._what = what
        self._away_since: float | None = None

    @property
    def store_away(self) -> bool:
        """Whether the last round failed because the store was unavailable."""
        return self._away_since is not None

    def failed(self) -> None:
        """Report the exception being handled."""
        error = sys.exc_info()[1]
        if not isinstance(error, STORE_TROUBLE):
            self._logger.exception("%s failed; retrying", self._what)
            return
        if self._away_since is None:
            self._away_since = time.monotonic()
            self._logger.warning(
                "%s: the store is unavailable (%s); retrying until it answers", self._what, error
            )

    def succeeded(self) -> None:
        if self._away_since is not None:
            away = time.monotonic() - self._away_since
            self._away_since = None
            self._logger.info("%s: the store answers again (after %.0f s)", self._what, away)
