"""The SQL side of DruidResource: what the broker says about rows, columns and segments.

A mixin so druid.py stays about tasks and load status; every query goes through `sql` with
typed parameters (never interpolated values).
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import httpx

from ingest_pipeline.records import (
    NO_ROWS,
    DatasourceSummary,
    SegmentsServed,
    SegmentStats,
    SourceRows,
)
from ingest_pipeline.resources.druid_wire import (
    ETERNITY_START,
    DruidRefused,
    SchemaBehind,
    iso_millis,
    names_schema_lag,
    parse_druid_time,
    parse_segment_bound,
    quote_identifier,
    sql_parameter,
)
from ingest_pipeline.vocabulary import SOURCE_KEY_COLUMN


def first_row(rows: list[dict[str, Any]], **empty: Any) -> dict[str, Any]:
    """The one row of an aggregate query. Druid answers a COUNT over sys.segments that matches
    nothing with no row at all (seen when every segment was dropped): that is `empty`."""
    return rows[0] if rows else dict(empty)


class DruidQueries:
    """Broker SQL queries; the resource supplies `request` and the broker's URL."""

    def broker_base_url(self) -> str:
        raise NotImplementedError

    def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        ok_status: Sequence[int] = (200, 202),
    ) -> httpx.Response:
        raise NotImplementedError

    def broker_serves_all(self, datasource: str) -> bool:
        """Every live segment of the datasource is available to queries, as the broker sees it."""
        rows = self.sql(
            "SELECT COUNT(*) AS live, COUNT(*) FILTER (WHERE is_available = 1) AS available "
            "FROM sys.segments WHERE datasource = ? AND is_published = 1 "
            "AND is_overshadowed = 0",
            [datasource],
        )
        row = first_row(rows, live=0, available=0)
        return bool(row["live"]) and row["live"] == row["available"]

    def broker_sees(self, datasource: str) -> bool:
        rows = self.sql(
            "SELECT COUNT(*) AS n FROM INFORMATION_SCHEMA.TABLES "
            "WHERE TABLE_SCHEMA = 'druid' AND TABLE_NAME = ?",
            [datasource],
        )
        return bool(rows and rows[0]["n"] > 0)

    def sql(
        self,
        query: str,
        parameters: Sequence[object] = (),
        context: Mapping[str, Any] | None = None,
    ) -> list[dict[str, Any]]:
        url = f"{self.broker_base_url()}/druid/v2/sql"
        body = {
            "query": query,
            "parameters": [sql_parameter(p) for p in parameters],
            "resultFormat": "object",
            "context": dict(context or {}),
        }
        return list(self.request("POST", url, json=body, ok_status=(200,)).json())

    def source_rows(self, datasource: str, source_key: str) -> SourceRows:
        """How many rows of one uploaded file the datasource holds, and their span."""
        rows = self.sql(
            f"SELECT COUNT(*) AS n, MIN(__time) AS t0, MAX(__time) AS t1 "
            f'FROM {quote_identifier(datasource)} WHERE "__source_key" = ?',
            [source_key],
        )
        row = first_row(rows, n=0)
        count = int(row["n"])
        if not count:
            return SourceRows(0, None, None)
        return SourceRows(count, parse_druid_time(row["t0"]), parse_druid_time(row["t1"]))

    def datasource_summary(self, datasource: str) -> DatasourceSummary | None:
        """Rows, time range, files and segments of a datasource; None if the broker has no
        such table (never ingested, or every segment dropped)."""
        if not self.broker_sees(datasource):
            return None
        summary = self.sql(
            'SELECT COUNT(*) AS "rows", MIN(__time) AS t0, MAX(__time) AS t1, '
            f'COUNT(DISTINCT "__source_key") AS source_files FROM {quote_identifier(datasource)}',
            context={"useApproximateCountDistinct": False},
        )[0]
        segments = first_row(
            self.sql(
                "SELECT COUNT(*) AS n FROM sys.segments WHERE datasource = ? AND is_published = 1 "
                "AND is_overshadowed = 0",
                [datasource],
            ),
            n=0,
        )["n"]
        rows = int(summary["rows"])
        return DatasourceSummary(
            rows=rows,
            first=parse_druid_time(summary["t0"]) if rows else None,
            last=parse_druid_time(summary["t1"]) if rows else None,
            source_files=int(summary["source_files"]),
            segments=int(segments),
        )

    def wait_for_source_rows(
        self, datasource: str, expected: Mapping[str, int], timeout_seconds: float
    ) -> dict[str, SourceRows]:
        """Poll until the broker returns, for each file (S3 key), its `expected` row count
        (one query for all of them); the last answer if not."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            try:
                found = self.rows_by_source(datasource, list(expected))
            except DruidRefused as error:
                if not names_schema_lag(error, datasource):
                    raise
                found = {}  # the broker forgot the table or our column (see names_schema_lag): wait
            rows = {key: found.get(key, NO_ROWS) for key in expected}
            if all(rows[k].count == n for k, n in expected.items()):
                return rows
            if time.monotonic() > deadline:
                return rows
            time.sleep(1.0)

    def segment_interval(self, datasource: str) -> tuple[datetime, datetime] | None:
        """(start, end) of one live segment of the datasource, or None if it has none."""
        rows = self.sql(
            'SELECT "start", "end" FROM sys.segments WHERE datasource = ? '
            "AND is_published = 1 AND is_overshadowed = 0 LIMIT 1",
            [datasource],
        )
        if not rows:
            return None
        return parse_segment_bound(rows[0]["start"]), parse_segment_bound(rows[0]["end"])

    def wait_for_segments_served(
        self, datasource: str, start: datetime, end: datetime, timeout_seconds: float
    ) -> SegmentsServed:
        """Poll `segments_served` until every live segment over [start, end] is queryable; the
        last answer if not. A neighbour's append can publish a segment in the same time chunk a
        moment before the historical loads it: that is a wait, not a failure."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            served = self.segments_served(datasource, start, end)
            if served.all_available or time.monotonic() > deadline:
                return served
            time.sleep(1.0)

    def segments_served(self, datasource: str, start: datetime, end: datetime) -> SegmentsServed:
        """Live segments overlapping [start, end] and how many of them queries can reach now."""
        rows = self.sql(
            "SELECT COUNT(*) AS live, COUNT(*) FILTER (WHERE is_available = 1) AS available "
            "FROM sys.segments WHERE datasource = ? AND is_published = 1 "
            # start/end are strings: an ALL segment's eternity bounds do not compare as times
            'AND is_overshadowed = 0 AND (("start" <= ? AND "end" > ?) OR "start" = ?)',
            [datasource, iso_millis(end), iso_millis(start), ETERNITY_START],
        )
        row = first_row(rows, live=0, available=0)
        return SegmentsServed(published=int(row["live"]), available=int(row["available"]))

    def segment_stats(self, datasource: str) -> SegmentStats:
        """How many live segments the datasource has and how full they are (rows each)."""
        rows = self.sql(
            "SELECT num_rows FROM sys.segments WHERE datasource = ? "
            "AND is_published = 1 AND is_overshadowed = 0 LIMIT 100000",
            [datasource],
        )
        counts = sorted(int(row["num_rows"] or 0) for row in rows)
        median = statistics.median(counts) if counts else 0
        return SegmentStats(count=len(counts), median_rows=int(median))

    def rows_by_source(self, datasource: str, source_keys: Sequence[str]) -> dict[str, SourceRows]:
        """Rows and time span per file, for the files among `source_keys` that have rows."""
        found: dict[str, SourceRows] = {}
        keys = list(dict.fromkeys(source_keys))
        for start in range(0, len(keys), 500):  # bounded IN lists
            chunk = keys[start : start + 500]
            rows = self.sql(
                f'SELECT "__source_key" AS k, COUNT(*) AS n, MIN(__time) AS t0, MAX(__time) AS t1 '
                f"FROM {quote_identifier(datasource)} "
                f'WHERE "__source_key" IN ({", ".join("?" for _ in chunk)}) GROUP BY 1',
                chunk,
            )
            for row in rows:
                found[str(row["k"])] = SourceRows(
                    int(row["n"]), parse_druid_time(row["t0"]), parse_druid_time(row["t1"])
                )
        return found

    def datasource_columns(self, datasource: str) -> dict[str, str]:
        rows = self.sql(
            "SELECT COLUMN_NAME, DATA_TYPE FROM INFORMATION_SCHEMA.COLUMNS "
            "WHERE TABLE_SCHEMA = 'druid' AND TABLE_NAME = ?",
            [datasource],
        )
        return {row["COLUMN_NAME"]: row["DATA_TYPE"] for row in rows}

    def pipeline_columns(self, datasource: str) -> dict[str, str]:
        """`datasource_columns` of a datasource the pipeline wrote; SchemaBehind while the
        broker's schema does not list the column every row of ours carries."""
        columns = self.datasource_columns(datasource)
        if SOURCE_KEY_COLUMN not in columns:
            raise SchemaBehind(
                f"the broker's schema of '{datasource}' does not list {SOURCE_KEY_COLUMN} yet",
                None,
                f"the broker's column list of '{datasource}' has no {SOURCE_KEY_COLUMN} yet",
            )
        return columns

    def wait_for_columns(
        self, datasource: str, names: Sequence[str], timeout_seconds: float
    ) -> dict[str, str]:
        """The datasource's columns once the broker's schema has all of `names` (it refreshes
        its schema after segments load, so a just-ingested column can lag); the last answer."""
        deadline = time.monotonic() + timeout_seconds
        while True:
            columns = self.datasource_columns(datasource)
            if set(names) <= set(columns) or time.monotonic() > deadline:
                return columns
            time.sleep(1.0)
