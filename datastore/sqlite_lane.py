"""The SQLite write lane: one writing connection per process, one transaction on it at a time.

Why a lane. SQLite has one writer per file. Before it, every request's transaction took an
asyncio lock and then hopped to the connection's thread once per statement; between hops the
event loop served everything else that was ready (parsing and validating other requests), so
under 32 connections a transaction of 25 statements held the lock for 25 turns of a busy loop,
and every other writer queued behind it: throughput at 32 connections fell below 1.

Here a transaction takes the lane (an asyncio lock: writers of this process queue in memory,
so at most one per process ever waits on SQLite's own lock), runs ``BEGIN IMMEDIATE`` on the
lane's thread (it may wait for another process's writer, up to the busy timeout, without
blocking the loop), then runs its statements *inline*, on the event loop's thread: holding
SQLite's write lock, in WAL mode, a statement never waits on anyone, and a few microseconds of
SQLite cost less than a thread hop. ``COMMIT`` (which may checkpoint and sync the file) goes
back to the thread, and the lane is handed on as soon as it is queued: the thread runs jobs in
order, so the next ``BEGIN`` runs after it. The lane is held for one hop and the transaction's
own work, not for a hop per statement.

Waiting for another process's writer is done here, not by SQLite's busy handler: that one
sleeps in growing steps (up to 100 ms) and would keep this process's whole lane waiting long
after the other writer committed. The lane retries every millisecond or two instead, up to the
busy timeout, and stops early when the transaction that waits is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

from datastore.store import StoreUnavailableError

T = TypeVar("T")

# Primary result codes that mean the file cannot be used right now, not that a query is wrong.
_UNAVAILABLE_CODES = frozenset(
    {
        sqlite3.SQLITE_BUSY,
        sqlite3.SQLITE_LOCKED,
        sqlite3.SQLITE_NOMEM,
        sqlite3.SQLITE_READONLY,
        sqlite3.SQLITE_IOERR,
        sqlite3.SQLITE_CORRUPT,
        sqlite3.SQLITE_FULL,
        sqlite3.SQLITE_CANTOPEN,
        sqlite3.SQLITE_PROTOCOL,
        sqlite3.SQLITE_NOTADB,
    }
)
_RETRY_SECONDS = (0.0005, 0.001, 0.002)  # then the last, until the busy timeout
CACHED_STATEMENTS = 512
"""Prepared statements kept per connection (sqlite3's default, 128, is fewer than the distinct
statements the API's reads and writes use)."""


@contextlib.contextmanager
def unavailable_on_error() -> Iterator[None]:
    """SQLite errors that say the file cannot be used now, as :class:`StoreUnavailableError`."""
    try:
        yield
    except sqlite3.Error as error:
        code = getattr(error, "sqlite_errorcode", None)
        if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
            raise StoreUnavailableError(f"SQLite database unavailable: {error}") from error
        raise


class WriteLane:
    """The writing connection, its thread, and the lock that makes one transaction at a time."""

    def __init__(self, path: Path, busy_timeout_ms: int) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self._connection: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()

    async def open(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="sqlite-writer")
        self._connection = await self._in_thread(self._connect)

    def _connect(self) -> sqlite3.Connection:
        connection = sqlite3.connect(
            self.path,
            isolation_level=None,
            check_same_thread=False,  # used inline by the loop's thread inside a transaction
            cached_statements=CACHED_STATEMENTS,
        )
        try:
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            # The lane waits for other writers itself (see the module docstring).
            connection.execute("PRAGMA busy_timeout=0")
        except BaseException:
            connection.close()
            raise
        return connection

    async def close(self) -> None:
        connection, thread = self._connection, self._thread
        self._connection = self._thread = None
        if thread is None:
            return
        if connection is not None:
            async with self._lock:
                with contextlib.suppress(sqlite3.Error):
                    await asyncio.wrap_future(thread.submit(connection.close))
        thread.shutdown(wait=False)

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        return self._connection

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on the connection, on the lane's thread, outside any transaction (a
        statement that commits on its own: it may wait for another process's writer)."""
        connection = self.connection
        async with self._lock:
            return await self._in_thread(lambda: self._retrying(lambda: job(connection)))

    async def begin(self) -> None:
        """Take the lane and open a write transaction (``BEGIN IMMEDIATE``); on failure or
        cancellation the lane is released and no transaction stays open."""
        connection = self.connection
        await self._lock.acquire()
        cancelled = threading.Event()
        try:
            await self._in_thread(
                lambda: self._retrying(lambda: connection.execute("BEGIN IMMEDIATE"), cancelled)
            )
        except BaseException:
            cancelled.set()
            # Cancelled while BEGIN waited for another writer: it may still run on the thread,
            # and this ROLLBACK, queued after it, ends it instead of leaving it open.
            self._queue(_rollback, connection)
            self._lock.release()
            raise

    def rollback(self) -> None:
        """End the open transaction with nothing written, and hand the lane on. Inline: a
        rollback in WAL mode discards pages and waits on no one."""
        try:
            _rollback(self.connection)
        finally:
            self._lock.release()

    def commit(self) -> Future[None]:
        """Queue ``COMMIT`` on the thread and hand the lane on at once (the next ``BEGIN``
        queues behind it); the future fails, with the transaction rolled back, if it did."""
        try:
            return self._queue(_commit, self.connection)
        finally:
            self._lock.release()

    def _queue(self, job: Callable[[sqlite3.Connection], None], connection: Any) -> Future[None]:
        if self._thread is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        return self._thread.submit(job, connection)

    def _retrying(self, job: Callable[[], T], cancelled: threading.Event | None = None) -> T:
        """``job`` (one statement that writes nothing when refused), run again while another
        writer holds the file, up to the busy timeout; on the lane's thread."""
        deadline = time.monotonic() + self.busy_timeout_ms / 1000
        for attempt in range(1_000_000):
            try:
                return job()
            except sqlite3.OperationalError as error:
                busy = getattr(error, "sqlite_errorcode", 0) & 0xFF == sqlite3.SQLITE_BUSY
                if not busy or time.monotonic() >= deadline:
                    raise
                if cancelled is not None and cancelled.is_set():
                    raise
            time.sleep(_RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)])
        raise AssertionError("unreachable: the deadline ends the loop first")

    async def _in_thread(self, job: Callable[[], T]) -> T:
        if self._thread is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        with unavailable_on_error():
            return await asyncio.get_running_loop().run_in_executor(self._thread, job)


def execute(connection: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one statement inline and return its rows (inside a transaction of the lane)."""
    with unavailable_on_error():
        return connection.execute(sql, params).fetchall()


def _commit(connection: sqlite3.Connection) -> None:
    try:
        connection.execute("COMMIT")
    except BaseException:
        # A failed COMMIT (disk full) leaves the transaction open: end it before the next BEGIN.
        _rollback(connection)
        raise


def _rollback(connection: sqlite3.Connection) -> None:
    with contextlib.suppress(sqlite3.Error):
        connection.execute("ROLLBACK")
