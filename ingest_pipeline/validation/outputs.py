"""The validated rows as files: gzip'd NDJSON for Druid, Parquet for people and tools."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import IO

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ingest_pipeline.validation.timing import ISO_MS_FORMAT
from ingest_pipeline.vocabulary import TIME_COLUMN


def _druid_json(frame: pl.LazyFrame) -> pl.LazyFrame:
    # `__time` as ISO-8601 UTC with milliseconds, which the spec's timestampSpec ("iso") reads.
    return frame.with_columns(
        pl.col(TIME_COLUMN).dt.convert_time_zone("UTC").dt.strftime(ISO_MS_FORMAT)
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


class DruidFiles:
    """`write_druid_ndjson` and `write_parquet`, appended to batch by batch."""

    def __init__(self, ndjson_path: Path, parquet_path: Path) -> None:
        self._ndjson_path, self._parquet_path = ndjson_path, parquet_path
        self._ndjson: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None

    def __enter__(self) -> DruidFiles:
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
