"""Reading a ledger's number space block by block, for reconciliation between tiers.

The ledger is read along its primary key (code, number): SQL aggregates each block of numbers
(1,024, or the larger size a summary chose: :func:`receipts.reconcile.blocks.block_size_for`)
into its sum and the concatenated numbers, digests and totals, so no receipt goes through
Python one by one, nothing sorts the whole ledger, and memory is bounded by a few blocks.

Two readers share the work, each on its own connection and one thread (blocks with even indexes
to one, odd to the other): the database works while Python hashes, and on both cores. Both read
the same snapshot: on PostgreSQL the second imports the first's (``SET TRANSACTION SNAPSHOT``);
on SQLite both must see the same event count, as every change of receipts appends an event.
"""

from __future__ import annotations

import contextlib
import functools
import queue
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Select,
    String,
    bindparam,
    cast,
    func,
    literal_column,
    select,
)

from receipts.errors import EnvironmentFailure, ReceiptError
from receipts.ledger.database import Database
from receipts.ledger.models import LedgerState, ReceiptRow
from receipts.ledger.partitions import year_of
from receipts.reconcile.blocks import BLOCK_SIZE, Block, BlockKey

__all__ = ["READERS", "LedgerInconsistent", "block_count", "ledger_blocks", "ledger_issuers"]

#: Threads (and connections) reading one ledger. Python's share of the work holds the GIL, so
#: more than two would gain little.
READERS = 2
_SNAPSHOT_ID = re.compile(r"[0-9A-F]+-[0-9A-F]+(-[0-9]+)?")
_QUEUED = 8  # blocks waiting for the consumer, per reader


class LedgerInconsistent(ReceiptError):
    """A ledger row cannot be read for reconciliation (``receipts audit`` says more)."""

    exit_code = 1


def ledger_issuers(db: Database, own: str) -> tuple[str, ...]:
    """Every issuer with receipts in this ledger, and this federation itself."""
    # A skip scan of the issuer index: one seek per issuer, not a pass over every receipt.
    after = select(func.min(ReceiptRow.issuer)).where(ReceiptRow.issuer > bindparam("after"))
    found = {own}
    with db.read() as session:
        issuer = session.scalar(after, {"after": ""})
        while issuer is not None:
            found.add(issuer)
            issuer = session.scalar(after, {"after": issuer})
    return tuple(sorted(found))


def block_count(db: Database, issuers: Sequence[str]) -> Callable[[int], int]:
    """A bound on the number of non-empty blocks of ``issuers`` a summary would state, as a
    function of the block size: per receipt code of their provinces, the blocks between its
    lowest and highest number. Two index seeks per code, not a pass over the receipts."""
    r, code, last = ReceiptRow, bindparam("code", type_=String), bindparam("last", type_=String)
    next_code = select(func.min(r.code)).where(r.code > code, r.code <= last)
    span = select(func.min(r.number), func.max(r.number)).where(
        r.code == code, r.issue_year == year_of(code)
    )
    spans: list[tuple[int, int]] = []
    with db.read() as session:
        for province in sorted({issuer[:2] for issuer in issuers}):
            bounds = {"last": province + "9" * 6}
            found = session.scalar(next_code, {"code": province, **bounds})
            while found is not None:
                low, high = session.execute(span, {"code": found}).one()
                if low is not None:
                    spans.append((low, high))
                found = session.scalar(next_code, {"code": found, **bounds})
    return lambda size: sum(high // size - low // size + 1 for low, high in spans)


@contextmanager
def ledger_blocks(
    db: Database,
    issuers: Sequence[str],
    keys: Sequence[BlockKey] | None = None,
    totals: bool = True,
    readers: int = READERS,
    size: int = BLOCK_SIZE,
) -> Iterator[tuple[int, Iterator[Block]]]:
    """The ledger's event count and its non-empty blocks of ``size`` numbers of ``issuers``
    (with ``keys``, only those blocks, of their own size), read from one consistent snapshot,
    in no particular order. Without ``totals``, the blocks know their sums but not each
    receipt's total (enough for their summaries, not for fingerprints or listings)."""
    if keys:
        size = keys[0].size
        if any(k.size != size for k in keys):
            raise ValueError("blocks of several sizes")
    with _snapshot(db, max(1, readers)) as (events, conns):
        scope, shares = set(issuers), len(conns)
        work: list[Callable[[], Iterator[Block]]] = []
        for share, conn in enumerate(conns):
            reader = _BlockReader(conn, totals, size)
            if keys is None:
                work.append(functools.partial(reader.walk, scope, share, shares))
            else:
                mine = [k for k in keys[share::shares] if k.issuer in scope]
                work.append(functools.partial(reader.these, mine))
        if len(work) == 1:
            yield events, work[0]()
        else:
            with _Merged(work) as merged:
                yield events, iter(merged)


@contextmanager
def _snapshot(db: Database, count: int) -> Iterator[tuple[int, list[Connection]]]:
    """``count`` connections in read transactions that all see the same snapshot."""
    options = {} if db.is_sqlite else {"isolation_level": "REPEATABLE READ"}
    state = select(LedgerState.event_count).where(LedgerState.id == 1)
    for _attempt in range(20):
        with ExitStack() as stack:
            conns = []
            for _ in range(count):
                conn = stack.enter_context(db.engine.connect().execution_options(**options))
                stack.enter_context(conn.begin())
                conns.append(conn)
            first = conns[0]
            if not db.is_sqlite and count > 1:
                snapshot = first.exec_driver_sql("SELECT pg_export_snapshot()").scalar_one()
                if not _SNAPSHOT_ID.fullmatch(snapshot):  # server-made; checked, then quoted
                    raise EnvironmentFailure(f"unexpected PostgreSQL snapshot id {snapshot!r}")
                for conn in conns[1:]:
                    conn.exec_driver_sql(f"SET TRANSACTION SNAPSHOT '{snapshot}'")
            counts = {conn.scalar(state) or 0 for conn in conns}
            if len(counts) == 1:
                yield counts.pop(), conns
                return
            # SQLite: a write committed between two connections' first reads; try again
    raise EnvironmentFailure("the ledger kept changing while its snapshot was being taken")


class _Merged:
    """Runs each producer in its own thread and yields their blocks as they come; the threads
    stop when the consumer does, and a producer's exception is raised to the consumer."""

    _DONE = object()

    def __init__(self, producers: list[Callable[[], Iterator[Block]]]) -> None:
        self._queue: queue.Queue[Any] = queue.Queue(_QUEUED * len(producers))
        self._stop = threading.Event()
        self._threads = [
            threading.Thread(target=self._run, args=(p,), daemon=True) for p in producers
        ]

    def __enter__(self) -> _Merged:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        while any(t.is_alive() for t in self._threads):
            with contextlib.suppress(queue.Empty):  # make room for a producer waiting to put
                self._queue.get(timeout=0.05)
        for thread in self._threads:
            thread.join()

    def __iter__(self) -> Iterator[Block]:
        running = len(self._threads)
        while running:
            item = self._queue.get()
            if item is self._DONE:
                running -= 1
            elif isinstance(item, BaseException):
                raise item
            else:
                yield item

    def _run(self, producer: Callable[[], Iterator[Block]]) -> None:
        try:
            for block in producer():
                if not self._put(block):
                    return
        except BaseException as error:  # handed to the consumer, raised there
            self._put(error)
            return
        self._put(self._DONE)

    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False


class _Prepared:
    """A query compiled once and run on the DBAPI cursor, parameters bound. The reader's
    queries are small and run once per block: SQLAlchemy's work per execution cost as much as
    a fifth of the whole read."""

    def __init__(self, conn: Connection, query: Select[Any]) -> None:
        self._compiled = query.compile(dialect=conn.dialect)
        self._sql = self._compiled.string
        self._order = self._compiled.positiontup  # None when the driver takes named parameters
        self._cursor = conn.connection.cursor()

    def run(self, **params: object) -> list[Any]:
        bound = self._compiled.construct_params(params)
        self._cursor.execute(
            self._sql, bound if self._order is None else tuple(bound[name] for name in self._order)
        )
        return list(self._cursor.fetchall())

    def value(self, **params: object) -> Any:
        (row,) = self.run(**params)
        return row[0]


class _BlockReader:
    """Reads blocks along the primary key (code, number): one aggregate per block (split by
    issuer only where a block has several) and a seek over empty stretches."""

    def __init__(self, conn: Connection, totals: bool, size: int = BLOCK_SIZE) -> None:
        self._size = size
        r, at = ReceiptRow, bindparam("at", type_=BigInteger)
        code, issuer = bindparam("code", type_=String), bindparam("issuer", type_=String)
        # group_concat / string_agg with constant separators: aggregate_strings() would bind its
        # separator on every execution. No ORDER BY inside them: the aggregates of one query
        # see the rows in one order, so numbers, digests and totals pair up whatever it is; it
        # is number order when the covering index is scanned, and anything else is parsed and
        # sorted (_numbers, Block). On PostgreSQL, ORDER BY cost a third more server time.
        concat = func.group_concat if conn.dialect.name == "sqlite" else func.string_agg
        comma, nothing = literal_column("','", String), literal_column("''", String)
        each_total = concat(cast(r.total_fen, String), comma) if totals else literal_column("NULL")
        # numbers as offsets in their block (0-1023): see _numbers
        columns = (
            func.sum(r.total_fen),
            concat(cast(r.number - at, String), comma),
            concat(r.digest, nothing),
            each_total,
        )
        # The code's year: one partition of the receipts table is read (receipts.ledger.partitions)
        in_block = (
            r.code == code,
            r.issue_year == year_of(code),
            r.number.between(at, at + (size - 1)),
        )
        last = bindparam("last", type_=String)
        self._first_code = _Prepared(
            conn, select(func.min(r.code)).where(r.code > code, r.code <= last)
        )
        self._next_number = _Prepared(
            conn,
            select(func.min(r.number)).where(
                r.code == code, r.issue_year == year_of(code), r.number >= at
            ),
        )
        self._whole = _Prepared(
            conn, select(func.min(r.issuer), func.max(r.issuer), *columns).where(*in_block)
        )
        self._by_issuer = _Prepared(
            conn, select(r.issuer, *columns).where(*in_block).group_by(r.issuer)
        )
        self._of_one = _Prepared(conn, select(*columns).where(*in_block, r.issuer == issuer))

    def walk(self, scope: set[str], share: int = 0, shares: int = 1) -> Iterator[Block]:
        """The non-empty blocks of the issuers in ``scope`` whose index is ``share`` modulo
        ``shares``, in (code, index) order."""
        # A receipt code starts with its issuer's province (``docs/formats.md``; checked on
        # every receipt), so only those provinces' codes are read: the national ledger,
        # reconciling with one province, does not read the other thirty.
        for province in sorted({issuer[:2] for issuer in scope}):
            yield from self._walk_codes(scope, share, shares, province)

    def _walk_codes(
        self, scope: set[str], share: int, shares: int, province: str
    ) -> Iterator[Block]:
        last, size = province + "9" * 6, self._size
        code = self._first_code.value(code=province, last=last)
        while code is not None:
            number = self._next_number.value(code=code, at=0)
            while number is not None:
                index = number // size
                index += (share - index) % shares  # the first block of this share from here
                at = index * size
                ((low, high, *rest),) = self._whole.run(code=code, at=at)
                rows: Sequence[Any] = [(low, *rest)]
                if low != high:
                    rows = self._by_issuer.run(code=code, at=at)
                for issuer, total, numbers, digests, totals in rows:
                    if issuer in scope:
                        key = BlockKey(issuer, code, index, size)
                        yield _block(key, total, numbers, digests, totals)
                number = (index + shares) * size
                if low is None:  # an empty block: seek the next receipt
                    number = self._next_number.value(code=code, at=at + size)
            code = self._first_code.value(code=code, last=last)

    def these(self, keys: Sequence[BlockKey]) -> Iterator[Block]:
        """The blocks ``keys`` names that hold receipts, in that order."""
        for key in keys:
            ((total, numbers, digests, totals),) = self._of_one.run(
                code=key.code, at=key.first, issuer=key.issuer
            )
            if numbers is not None:
                yield _block(key, total, numbers, digests, totals)


def _block(key: BlockKey, total: int, offsets: str, digests: str, totals: str | None) -> Block:
    try:
        numbers = _numbers(key.first, key.size, offsets)
        return Block(key, numbers, bytes.fromhex(digests), totals, int(total))
    except ValueError as error:
        raise LedgerInconsistent(f"ledger {key}: {error} (run 'receipts audit')") from None


@functools.cache
def _all_offsets(size: int) -> tuple[str, list[int], list[int]]:
    """ "0,1,2,…,size − 1" and where each offset starts and ends in it."""
    starts = [0]
    for offset in range(size - 1):
        starts.append(starts[-1] + len(str(offset)) + 1)
    ends = [start + len(str(offset)) for offset, start in enumerate(starts)]
    return ",".join(map(str, range(size))), starts, ends


def _numbers(first: int, size: int, offsets: str) -> Sequence[int]:
    """A block's numbers from the comma-separated offsets the database concatenated. Most blocks
    are a run of consecutive numbers in order: recognised by comparing the text with a slice of
    "0,1,…,size − 1" (no parsing), they become a ``range``, which also proves the digests were
    concatenated in number order. Others are parsed (and sorted by :class:`Block`)."""
    low = offsets[: offsets.find(",")] if "," in offsets else offsets
    high = offsets[offsets.rfind(",") + 1 :]
    if low.isdigit() and high.isdigit():
        a, b = int(low), int(high)
        every, starts, ends = _all_offsets(size)
        if a <= b < size and offsets == every[starts[a] : ends[b]]:
            return range(first + a, first + b + 1)
    return [first + int(offset) for offset in offsets.split(",")]
