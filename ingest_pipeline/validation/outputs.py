"""The validated rows as files: gzip'd NDJSON for Druid, Parquet for people and tools."""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait
from functools import cache
from pathlib import Path
from typing import IO, Final

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from ingest_pipeline.vocabulary import TIME_COLUMN

# gzip level of the NDJSON for Druid. Level 1 compresses ~3x faster than 6 for ~1.5x the bytes
# (measured on the benchmark CSV: 28 MB vs 19 MB per 1M rows; plain NDJSON would be 160 MB).
NDJSON_GZIP_LEVEL: Final = 1
PARQUET_ZSTD_LEVEL: Final = 1


# ISO_MS_FORMAT's text, formatted from the naive UTC wall time: the same characters, and ~1/3
# faster than formatting the zoned value (chrono works out no offset); `.%3f` beats `%.3f`.
_ISO_MS_NAIVE_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%3fZ"


def _druid_json(frame: pl.LazyFrame) -> pl.LazyFrame:
    # `__time` as ISO-8601 UTC with milliseconds, which the spec's timestampSpec ("iso") reads.
    utc = pl.col(TIME_COLUMN).dt.convert_time_zone("UTC").dt.replace_time_zone(None)
    return frame.with_columns(utc.dt.strftime(_ISO_MS_NAIVE_FORMAT))


def write_druid_ndjson(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write gzip'd newline-delimited JSON for Druid's `json` input format.

    `__time` becomes ISO-8601 UTC with milliseconds, which the spec's timestampSpec ("iso")
    reads back exactly. The sink streams, so memory does not grow with the output size.
    """
    path = Path(path)
    _druid_json(frame.lazy()).sink_ndjson(
        path, compression="gzip", compression_level=NDJSON_GZIP_LEVEL
    )
    return path


def write_parquet(frame: pl.DataFrame, path: str | Path) -> Path:
    """Write the validated frame as Parquet, for people and tools (Druid reads the NDJSON)."""
    path = Path(path)
    frame.write_parquet(path)
    return path


@cache
def _writer_threads() -> ThreadPoolExecutor:
    # Started once per process: on a busy machine starting two threads per file cost up to
    # ~15 ms, half the validation of a 1 MB file.
    return ThreadPoolExecutor(max_workers=2, thread_name_prefix="druid-files")


class DruidFiles:
    """`write_druid_ndjson` and `write_parquet`, appended to batch by batch.

    Two background threads (one write to each file at a time) write while the caller converts
    the next batch (Polars and pyarrow release the GIL): at most one batch waits, so memory
    stays at about two batches. Each batch is one gzip member of the NDJSON file (concatenated
    members are one valid gzip stream, which Druid's and Python's readers decompress whole) and
    one row group of the Parquet file (plain encoding: on this data dictionary encoding doubled
    the write time and gave a larger file after zstd).
    """

    def __init__(self, ndjson_path: Path, parquet_path: Path) -> None:
        self._ndjson_path, self._parquet_path = ndjson_path, parquet_path
        self._ndjson: IO[bytes] | None = None
        self._parquet: pq.ParquetWriter | None = None
        self._schema: pa.Schema | None = None
        self._pending: list[Future[None]] = []

    def __enter__(self) -> DruidFiles:
        self._ndjson = self._ndjson_path.open("wb")
        return self

    def write(self, frame: pl.DataFrame) -> None:
        self._wait()  # so each file gets its batches in order, one at a time
        threads = _writer_threads()
        self._pending = [
            threads.submit(self._write_ndjson, frame),
            threads.submit(self._write_parquet, frame),
        ]

    def _wait(self) -> None:
        pending, self._pending = self._pending, []
        wait(pending)  # both, even when the first one failed
        for future in pending:
            future.result()  # raises what the writer raised

    def _write_ndjson(self, frame: pl.DataFrame) -> None:
        assert self._ndjson is not None
        _druid_json(frame.lazy()).collect().write_ndjson(
            self._ndjson, compression="gzip", compression_level=NDJSON_GZIP_LEVEL
        )

    def _write_parquet(self, frame: pl.DataFrame) -> None:
        table = frame.to_arrow()
        if self._parquet is None:
            self._schema = table.schema
            self._parquet = pq.ParquetWriter(
                self._parquet_path,
                table.schema,
                compression="zstd",
                compression_level=PARQUET_ZSTD_LEVEL,
                use_dictionary=False,
            )
        elif table.schema != self._schema:
            table = table.cast(self._schema)
        self._parquet.write_table(table)

    def __exit__(self, *exc_info: object) -> None:
        try:
            if exc_info[0] is None:
                self._wait()
        finally:
            wait(self._pending)  # after an error too: no write may outlive its file
            if self._ndjson is not None:
                self._ndjson.close()
            if self._parquet is not None:
                self._parquet.close()
