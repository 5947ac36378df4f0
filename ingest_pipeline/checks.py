"""Asset checks: validation health (blocking) and ingestion health, as specs plus evaluation.

The assets compute these from what they just did (the validation result, the Druid task), so
a check never re-reads a file; the functions here decide pass/fail and the metadata a person
acts on.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import dagster as dg

# ------------------------------------------------------------------ validation (validated_frame)

VALIDATED_FRAME_KEY = dg.AssetKey("validated_frame")
INGESTIBLE = "file_is_ingestible"
NULL_RATIOS = "null_ratios_within_threshold"
NO_DUPLICATE_ROWS = "no_duplicate_rows"
SCHEMA_MATCHES_DATASOURCE = "schema_matches_datasource"

VALIDATION_CHECKS = [
    dg.AssetCheckSpec(
        INGESTIBLE,
        asset=VALIDATED_FRAME_KEY,
        blocking=True,
        description="Readable, at least one row, usable time column, rejected rows within the "
        "dataset's allowed share. A failure stops the spec and the ingestion of this file.",
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
]


def validation_check_results(
    validated: Mapping[str, Any],
    existing_columns: Mapping[str, str],
    null_ratio_warn: float,
) -> list[dg.AssetCheckResult]:
    """Check results for one validated file (`validated` is the validated_frame output)."""
    if not validated["accepted"]:
        return [
            dg.AssetCheckResult(
                asset_key=VALIDATED_FRAME_KEY,
                check_name=INGESTIBLE,
                passed=False,
                severity=dg.AssetCheckSeverity.ERROR,
                description=validated["problem"],
                metadata={"file": validated["source_uri"], "problem": validated["problem"]},
            )
        ]
    report = validated["report"]
    null_heavy = {
        column: stats["null_ratio"]
        for column, stats in report.items()
        if isinstance(stats.get("null_ratio"), float) and stats["null_ratio"] > null_ratio_warn
    }
    drift = schema_drift(validated["schema"], existing_columns)
    rejected = validated["rejected_rows"]
    return [
        dg.AssetCheckResult(
            asset_key=VALIDATED_FRAME_KEY,
            check_name=INGESTIBLE,
            passed=True,
            metadata={
                "rows": validated["row_count"],
                "rejected_rows": len(rejected),
                "rejected_sample": dg.MetadataValue.json(rejected[:20]),
                "time_column": validated["time_column"] or "(none: constant time)",
            },
        ),
        dg.AssetCheckResult(
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
        ),
        dg.AssetCheckResult(
            asset_key=VALIDATED_FRAME_KEY,
            check_name=NO_DUPLICATE_ROWS,
            passed=validated["duplicate_rows"] == 0,
            severity=dg.AssetCheckSeverity.WARN,
            metadata={"duplicate_rows": validated["duplicate_rows"]},
        ),
        dg.AssetCheckResult(
            asset_key=VALIDATED_FRAME_KEY,
            check_name=SCHEMA_MATCHES_DATASOURCE,
            passed=not drift,
            severity=dg.AssetCheckSeverity.WARN,
            description="; ".join(drift) if drift else None,
            metadata={
                "datasource_columns": dg.MetadataValue.json(dict(existing_columns)),
                "differences": dg.MetadataValue.json(drift),
            },
        ),
    ]


#: Druid SQL type of each Druid dimension type, to compare a file's schema with a datasource's.
SQL_TYPE = {"string": "VARCHAR", "long": "BIGINT", "double": "DOUBLE", "float": "FLOAT"}


def schema_drift(
    schema: list[list[str]] | list[tuple[str, str]], existing: Mapping[str, str]
) -> list[str]:
    """Differences between a file's columns and the datasource's (empty for a new datasource)."""
    if not existing:
        return []
    drift = []
    for name, druid_type in schema:
        if name not in existing:
            drift.append(f"new column {name!r} ({druid_type})")
        elif existing[name] != SQL_TYPE.get(druid_type, existing[name]):
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
        description="Every used segment of the datasource is loaded on a historical.",
    ),
    dg.AssetCheckSpec(
        COLUMNS_AS_SPECIFIED,
        asset=DRUID_DATASOURCE_KEY,
        description="Druid's columns and types are those the spec asked for.",
    ),
]


def ingestion_check_results(
    *,
    validated_rows: int,
    rows_in_druid: int,
    row_stats: Mapping[str, Any],
    load_percent: float | None,
    specified: Mapping[str, str],
    actual_columns: Mapping[str, str],
) -> list[dg.AssetCheckResult]:
    bad_rows = {
        k: int(row_stats.get(k, 0) or 0)
        for k in ("unparseable", "processedWithError", "thrownAway")
    }
    wrong_columns = {
        name: {"specified": SQL_TYPE[t], "in_druid": actual_columns.get(name, "(missing)")}
        for name, t in specified.items()
        if actual_columns.get(name) != SQL_TYPE[t]
    }
    return [
        dg.AssetCheckResult(
            asset_key=DRUID_DATASOURCE_KEY,
            check_name=ROWS_MATCH,
            passed=rows_in_druid == validated_rows,
            severity=dg.AssetCheckSeverity.ERROR,
            description=None
            if rows_in_druid == validated_rows
            else f"Druid holds {rows_in_druid} rows of this file, validation produced "
            f"{validated_rows}: re-materialize the file's partition to replace its rows",
            metadata={"rows_in_druid": rows_in_druid, "validated_rows": validated_rows},
        ),
        dg.AssetCheckResult(
            asset_key=DRUID_DATASOURCE_KEY,
            check_name=NO_UNPARSEABLE,
            passed=not any(bad_rows.values()),
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={**bad_rows, "processed": int(row_stats.get("processed", 0) or 0)},
        ),
        dg.AssetCheckResult(
            asset_key=DRUID_DATASOURCE_KEY,
            check_name=SEGMENTS_LOADED,
            passed=load_percent is not None and load_percent >= 100.0,
            severity=dg.AssetCheckSeverity.ERROR,
            metadata={"loaded_percent": load_percent if load_percent is not None else -1.0},
        ),
        dg.AssetCheckResult(
            asset_key=DRUID_DATASOURCE_KEY,
            check_name=COLUMNS_AS_SPECIFIED,
            passed=not wrong_columns,
            severity=dg.AssetCheckSeverity.WARN,
            description=None if not wrong_columns else f"columns differ: {wrong_columns}",
            metadata={"differences": dg.MetadataValue.json(wrong_columns)},
        ),
    ]
