"""Polars columns to Druid's dimension types (string, long, double)."""

from __future__ import annotations

from typing import Final

import polars as pl

from ingest_pipeline.validation.timing import ISO_MS_FORMAT, parse_time
from ingest_pipeline.vocabulary import DruidType

# The Polars dtype of an output column of each Druid type.
POLARS_DTYPE_OF: Final[dict[DruidType, pl.DataType]] = {
    "string": pl.String(),
    "long": pl.Int64(),
    "double": pl.Float64(),
}
_LONG_MAX: Final = 2**63 - 1  # Druid's long is a signed 64-bit integer


def keep_where(values: pl.Series, keep: pl.Series) -> pl.Series:
    """`values` with null wherever `keep` is false."""
    both = pl.DataFrame({"v": values, "k": keep})
    return both.select(pl.when(pl.col("k")).then(pl.col("v"))).to_series().alias(values.name)


def _json_text(column: pl.Series) -> pl.Series:
    # Polars can JSON-encode structs only: wrap lists in a one-field struct and unwrap the text.
    if isinstance(column.dtype, pl.Struct):
        encoded = column.struct.json_encode()
    else:
        wrapped = pl.DataFrame({"v": column}).select(pl.struct("v").struct.json_encode())
        encoded = wrapped.to_series().str.slice(5, None).str.strip_suffix("}")
    return keep_where(encoded, column.is_not_null())


def overflows_druid_long(largest: int | None) -> bool:
    """Whether an unsigned column whose largest value is `largest` must be stored as text."""
    return (largest or 0) > _LONG_MAX


def druid_exprs(
    name: str, dtype: pl.DataType, uint_as_string: bool
) -> tuple[pl.Expr, DruidType, pl.Expr | None] | None:
    """Column `name` of `dtype` in its Druid type, as expressions: (values, type, count of
    values nulled, if any can be). None: a type only `to_druid_column` converts (a Series)."""
    column = pl.col(name)
    if dtype.is_integer():
        if dtype == pl.UInt64 and uint_as_string:
            return column.cast(pl.String), "string", None  # would overflow Druid's long
        return column.cast(pl.Int64), "long", None
    if dtype.is_float() or dtype.is_decimal():
        floats = column.cast(pl.Float64)
        # NaN/inf are not valid JSON and Druid cannot store them: they become null.
        finite = floats.is_finite() | floats.is_null()
        return pl.when(finite).then(floats).alias(name), "double", (~finite).sum()
    if isinstance(dtype, pl.Duration):  # Druid has no duration: whole milliseconds, said
        return column.dt.total_milliseconds(), "long", None
    if dtype == pl.Boolean or dtype == pl.String:
        return column.cast(pl.String), "string", None  # "true"/"false", as written
    return None


def to_druid_column(
    column: pl.Series, *, uint_as_string: bool | None = None
) -> tuple[pl.Series, DruidType, int]:
    """Convert a column to a Druid dimension type: (values, type, count of values nulled).

    A UInt64 column becomes text if a value would overflow Druid's long; `uint_as_string`
    gives that verdict when `column` is one batch of a longer column (None: decide from it).
    """
    dtype = column.dtype
    if uint_as_string is None:
        largest = column.max()
        uint_as_string = dtype == pl.UInt64 and overflows_druid_long(
            largest if isinstance(largest, int) else None
        )
    simple = druid_exprs(column.name, dtype, uint_as_string)
    if simple is not None:
        values, druid_type, nulled = simple
        frame = column.to_frame()
        count = 0 if nulled is None else int(frame.select(nulled).item())
        return frame.select(values).to_series().alias(column.name), druid_type, count
    if isinstance(dtype, pl.Datetime):
        utc = parse_time(column)
        return utc.dt.strftime(ISO_MS_FORMAT), "string", 0
    if dtype == pl.Date:
        return column.dt.strftime("%Y-%m-%d"), "string", 0
    if isinstance(dtype, pl.Struct | pl.List | pl.Array):
        return _json_text(column), "string", 0
    if dtype == pl.Binary:
        return column.bin.encode("base64"), "string", 0
    return column.cast(pl.String), "string", 0
