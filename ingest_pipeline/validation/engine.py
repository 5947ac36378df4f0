"""`validate` (one frame in memory) and `validate_to_files` (a file streamed in batches).

Both share everything: `plan_validation` decides what needs the whole file from streaming
aggregations, `_run` applies the same row-wise steps to each batch (split off rows without a
time, convert to Druid types, add __source_key) and adds up the report.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Iterable
from dataclasses import fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import polars as pl

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.naming import check_upload_key
from ingest_pipeline.validation.contract import ContractTally, DatasetSchema
from ingest_pipeline.validation.druid_types import druid_exprs, to_druid_column
from ingest_pipeline.validation.outputs import DruidFiles
from ingest_pipeline.validation.planning import ValidationPlan, plan_validation
from ingest_pipeline.validation.rejections import rejection_error, split_by_time, too_many_rejected
from ingest_pipeline.validation.report import (
    BatchTally,
    ConvertedColumn,
    ValidationResult,
    ValidationSummary,
)
from ingest_pipeline.validation.source import unreadable_error
from ingest_pipeline.vocabulary import (
    SOURCE_KEY_COLUMN,
    TIME_COLUMN,
    DruidType,
    FileRejected,
    RejectedRow,
)

if TYPE_CHECKING:  # the type only: validation never imports the reader
    from ingest_pipeline.reading import ReadResult


def validate(
    frame: pl.DataFrame | pl.LazyFrame,
    key: str,
    dataset: str,
    config: DatasetConfig | None = None,
    *,
    rejected: Iterable[RejectedRow] = (),
    notes: Iterable[str] = (),
    dataset_schema: DatasetSchema | None = None,
) -> ValidationResult:
    """Check and type a parsed file for Druid, in memory (see `validate_to_files` for big files).

    `rejected` are rows the reader already set aside (ragged rows, invalid JSON lines): they
    count towards `max_rejected_share`. `notes` are reader warnings to carry into the result.
    If `frame` has a `__line` column (as `read_frame` provides), rejected rows are reported by
    source line; otherwise by 1-based row number. `dataset_schema`: the datasource's columns
    (read from Druid), which the dataset's schema contract holds the file to.
    """
    config = config or DatasetConfig()
    check_upload_key(key, dataset)
    try:
        data = frame.collect(engine="streaming") if isinstance(frame, pl.LazyFrame) else frame
    except pl.exceptions.PolarsError as error:
        raise unreadable_error(key, error) from None
    plan = plan_validation(
        data.lazy(),
        key,
        dataset,
        config,
        rejected,
        notes,
        batch_rows=None,
        dataset_schema=dataset_schema,
    )
    outputs: list[pl.DataFrame] = []
    summary = _run(plan, outputs.append, preview_rows=0)
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
    dataset_schema: DatasetSchema | None = None,
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
    check_upload_key(key, dataset)
    with tempfile.TemporaryDirectory(prefix="distinct-", dir=Path(ndjson_path).parent) as spill:
        plan = plan_validation(
            parsed.frame,
            key,
            dataset,
            config,
            parsed.rejected,
            parsed.warnings,
            batch_rows,
            parsed.batches,
            keep_dir=Path(spill),
            rows=parsed.rows,
            dataset_schema=dataset_schema,
        )
        with DruidFiles(Path(ndjson_path), Path(parquet_path)) as files:
            return _run(plan, files.write, preview_rows, Path(spill))


def _run(
    plan: ValidationPlan,
    write: Callable[[pl.DataFrame], None],
    preview_rows: int,
    spill_dir: Path | None = None,
) -> ValidationSummary:
    """Check, type and measure each batch, pass its output rows to `write`, sum up the report."""
    rejected = list(plan.reader_rejected)
    tally = BatchTally(plan.columns, preview_rows, spill_dir)
    times = plan.time_values.batches() if plan.time_values is not None else None
    contract = ContractTally(plan.contract)
    for batch in plan.source.batches():  # (read one batch ahead, on a thread)
        # the time column's values were parsed while choosing it: the same batches, in order
        time = plan.time if times is None else pl.lit(next(times))
        data, bad = split_by_time(batch, time, plan.time_facts.date_parts or plan.time_column)
        rejected += bad
        if data.height == 0:
            continue
        converted, output = _convert(data, plan)
        if plan.contract.pinned:
            data, converted, output = _hold_to_contract(data, converted, output, plan, contract)
            if data.height == 0:
                continue
        write(output)  # first: the writer threads work while the batch is counted
        tally.add(data, converted, output)

    rejected.sort()
    if too_many_rejected(len(rejected), tally.rows, plan.rows_seen, plan.config):
        raise rejection_error(
            plan.key, rejected, len(rejected), plan.rows_seen, plan.config, plan.dataset
        )
    # Here rows > 0: no rows at all raised either "no data rows" or the rejection error.
    if contract.discarded and tally.rows == 0:
        raise _all_rows_discarded(plan, contract)
    summary = tally.summary(
        rejected,
        plan.time_column,
        plan.warnings,
        plan.config.null_ratio_warn,
        plan.time_facts,
    )
    return replace(summary, schema_drift=contract.drift(summary.schema))


def _hold_to_contract(
    data: pl.DataFrame,
    converted: list[ConvertedColumn],
    output: pl.DataFrame,
    plan: ValidationPlan,
    contract: ContractTally,
) -> tuple[pl.DataFrame, list[ConvertedColumn], pl.DataFrame]:
    """The batch without the rows the contract refuses, its pinned columns in the
    datasource's types."""
    types = [c.druid_type for c in converted]
    refused = contract.refused(data, output, types)
    if refused is not None:
        data = data.filter(~refused)
        if data.height == 0:
            return data, [], output.clear()
        converted, output = _convert(data, plan)
        types = [c.druid_type for c in converted]
    output, types = contract.conform(output, types)
    return (
        data,
        [
            ConvertedColumn(c.name, output[c.name], druid_type, c.nulled)
            for c, druid_type in zip(converted, types, strict=True)
        ],
        output,
    )


def _all_rows_discarded(plan: ValidationPlan, contract: ContractTally) -> FileRejected:
    first = contract.sample[0]
    return FileRejected(
        plan.key,
        f"every one of its {contract.discarded} rows has a value of the wrong type for "
        f"dataset {plan.dataset!r} (types: discard_row), e.g. {first.reason}",
        "check that the file belongs to this dataset, or correct the column's values",
        row=first.line,
    )


def _convert(
    data: pl.DataFrame, plan: ValidationPlan
) -> tuple[list[ConvertedColumn], pl.DataFrame]:
    """The output user columns of a batch, each in its Druid type, and the rows as written:
    __time, those columns and __source_key (one query for the common types)."""
    values: list[pl.Expr] = []
    types: list[DruidType] = []
    nulled: dict[str, pl.Expr] = {}
    for name in plan.columns:
        simple = druid_exprs(name, data.schema[name], name in plan.uint_as_string)
        if simple is None:  # converted as a Series, then taken as it is
            series, druid_type, count = to_druid_column(data[name], uint_as_string=False)
            values.append(pl.lit(series.alias(name)))
            nulled[name] = pl.lit(count, pl.UInt32)
        else:
            value, druid_type, count_expr = simple
            values.append(value.alias(name))
            if count_expr is not None:
                nulled[name] = count_expr
        types.append(druid_type)
    source = pl.lit(plan.key, dtype=pl.String).alias(SOURCE_KEY_COLUMN)
    output = data.select(pl.col(TIME_COLUMN), *values, source)
    counts = data.select(**nulled).row(0, named=True) if nulled else {}
    converted = [
        ConvertedColumn(name, output[name], druid_type, counts.get(name, 0))
        for name, druid_type in zip(plan.columns, types, strict=True)
    ]
    return converted, output
