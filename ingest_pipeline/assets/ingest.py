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
from ingest_pipeline.assets.steps import (
    ASSET_ORDER,
    DRUID_DATASOURCE,
    DRUID_SPEC,
    RAW_FILE,
    VALIDATED_FRAME,
)
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


CHECK_SPECS = (*VALIDATION_CHECKS, *INGESTION_CHECKS)


@dg.graph(
    name="ingest",
    out={
        **{name: dg.GraphOut() for name in DESCRIPTIONS},
        **{spec.get_python_identifier(): dg.GraphOut() for spec in CHECK_SPECS},
    },
)
def ingest_graph() -> dict[str, object]:
    uploads, raw = raw_file_step()
    outcomes, validated, *validation_checks = validated_frame_step(uploads)
    plans, spec = druid_spec_step(outcomes)
    datasource, *ingestion_checks = druid_datasource_step(plans, outcomes)
    checks = zip(CHECK_SPECS, [*validation_checks, *ingestion_checks], strict=True)
    return {
        RAW_FILE: raw,
        VALIDATED_FRAME: validated,
        DRUID_SPEC: spec,
        DRUID_DATASOURCE: datasource,
        **{spec.get_python_identifier(): output for spec, output in checks},
    }


# AssetsDefinition.from_graph rather than @graph_multi_asset: only it takes the lineage between
# the graph's own outputs (raw_file -> validated_frame -> druid_spec -> druid_datasource).
ingest = dg.AssetsDefinition.from_graph(
    ingest_graph,
    keys_by_output_name={name: dg.AssetKey(name) for name in DESCRIPTIONS},
    internal_asset_deps={
        later: {dg.AssetKey(earlier)} if earlier else set()
        for earlier, later in zip((None, *ASSET_ORDER), ASSET_ORDER, strict=False)
    },
    partitions_def=upload_partitions,
    group_name=GROUP,
    descriptions_by_output_name=DESCRIPTIONS,
    check_specs=CHECK_SPECS,
    can_subset=True,
    backfill_policy=dg.BackfillPolicy.single_run(),
)
