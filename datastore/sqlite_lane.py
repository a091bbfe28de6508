"""The SQLite write lane: one writing connection per process, one transaction on it at a time.

Why a lane. SQLite has one writer per file. Before it, every request's transaction took an
asyncio lock and then hopped to the connection's thread once per statement; between hops the
event loop served everything else that was ready (parsing and validating other requests), so
under 32 connections a transaction of 25 statements held the lock for 25 turns of a busy loop,
and every other writer queued behind it: throughput at 32 connections fell below 1.

Here a transaction takes the lane (an asyncio lock: writers of this process queue in memory,
so at most one per process ever waits on SQLite's own lock) and runs everything *inline*, on
the event loop's thread: ``BEGIN IMMEDIATE``, its statements, ``COMMIT``. Holding SQLite's
write lock, in WAL mode, a statement never waits on anyone, and a few microseconds of SQLite
cost less than a thread hop (each a wake-up of another thread, and on a busy machine a wait
for a core: two hops per transaction were most of an accept's wall time). ``COMMIT`` appends
the transaction's pages to the WAL without syncing (``synchronous=NORMAL``), so it does not
wait either, as long as it does not checkpoint: this connection never checkpoints by itself
(``wal_autocheckpoint=0``). Once the WAL has grown past the threshold (16 MB, four times
SQLite's usual one), a commit hands a checkpoint (which copies pages back and syncs the file)
to the lane's thread and the lane is handed on when it is done: the loop never waits for the
disk, and the next writer of this process waits as it would have behind SQLite's own
auto-checkpoint. The checkpoint holds SQLite's write lock while it copies (see
:meth:`WriteLane._checkpoint`), so that it finishes and the next writer starts the WAL over
even while other processes write.

Waiting for another process's writer is not left to SQLite's busy handler: ``BEGIN IMMEDIATE``
fails at once while another process writes, and is tried again inline every millisecond (the
loop serving everything else in between), up to the busy timeout, which runs from when the
writer asked for the lane (its wait behind this process's other writers counts); SQLite's own
handler sleeps in growing steps (up to 100 ms) and would keep this process's whole lane
waiting long after the other writer committed. A statement outside any transaction
(:meth:`WriteLane.run`) and the checkpoint wait the same way on the lane's thread. The wait
stops at once when the transaction that waits is cancelled.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import sqlite3
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
# Then the last, until the busy timeout. Every 2 ms left SQLite's lock idle for a millisecond
# on average after each commit of another worker; a try costs about 25 microseconds.
_RETRY_SECONDS = (0.0005, 0.001)
CHECKPOINT_BYTES = 4000 * 4096
"""How long the WAL grows before a checkpoint, four times SQLite's own threshold. An accept
appends about 70 pages (its rows and the leaves of some 40 indexes), and with the usual 1,000
pages two workers checkpointed some twenty times a second, each holding the write lock 6-9 ms:
a checkpoint copies each page once however often it was written since, so checkpointing a
quarter as often copies far fewer pages in all."""
CACHED_STATEMENTS = 512
"""Prepared statements kept per connection (sqlite3's default, 128, is fewer than the distinct
statements the API's reads and writes use)."""


@contextlib.contextmanager
def unavailable_on_error() -> Iterator[None]:
    """SQLite errors that say the file cannot be used now, as :class:`StoreUnavailableError`."""
    try:
        yield
    except sqlite3.Error as error:
        raise_if_unavailable(error)
        raise


def raise_if_unavailable(error: sqlite3.Error) -> None:
    """Raise :class:`StoreUnavailableError` if ``error`` says the file cannot be used now (for
    the statements of a transaction, which catch errors themselves: a context manager around
    each was a fair part of what running one cost in Python)."""
    code = getattr(error, "sqlite_errorcode", None)
    if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
        raise StoreUnavailableError(f"SQLite database unavailable: {error}") from error


class WriteLane:
    """The writing connection, its thread, and the lock that makes one transaction at a time."""

    def __init__(
        self, path: Path, busy_timeout_ms: int, checkpoint_bytes: int = CHECKPOINT_BYTES
    ) -> None:
        self.path = path
        self.busy_timeout_ms = busy_timeout_ms
        self.checkpoint_bytes = checkpoint_bytes
        self._connection: sqlite3.Connection | None = None
        self._holder: sqlite3.Connection | None = None
        self._thread: ThreadPoolExecutor | None = None
        self._lock = asyncio.Lock()
        self._wal = f"{path}-wal"  # a str: os.stat on it costs a third of Path.stat

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
            # The lane waits for other writers itself, and checkpoints on a thread of its
            # own (see the module docstring).
            connection.execute("PRAGMA busy_timeout=0")
            connection.execute("PRAGMA wal_autocheckpoint=0")
            # A WAL reset after a checkpoint truncates the file back to this size, so its size
            # tells how much has been written since (see commit).
            connection.execute(f"PRAGMA journal_size_limit={int(self.checkpoint_bytes)}")
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
                    await asyncio.wrap_future(thread.submit(self._close_both, connection))
        thread.shutdown(wait=False)

    def _close_both(self, connection: sqlite3.Connection) -> None:
        holder, self._holder = self._holder, None
        try:
            if holder is not None:
                holder.close()
        finally:
            connection.close()

    @property
    def connection(self) -> sqlite3.Connection:
        if self._connection is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        return self._connection

    async def run(self, job: Callable[[sqlite3.Connection], T]) -> T:
        """Run ``job`` on the connection, on the lane's thread, outside any transaction (a
        statement that commits on its own: it may wait for another process's writer)."""
        connection = self.connection
        deadline = self._deadline()

        def run_then_checkpoint() -> T:
            result = self._retrying(lambda: job(connection), deadline)
            if self._wal_is_long():
                self._checkpoint(connection)
            return result

        await self._take(deadline)
        try:
            job_done = self._queue_job(run_then_checkpoint)
        except BaseException:
            self._lock.release()
            raise
        try:
            with unavailable_on_error():
                result = await asyncio.wrap_future(job_done)
        except BaseException:
            # Cancelled, the job may still be running on the connection: the lane is handed
            # on once it is over, never while (the next transaction runs inline).
            self._release_after(lambda: job_done)
            raise
        self._lock.release()
        return result

    async def begin(self) -> None:
        """Take the lane and open a write transaction (``BEGIN IMMEDIATE``); on failure or
        cancellation the lane is released and no transaction stays open.

        While another process writes, ``BEGIN IMMEDIATE`` fails at once (no busy handler);
        it is tried again inline every millisecond, the loop serving everything else
        in between, up to the busy timeout. Inline, not on the lane's thread: a thread that
        got the lock would hold SQLite's write lock, every other process's writers waiting,
        until it got the GIL back from a busy loop (up to the 5 ms switch interval) and the
        loop then came to run the transaction; with two workers that idle hold was most of
        what one accept held the lock for."""
        connection = self.connection
        deadline = self._deadline()
        await self._take(deadline)
        try:
            waits = self._waits(deadline)
            while True:
                try:
                    connection.execute("BEGIN IMMEDIATE")
                    return  # the usual case, at the first try: no other process was writing
                except sqlite3.Error as error:
                    pause = next(waits, None) if busy(error) else None
                    if pause is None:
                        raise_if_unavailable(error)
                        raise
                await asyncio.sleep(pause)
        except BaseException:
            self._lock.release()
            raise

    def rollback(self) -> None:
        """End the open transaction with nothing written, and hand the lane on. Inline: a
        rollback in WAL mode discards pages and waits on no one."""
        try:
            _rollback(self.connection)
        finally:
            self._lock.release()

    def commit(self) -> None:
        """``COMMIT`` inline and hand the lane on; on failure the transaction is rolled back
        (and the error raised, as :class:`StoreUnavailableError` when the file is at fault).

        Once the WAL has grown past the threshold, the lane is handed on only after a
        checkpoint on the thread (:meth:`_checkpoint`): the committed transaction does not
        wait for it (the loop goes on), the next writer of this process does."""
        connection = self.connection
        try:
            with unavailable_on_error():
                _commit(connection)
            long = self._wal_is_long()
        except BaseException:
            self._lock.release()
            raise
        if not long:
            self._lock.release()
            return
        self._release_after(lambda: self._queue(self._checkpoint, connection))

    def _checkpoint(self, connection: sqlite3.Connection) -> None:
        """Copy the WAL back into the database while no one can append to it, so that the
        copy finishes and the next writer (of any process) starts the WAL over; on the lane's
        thread.

        A checkpoint running beside a steady stream of commits never catches up: with two
        worker processes, each one's passive checkpoint ran while the other committed, and
        the WAL grew without end (57 MB in 4 s of accepts), every commit of both then
        checkpointing again and every page read searching a longer WAL. So a second
        connection of the lane holds SQLite's write lock (``BEGIN IMMEDIATE``, waiting for
        other processes as a writer does) while the lane's connection copies (a connection
        cannot checkpoint inside its own transaction; ``PASSIVE`` copies every frame no
        reader still needs, and waits on no one). A checkpoint that cannot run now changes
        nothing committed and is tried again after a later commit."""
        try:
            if self._holder is None:
                # No busy handler: the lane waits for other writers itself (_retrying).
                self._holder = sqlite3.connect(
                    self.path, isolation_level=None, check_same_thread=False, timeout=0
                )
            holder = self._holder
            self._retrying(lambda: holder.execute("BEGIN IMMEDIATE"), self._deadline())
        except sqlite3.Error:
            return
        try:
            connection.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
        except sqlite3.Error:
            pass
        finally:
            _rollback(holder)

    def _wal_is_long(self) -> bool:
        try:
            return os.stat(self._wal).st_size > self.checkpoint_bytes
        except OSError:
            return False

    def _queue(self, job: Callable[[sqlite3.Connection], None], connection: Any) -> Future[None]:
        return self._queue_job(lambda: job(connection))

    def _queue_job(self, job: Callable[[], T]) -> Future[T]:
        if self._thread is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        return self._thread.submit(job)

    def _release_after(self, job: Callable[[], Future[Any]]) -> None:
        """Hand the lane on once the job queued by ``job()`` on the lane's thread is over (at
        once when it cannot be queued)."""
        try:
            queued = job()
        except BaseException:
            self._lock.release()
            raise
        loop = asyncio.get_running_loop()
        queued.add_done_callback(lambda _: _call_soon(loop, self._lock.release))

    def _retrying(self, job: Callable[[], T], deadline: float) -> T:
        """``job`` (one statement that writes nothing when refused), run again while another
        writer holds the file, until ``deadline``; on the lane's thread."""
        waits = self._waits(deadline)
        while True:
            try:
                return job()
            except sqlite3.OperationalError as error:
                pause = next(waits, None) if busy(error) else None
                if pause is None:
                    raise
            time.sleep(pause)

    def _deadline(self) -> float:
        """When a writer asking now gives up: the busy timeout runs from its asking, its wait
        for the lane included. Writers queued behind one that waits for another process each
        waited out a busy timeout of their own, one after the other (of four concurrent
        mutations, three ran into the 10 s request timeout instead of answering
        STORE_UNAVAILABLE after 5 s)."""
        return time.monotonic() + self.busy_timeout_ms / 1000

    async def _take(self, deadline: float) -> None:
        """Take the lane, or raise :class:`StoreUnavailableError` at ``deadline``."""
        if not self._lock.locked():
            await self._lock.acquire()  # free: taken at once (no task, no timer)
            return
        try:
            async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                await self._lock.acquire()
        except TimeoutError:
            raise StoreUnavailableError(
                f"SQLite database unavailable: still busy after {self.busy_timeout_ms} ms "
                "(the writers ahead of it in this process held the lane that long)"
            ) from None

    def _waits(self, deadline: float) -> Iterator[float]:
        """The pauses between tries of a statement refused while another process writes
        (:data:`_RETRY_SECONDS`), until ``deadline``: then none (give up)."""
        for attempt in itertools.count():
            if time.monotonic() >= deadline:
                return
            yield _RETRY_SECONDS[min(attempt, len(_RETRY_SECONDS) - 1)]

    async def _in_thread(self, job: Callable[[], T]) -> T:
        if self._thread is None:
            raise StoreUnavailableError("the SQLite store is not connected")
        with unavailable_on_error():
            return await asyncio.get_running_loop().run_in_executor(self._thread, job)


def busy(error: BaseException | None) -> bool:
    """Whether ``error`` (SQLite's, or the :class:`StoreUnavailableError` raised from it) says
    another connection holds the lock a statement needs: worth trying again, or elsewhere,
    unlike a full disk or a broken file. (``SQLITE_LOCKED`` is a conflict within one
    connection, or a shared cache, which none of ours uses: waiting would not end it.)"""
    if isinstance(error, StoreUnavailableError):
        error = error.__cause__
    code = getattr(error, "sqlite_errorcode", 0) or 0
    return isinstance(error, sqlite3.OperationalError) and code & 0xFF == sqlite3.SQLITE_BUSY


def execute(connection: sqlite3.Connection, sql: str, params: Sequence[Any] = ()) -> list[Any]:
    """Run one statement inline and return its rows (inside a transaction of the lane)."""
    try:
        return connection.execute(sql, params).fetchall()
    except sqlite3.Error as error:
        raise_if_unavailable(error)
        raise


def execute_changing(connection: sqlite3.Connection, sql: str, params: Sequence[Any]) -> int:
    """Run one statement inline and return how many rows it changed (inside a transaction)."""
    try:
        return connection.execute(sql, params).rowcount
    except sqlite3.Error as error:
        raise_if_unavailable(error)
        raise


def _call_soon(loop: asyncio.AbstractEventLoop, callback: Callable[[], None]) -> None:
    with contextlib.suppress(RuntimeError):  # the loop has closed: nobody waits any more
        loop.call_soon_threadsafe(callback)


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
