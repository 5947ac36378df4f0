"""Validate a parsed upload and shape it for Druid (pure: no Dagster, no network).

`validate` takes the frame produced by `reading.read_frame` (or any Polars frame), renames columns
to Druid-safe names, finds or synthesises the time column, rejects rows Druid could not ingest,
converts every column to one of Druid's three dimension types and measures the data so the
caller can show a report. Errors that make the whole file unusable raise `FileRejected`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal, NamedTuple

import polars as pl
import yaml

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
        if self.dimensions is not None and not all(isinstance(d, str) for d in self.dimensions):
            raise ValueError(f"dimensions must be a list of column names, got {self.dimensions!r}")


@dataclass
class ValidationResult:
    frame: pl.DataFrame  # __time (UTC, ms), the user's columns (Druid types), __source_key
    row_count: int
    rejected: list[RejectedRow]
    report: dict[str, dict[str, Any]]  # per output column; JSON-serialisable
    time_column: str | None  # the user column __time came from; None = CONSTANT_TIME
    duplicate_rows: int
    schema: list[tuple[str, DruidType]]  # user columns in order; excludes __time, __source_key
    time_min: datetime
    time_max: datetime
    warnings: list[str] = field(default_factory=list)


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


def _epoch_unit(max_abs: float) -> Literal["s", "ms", "us", "ns"]:
    # Now is ~1.7e9 s = 1.7e12 ms = 1.7e15 us. 1e11 s is the year 5138 and 1e11 ms is 1973,
    # so magnitude separates the units for any realistic data.
    if max_abs < 1e11:
        return "s"
    if max_abs < 1e14:
        return "ms"
    if max_abs < 1e17:
        return "us"
    return "ns"


def _epoch_to_utc(
    values: pl.Series, unit: Literal["s", "ms", "us", "ns"] | None = None
) -> pl.Series:
    numeric = values.cast(pl.Float64, strict=False)
    if unit is None:
        max_abs = numeric.abs().max()
        unit = _epoch_unit(float(max_abs) if isinstance(max_abs, int | float) else 0.0)
    per_ms = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}[unit]
    if values.dtype.is_integer():
        # Integer arithmetic: no float rounding of large epoch values.
        ints = values.cast(pl.Int64)
        millis = ints * 1000 if unit == "s" else ints // int(round(1 / per_ms))
    else:
        millis = (numeric * per_ms).round(0).cast(pl.Int64, strict=False)
    return pl.from_epoch(millis, time_unit="ms").dt.replace_time_zone("UTC")


def _normalise_time_text(values: pl.Series) -> pl.Series:
    return (
        values.str.strip_chars()
        .str.replace(r"^(\d{4})/(\d{2})/(\d{2})", "${1}-${2}-${3}")
        .str.replace(r"^(\d{4}-\d{2}-\d{2}) +(\d)", "${1}T${2}")
        .str.replace(r"(?i)\s*(z|utc|gmt)$", "+00:00")
    )


def _parse_time_text(values: pl.Series, time_format: str | None) -> pl.Series:
    if time_format is not None:
        zoned = "%z" in time_format or "%#z" in time_format
        parsed = values.str.strptime(
            _UTC_MS if zoned else pl.Datetime("ms"), time_format, strict=False
        )
        return parsed if zoned else parsed.dt.replace_time_zone("UTC")
    text = _normalise_time_text(values)
    candidates = [text.str.strptime(_UTC_MS, fmt, strict=False) for fmt in _ZONED_FORMATS]
    candidates += [
        text.str.strptime(pl.Datetime("ms"), fmt, strict=False).dt.replace_time_zone("UTC")
        for fmt in _NAIVE_FORMATS
    ]
    epoch_text = text.str.contains(_EPOCH_TEXT)
    if epoch_text.any():
        candidates.append(_epoch_to_utc(_keep_where(text, epoch_text)))
    frame = pl.DataFrame({str(i): c for i, c in enumerate(candidates)})
    return frame.select(pl.coalesce(pl.all())).to_series().alias(values.name)


def parse_time(values: pl.Series, time_format: str | None = None) -> pl.Series:
    """Parse a column to UTC datetimes (ms); values that do not parse become null.

    Zoned text is converted to UTC, naive text is taken as UTC, numbers are epoch seconds or
    milliseconds (by magnitude, see `_epoch_unit`) unless `time_format` says "posix"/"millis".
    """
    return _parse_time_any(values, time_format).cast(_UTC_MS).alias(values.name)


def _parse_time_any(values: pl.Series, time_format: str | None) -> pl.Series:
    dtype = values.dtype
    if time_format in ("posix", "millis"):
        return _epoch_to_utc(values, "s" if time_format == "posix" else "ms")
    if isinstance(dtype, pl.Datetime):
        zoned = (
            values.dt.convert_time_zone("UTC")
            if dtype.time_zone
            else values.dt.replace_time_zone("UTC")
        )
        return zoned.cast(_UTC_MS)
    if dtype == pl.Date:
        return values.cast(pl.Datetime("ms")).dt.replace_time_zone("UTC")
    if dtype.is_integer() and time_format is None:
        # 20240131-style integers: as epoch seconds they would all land in 1970, silently.
        low, high = values.min(), values.max()
        if isinstance(low, int) and isinstance(high, int) and 10000101 <= low <= high <= 99991231:
            as_dates = _parse_time_text(values.cast(pl.String), "%Y%m%d")
            if as_dates.null_count() == values.null_count():
                return as_dates
    if dtype.is_numeric() and time_format is None:
        return _epoch_to_utc(values)
    if dtype == pl.String or dtype.is_numeric():
        return _parse_time_text(values.cast(pl.String), time_format)
    return pl.Series(values.name, [None] * len(values), dtype=_UTC_MS)


def _resolve_column(wanted: str, columns: Sequence[str]) -> str | None:
    """Find a configured column by its final name or by its name as uploaded (before renaming)."""
    if wanted in columns:
        return wanted
    safe = druid_safe_column_names([wanted])[0]
    return safe if safe in columns else None


def _find_time_column(
    frame: pl.DataFrame, config: DatasetConfig, key: str
) -> tuple[str | None, pl.Series | None]:
    user_columns = [c for c in frame.columns if c != LINE_COLUMN]
    if config.time_column is not None:
        wanted = config.time_column
        name = _resolve_column(wanted, user_columns)
        if name is None:
            raise FileRejected(
                key,
                f"the configured time column {wanted!r} is not in the file "
                f"(columns: {', '.join(user_columns)})",
                "rename the column in the file or fix time_column in the dataset config",
                column=wanted,
            )
        return name, parse_time(frame[name], config.time_format)

    by_lower = {c.lower(): c for c in reversed(user_columns)}  # first column wins on clashes
    ordered = [by_lower[h] for h in TIME_NAME_HINTS if h in by_lower]
    ordered += [
        c for c in user_columns if _TIME_NAME_PATTERN.search(c.lower()) and c not in ordered
    ]
    for name in ordered:
        column = frame[name]
        if column.dtype == pl.Boolean:
            continue
        non_null = len(column) - column.null_count()
        if non_null == 0:
            continue
        parsed = parse_time(column, config.time_format)
        if (len(parsed) - parsed.null_count()) / non_null >= AUTO_DETECT_MIN_PARSE_SHARE:
            return name, parsed
    return None, None


# --------------------------------------------------------------------------- Druid types


def _json_text(column: pl.Series) -> pl.Series:
    # Polars can JSON-encode structs only: wrap lists in a one-field struct and unwrap the text.
    if isinstance(column.dtype, pl.Struct):
        encoded = column.struct.json_encode()
    else:
        wrapped = pl.DataFrame({"v": column}).select(pl.struct("v").struct.json_encode())
        encoded = wrapped.to_series().str.slice(5, None).str.strip_suffix("}")
    return _keep_where(encoded, column.is_not_null())


def to_druid_column(column: pl.Series) -> tuple[pl.Series, DruidType, int]:
    """Convert a column to a Druid dimension type: (values, type, count of values nulled)."""
    dtype = column.dtype
    if dtype.is_integer():
        if dtype == pl.UInt64 and (column.max() or 0) > 2**63 - 1:
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


def _rejection_error(
    key: str, rejected: Sequence[RejectedRow], rows_seen: int, config: DatasetConfig, dataset: str
) -> FileRejected:
    first = rejected[0]
    quoted = "; ".join(f"line {r.line}: {r.reason}" for r in rejected[:_QUOTED_REJECTIONS])
    more = (
        f" and {len(rejected) - _QUOTED_REJECTIONS} more"
        if len(rejected) > _QUOTED_REJECTIONS
        else ""
    )
    return FileRejected(
        key,
        f"{len(rejected)} of {rows_seen} rows cannot be ingested "
        f"(allowed share {config.max_rejected_share:g}): {quoted}{more}",
        "correct those rows and upload the file again, or raise max_rejected_share for "
        f"dataset {dataset!r} in the dataset config to skip them",
        row=first.line,
    )


def _column_report(values: pl.Series, druid_type: str, rows: int) -> dict[str, Any]:
    nulls = values.null_count()
    entry: dict[str, Any] = {
        "druid_type": druid_type,
        "nulls": nulls,
        "null_ratio": round(nulls / rows, 6) if rows else 0.0,
    }
    if druid_type in ("long", "double"):
        # Non-finite floats were nulled by to_druid_column, so min/max are JSON-safe numbers.
        entry["min"], entry["max"] = values.min(), values.max()
    else:
        entry["distinct"] = values.drop_nulls().n_unique()
    return entry


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
    """Check and type a parsed file for Druid.

    `rejected` are rows the reader already set aside (ragged rows, invalid JSON lines): they
    count towards `max_rejected_share`. `notes` are reader warnings to carry into the result.
    If `frame` has a `__line` column (as `read_frame` provides), rejected rows are reported by
    source line; otherwise by 1-based row number.
    """
    config = config or DatasetConfig()
    try:
        validate_dataset_name(dataset)
    except InvalidDatasetName as error:
        raise FileRejected(key, str(error), "upload under a prefix with a valid name") from None

    try:
        data = frame.collect(engine="streaming") if isinstance(frame, pl.LazyFrame) else frame
    except pl.exceptions.PolarsError as error:
        raise FileRejected(
            key, f"the file could not be read ({error})", "upload a valid file"
        ) from None
    if LINE_COLUMN not in data.columns:
        data = data.with_row_index(LINE_COLUMN, offset=1)
    data = data.with_columns(pl.col(LINE_COLUMN).cast(pl.Int64))

    warnings = list(notes)
    user_columns = [c for c in data.columns if c != LINE_COLUMN]
    safe = druid_safe_column_names(user_columns)
    renamed = describe_renames(user_columns, safe)
    if renamed:
        data = data.rename(dict(zip(user_columns, safe, strict=True)))
        warnings.append(renamed)
        user_columns = safe

    all_rejected = list(rejected)
    rows_seen = data.height + len(all_rejected)
    if rows_seen == 0:
        raise FileRejected(
            key, "the file has no data rows", "upload a file with at least one data row"
        )

    time_column, parsed_time = _find_time_column(data, config, key)
    if parsed_time is None:
        data = data.with_columns(pl.lit(CONSTANT_TIME, dtype=_UTC_MS).alias(TIME_COLUMN))
        warnings.append(
            f"no time column found: every row gets the constant time {CONSTANT_TIME_ISO}; set "
            f"time_column for dataset {dataset!r} in the dataset config if the data has one"
        )
    else:
        data = data.with_columns(parsed_time.alias(TIME_COLUMN))
        bad = data.filter(pl.col(TIME_COLUMN).is_null()).select(LINE_COLUMN, time_column)
        for line, raw in bad.iter_rows():
            reason = (
                f"missing time value in column {time_column!r}"
                if raw is None
                else f"unparseable time {str(raw)[:80]!r} in column {time_column!r}"
            )
            all_rejected.append(RejectedRow(line, reason))
        data = data.filter(pl.col(TIME_COLUMN).is_not_null())
        if config.time_column is None:
            warnings.append(f"time column auto-detected: {time_column!r}")

    all_rejected.sort()
    if all_rejected and (
        data.height == 0 or len(all_rejected) / rows_seen > config.max_rejected_share
    ):
        raise _rejection_error(key, all_rejected, rows_seen, config, dataset)

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
        user_columns = [c for c in user_columns if c in chosen]

    # Exact duplicate rows are legal (Druid keeps them with rollup off) but usually a mistake.
    duplicate_rows = data.height - data.select(user_columns).n_unique() if user_columns else 0

    rows = data.height
    converted: list[pl.Series] = []
    schema: list[tuple[str, DruidType]] = []
    report: dict[str, dict[str, Any]] = {}
    for name in user_columns:
        values, druid_type, nulled = to_druid_column(data[name])
        converted.append(values.alias(name))
        schema.append((name, druid_type))
        report[name] = _column_report(values, druid_type, rows)
        if nulled:
            warnings.append(f"column {name!r}: {nulled} NaN/infinite values stored as null")
        if rows and report[name]["null_ratio"] > config.null_ratio_warn:
            warnings.append(f"column {name!r} is {report[name]['null_ratio']:.0%} null")
    if duplicate_rows:
        warnings.append(f"{duplicate_rows} rows are exact duplicates of an earlier row")

    output = pl.DataFrame(
        [data[TIME_COLUMN], *converted, pl.Series(SOURCE_KEY_COLUMN, [key] * rows, dtype=pl.String)]
    )
    time_min, time_max = data[TIME_COLUMN].min(), data[TIME_COLUMN].max()
    assert isinstance(time_min, datetime) and isinstance(time_max, datetime)  # rows > 0 here
    report[TIME_COLUMN] = {
        "druid_type": "time",
        "source": time_column or f"constant {CONSTANT_TIME_ISO}",
        "min": iso_utc(time_min),
        "max": iso_utc(time_max),
    }
    return ValidationResult(
        frame=output,
        row_count=rows,
        rejected=all_rejected,
        report=report,
        time_column=time_column,
        duplicate_rows=duplicate_rows,
        schema=schema,
        time_min=time_min,
        time_max=time_max,
        warnings=warnings,
    )


# --------------------------------------------------------------------------- output


def write_druid_ndjson(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write gzip'd newline-delimited JSON for Druid's `json` input format.

    `__time` becomes ISO-8601 UTC with milliseconds, which the spec's timestampSpec ("iso")
    reads back exactly. The sink streams, so memory does not grow with the output size.
    """
    path = Path(path)
    frame.lazy().with_columns(
        pl.col(TIME_COLUMN).dt.convert_time_zone("UTC").dt.strftime(_ISO_MS_FORMAT)
    ).sink_ndjson(path, compression="gzip")
    return path


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write the validated frame as Parquet, for people and tools (Druid reads the NDJSON)."""
    path = Path(path)
    frame.write_parquet(path)
    return path
