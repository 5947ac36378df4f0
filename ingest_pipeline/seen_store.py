"""The versions upload_sensor has decided in queue mode, key -> ETag, in Dagster's key-value
store (the instance's run storage: table `kvs`, one row per key, unique index on the key), so a
tick reads only the keys it looks at instead of decoding a cursor that holds the whole bucket.

Only the sensor writes these rows, and only the NEXT tick writes a tick's decisions: the cursor
carries them as `pending` (sensor_state.py) because Dagster records a tick's run requests and
its cursor together after the sensor function returns, and a row written before that would be
ahead of the run requests (a daemon killed in between would lose the files).

Dagster has no delete for these rows: a forgotten key (its object deleted, so the same content
uploaded again is new) keeps its row with the value FORGOTTEN (""), which reads as absent.

A reconciliation page also reads the decided keys its listing covered (`decided_in`, one
range query on the key's unique index): a decided key the page lacks was deleted, even when
its delete event was lost. Dagster offers no range read, so `DagsterKeyValues` makes this
one query on its `kvs` table itself, comparing keys byte by byte as S3 orders them: on the
key's unique index where the database collates bytewise (SQLite; Postgres of collation C, as
the stack's), else with COLLATE "C", which scans the table.

Dagster's `set_cursor_values` upserts on Postgres, but on SQLite it inserts all the pairs or,
when any key exists already, only updates the existing rows (the new keys are dropped without
an error): so `write` reads which keys exist and writes new and existing keys apart, in chunks
(SQLite binds at most 32766 values a statement).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Protocol

import dagster as dg
import sqlalchemy as sa
from dagster._core.storage.runs.schema import KeyValueStoreTable
from dagster._core.storage.runs.sql_run_storage import SqlRunStorage

from ingest_pipeline.sensor_state import KeyRange, overlay

#: Every row's key starts with this (the kvs table is shared with Dagster's own cursors).
NAMESPACE = "ingest_pipeline.upload_sensor.seen:"
#: The value of a key decided once and forgotten since (a row cannot be deleted).
FORGOTTEN = ""
#: Keys per statement, reading and writing.
CHUNK = 500


class KeyValues(Protocol):
    """What Dagster's run storage offers (`instance.run_storage`), and a range read."""

    def get_cursor_values(self, keys: set[str]) -> Mapping[str, str]: ...

    def set_cursor_values(self, pairs: Mapping[str, str]) -> None: ...

    def cursor_values_in(self, keys: KeyRange, limit: int, unless: str) -> Mapping[str, str]: ...


@dataclass(frozen=True)
class DagsterKeyValues:
    """The instance's run storage, plus a range read over its `kvs` table."""

    storage: SqlRunStorage

    def get_cursor_values(self, keys: set[str]) -> Mapping[str, str]:
        return self.storage.get_cursor_values(keys)

    def set_cursor_values(self, pairs: Mapping[str, str]) -> None:
        self.storage.set_cursor_values(pairs)

    def cursor_values_in(self, keys: KeyRange, limit: int, unless: str) -> Mapping[str, str]:
        """The first `limit` pairs in key order whose key `keys` holds and whose value is not
        `unless`."""
        with self.storage.connect() as conn:
            column: sa.ColumnElement[str] = KeyValueStoreTable.c.key
            if not _compares_bytes(conn):
                column = KeyValueStoreTable.c.key.collate("C")
            low = column >= keys.low if keys.low_included else column > keys.low
            high = column <= keys.high if keys.high_included else column < keys.high
            query = (
                sa.select(KeyValueStoreTable.c.key, KeyValueStoreTable.c.value)
                .where(low, high, KeyValueStoreTable.c.value != unless)
                .order_by(column)
                .limit(limit)
            )
            return {key: value for key, value in conn.execute(query)}


def _compares_bytes(conn: sa.Connection) -> bool:
    """Whether the database orders text by bytes already (SQLite; Postgres under C, POSIX or
    C.UTF-8, as the stack's): then the key index serves the range read, which an explicit
    COLLATE "C" would turn into a scan of the whole table. Asked of the database itself, so a
    linguistic collation of either provider (libc, ICU) is found out."""
    if conn.dialect.name != "postgresql":
        return True  # SQLite's default BINARY collation
    return bool(conn.execute(sa.text(_BYTEWISE_PROBE)).scalar())


#: Linguistic collations sort case and punctuation apart from the bytes' order.
_BYTEWISE_PROBE = "SELECT 'B' < 'a' AND 'Z' < '_' AND '/' < '0' AND 'z' < 'é'"


def _chunks(keys: Iterable[str]) -> Iterable[list[str]]:
    ordered = sorted(set(keys))
    for start in range(0, len(ordered), CHUNK):
        yield ordered[start : start + CHUNK]


@dataclass(frozen=True)
class SeenStore:
    """key -> ETag of the decided versions, over a KeyValues store."""

    values: KeyValues

    @classmethod
    def of(cls, instance: dg.DagsterInstance) -> SeenStore:
        storage = instance.run_storage
        if not isinstance(storage, SqlRunStorage):
            raise TypeError(f"the upload sensor needs SQL run storage, not {type(storage)}")
        return cls(DagsterKeyValues(storage))

    def _stored(self, keys: Iterable[str]) -> dict[str, str]:
        """key -> stored value (FORGOTTEN included) of those of `keys` that have a row."""
        stored: dict[str, str] = {}
        for chunk in _chunks(keys):
            rows = self.values.get_cursor_values({NAMESPACE + key for key in chunk})
            stored.update((name.removeprefix(NAMESPACE), value) for name, value in rows.items())
        return stored

    def lookup(self, keys: Iterable[str]) -> dict[str, str]:
        """key -> ETag of those of `keys` decided (not forgotten)."""
        return {key: etag for key, etag in self._stored(keys).items() if etag != FORGOTTEN}

    def decided_in(self, keys: KeyRange, limit: int) -> dict[str, str]:
        """key -> ETag of the decided keys in the range, the first `limit` of them in key
        order (a forgotten key is not decided, and not counted)."""
        rows = self.values.cursor_values_in(keys.within(NAMESPACE), limit, unless=FORGOTTEN)
        return {name.removeprefix(NAMESPACE): etag for name, etag in rows.items()}

    def write(self, changes: Mapping[str, str]) -> int:
        """Store key -> ETag (FORGOTTEN: forget the key); the number of rows written. A value
        already stored is not written again (a tick run twice writes nothing the second time),
        nor is FORGOTTEN for a key that has no row."""
        written = 0
        for chunk in _chunks(changes):
            stored = self._stored(chunk)
            todo = {k: changes[k] for k in chunk if stored.get(k, FORGOTTEN) != changes[k]}
            for rows in (
                {NAMESPACE + k: v for k, v in todo.items() if k in stored},
                {NAMESPACE + k: v for k, v in todo.items() if k not in stored},
            ):
                if rows:
                    self.values.set_cursor_values(rows)
            written += len(todo)
        return written


def decided_etag(instance: dg.DagsterInstance, pending: dict[str, str], key: str) -> str | None:
    """The ETag decided for `key` as the sensor's next tick will see it: its cursor's pending
    decisions over the store, by the tick's own rule (None: not decided, or forgotten)."""
    stored = {} if key in pending else SeenStore.of(instance).lookup([key])
    return overlay(stored, pending, [key]).get(key)
