"""Validate a parsed upload and shape it for Druid (pure: no Dagster, no network).

`validate` takes the frame produced by `reading.read_frame` (or any Polars frame), renames columns
to Druid-safe names, finds or synthesises the time column, rejects rows Druid could not ingest,
converts every column to one of Druid's three dimension types and measures the data so the
caller can show a report. Errors that make the whole file unusable raise `FileRejected`.
"""

from __future__ import annotations

import gzip
import re
import tempfile
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, Literal, NamedTuple

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

if TYPE_CHECKING:
    from ingest_pipeline.reading import ReadResult

# Columns this pipeline owns. A user column with one of these names is renamed (see
# `druid_safe_column_names`) so it can never be confused with ours.
TIME_COLUMN = "__time"  # Druid's reserved primary timestamp
SOURCE_KEY_COLUMN = "__source_key"  # the S3 key each row came from: lets re-runs replace a file
LINE_COLUMN = "__line"  # source line number, carried from reading to validation, never written
RESERVED_COLUMNS = frozenset({TIME_COLUMN, SOURCE_KEY_COLUMN, LINE_COLUMN})

# Rows of files without a usable time column all get this timestamp (documented in the README):
# a fixed, obviously synthetic instant keeps such datasets in one predictable segment.
CONSTANT_TIME = datetime(2000, 1, 1, tzinfo=UTC)
CONSTANT_TIME_ISO = "2000-01-01T00:00:00.000Z"

# Text that means "no value", in every text format we read.
NULL_MARKERS: tuple[str, ...] = ("", "NA", "N/A", "null", "NULL")

DruidType = Literal["string", "long", "double"]
#: Druid SQL type of each Druid dimension type (a datasource's columns as INFORMATION_SCHEMA says).
SQL_TYPE_OF_DRUID = {"string": "VARCHAR", "long": "BIGINT", "double": "DOUBLE", "float": "FLOAT"}
DRUID_TYPE_OF_SQL = {sql: druid for druid, sql in SQL_TYPE_OF_DRUID.items()}
SEGMENT_GRANULARITIES = ("HOUR", "DAY", "WEEK", "MONTH", "QUARTER", "YEAR", "ALL")

# Auto-detection of the time column: exact names first (in priority order), then name shapes.
# `time_original` is what a user column called `__time` becomes: the strongest hint of all.
TIME_NAME_HINTS: tuple[str, ...] = (
    "time_original",
    "timestamp",
    "time",
    "datetime",
    "event_time",
    "event_timestamp",
    "ts",
    "date",
    "created_at",
    "created",
    "updated_at",
    "occurred_at",
    "dt",
)
_TIME_NAME_PATTERN = re.compile(r"(^|_)(time|timestamp|ts|date|datetime)$|_at$|^(date|time)_")
# An auto-detected candidate must parse for at least this share of its non-null values;
# otherwise a column named "date" holding free text would reject most of the file.
AUTO_DETECT_MIN_PARSE_SHARE = 0.5

# How many rejected rows to quote in an error message.
_QUOTED_REJECTIONS = 5


class FileRejected(Exception):
    """The uploaded file cannot be ingested. str() says which file, what, where and what to do."""

    def __init__(
        self,
        key: str,
        problem: str,
        fix: str,
        row: int | None = None,
        column: str | None = None,
    ) -> None:
        self.key = key
        self.problem = problem
        self.fix = fix
        self.row = row
        self.column = column
        super().__init__(str(self))

    def __str__(self) -> str:
        where = []
        if self.row is not None:
            where.append(f"line {self.row}")
        if self.column is not None:
            where.append(f"column {self.column!r}")
        location = f" (at {', '.join(where)})" if where else ""
        return f"{self.key}: {self.problem}{location}. Fix: {self.fix}"


class InvalidDatasetName(ValueError):
    """A dataset (Druid datasource) name that Druid or this pipeline would not accept."""


class RejectedRow(NamedTuple):
    line: int  # 1-based line of the source file where the row starts (row number for Parquet)
    reason: str


@dataclass(frozen=True)
class DatasetConfig:
    """Per-dataset settings (from the YAML file read by `load_dataset_configs`)."""

    time_column: str | None = None
    # strftime-style pattern (e.g. "%d/%m/%Y %H:%M"), or "posix" (epoch seconds) / "millis".
    time_format: str | None = None
    dimensions: list[str] | None = None  # keep only these columns (plus __time, __source_key)
    segment_granularity: str | None = None
    max_rejected_share: float = 0.0  # default: any bad row rejects the file, nothing is lost
    null_ratio_warn: float = 0.5
    # Longest text value accepted (UTF-8 bytes). Druid keeps every distinct string of a column
    # in a dictionary loaded into memory for queries; a multi-megabyte value is almost always a
    # mistake (a whole document, a broken quote swallowing the file) and slows every query.
    max_value_bytes: int = 1_048_576

    def __post_init__(self) -> None:
        for name in ("max_rejected_share", "null_ratio_warn"):
            value = getattr(self, name)
            if not isinstance(value, int | float) or not 0.0 <= value <= 1.0:
                raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")
        if self.segment_granularity is not None:
            upper = self.segment_granularity.upper()
            if upper not in SEGMENT_GRANULARITIES:
                raise ValueError(
                    f"segment_granularity must be one of {', '.join(SEGMENT_GRANULARITIES)}, "
                    f"got {self.segment_granularity!r}"
                )
            object.__setattr__(self, "segment_granularity", upper)
        if not isinstance(self.max_value_bytes, int) or self.max_value_bytes < 1:
            raise ValueError(
                f"max_value_bytes must be a positive integer, got {self.max_value_bytes!r}"
            )
        if self.dimensions is not None and not all(isinstance(d, str) for d in self.dimensions):
            raise ValueError(f"dimensions must be a list of column names, got {self.dimensions!r}")


# --------------------------------------------------------------------------- names


def druid_safe_column_names(names: Sequence[str]) -> list[str]:
    """Return unique, non-blank names Druid and Druid SQL handle without quoting surprises.

    Idempotent: feeding the result back returns it unchanged (reading and validation both call it).
    """
    cleaned: list[str] = []
    for position, raw in enumerate(names, start=1):
        name = unicodedata.normalize("NFC", str(raw)).strip()
        # \w keeps unicode letters and digits; punctuation, spaces and control characters go.
        name = re.sub(r"^\W+|\W+$", "", name)
        name = re.sub(r"\W+", "_", name)
        if not name:
            name = f"column_{position}"
        elif name in RESERVED_COLUMNS:
            name = f"{name.lstrip('_')}_original"
        cleaned.append(name)

    # Dedupe without stealing a name that a later column already has: ["a", "a", "a_2"]
    # becomes ["a", "a_3", "a_2"], not ["a", "a_2", "a_2"].
    taken: set[str] = set()
    wanted = set(cleaned)
    result: list[str] = []
    for name in cleaned:
        candidate, suffix = name, 2
        while candidate in taken or (candidate != name and candidate in wanted):
            candidate = f"{name}_{suffix}"
            suffix += 1
        taken.add(candidate)
        result.append(candidate)
    return result


def describe_renames(old: Sequence[str], new: Sequence[str]) -> str | None:
    """A warning listing renamed columns, or None if nothing changed."""
    pairs = [f"{o!r} -> {n!r}" for o, n in zip(old, new, strict=True) if o != n]
    return "renamed columns for Druid: " + ", ".join(pairs) if pairs else None


_DATASET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")


def validate_dataset_name(name: str) -> str:
    """Return `name` if it is a datasource name we accept, else raise `InvalidDatasetName`.

    Druid itself allows more (anything but empty, a leading '.', '/' and odd whitespace), but
    names also end up in URLs, SQL and Dagster asset keys, so we keep to [A-Za-z0-9_-].
    """
    if len(name) <= 255 and _DATASET_NAME.fullmatch(name):
        return name
    suggestion = re.sub(r"[^A-Za-z0-9_-]+", "_", name).strip("_-")[:255] or "dataset"
    raise InvalidDatasetName(
        f"dataset name {name!r} is not allowed: use 1-255 characters from A-Z, a-z, 0-9, '_' "
        f"and '-', starting with a letter or digit (for example {suggestion!r})"
    )


# --------------------------------------------------------------------------- config


def load_dataset_configs(path: str | Path) -> dict[str, DatasetConfig]:
    """Read `{dataset: {setting: value}}` (optionally under a top-level `datasets:` key)."""
    document = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    if isinstance(document, Mapping) and set(document) == {"datasets"}:
        document = document["datasets"] or {}
    if not isinstance(document, Mapping):
        raise ValueError(f"{path}: expected a mapping of dataset name to settings")
    known = {f.name for f in fields(DatasetConfig)}
    configs: dict[str, DatasetConfig] = {}
    for dataset, settings in document.items():
        validate_dataset_name(str(dataset))
        settings = settings or {}
        if not isinstance(settings, Mapping):
            raise ValueError(f"{path}: settings for {dataset!r} must be a mapping")
        unknown = set(settings) - known
        if unknown:
            raise ValueError(
                f"{path}: unknown setting(s) {sorted(unknown)} for {dataset!r}; "
                f"known settings are {sorted(known)}"
            )
        configs[str(dataset)] = DatasetConfig(**settings)
    return configs


# --------------------------------------------------------------------------- time parsing

_UTC_MS = pl.Datetime("ms", "UTC")
_ISO_MS_FORMAT = "%Y-%m-%dT%H:%M:%S%.3fZ"  # Polars (chrono) pattern for Druid's ISO form
# Tried in order; the first that parses a value wins. Strings are normalised first (see
# `_normalise_time_text`), so "2024-01-02 03:04Z" and "2024/01/02" reach these in ISO shape.
_ZONED_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
_EPOCH_TEXT = re.compile(r"^-?\d{9,}(\.\d+)?$").pattern  # 9+ digits: not a year, not a date


def _keep_where(values: pl.Series, keep: pl.Series) -> pl.Series:
    """`values` with null wherever `keep` is false."""
    both = pl.DataFrame({"v": values, "k": keep})
    return both.select(pl.when(pl.col("k")).then(pl.col("v"))).to_series().alias(values.name)


EpochUnit = Literal["s", "ms", "us", "ns"]


def _epoch_unit(max_abs: float) -> EpochUnit:
    # Now is ~1.7e9 s = 1.7e12 ms = 1.7e15 us. 1e11 s is the year 5138 and 1e11 ms is 1973,
    # so magnitude separates the units for any realistic data.
    if max_abs < 1e11:
        return "s"
    if max_abs < 1e14:
        return "ms"
    if max_abs < 1e17:
        return "us"
    return "ns"


def _epoch_unit_of(max_abs: Any) -> EpochUnit:
    return _epoch_unit(float(max_abs) if isinstance(max_abs, int | float) else 0.0)


# Time parsing is split in two so that a file can be parsed batch by batch with the same result
# as in one piece: a *plan* holds what depends on the whole column (the epoch unit, from the
# largest value; whether integers are yyyymmdd dates, from the range and a parse check), decided
# from aggregations (`_time_stat_exprs`) that run over a DataFrame or a streamed LazyFrame alike;
# `_time_expr` then parses each value on its own.


class TimePlan(NamedTuple):
    how: Literal["epoch", "datetime", "date", "yyyymmdd", "text", "none"]
    unit: EpochUnit | None = None  # "epoch": the unit; "text": the unit of epoch-like text


def _epoch_expr(values: pl.Expr, integer: bool, unit: EpochUnit) -> pl.Expr:
    per_ms = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}[unit]
    if integer:
        # Integer arithmetic: no float rounding of large epoch values.
        ints = values.cast(pl.Int64)
        millis = ints * 1000 if unit == "s" else ints // int(round(1 / per_ms))
    else:
        millis = (values.cast(pl.Float64, strict=False) * per_ms).round(0)
        millis = millis.cast(pl.Int64, strict=False)
    return pl.from_epoch(millis, time_unit="ms").dt.replace_time_zone("UTC")


def _normalised_time_text(values: pl.Expr) -> pl.Expr:
    return (
        values.str.strip_chars()
        .str.replace(r"^(\d{4})/(\d{2})/(\d{2})", "${1}-${2}-${3}")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) +(\d)", "${1}T${2}")
        .str.replace(r"(?i)\s*(z|utc|gmt)$", "+00:00")
    )


def _epoch_text(text: pl.Expr) -> pl.Expr:
    """Normalised time text that looks like an epoch number, else null."""
    return pl.when(text.str.contains(_EPOCH_TEXT)).then(text)


def _text_time_expr(
    values: pl.Expr, time_format: str | None, epoch_unit: EpochUnit | None
) -> pl.Expr:
    if time_format is not None:
        zoned = "%z" in time_format or "%#z" in time_format
        parsed = values.str.strptime(
            _UTC_MS if zoned else pl.Datetime("ms"), time_format, strict=False
        )
        return parsed if zoned else parsed.dt.replace_time_zone("UTC")
    text = _normalised_time_text(values)
    candidates = [text.str.strptime(_UTC_MS, fmt, strict=False) for fmt in _ZONED_FORMATS]
    candidates += [
        text.str.strptime(pl.Datetime("ms"), fmt, strict=False).dt.replace_time_zone("UTC")
        for fmt in _NAIVE_FORMATS
    ]
    candidates.append(_epoch_expr(_epoch_text(text), False, epoch_unit or "s"))
    return pl.coalesce(candidates)


def _yyyymmdd_expr(name: str) -> pl.Expr:
    return _text_time_expr(pl.col(name).cast(pl.String), "%Y%m%d", None)


def _time_stat_exprs(name: str, dtype: pl.DataType, time_format: str | None) -> dict[str, pl.Expr]:
    """Whole-column aggregations `time_plan` needs to parse column `name` (maybe none)."""
    if time_format is not None or isinstance(dtype, pl.Datetime) or dtype == pl.Date:
        return {}
    column = pl.col(name)
    if dtype.is_integer():
        return {
            "min": column.min(),
            "max": column.max(),
            "nulls": column.null_count(),
            "ymd_nulls": _yyyymmdd_expr(name).null_count(),
            "max_abs": column.cast(pl.Float64, strict=False).abs().max(),
        }
    if dtype.is_numeric():
        return {"max_abs": column.cast(pl.Float64, strict=False).abs().max()}
    if dtype == pl.String:
        epoch = _epoch_text(_normalised_time_text(column))
        return {"max_abs": epoch.cast(pl.Float64, strict=False).abs().max()}
    return {}


def time_plan(dtype: pl.DataType, time_format: str | None, stats: Mapping[str, Any]) -> TimePlan:
    """How to parse a column of `dtype`, given the `_time_stat_exprs` results over all of it."""
    if time_format in ("posix", "millis"):
        return TimePlan("epoch", "s" if time_format == "posix" else "ms")
    if isinstance(dtype, pl.Datetime):
        return TimePlan("datetime")
    if dtype == pl.Date:
        return TimePlan("date")
    if dtype.is_integer() and time_format is None:
        # 20240131-style integers: as epoch seconds they would all land in 1970, silently.
        low, high = stats["min"], stats["max"]
        if (
            isinstance(low, int)
            and isinstance(high, int)
            and 10000101 <= low <= high <= 99991231
            and stats["ymd_nulls"] == stats["nulls"]
        ):
            return TimePlan("yyyymmdd")
    if dtype.is_numeric() and time_format is None:
        return TimePlan("epoch", _epoch_unit_of(stats["max_abs"]))
    if dtype == pl.String or dtype.is_numeric():
        return TimePlan("text", _epoch_unit_of(stats.get("max_abs")))
    return TimePlan("none")


def time_expr(name: str, dtype: pl.DataType, time_format: str | None, plan: TimePlan) -> pl.Expr:
    """Column `name` parsed to UTC datetimes (ms) by `plan`; values that do not parse are null.

    Row-wise: a batch of the column parses exactly as the same rows of the whole column.
    """
    column = pl.col(name)
    if plan.how == "epoch":
        assert plan.unit is not None
        parsed = _epoch_expr(column, dtype.is_integer(), plan.unit)
    elif plan.how == "datetime":
        assert isinstance(dtype, pl.Datetime)
        zoned = (
            column.dt.convert_time_zone("UTC")
            if dtype.time_zone
            else column.dt.replace_time_zone("UTC")
        )
        parsed = zoned.cast(_UTC_MS)
    elif plan.how == "date":
        parsed = column.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    elif plan.how == "yyyymmdd":
        parsed = _yyyymmdd_expr(name)
    elif plan.how == "text":
        parsed = _text_time_expr(column.cast(pl.String), time_format, plan.unit)
    else:  # all null, as long as the column (a bare literal would be one row in a select)
        parsed = pl.when(column.is_null() & column.is_not_null()).then(pl.lit(None, _UTC_MS))
    return parsed.cast(_UTC_MS).alias(name)


def parse_time(values: pl.Series, time_format: str | None = None) -> pl.Series:
    """Parse a column to UTC datetimes (ms); values that do not parse become null.

    Zoned text is converted to UTC, naive text is taken as UTC, numbers are epoch seconds or
    milliseconds (by magnitude, see `_epoch_unit`) unless `time_format` says "posix"/"millis".
    """
    frame = pl.DataFrame({"v": values})
    exprs = _time_stat_exprs("v", values.dtype, time_format)
    stats = frame.select(**exprs).row(0, named=True) if exprs else {}
    plan = time_plan(values.dtype, time_format, stats)
    parsed = frame.select(time_expr("v", values.dtype, time_format, plan)).to_series()
    return parsed.alias(values.name)


def _resolve_column(wanted: str, columns: Sequence[str]) -> str | None:
    """Find a configured column by its final name or by its name as uploaded (before renaming)."""
    if wanted in columns:
        return wanted
    safe = druid_safe_column_names([wanted])[0]
    return safe if safe in columns else None


def _time_candidates(columns: Sequence[str]) -> list[str]:
    """Columns that may be the time column, most likely first (by name only)."""
    by_lower = {c.lower(): c for c in reversed(columns)}  # first column wins on clashes
    ordered = [by_lower[h] for h in TIME_NAME_HINTS if h in by_lower]
    ordered += [c for c in columns if _TIME_NAME_PATTERN.search(c.lower()) and c not in ordered]
    return ordered


# --------------------------------------------------------------------------- Druid types


def _json_text(column: pl.Series) -> pl.Series:
    # Polars can JSON-encode structs only: wrap lists in a one-field struct and unwrap the text.
    if isinstance(column.dtype, pl.Struct):
        encoded = column.struct.json_encode()
    else:
        wrapped = pl.DataFrame({"v": column}).select(pl.struct("v").struct.json_encode())
        encoded = wrapped.to_series().str.slice(5, None).str.strip_suffix("}")
    return _keep_where(encoded, column.is_not_null())


def to_druid_column(
    column: pl.Series, *, uint_as_string: bool | None = None
) -> tuple[pl.Series, DruidType, int]:
    """Convert a column to a Druid dimension type: (values, type, count of values nulled).

    A UInt64 column becomes text if a value would overflow Druid's long; `uint_as_string`
    gives that verdict when `column` is one batch of a longer column (None: decide from it).
    """
    dtype = column.dtype
    if dtype.is_integer():
        if dtype == pl.UInt64:
            if uint_as_string is None:
                uint_as_string = (column.max() or 0) > 2**63 - 1
            if uint_as_string:
                return column.cast(pl.String), "string", 0  # would overflow Druid's long
        return column.cast(pl.Int64), "long", 0
    if dtype.is_float() or dtype.is_decimal():
        floats = column.cast(pl.Float64)
        # NaN/inf are not valid JSON and Druid cannot store them: they become null.
        finite = floats.is_finite() | floats.is_null()
        nulled = int((~finite).sum())
        return _keep_where(floats, finite), "double", nulled
    if dtype == pl.Boolean:
        return column.cast(pl.String), "string", 0  # "true"/"false", as written
    if isinstance(dtype, pl.Datetime):
        utc = parse_time(column)
        return utc.dt.strftime(_ISO_MS_FORMAT), "string", 0
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d"), "string", 0
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        return _json_text(column), "string", 0
    if dtype == pl.Binary:
        return column.bin.encode("base64"), "string", 0
    return column.cast(pl.String), "string", 0


# --------------------------------------------------------------------------- validate
#
# `validate` (one frame in memory) and `validate_to_files` (a file streamed in batches) share
# all of this: `_plan` decides what needs the whole file from streaming aggregations, `_run`
# applies the same row-wise steps to each batch and adds up the report.


@dataclass
class ValidationSummary:
    """What `validate_to_files` found: a `ValidationResult` without the rows (in the files)."""

    row_count: int
    rejected: list[RejectedRow]
    report: dict[str, dict[str, Any]]  # per output column; JSON-serialisable
    time_column: str | None  # the user column __time came from; None = CONSTANT_TIME
    duplicate_rows: int
    schema: list[tuple[str, DruidType]]  # user columns in order; excludes __time, __source_key
    time_min: datetime
    time_max: datetime
    warnings: list[str]
    preview: pl.DataFrame  # the first output rows, as `ValidationResult.frame` has them


@dataclass
class ValidationResult(ValidationSummary):
    """What `validate` found, with the rows in memory."""

    frame: pl.DataFrame  # __time (UTC, ms), the user's columns (Druid types), __source_key


@dataclass
class _Plan:
    """The decisions that need the whole file, made before any batch is converted."""

    key: str
    dataset: str
    config: DatasetConfig
    source: _Source  # batches with LINE_COLUMN (Int64) and the Druid-safe user columns
    rows_seen: int  # rows of the frame plus rows the reader rejected
    reader_rejected: list[RejectedRow]
    time_column: str | None  # None: CONSTANT_TIME
    time: pl.Expr  # __time of a row; null rejects the row
    columns: list[str]  # output user columns, in order (after `dimensions`)
    uint_as_string: frozenset[str]  # UInt64 columns with values beyond Druid's long
    warnings: list[str]


def _unreadable(key: str, error: Exception) -> FileRejected:
    return FileRejected(key, f"the file could not be read ({error})", "upload a valid file")


def _collect(frame: pl.LazyFrame, key: str) -> pl.DataFrame:
    try:
        return frame.collect(engine="streaming")
    except pl.exceptions.PolarsError as error:
        raise _unreadable(key, error) from None


@dataclass
class _Source:
    """The rows to validate, in order, `batch_rows` at a time (None: all at once)."""

    frame: pl.LazyFrame  # the rows, with LINE_COLUMN (Int64) and Druid-safe names
    key: str
    batch_rows: int | None
    # Raw batches of the frame before `prepare` (see `ReadResult.batches`), if the reader has
    # a bounded-memory way; otherwise the frame is streamed with `collect_batches`.
    raw_batches: Callable[[int], Iterator[pl.DataFrame]] | None = None
    prepare: Callable[[pl.LazyFrame], pl.LazyFrame] = lambda frame: frame

    def batches(self, columns: Sequence[str] | None = None) -> Iterator[pl.DataFrame]:
        def pick(frame: pl.LazyFrame) -> pl.LazyFrame:
            return frame if columns is None else frame.select(columns)

        if self.batch_rows is None:
            yield _collect(pick(self.frame), self.key)
            return
        try:
            if self.raw_batches is not None:
                for raw in self.raw_batches(self.batch_rows):
                    yield pick(self.prepare(raw.lazy())).collect()
            else:
                frame = pick(self.frame)
                yield from frame.collect_batches(chunk_size=self.batch_rows, engine="streaming")
        except pl.exceptions.PolarsError as error:
            raise _unreadable(self.key, error) from None


Combine = Literal["sum", "min", "max"]


def _aggregate(source: _Source, aggregations: Mapping[str, tuple[pl.Expr, Combine]]) -> dict:
    """Evaluate aggregations over all batches, combining each batch's result by sum/min/max."""
    result: dict[str, Any] = {
        k: 0 if how == "sum" else None for k, (_, how) in aggregations.items()
    }
    exprs = {k: expr for k, (expr, _) in aggregations.items()}
    if not exprs:
        return result
    for batch in source.batches():
        for k, value in batch.select(**exprs).row(0, named=True).items():
            how, old = aggregations[k][1], result[k]
            if how == "sum":
                result[k] = old + value
            elif old is None or (old != old and value is not None):  # None or NaN: take any
                result[k] = value
            elif value is not None and value == value:  # NaN: ignored, as Polars' min/max do
                result[k] = min(old, value) if how == "min" else max(old, value)
    return result


def _check_key(key: str, dataset: str) -> None:
    """The dataset name, and no '.' or '..' path segment in the object key."""
    try:
        validate_dataset_name(dataset)
    except InvalidDatasetName as error:
        raise FileRejected(key, str(error), "upload under a prefix with a valid name") from None
    # S3 keeps "a/../b" literally, but URI-based clients (Druid's S3 reader among them) may
    # resolve it to "b" and read another object, or none.
    if any(segment in (".", "..") for segment in key.split("/")):
        raise FileRejected(
            key,
            "the object key has a '.' or '..' path segment, which S3 keeps literally but URI "
            "tools resolve to another path",
            "upload it again under a key without '.' or '..' segments (e.g. <dataset>/<file>)",
        )


def _rejection_error(
    key: str,
    first: Sequence[RejectedRow],
    total: int,
    rows_seen: int,
    config: DatasetConfig,
    dataset: str,
) -> FileRejected:
    """`first`: the rejected rows with the lowest lines (at least _QUOTED_REJECTIONS of them)."""
    quoted = "; ".join(f"line {r.line}: {r.reason}" for r in first[:_QUOTED_REJECTIONS])
    more = f" and {total - _QUOTED_REJECTIONS} more" if total > _QUOTED_REJECTIONS else ""
    return FileRejected(
        key,
        f"{total} of {rows_seen} rows cannot be ingested "
        f"(allowed share {config.max_rejected_share:g}): {quoted}{more}",
        "correct those rows and upload the file again, or raise max_rejected_share for "
        f"dataset {dataset!r} in the dataset config to skip them",
        row=first[0].line,
    )


def _oversized_value_error(
    source: _Source, column: str, config: DatasetConfig, dataset: str
) -> FileRejected:
    """The error for the first value of `column` longer than `max_value_bytes` (one pass)."""
    limit = config.max_value_bytes
    for batch in source.batches([LINE_COLUMN, column]):
        sizes = batch.select(pl.col(LINE_COLUMN), size=pl.col(column).str.len_bytes())
        over = sizes.filter(pl.col("size") > limit)
        if over.height:
            line, size = over.row(0)
            return FileRejected(
                source.key,
                f"a value of {size:,} bytes is longer than the {limit:,} bytes a Druid text "
                "column accepts here",
                "check the quoting around that line (an unclosed quote swallows the lines after "
                f"it), split the value, leave the column out with `dimensions`, or raise "
                f"max_value_bytes for dataset {dataset!r} in the dataset config",
                row=line,
                column=column,
            )
    raise AssertionError(f"no value of {column!r} is over {limit} bytes on the second pass")


def _too_many_rejected(rejected: int, kept: int, rows_seen: int, config: DatasetConfig) -> bool:
    return rejected > 0 and (kept == 0 or rejected / rows_seen > config.max_rejected_share)


def _split_by_time(batch: pl.DataFrame, plan: _Plan) -> tuple[pl.DataFrame, list[RejectedRow]]:
    """Add __time to a batch: (rows with a time, rows rejected for their time)."""
    if plan.time_column is None:
        return batch.with_columns(plan.time.alias(TIME_COLUMN)), []
    data = batch.with_columns(plan.time.alias(TIME_COLUMN))
    bad = data.filter(pl.col(TIME_COLUMN).is_null()).select(LINE_COLUMN, plan.time_column)
    rejected = [
        RejectedRow(
            line,
            f"missing time value in column {plan.time_column!r}"
            if raw is None
            else f"unparseable time {str(raw)[:80]!r} in column {plan.time_column!r}",
        )
        for line, raw in bad.iter_rows()
    ]
    return data.filter(pl.col(TIME_COLUMN).is_not_null()), rejected


def _plan(
    frame: pl.LazyFrame,
    key: str,
    dataset: str,
    config: DatasetConfig,
    reader_rejected: Iterable[RejectedRow],
    notes: Iterable[str],
    batch_rows: int | None,
    raw_batches: Callable[[int], Iterator[pl.DataFrame]] | None = None,
) -> _Plan:
    """Decide names, time column, time parsing and whole-file verdicts from cheap passes.

    At most three aggregating passes (time statistics and row count; time parse counts;
    UInt64 maxima, only if there are such columns) plus, for a rejected file only, a pass over
    the line and time columns to quote the first rejected rows. Raises `FileRejected` with the
    messages `validate` always gave.
    """
    try:
        source_schema = frame.collect_schema()
    except pl.exceptions.PolarsError as error:
        raise _unreadable(key, error) from None
    if LINE_COLUMN not in source_schema:
        frame = frame.with_row_index(LINE_COLUMN, offset=1)
        raw_batches = None  # batch by batch, the row numbers would restart

    warnings = list(notes)
    raw_columns = [c for c in source_schema.names() if c != LINE_COLUMN]
    user_columns = druid_safe_column_names(raw_columns)
    renamed = describe_renames(raw_columns, user_columns)
    if renamed:
        warnings.append(renamed)

    def prepare(frame: pl.LazyFrame) -> pl.LazyFrame:
        frame = frame.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))
        if renamed:
            frame = frame.rename(dict(zip(raw_columns, user_columns, strict=True)))
        return frame

    source = _Source(prepare(frame), key, batch_rows, raw_batches, prepare)
    dtypes = {new: source_schema[old] for old, new in zip(raw_columns, user_columns, strict=True)}

    if config.time_column is not None:
        configured = _resolve_column(config.time_column, user_columns)
        candidates = [configured] if configured is not None else []
    else:
        candidates = [c for c in _time_candidates(user_columns) if dtypes[c] != pl.Boolean]
    aggregations: dict[str, tuple[pl.Expr, Combine]] = {"rows": (pl.len(), "sum")}
    texts = [c for c in user_columns if dtypes[c] == pl.String]
    for name in texts:
        aggregations[f"bytes.{name}"] = (pl.col(name).str.len_bytes().max(), "max")
    for i, name in enumerate(candidates):
        aggregations[f"{i}.n"] = (pl.col(name).count(), "sum")
        for stat, expr in _time_stat_exprs(name, dtypes[name], config.time_format).items():
            how: Combine = "min" if stat == "min" else "max" if "max" in stat else "sum"
            aggregations[f"{i}.{stat}"] = (expr, how)
    stats = _aggregate(source, aggregations)

    reader_rejected = sorted(reader_rejected)
    rows_seen = stats["rows"] + len(reader_rejected)
    if rows_seen == 0:
        raise FileRejected(
            key, "the file has no data rows", "upload a file with at least one data row"
        )
    if config.time_column is not None and not candidates:
        raise FileRejected(
            key,
            f"the configured time column {config.time_column!r} is not in the file "
            f"(columns: {', '.join(user_columns)})",
            "rename the column in the file or fix time_column in the dataset config",
            column=config.time_column,
        )

    # Parse every candidate once over the whole file, counting the values that parse.
    exprs: dict[int, pl.Expr] = {}
    for i, name in enumerate(candidates):
        if config.time_column is None and stats[f"{i}.n"] == 0:
            continue  # an empty column cannot be the time column
        prefix = f"{i}."
        column_stats = {k[len(prefix) :]: v for k, v in stats.items() if k.startswith(prefix)}
        plan = time_plan(dtypes[name], config.time_format, column_stats)
        exprs[i] = time_expr(name, dtypes[name], config.time_format, plan)
    counts = _aggregate(source, {str(i): (e.count(), "sum") for i, e in exprs.items()})
    parsed = [counts[str(i)] for i in exprs] if exprs else []
    time_column, time, kept = None, pl.lit(CONSTANT_TIME, dtype=_UTC_MS), stats["rows"]
    for (i, expr), parsed_count in zip(exprs.items(), parsed, strict=True):
        if (
            config.time_column is not None
            or parsed_count / stats[f"{i}.n"] >= AUTO_DETECT_MIN_PARSE_SHARE
        ):
            time_column, time, kept = candidates[i], expr, parsed_count
            break
    if time_column is None:
        warnings.append(
            f"no time column found: every row gets the constant time {CONSTANT_TIME_ISO}; set "
            f"time_column for dataset {dataset!r} in the dataset config if the data has one"
        )
    elif config.time_column is None:
        warnings.append(f"time column auto-detected: {time_column!r}")

    plan = _Plan(
        key=key,
        dataset=dataset,
        config=config,
        source=source,
        rows_seen=rows_seen,
        reader_rejected=reader_rejected,
        time_column=time_column,
        time=time,
        columns=[],
        uint_as_string=frozenset(),
        warnings=warnings,
    )
    rejected = len(reader_rejected) + stats["rows"] - kept
    if _too_many_rejected(rejected, kept, rows_seen, config):
        # Quote the first rejected rows: one pass over two columns, keeping a handful.
        first = reader_rejected[:_QUOTED_REJECTIONS]
        if time_column is not None:
            for batch in source.batches([LINE_COLUMN, time_column]):
                first = sorted([*first, *_split_by_time(batch, plan)[1]])[:_QUOTED_REJECTIONS]
        raise _rejection_error(key, first, rejected, rows_seen, config, dataset)

    plan.columns = user_columns
    if config.dimensions is not None:
        resolved = {d: _resolve_column(d, user_columns) for d in config.dimensions}
        missing = [d for d, name in resolved.items() if name is None]
        if missing:
            raise FileRejected(
                key,
                f"configured dimensions {missing} are not in the file (columns: {user_columns})",
                f"fix dimensions for dataset {dataset!r} in the dataset config",
                column=missing[0],
            )
        chosen = set(resolved.values())
        plan.columns = [c for c in user_columns if c in chosen]
    for name in texts:
        if name in plan.columns and (stats[f"bytes.{name}"] or 0) > config.max_value_bytes:
            raise _oversized_value_error(source, name, config, dataset)

    # Whether a UInt64 column fits Druid's long depends on its largest value among kept rows.
    uints = [c for c in plan.columns if dtypes[c] == pl.UInt64]
    if uints:
        keep = time.is_not_null()
        maxima = _aggregate(source, {c: (pl.col(c).filter(keep).max(), "max") for c in uints})
        plan.uint_as_string = frozenset(c for c in uints if (maxima[c] or 0) > 2**63 - 1)
    return plan


# Hashes one distinct counter holds in memory (8 MiB) before spilling to disk.
DISTINCT_MEMORY_HASHES = 1 << 20


class _DistinctCount:
    """Exact count of distinct values, kept as one 64-bit hash per distinct value.

    Two different values share a hash with negligible probability (~n²/2⁶⁵ for n values).
    With a `spill_dir`, memory stays bounded however many values there are: once more than
    `memory_hashes` are held, hashes go to `_SPILL_BUCKETS` files by their top bits, and the
    count is the sum of each bucket's distinct count (a value's hash always lands in the
    same bucket), loading one bucket at a time: 8 bytes per row on disk, 1/64 of them in memory.
    """

    def __init__(self, spill_dir: Path | None = None, memory_hashes: int | None = None) -> None:
        self._spill_dir = spill_dir
        self._memory_hashes = DISTINCT_MEMORY_HASHES if memory_hashes is None else memory_hashes
        self._seen = pl.Series(dtype=pl.UInt64)
        self._pending: list[pl.Series] = []
        self._pending_rows = 0
        self._buckets: list[Path] | None = None  # set once spilled

    def add(self, hashes: pl.Series) -> None:
        unique = hashes.unique()
        if self._buckets is not None:
            self._spill(unique)
            return
        # sort() copies into an exact-size buffer: unique() alone keeps a buffer as large as its
        # input alive (measured: ~1.6 MB held per 200k-row batch, even for 37 distinct values).
        unique = unique.sort()
        self._pending.append(unique)
        self._pending_rows += len(unique)
        if self._pending_rows > max(len(self._seen), 1_000_000):
            self._merge()
        held = len(self._seen) + self._pending_rows
        if self._spill_dir is not None and held > self._memory_hashes:
            self._merge()
            prefix = self._spill_dir / f"distinct-{id(self)}"
            self._buckets = [Path(f"{prefix}-{bucket}.u64") for bucket in range(_SPILL_BUCKETS)]
            for path in self._buckets:
                path.touch()
            self._spill(self._seen)
            self._seen = pl.Series(dtype=pl.UInt64)

    def _spill(self, hashes: pl.Series) -> None:
        assert self._buckets is not None
        frame = pl.DataFrame({"hash": hashes}).with_columns(
            # the top bits pick the bucket (Polars has no shift operator for integers)
            bucket=(pl.col("hash") // pl.lit(1 << (64 - _SPILL_BUCKET_BITS), pl.UInt64)).cast(
                pl.Int64
            )
        )
        for (bucket,), part in frame.partition_by("bucket", as_dict=True).items():
            with self._buckets[bucket].open("ab") as sink:
                part["hash"].to_numpy().tofile(sink)

    def _merge(self) -> None:
        if self._pending:
            self._seen = pl.concat([self._seen, *self._pending]).unique().sort()
            self._pending, self._pending_rows = [], 0

    def count(self) -> int:
        if self._buckets is None:
            self._merge()
            return len(self._seen)
        return sum(
            pl.Series(np.fromfile(path, dtype=np.uint64)).n_unique() for path in self._buckets
        )


_SPILL_BUCKET_BITS = 6
_SPILL_BUCKETS = 1 << _SPILL_BUCKET_BITS


@dataclass
class _ColumnTotals:
    distinct: _DistinctCount
    nulls: int = 0
    nulled: int = 0  # NaN/infinite values stored as null
    low: Any = None
    high: Any = None

    def add(self, values: pl.Series, druid_type: DruidType, nulled: int) -> None:
        self.nulls += values.null_count()
        self.nulled += nulled
        if druid_type in ("long", "double"):
            # Non-finite floats were nulled by to_druid_column: min/max are JSON-safe numbers.
            low, high = values.min(), values.max()
            if low is not None:
                self.low = low if self.low is None else min(self.low, low)
                self.high = high if self.high is None else max(self.high, high)
        else:
            self.distinct.add(values.drop_nulls().hash())

    def report(self, druid_type: DruidType, rows: int) -> dict[str, Any]:
        entry: dict[str, Any] = {
            "druid_type": druid_type,
            "nulls": self.nulls,
            "null_ratio": round(self.nulls / rows, 6) if rows else 0.0,
        }
        if druid_type in ("long", "double"):
            entry["min"], entry["max"] = self.low, self.high
        else:
            entry["distinct"] = self.distinct.count()
        return entry


def _run(
    plan: _Plan,
    batches: Iterable[pl.DataFrame],
    write: Callable[[pl.DataFrame], None],
    preview_rows: int,
    spill_dir: Path | None = None,
) -> ValidationSummary:
    """Check, type and measure each batch, pass its output rows to `write`, sum up the report.

    With `spill_dir`, the distinct and duplicate counts keep their hashes there once they
    outgrow memory (see `_DistinctCount`).
    """
    key, config = plan.key, plan.config
    rejected = list(plan.reader_rejected)
    totals = {name: _ColumnTotals(_DistinctCount(spill_dir)) for name in plan.columns}
    # exact duplicate rows are legal but usually a mistake
    rows_distinct = _DistinctCount(spill_dir)
    rows = 0
    schema: list[tuple[str, DruidType]] | None = None
    time_min: datetime | None = None
    time_max: datetime | None = None
    preview: list[pl.DataFrame] = []
    for batch in batches:
        data, bad = _split_by_time(batch, plan)
        rejected += bad
        if data.height == 0:
            continue
        converted: list[pl.Series] = []
        batch_schema: list[tuple[str, DruidType]] = []
        for name in plan.columns:
            values, druid_type, nulled = to_druid_column(
                data[name], uint_as_string=name in plan.uint_as_string
            )
            converted.append(values.alias(name))
            batch_schema.append((name, druid_type))
            totals[name].add(values, druid_type, nulled)
        if schema is None:
            schema = batch_schema
        assert batch_schema == schema, (batch_schema, schema)  # dtypes are fixed per file
        if plan.columns:
            rows_distinct.add(data.select(plan.columns).hash_rows())
        low, high = data[TIME_COLUMN].min(), data[TIME_COLUMN].max()
        assert isinstance(low, datetime) and isinstance(high, datetime)  # height > 0
        time_min = low if time_min is None else min(time_min, low)
        time_max = high if time_max is None else max(time_max, high)
        source = pl.repeat(key, data.height, dtype=pl.String, eager=True)
        output = pl.DataFrame([data[TIME_COLUMN], *converted, source.alias(SOURCE_KEY_COLUMN)])
        rows += data.height
        shown = sum(p.height for p in preview)
        if shown < preview_rows:
            preview.append(output.head(preview_rows - shown))
        write(output)

    rejected.sort()
    if _too_many_rejected(len(rejected), rows, plan.rows_seen, config):
        raise _rejection_error(key, rejected, len(rejected), plan.rows_seen, config, plan.dataset)
    # Here rows > 0: no rows at all raised either "no data rows" or the rejection error.
    assert schema is not None and time_min is not None and time_max is not None

    warnings = list(plan.warnings)
    report: dict[str, dict[str, Any]] = {}
    for name, druid_type in schema:
        report[name] = totals[name].report(druid_type, rows)
        if totals[name].nulled:
            warnings.append(
                f"column {name!r}: {totals[name].nulled} NaN/infinite values stored as null"
            )
        if report[name]["null_ratio"] > config.null_ratio_warn:
            warnings.append(f"column {name!r} is {report[name]['null_ratio']:.0%} null")
    duplicate_rows = rows - rows_distinct.count() if plan.columns else 0
    if duplicate_rows:
        warnings.append(f"{duplicate_rows} rows are exact duplicates of an earlier row")
    report[TIME_COLUMN] = {
        "druid_type": "time",
        "source": plan.time_column or f"constant {CONSTANT_TIME_ISO}",
        "min": iso_utc(time_min),
        "max": iso_utc(time_max),
    }
    empty = pl.DataFrame(
        schema={
            TIME_COLUMN: _UTC_MS,
            **{name: _DRUID_DTYPES[druid_type] for name, druid_type in schema},
            SOURCE_KEY_COLUMN: pl.String,
        }
    )
    return ValidationSummary(
        row_count=rows,
        rejected=rejected,
        report=report,
        time_column=plan.time_column,
        duplicate_rows=duplicate_rows,
        schema=schema,
        time_min=time_min,
        time_max=time_max,
        warnings=warnings,
        preview=pl.concat(preview) if preview else empty,
    )


_DRUID_DTYPES: dict[str, pl.DataType] = {
    "string": pl.String(),
    "long": pl.Int64(),
    "double": pl.Float64(),
}


def iso_utc(ts: datetime) -> str:
    """ISO-8601 UTC with milliseconds, as Druid prints it; naive datetimes are taken as UTC."""
    ts = ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
    # Explicit fields: strftime("%Y") does not zero-pad years before 1000 on every platform.
    return (
        f"{ts.year:04d}-{ts.month:02d}-{ts.day:02d}T{ts.hour:02d}:{ts.minute:02d}:"
        f"{ts.second:02d}.{ts.microsecond // 1000:03d}Z"
    )


def validate(
    frame: pl.DataFrame | pl.LazyFrame,
    key: str,
    dataset: str,
    config: DatasetConfig | None = None,
    *,
    rejected: Iterable[RejectedRow] = (),
    notes: Iterable[str] = (),
) -> ValidationResult:
    """Check and type a parsed file for Druid, in memory (see `validate_to_files` for big files).

    `rejected` are rows the reader already set aside (ragged rows, invalid JSON lines): they
    count towards `max_rejected_share`. `notes` are reader warnings to carry into the result.
    If `frame` has a `__line` column (as `read_frame` provides), rejected rows are reported by
    source line; otherwise by 1-based row number.
    """
    config = config or DatasetConfig()
    _check_key(key, dataset)
    try:
        data = frame.collect(engine="streaming") if isinstance(frame, pl.LazyFrame) else frame
    except pl.exceptions.PolarsError as error:
        raise _unreadable(key, error) from None
    plan = _plan(data.lazy(), key, dataset, config, rejected, notes, batch_rows=None)
    outputs: list[pl.DataFrame] = []
    summary = _run(plan, plan.source.batches(), outputs.append, preview_rows=0)
    return ValidationResult(
        **{f.name: getattr(summary, f.name) for f in fields(summary)},
        frame=outputs[0] if len(outputs) == 1 else pl.concat(outputs),
    )


def validate_to_files(
    parsed: ReadResult,
    key: str,
    dataset: str,
    config: DatasetConfig | None = None,
    *,
    ndjson_path: str | Path,
    parquet_path: str | Path,
    batch_rows: int = 200_000,
    preview_rows: int = 10,
) -> ValidationSummary:
    """`validate` + `write_druid_ndjson` + `write_parquet` in bounded memory.

    Gives the same rows, report, rejections and messages, but never holds more than about
    `batch_rows` rows: whole-file decisions come from streaming aggregations over the parsed
    file, then it is converted batch by batch, each batch appended to both files. The exact
    duplicate and distinct counts spill their hashes to a temporary folder next to
    `ndjson_path` once they outgrow memory (8 bytes per row and string column on disk).
    Only the rejected rows listed in the result grow with the file.
    """
    config = config or DatasetConfig()
    _check_key(key, dataset)
    plan = _plan(
        parsed.frame,
        key,
        dataset,
        config,
        parsed.rejected,
        parsed.warnings,
        batch_rows,
        parsed.batches,
    )
    with (
        _DruidFiles(Path(ndjson_path), Path(parquet_path)) as files,
        tempfile.TemporaryDirectory(prefix="distinct-", dir=Path(ndjson_path).parent) as spill,
    ):
        return _run(plan, plan.source.batches(), files.write, preview_rows, Path(spill))


# --------------------------------------------------------------------------- output


def _druid_json(frame: pl.LazyFrame) -> pl.LazyFrame:
    # `__time` as ISO-8601 UTC with milliseconds, which the spec's timestampSpec ("iso") reads.
    return frame.with_columns(
        pl.col(TIME_COLUMN).dt.convert_time_zone("UTC").dt.strftime(_ISO_MS_FORMAT)
    )


def write_druid_ndjson(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write gzip'd newline-delimited JSON for Druid's `json` input format.

    `__time` becomes ISO-8601 UTC with milliseconds, which the spec's timestampSpec ("iso")
    reads back exactly. The sink streams, so memory does not grow with the output size.
    """
    path = Path(path)
    _druid_json(frame.lazy()).sink_ndjson(path, compression="gzip")
    return path


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write the validated frame as Parquet, for people and tools (Druid reads the NDJSON)."""
    path = Path(path)
    frame.write_parquet(path)
    return path


class _DruidFiles:
    """`write_druid_ndjson` and `write_parquet`, appended to batch by batch."""

    def __init__(self, ndjson_path: Path, parquet_path: Path) -> None:
        self._ndjson_path, self._parquet_path = ndjson_path, parquet_path
        self._ndjson: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def __enter__(self) -> _DruidFiles:
        self._ndjson = gzip.open(self._ndjson_path, "wb", compresslevel=6)
        return self

    def write(self, frame: pl.DataFrame) -> None:
        assert self._ndjson is not None
        _druid_json(frame.lazy()).collect().write_ndjson(self._ndjson)
        table = frame.to_arrow()
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(self._parquet_path, table.schema, compression="zstd")
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        self._parquet.write_table(table)

    def __exit__(self, *exc_info: object) -> None:
        if self._ndjson is not None:
            self._ndjson.close()
        if self._parquet is not None:
            self._parquet.close()
