"""Asset checks: validation health (each file's gate) and ingestion health, specs + evaluation.

The assets compute these from what they just did (the validation result, the Druid task), so
a check never re-reads a file; the functions here decide pass/fail and the metadata a person
acts on.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict

import dagster as dg

from ingest_pipeline.findings import ColumnReport, ConstantTime, time_column_label
from ingest_pipeline.records import (
    IngestionPlan,
    PlannedFile,
    RejectedUpload,
    SegmentsServed,
    SourceRows,
    TaskOutcome,
    ValidatedUpload,
    ValidationOutcome,
)
from ingest_pipeline.vocabulary import DRUID_TO_SQL_TYPE, DruidType

# ------------------------------------------------------------------ validation (validated_frame)

VALIDATED_FRAME_KEY = dg.AssetKey("validated_frame")
INGESTIBLE = "file_is_ingestible"
NULL_RATIOS = "null_ratios_within_threshold"
NO_DUPLICATE_ROWS = "no_duplicate_rows"
SCHEMA_MATCHES_DATASOURCE = "schema_matches_datasource"
TIME_LIKE_COLUMNS_USED = "time_like_columns_used"
ROWS_HAVE_THEIR_OWN_TIME = "rows_have_their_own_time"

VALIDATION_CHECKS = [
    dg.AssetCheckSpec(
        INGESTIBLE,
        asset=VALIDATED_FRAME_KEY,
        # Not `blocking=True`: Dagster gates a whole step on a yielded result, and a step here
        # covers a batch of files; the assets themselves stop only the failing file (its
        # result is an evaluation on its partition, which Dagster's gate never sees and
        # warned about in every run).
        description="Readable, at least one row, usable time column, rejected rows within the "
        "dataset's allowed share. A failure stops the spec and the ingestion of this file "
        "(only this file: the rest of its batch goes on).",
    ),
    dg.AssetCheckSpec(
        NULL_RATIOS,
        asset=VALIDATED_FRAME_KEY,
        description="No column is null above the dataset's null_ratio_warn (WARN).",
    ),
    dg.AssetCheckSpec(
        NO_DUPLICATE_ROWS,
        asset=VALIDATED_FRAME_KEY,
        description="No row is an exact duplicate of another (WARN).",
    ),
    dg.AssetCheckSpec(
        SCHEMA_MATCHES_DATASOURCE,
        asset=VALIDATED_FRAME_KEY,
        description="Columns and types agree with the columns the datasource already has (WARN).",
    ),
    dg.AssetCheckSpec(
        TIME_LIKE_COLUMNS_USED,
        asset=VALIDATED_FRAME_KEY,
        description="No column that looks like a time (most of its values parse) is left unused "
        "while another column, or the constant time, gives the rows their time (WARN): the "
        "failure names the column, its format, the share that parsed and the datasets.yaml "
        "lines that choose it.",
    ),
    dg.AssetCheckSpec(
        ROWS_HAVE_THEIR_OWN_TIME,
        asset=VALIDATED_FRAME_KEY,
        description="The rows get their time from a column of the file, not the constant "
        "2000-01-01T00:00:00Z that makes every time query on them wrong (WARN): the failure "
        "says why no column was used and how to name one.",
    ),
]


def validation_check_results(
    outcome: ValidationOutcome,
    existing_columns: Mapping[str, str],
    null_ratio_warn: float,
) -> list[dg.AssetCheckResult]:
    """Check results for one file's validation: a rejected file fails only the blocking check
    (the others are not evaluated rather than invented)."""
    if isinstance(outcome, RejectedUpload):
        return [not_ingestible(outcome.upload.uri, outcome.message)]
    assert isinstance(outcome, ValidatedUpload)
    return [
        ingestible(outcome),
        null_ratios(outcome, null_ratio_warn),
        no_duplicate_rows(outcome),
        schema_matches(outcome, existing_columns),
        time_like_columns_used(outcome),
        rows_have_their_own_time(outcome),
    ]


def failed_warnings(results: Sequence[dg.AssetCheckResult]) -> tuple[str, ...]:
    """The failed WARN checks among `results`, each as the sentence a file's verdict lists."""
    return tuple(
        f"{r.check_name}: {r.description}"
        for r in results
        if not r.passed and r.severity == dg.AssetCheckSeverity.WARN
    )


def ingestible(outcome: ValidatedUpload) -> dg.AssetCheckResult:
    rejected = [[row.line, row.reason] for row in outcome.rejected_rows]
    return dg.AssetCheckResult(
        asset_key=VALIDATED_FRAME_KEY,
        check_name=INGESTIBLE,
        passed=True,
        metadata={
            "rows": outcome.row_count,
            "rejected_rows": len(rejected),
            "rejected_sample": dg.MetadataValue.json(rejected[:20]),
            "time_column": time_column_label(outcome.time_column, outcome.time_facts),
        },
    )


def null_ratios(outcome: ValidatedUpload, null_ratio_warn: float) -> dg.AssetCheckResult:
    null_heavy = null_heavy_columns(outcome.column_report, null_ratio_warn)
    return dg.AssetCheckResult(
        asset_key=VALIDATED_FRAME_KEY,
        check_name=NULL_RATIOS,
        passed=not null_heavy,
        severity=dg.AssetCheckSeverity.WARN,
        description=(
            f"columns above {null_ratio_warn:.0%} null: "
            + ", ".join(f"{c} ({r:.0%})" for c, r in null_heavy.items())
            if null_heavy
            else None
        ),
        metadata={
            "null_ratio_warn": null_ratio_warn,
            "offending": dg.MetadataValue.json(null_heavy),
        },
    )


def no_duplicate_rows(outcome: ValidatedUpload) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=VALIDATED_FRAME_KEY,
        check_name=NO_DUPLICATE_ROWS,
        passed=outcome.duplicate_rows == 0,
        severity=dg.AssetCheckSeverity.WARN,
        description=None
        if outcome.duplicate_rows == 0
        else f"{outcome.duplicate_rows} rows repeat an earlier row exactly",
        metadata={"duplicate_rows": outcome.duplicate_rows},
    )


def schema_matches(
    outcome: ValidatedUpload, existing_columns: Mapping[str, str]
) -> dg.AssetCheckResult:
    """Drift against the datasource's columns, and what the dataset's schema contract left
    out; with nothing to compare (a new datasource) it passes and says so instead of passing
    silently."""
    drift = schema_drift(outcome.schema, existing_columns)
    drift += outcome.schema_drift.contract_sentences()
    description = "; ".join(drift) if drift else None
    if not existing_columns:
        description = "new datasource: no columns to compare with yet"
    return dg.AssetCheckResult(
        asset_key=VALIDATED_FRAME_KEY,
        check_name=SCHEMA_MATCHES_DATASOURCE,
        passed=not drift,
        severity=dg.AssetCheckSeverity.WARN,
        description=description,
        metadata={
            "datasource_columns": dg.MetadataValue.json(dict(existing_columns)),
            "differences": dg.MetadataValue.json(drift),
            "schema_drift": dg.MetadataValue.json(outcome.schema_drift.to_json()),
        },
    )


def time_like_columns_used(outcome: ValidatedUpload) -> dg.AssetCheckResult:
    """Columns whose values look like times but that __time does not come from."""
    facts = outcome.time_facts
    shown = [asdict(u) | {"share": round(u.share, 4)} for u in facts.unused]
    problems = [u.message(outcome.upload.dataset) for u in facts.unused]
    problems += facts.untaken_times_of_day(outcome.time_column)
    return dg.AssetCheckResult(
        asset_key=VALIDATED_FRAME_KEY,
        check_name=TIME_LIKE_COLUMNS_USED,
        passed=not problems,
        severity=dg.AssetCheckSeverity.WARN,
        description="; ".join(problems) or None,
        metadata={
            "time_column": time_column_label(outcome.time_column, facts),
            "unused_time_like_columns": dg.MetadataValue.json(shown),
        },
    )


def rows_have_their_own_time(outcome: ValidatedUpload) -> dg.AssetCheckResult:
    """Fails when every row got the constant time: no column gave the rows a time."""
    constant = outcome.time_facts.constant or ConstantTime(())
    own = outcome.time_column is not None
    return dg.AssetCheckResult(
        asset_key=VALIDATED_FRAME_KEY,
        check_name=ROWS_HAVE_THEIR_OWN_TIME,
        passed=own,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if own else constant.message(outcome.upload.dataset),
        metadata={
            "time_column": time_column_label(outcome.time_column, outcome.time_facts),
            "columns_examined": dg.MetadataValue.json([list(e) for e in constant.examined]),
        },
    )


def failed_verdict(
    asset_key: dg.AssetKey,
    check_name: str,
    file: str,
    problem: str,
    extra: Mapping[str, dg.MetadataValue] | None = None,
) -> dg.AssetCheckResult:
    """An ERROR check result for one file that went no further, saying why."""
    return dg.AssetCheckResult(
        asset_key=asset_key,
        check_name=check_name,
        passed=False,
        severity=dg.AssetCheckSeverity.ERROR,
        description=problem,
        metadata={"file": file, "problem": problem, **(extra or {})},
    )


def not_ingestible(file: str, problem: str) -> dg.AssetCheckResult:
    """The failing verdict of a file that cannot be ingested (rejected, or gone)."""
    return failed_verdict(VALIDATED_FRAME_KEY, INGESTIBLE, file, problem)


def null_heavy_columns(
    column_report: Mapping[str, ColumnReport], null_ratio_warn: float
) -> dict[str, float]:
    """Columns whose share of nulls is above the dataset's threshold."""
    return {
        column: entry.null_ratio
        for column, entry in column_report.items()
        if entry.null_ratio > null_ratio_warn
    }


def schema_drift(schema: Sequence[tuple[str, DruidType]], existing: Mapping[str, str]) -> list[str]:
    """Differences between a file's columns and the datasource's (empty for a new datasource)."""
    if not existing:
        return []
    drift = []
    for name, druid_type in schema:
        if name not in existing:
            drift.append(f"new column {name!r} ({druid_type})")
        elif druid_type in DRUID_TO_SQL_TYPE and existing[name] != DRUID_TO_SQL_TYPE[druid_type]:
            drift.append(f"column {name!r} is {druid_type} here, {existing[name]} in Druid")
    ours = {name for name, _ in schema} | {"__time", "__source_key"}
    missing = sorted(set(existing) - ours)
    if missing:
        drift.append(f"columns missing from this file: {', '.join(missing)}")
    return drift


# ------------------------------------------------------------------ ingestion (druid_datasource)

DRUID_DATASOURCE_KEY = dg.AssetKey("druid_datasource")
ROWS_MATCH = "rows_in_druid_match_validated"
NO_UNPARSEABLE = "no_unparseable_or_thrown_away_rows"
SEGMENTS_LOADED = "segments_loaded"
COLUMNS_AS_SPECIFIED = "columns_as_specified"

INGESTION_CHECKS = [
    dg.AssetCheckSpec(
        ROWS_MATCH,
        asset=DRUID_DATASOURCE_KEY,
        description="Rows in Druid with this file's __source_key == rows validated.",
    ),
    dg.AssetCheckSpec(
        NO_UNPARSEABLE,
        asset=DRUID_DATASOURCE_KEY,
        description="The Druid task reported no unparseable, errored or thrown-away rows.",
    ),
    dg.AssetCheckSpec(
        SEGMENTS_LOADED,
        asset=DRUID_DATASOURCE_KEY,
        description="Every live segment over the time range of this file's task is queryable "
        "(sys.segments).",
    ),
    dg.AssetCheckSpec(
        COLUMNS_AS_SPECIFIED,
        asset=DRUID_DATASOURCE_KEY,
        description="Druid's columns and types are those the spec asked for.",
    ),
]


def ingestion_check_results(
    planned: PlannedFile,
    plan: IngestionPlan,
    rows_in_druid: SourceRows,
    outcome: TaskOutcome,
    served: SegmentsServed,
    actual_columns: Mapping[str, str],
) -> list[dg.AssetCheckResult]:
    """Verdicts on what Druid holds for one file after its task, each from an observed value."""
    return [
        rows_match(planned, rows_in_druid, outcome.task_id),
        no_bad_rows(outcome),
        segments_loaded(served),
        columns_as_specified(planned, plan, actual_columns),
    ]


def rows_match(planned: PlannedFile, rows: SourceRows, task_id: str) -> dg.AssetCheckResult:
    matches = rows.count == planned.validated_rows
    return dg.AssetCheckResult(
        asset_key=DRUID_DATASOURCE_KEY,
        check_name=ROWS_MATCH,
        passed=matches,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if matches
        else f"Druid holds {rows.count} rows of this file, validation produced "
        f"{planned.validated_rows}: re-materialize the file's partition to replace its rows",
        metadata={
            "rows_in_druid": rows.count,
            "validated_rows": planned.validated_rows,
            "druid_task_id": task_id,
        },
    )


def no_bad_rows(outcome: TaskOutcome) -> dg.AssetCheckResult:
    bad_rows = outcome.bad_rows()
    return dg.AssetCheckResult(
        asset_key=DRUID_DATASOURCE_KEY,
        check_name=NO_UNPARSEABLE,
        passed=not any(bad_rows.values()),
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if not any(bad_rows.values())
        else f"Druid's task {outcome.task_id} reported bad rows: {bad_rows}",
        metadata={**bad_rows, "processed": int(outcome.row_stats.get("processed", 0) or 0)},
    )


def segments_loaded(served: SegmentsServed) -> dg.AssetCheckResult:
    return dg.AssetCheckResult(
        asset_key=DRUID_DATASOURCE_KEY,
        check_name=SEGMENTS_LOADED,
        passed=served.all_available,
        severity=dg.AssetCheckSeverity.ERROR,
        description=None
        if served.all_available
        else f"{served.available} of {served.published} segments over its task's time "
        "range are queryable: check the historicals (load queue, disk, logs)",
        metadata={
            "published_segments": served.published,
            "available_segments": served.available,
            "loaded_percent": round(served.percent, 1),
        },
    )


def columns_as_specified(
    planned: PlannedFile, plan: IngestionPlan, actual_columns: Mapping[str, str]
) -> dg.AssetCheckResult:
    # The types the task's spec asked for (files of one task share them) for this file's columns.
    specified = {name: plan.specified_columns[name] for name in planned.specified_columns}
    wrong_columns = {
        name: {"specified": DRUID_TO_SQL_TYPE[t], "in_druid": actual_columns.get(name, "(missing)")}
        for name, t in specified.items()
        if actual_columns.get(name) != DRUID_TO_SQL_TYPE[t]
    }
    return dg.AssetCheckResult(
        asset_key=DRUID_DATASOURCE_KEY,
        check_name=COLUMNS_AS_SPECIFIED,
        passed=not wrong_columns,
        severity=dg.AssetCheckSeverity.WARN,
        description=None if not wrong_columns else f"columns differ: {wrong_columns}",
        metadata={"differences": dg.MetadataValue.json(wrong_columns)},
    )


def not_in_druid(
    file: str, problem: str, extra: Mapping[str, dg.MetadataValue] | None = None
) -> dg.AssetCheckResult:
    """The failing verdict of a file whose rows did not reach Druid (refused, task failed)."""
    return failed_verdict(DRUID_DATASOURCE_KEY, ROWS_MATCH, file, problem, extra)
