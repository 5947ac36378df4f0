"""The four assets of one upload as one graph of four steps.

raw_file -> validated_frame -> druid_spec -> druid_datasource, each a step of its own (the run
view shows where a file stopped); they hand each other typed records through RecordsIOManager.
The steps yield no asset output: each logs a materialization per file that got through it
(see steps.py), so a rejected file's partition is red, not green.
"""

from __future__ import annotations

import dagster as dg

from ingest_pipeline.assets.druid_datasource import druid_datasource_step
from ingest_pipeline.assets.druid_spec import druid_spec_step
from ingest_pipeline.assets.raw_file import raw_file_step
from ingest_pipeline.assets.steps import DRUID_DATASOURCE, DRUID_SPEC, RAW_FILE, VALIDATED_FRAME
from ingest_pipeline.assets.validated_frame import validated_frame_step
from ingest_pipeline.checks import INGESTION_CHECKS, VALIDATION_CHECKS
from ingest_pipeline.partitions import upload_partitions

GROUP = "ingest"
DESCRIPTIONS = {
    RAW_FILE: "An object uploaded under s3://<uploads bucket>/<prefix>/<dataset>/<file>, as it "
    "is (no copy).",
    VALIDATED_FRAME: "The upload parsed, typed and checked; typed Parquet + NDJSON.gz in S3.",
    DRUID_SPEC: "Druid native batch specs: typed dimensions, rollup off, S3 input with "
    "endpoint, path-style and credential providers; new files appended in one task per "
    "datasource, a re-ingested file replacing only its own rows.",
    DRUID_DATASOURCE: "Each file's rows in the Druid datasource named by its dataset, queryable.",
}


@dg.graph_multi_asset(
    name="ingest",
    outs={
        name: dg.AssetOut(is_required=False, description=description)
        for name, description in DESCRIPTIONS.items()
    },
    group_name=GROUP,
    partitions_def=upload_partitions,
    check_specs=[*VALIDATION_CHECKS, *INGESTION_CHECKS],
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
def ingest() -> dict[str, object]:
    uploads, raw = raw_file_step()
    outcomes, validated, *validation_checks = validated_frame_step(uploads)
    plans, spec = druid_spec_step(outcomes)
    datasource, *ingestion_checks = druid_datasource_step(plans, outcomes)
    checks = zip(
        [*VALIDATION_CHECKS, *INGESTION_CHECKS],
        [*validation_checks, *ingestion_checks],
        strict=True,
    )
    return {
        RAW_FILE: raw,
        VALIDATED_FRAME: validated,
        DRUID_SPEC: spec,
        DRUID_DATASOURCE: datasource,
        **{spec.get_python_identifier(): output for spec, output in checks},
    }
