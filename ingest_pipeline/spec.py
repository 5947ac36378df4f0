"""Build Druid 25 native batch (`index_parallel`) ingestion specs (pure: no network).

Re-running a file must not duplicate its rows, and ingesting one file must never delete another
file's rows. Every row carries `__source_key` (its S3 object key), so:

* first ingestion of a key: append (`appendToExisting: true`): other files' rows are untouched;
* re-ingestion of a key: replace the time chunks the old and new versions occupy, reading back
  every row in them EXCEPT this key's (a `druid` input source with a NOT filter) and adding the
  new file's rows (`combining` input source, `dropExisting: true`).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlsplit

from ingest_pipeline.records import IngestMode, Replace
from ingest_pipeline.vocabulary import (
    SEGMENT_GRANULARITIES,
    SOURCE_KEY_COLUMN,
    TIME_COLUMN,
    DruidColumnType,
    DruidType,
    Granularity,
    iso_utc,
)

PasswordProvider = str | Mapping[str, str]

REDACTED = "***"
# Druid's own "eternity" interval, used for ALL granularity.
ETERNITY = "-146136543-09-08T08:23:32.096Z/146140482-04-24T15:36:27.903Z"
_SECRET_KEYS = frozenset({"accessKeyId", "secretAccessKey", "sessionToken", "password"})


# --------------------------------------------------------------------------- granularity


#: Druid's guidance is millions of rows per segment; a first file whose rows would spread
#: thinner than this over a granularity's time chunks gets a coarser one.
TARGET_ROWS_PER_TIME_CHUNK = 1_000_000
#: The granularities chosen by rows per chunk. ALL is chosen only for small data spread over
#: several years (MIN_ROWS_PER_YEAR_CHUNK): with it every re-run of a file rewrites the whole
#: datasource, which is cheap only while the datasource is small.
AUTO_GRANULARITIES: tuple[Granularity, ...] = ("HOUR", "DAY", "MONTH", "YEAR")
#: Below this many rows per YEAR chunk on average, a file over several years gets ALL.
MIN_ROWS_PER_YEAR_CHUNK = 1_000


def choose_segment_granularity(time_min: datetime, time_max: datetime, rows: int) -> Granularity:
    """The finest granularity whose time chunks would hold TARGET_ROWS_PER_TIME_CHUNK rows of
    this data on average, else YEAR: small data gets few, well-filled segments (a year of
    hourly rows would otherwise be 365 DAY segments of ~72 rows). Small data spread over
    several years (51 rows over 17 years: 17 YEAR segments of 3 rows) gets ALL, one chunk."""
    for granularity in AUTO_GRANULARITIES:
        if rows / count_time_chunks(time_min, time_max, granularity) >= TARGET_ROWS_PER_TIME_CHUNK:
            return granularity
    years = count_time_chunks(time_min, time_max, "YEAR")
    if years > 1 and rows / years < MIN_ROWS_PER_YEAR_CHUNK:
        return "ALL"
    return "YEAR"


def count_time_chunks(time_min: datetime, time_max: datetime, granularity: str) -> int:
    """How many time chunks of `granularity` the span [time_min, time_max] touches."""
    granularity = granularity.upper()
    if granularity == "ALL":
        return 1
    start, last = _floor(time_min, granularity), _floor(time_max, granularity)
    if granularity in ("HOUR", "DAY", "WEEK"):
        size = {"HOUR": timedelta(hours=1), "DAY": timedelta(days=1), "WEEK": timedelta(weeks=1)}
        return (last - start) // size[granularity] + 1
    months = (last.year - start.year) * 12 + last.month - start.month
    return months // {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[granularity] + 1


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)


def _floor(ts: datetime, granularity: str) -> datetime:
    ts = _utc(ts)
    if granularity == "HOUR":
        return ts.replace(minute=0, second=0, microsecond=0)
    day = ts.replace(hour=0, minute=0, second=0, microsecond=0)
    if granularity == "DAY":
        return day
    if granularity == "WEEK":  # Druid's WEEK is the ISO week: Monday 00:00 UTC
        return day - timedelta(days=day.weekday())
    if granularity == "MONTH":
        return day.replace(day=1)
    if granularity == "QUARTER":
        return day.replace(month=(day.month - 1) // 3 * 3 + 1, day=1)
    if granularity == "YEAR":
        return day.replace(month=1, day=1)
    raise ValueError(f"unsupported granularity {granularity!r}")


def _next(start: datetime, granularity: str) -> datetime:
    """The start of the bucket after the (aligned) bucket starting at `start`."""
    if granularity == "HOUR":
        return start + timedelta(hours=1)
    if granularity == "DAY":
        return start + timedelta(days=1)
    if granularity == "WEEK":
        return start + timedelta(weeks=1)
    months = {"MONTH": 1, "QUARTER": 3, "YEAR": 12}[granularity]
    index = start.month - 1 + months
    return start.replace(year=start.year + index // 12, month=index % 12 + 1)


def _parse_interval(interval: str) -> tuple[datetime, datetime]:
    start, _, end = interval.partition("/")
    return _utc(datetime.fromisoformat(start)), _utc(datetime.fromisoformat(end))


def interval_span(interval: str) -> tuple[datetime, datetime]:
    """An interval "start/end" as its first and last instant (end is exclusive)."""
    start, end = _parse_interval(interval)
    return start, end - timedelta(microseconds=1)


def interval_cover(time_min: datetime, time_max: datetime, granularity: str) -> list[str]:
    """The granularity-aligned interval covering [time_min, time_max], as ["start/end"]."""
    granularity = granularity.upper()
    if granularity == "ALL":
        return [ETERNITY]
    start = _floor(time_min, granularity)
    end = _next(_floor(time_max, granularity), granularity)
    return [f"{iso_utc(start)}/{iso_utc(end)}"]


def merge_intervals(intervals: Iterable[str]) -> list[str]:
    """Union overlapping or touching intervals (e.g. the old and the new file's covers)."""
    intervals = list(intervals)
    if ETERNITY in intervals:
        return [ETERNITY]
    spans = sorted(_parse_interval(i) for i in intervals)
    merged: list[list[datetime]] = []
    for start, end in spans:
        if merged and start <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], end)
        else:
            merged.append([start, end])
    return [f"{iso_utc(start)}/{iso_utc(end)}" for start, end in merged]


# --------------------------------------------------------------------------- pieces


def s3_uri(bucket: str, key: str) -> str:
    """An s3:// URI Druid can parse for any key: Druid uses java.net.URI, which rejects spaces
    and decodes %XX, so the key is percent-encoded (slashes kept)."""
    return f"s3://{bucket}/{quote(key, safe='/')}"


def _password(value: PasswordProvider, what: str) -> dict[str, str]:
    if isinstance(value, str):
        return {"type": "default", "password": value}
    provider = dict(value)
    kind = provider.get("type")
    if kind == "default" and isinstance(provider.get("password"), str):
        return provider
    if kind == "environment" and isinstance(provider.get("variable"), str):
        return provider
    raise ValueError(
        f"{what} must be a string, {{'type': 'default', 'password': ...}} or "
        f"{{'type': 'environment', 'variable': ...}}, got keys {sorted(provider)}"
    )


def s3_input_source(
    uris: Sequence[str],
    *,
    endpoint_url: str,
    region: str,
    access_key_id: PasswordProvider,
    secret_access_key: PasswordProvider,
) -> dict[str, Any]:
    """S3 input source for a non-AWS endpoint.

    Druid ignores endpointConfig/clientConfig unless `properties` (credentials) is present and
    silently falls back to the cluster's default S3 client, so credentials are mandatory here.
    """
    for uri in uris:
        if not uri.startswith("s3://") or " " in uri:
            raise ValueError(f"not an s3:// URI Druid can read: {uri!r} (build it with s3_uri())")
    scheme = urlsplit(endpoint_url).scheme
    if scheme not in ("http", "https"):
        raise ValueError(f"endpoint_url must start with http:// or https://, got {endpoint_url!r}")
    return {
        "type": "s3",
        "uris": list(uris),
        "endpointConfig": {"url": endpoint_url, "signingRegion": region},
        "clientConfig": {
            "protocol": scheme,
            "enablePathStyleAccess": True,  # MinIO-like stores: no bucket.host DNS names
            "disableChunkedEncoding": True,
        },
        "properties": {
            "accessKeyId": _password(access_key_id, "access_key_id"),
            "secretAccessKey": _password(secret_access_key, "secret_access_key"),
        },
    }


def merge_dimensions(
    schema: Sequence[tuple[str, DruidType]], existing: Sequence[tuple[str, DruidColumnType]] = ()
) -> list[tuple[str, DruidColumnType]]:
    """New file's columns first, then existing datasource columns it lacks.

    When time chunks are rewritten, neighbours' rows are re-ingested with these dimensions:
    a column missing here would be dropped from them. A type clash becomes string, which
    holds both.
    """
    types: dict[str, DruidColumnType] = {name: druid_type for name, druid_type in schema}
    for name, druid_type in existing:
        if name in types and types[name] != druid_type:
            types[name] = "string"
        types.setdefault(name, druid_type)
    types.pop(TIME_COLUMN, None)
    types.pop(SOURCE_KEY_COLUMN, None)
    return [*types.items(), (SOURCE_KEY_COLUMN, "string")]


# --------------------------------------------------------------------------- spec


def build_index_spec(
    datasource: str,
    schema: Sequence[tuple[str, DruidType]],
    input_uris: Sequence[str],
    *,
    endpoint_url: str,
    region: str,
    access_key_id: PasswordProvider,
    secret_access_key: PasswordProvider,
    time_min: datetime,
    time_max: datetime,
    mode: IngestMode,
    segment_granularity: str,
    existing_dimensions: Sequence[tuple[str, DruidColumnType]] = (),
) -> dict[str, Any]:
    """An `index_parallel` task for the validated NDJSON.gz files at `input_uris` (their rows
    carry `__source_key`).

    `schema`: (column, druid type) as `ValidationResult.schema`; `__source_key` is added.
    `time_min`/`time_max`: the data's time range (checked against the mode's intervals).
    `mode`: `Append` for keys Druid has not seen; `Replace` (one file) when it was ingested
    before, with intervals (aligned to the segment granularity, see `interval_cover` and
    `merge_intervals`)
    covering its old rows and its new rows. `existing_dimensions`: the datasource's current
    columns, so rewritten neighbours keep theirs.
    """
    granularity = segment_granularity.upper()
    if granularity not in SEGMENT_GRANULARITIES:
        raise ValueError(f"segment granularity must be one of {SEGMENT_GRANULARITIES}")
    s3 = s3_input_source(
        input_uris,
        endpoint_url=endpoint_url,
        region=region,
        access_key_id=access_key_id,
        secret_access_key=secret_access_key,
    )
    granularity_spec: dict[str, Any] = {
        "type": "uniform",
        "segmentGranularity": granularity,
        "queryGranularity": "none",
        "rollup": False,  # Druid defaults to true, which would silently merge equal rows
    }

    if isinstance(mode, Replace):
        intervals = merge_intervals(mode.intervals)
        _check_intervals(intervals, granularity, time_min, time_max)
        keep_others = {
            "type": "not",
            "field": {
                "type": "selector",
                "dimension": SOURCE_KEY_COLUMN,
                "value": mode.source_key,
            },
        }
        delegates = [
            {"type": "druid", "dataSource": datasource, "interval": interval, "filter": keep_others}
            for interval in intervals
        ]
        delegates += [s3] if input_uris else []  # no file: a retraction (see planning.py)
        input_source: dict[str, Any] = {"type": "combining", "delegates": delegates}
        granularity_spec["intervals"] = intervals
        append, drop = False, True  # the rewritten chunks replace the old ones atomically
        # Druid 25 reads a combining input source only split across subtasks (its sequential
        # reader throws "Implement this method properly if needsFormat() = true").
        subtasks = 2
    else:
        input_source = s3
        # Append: never overshadows other files' rows in the same time chunks.
        append, drop = True, False
        # Explicit intervals make the overlord take the time-chunk lock before the task starts,
        # waiting while another task (a re-run replacing a neighbour) holds it. Without them the
        # task locks the intervals it finds at run time, once, and a held lock fails it with
        # "Failed to get locks for intervals".
        granularity_spec["intervals"] = list(mode.intervals)
        _check_intervals(mode.intervals, granularity, time_min, time_max)
        # Sequential: no subtask start-up cost (a peon each) for a few small files; a batch of
        # many files is still one JVM reading them one after another.
        subtasks = 1

    dimensions = [
        {"type": druid_type, "name": name}
        for name, druid_type in merge_dimensions(schema, existing_dimensions)
    ]
    return {
        "type": "index_parallel",
        "spec": {
            "dataSchema": {
                "dataSource": datasource,
                # "iso" reads our ISO strings; rows read back by the druid input source carry
                # __time as epoch millis, which Druid's timestamp parser accepts for any format.
                "timestampSpec": {"column": TIME_COLUMN, "format": "iso"},
                "dimensionsSpec": {"dimensions": dimensions},
                "metricsSpec": [],
                "granularitySpec": granularity_spec,
            },
            "ioConfig": {
                "type": "index_parallel",
                "inputSource": input_source,
                "inputFormat": {"type": "json"},
                "appendToExisting": append,
                "dropExisting": drop,
            },
            "tuningConfig": {
                "type": "index_parallel",
                "partitionsSpec": {"type": "dynamic"},  # required by appendToExisting
                "maxNumConcurrentSubTasks": subtasks,
                # Native batch drops bad rows silently by default: fail instead. Our validation
                # already rejected such rows, so an exception here is a real bug to see.
                "maxParseExceptions": 0,
                "logParseExceptions": True,
                "maxSavedParseExceptions": 20,
            },
        },
    }


def _check_intervals(
    intervals: Sequence[str], granularity: str, time_min: datetime, time_max: datetime
) -> None:
    if list(intervals) == [ETERNITY]:
        return
    if granularity == "ALL":
        raise ValueError(f"with ALL granularity the interval must be {ETERNITY}")
    spans = [_parse_interval(i) for i in intervals]
    for (start, end), text in zip(spans, intervals, strict=True):
        # Druid widens unaligned intervals to whole segments; rows in the widened part would
        # not be read back by the druid input source and would be lost.
        if _floor(start, granularity) != start or _floor(end, granularity) != end:
            raise ValueError(f"interval {text} is not aligned to {granularity} segments")
    # Rows outside granularitySpec.intervals are thrown away by Druid: the new data must fit.
    for ts in (_utc(time_min), _utc(time_max)):
        if not any(start <= ts < end for start, end in spans):
            raise ValueError(f"intervals {list(intervals)} do not cover the data at {iso_utc(ts)}")


def redact_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A deep copy with credential values replaced by "***" (safe to show in a UI)."""

    def scrub(node: Any) -> Any:
        if isinstance(node, Mapping):
            return {
                key: REDACTED if key in _SECRET_KEYS and isinstance(value, str) else scrub(value)
                for key, value in node.items()
            }
        if isinstance(node, list):
            return [scrub(item) for item in node]
        return copy.deepcopy(node)

    return scrub(spec)


def granularity_of_interval(start: datetime, end: datetime) -> Granularity:
    """The segment granularity an existing segment's interval was cut with.

    Files of one datasource share it, so replacing one file's rows never mixes, e.g., HOUR
    segments into DAY ones.
    """
    hours = (_utc(end) - _utc(start)) / timedelta(hours=1)
    for granularity, low, high in (
        ("HOUR", 1, 1),
        ("DAY", 24, 24),
        ("WEEK", 168, 168),
        ("MONTH", 28 * 24, 31 * 24),
        ("QUARTER", 90 * 24, 92 * 24),  # Q1 of a common year is the shortest, 90 days
        ("YEAR", 365 * 24, 366 * 24),
    ):
        if low <= hours <= high:
            return granularity  # type: ignore[return-value]
    return "ALL"
