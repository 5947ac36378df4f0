"""The four assets against the real stack: a file in S3 becomes the right rows in Druid."""

from __future__ import annotations

import gzip
import io
import uuid
from datetime import UTC, datetime
from pathlib import Path

import dagster as dg
import polars as pl
import pytest

from ingest_pipeline.definitions import defs
from ingest_pipeline.partitions import upload_partitions
from ingest_pipeline.resources import build_resources
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.records_io import RecordsIOManager
from ingest_pipeline.resources.s3 import S3Storage
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.stack.settings import UPLOADS_BUCKET, VALIDATED_BUCKET
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests import runs
from ingest_pipeline_tests.runs import assert_success, metadata_of

pytestmark = pytest.mark.integration


def unique_dataset(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def upload(s3, dataset: str, name: str, body: bytes) -> str:
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{dataset}/{name}", Body=body)
    return f"{dataset}/{name}"


def materialize(
    instance: dg.DagsterInstance,
    partition_key: str,
    selection: list[str] | None = None,
    **overrides: object,
) -> dg.ExecuteInProcessResult:
    """The ingest job over one upload with the stack's resources (`overrides` replace some)."""
    resources = {**build_resources(dg.EnvVar), **overrides}
    return runs.materialize(instance, partition_key, resources, selection)


def sales_csv(rows: int, offset: int = 0) -> bytes:
    lines = ["event_time,category,amount,price"]
    for i in range(rows):
        minute = (i + offset) % 60
        lines.append(
            f"2024-05-01T10:{minute:02d}:00Z,{['books', 'games', 'music'][i % 3]},"
            f"{i + offset},{(i % 7) * 1.25}"
        )
    return ("\n".join(lines) + "\n").encode()


def assert_same_totals(actual: dict, expected: dict) -> None:
    assert actual["per_category"] == expected["per_category"]
    assert {k: v for k, v in actual.items() if k != "per_category"} == pytest.approx(
        {k: v for k, v in expected.items() if k != "per_category"}
    )


def druid_totals(druid: DruidResource, datasource: str) -> dict:
    total = druid.sql(
        f'SELECT COUNT(*) AS n, SUM(amount) AS amount, SUM(price) AS price FROM "{datasource}"'
    )[0]
    per_category = druid.sql(
        f'SELECT category, COUNT(*) AS n FROM "{datasource}" GROUP BY category ORDER BY category'
    )
    return {**total, "per_category": {r["category"]: r["n"] for r in per_category}}


def polars_totals(*bodies: bytes) -> dict:
    frame = pl.concat([pl.read_csv(io.BytesIO(b)) for b in bodies])
    per_category = frame.group_by("category").len().sort("category")
    return {
        "n": frame.height,
        "amount": frame["amount"].sum(),
        "price": frame["price"].sum(),
        "per_category": dict(zip(per_category["category"], per_category["len"], strict=True)),
    }


def test_asset_graph_is_raw_validated_spec_datasource() -> None:
    graph = defs.resolve_asset_graph()
    parents = {
        key.to_user_string(): {p.to_user_string() for p in graph.get(key).parent_keys}
        for key in graph.get_all_asset_keys()
    }
    assert parents == {
        "raw_file": set(),
        "validated_frame": {"raw_file"},
        "druid_spec": {"validated_frame"},
        "druid_datasource": {"druid_spec"},
    }
    for key in graph.get_all_asset_keys():
        assert graph.get(key).partitions_def == upload_partitions


def test_csv_lands_in_druid_with_the_figures_polars_computes(instance, druid, s3) -> None:
    dataset = unique_dataset("sales")
    body = sales_csv(300)
    result = materialize(instance, upload(s3, dataset, "may.csv", body))
    assert_success(result)

    assert_same_totals(druid_totals(druid, dataset), polars_totals(body))
    checks = {e.check_name: e.passed for e in result.get_asset_check_evaluations()}
    assert checks["file_is_ingestible"] and checks["rows_in_druid_match_validated"]
    assert checks["segments_loaded"] and checks["no_unparseable_or_thrown_away_rows"]
    metadata = metadata_of(result, "druid_datasource", f"{dataset}/may.csv")
    assert metadata["dagster/row_count"] == 300
    assert metadata["druid_task_id"].startswith("ingest_")


def test_reruns_replace_one_files_rows_and_leave_its_neighbour(instance, druid, s3) -> None:
    dataset = unique_dataset("rerun")
    first, neighbour = sales_csv(120), sales_csv(80, offset=1000)
    first_key = upload(s3, dataset, "first.csv", first)
    assert_success(materialize(instance, first_key))
    assert_success(materialize(instance, upload(s3, dataset, "neighbour.csv", neighbour)))
    assert_same_totals(druid_totals(druid, dataset), polars_totals(first, neighbour))

    # The same file again: nothing duplicated.
    rerun = materialize(instance, first_key)
    assert_success(rerun)
    spec_metadata = metadata_of(rerun, "druid_spec", first_key)
    assert spec_metadata["previous_rows_of_this_file"] == 120
    assert_same_totals(druid_totals(druid, dataset), polars_totals(first, neighbour))

    # New content under the same key: its rows are the new ones, the neighbour's untouched.
    changed = sales_csv(45, offset=5000)
    upload(s3, dataset, "first.csv", changed)
    assert_success(materialize(instance, first_key))
    assert_same_totals(druid_totals(druid, dataset), polars_totals(changed, neighbour))
    by_file = druid.sql(
        f'SELECT "__source_key" AS k, COUNT(*) AS n FROM "{dataset}" GROUP BY 1 ORDER BY 1'
    )
    assert by_file == [
        {"k": f"uploads/{dataset}/first.csv", "n": 45},
        {"k": f"uploads/{dataset}/neighbour.csv", "n": 80},
    ]


def test_late_na_and_decimals_after_row_100_keep_the_right_types(instance, druid, s3) -> None:
    dataset = unique_dataset("late_types")
    lines = ["ts,qty,label"] + [f"2024-01-02T00:00:{i % 60:02d}Z,{i},x" for i in range(150)]
    lines += ["2024-01-02T01:00:00Z,NA,y", "2024-01-02T01:00:01Z,2.5,z"]
    assert_success(
        materialize(instance, upload(s3, dataset, "late.csv", "\n".join(lines).encode()))
    )
    columns = druid.datasource_columns(dataset)
    assert columns["qty"] == "DOUBLE"
    rows = druid.sql(f'SELECT COUNT(*) AS n, SUM(qty) AS s, COUNT(qty) AS c FROM "{dataset}"')[0]
    assert rows == {"n": 152, "s": pytest.approx(sum(range(150)) + 2.5), "c": 151}


def test_ndjson_parquet_gzip_and_no_time_column_ingest(instance, druid, s3) -> None:
    dataset = unique_dataset("formats")
    ndjson = b'{"ts": "2024-02-01T00:00:00Z", "v": 1}\n{"ts": "2024-02-01T01:00:00Z", "v": 2}\n'
    buffer = io.BytesIO()
    pl.DataFrame({"ts": ["2024-02-01T02:00:00Z"] * 3, "v": [10, 20, 30]}).write_parquet(buffer)
    gz = gzip.compress(b"ts,v\n2024-02-01T03:00:00Z,100\n2024-02-01T04:00:00Z,200\n")
    for name, body in [("a.json", ndjson), ("b.parquet", buffer.getvalue()), ("c.csv.gz", gz)]:
        assert_success(materialize(instance, upload(s3, dataset, name, body)))
    assert druid.sql(f'SELECT COUNT(*) AS n, SUM(v) AS s FROM "{dataset}"') == [{"n": 7, "s": 363}]

    timeless = unique_dataset("timeless")
    assert_success(materialize(instance, upload(s3, timeless, "t.csv", b"name,n\na,1\nb,2\n")))
    assert druid.sql(f'SELECT MIN(__time) AS t0, MAX(__time) AS t1 FROM "{timeless}"') == [
        {"t0": "2000-01-01T00:00:00.000Z", "t1": "2000-01-01T00:00:00.000Z"}
    ]


class InputLosingStore(S3Storage):
    """The stack's store, except that the Druid input of validated files never arrives:
    Druid's task cannot read what its spec names."""

    def upload_file(self, path: Path, bucket: str, key: str, callback=None) -> str:  # type: ignore[no-untyped-def]
        if key.endswith(".ndjson.gz"):
            return f"s3://{bucket}/{key}"
        return super().upload_file(path, bucket, key, callback)


def test_druid_task_failure_fails_the_file_with_druids_message(instance, s3) -> None:
    dataset = unique_dataset("broken")
    key = upload(s3, dataset, "gone.csv", sales_csv(10))
    real = build_resources(dg.EnvVar)["s3"]
    losing = InputLosingStore(**real.model_dump())
    result = materialize(instance, key, s3=losing, records_io=RecordsIOManager(store=losing))
    assert not result.success
    verdict = runs.verdicts(instance, result.run_id)[key]
    assert verdict.outcome is Outcome.FAILED and verdict.problem is not None
    message = verdict.problem.what
    assert "Druid task ingest_" in message and "FAILED" in message
    # Druid's own words: the URI it could not read, and the S3 root cause from the task log.
    assert f"s3://{VALIDATED_BUCKET}/validated/{dataset}/gone.csv.ndjson.gz" in message, message
    assert "NoSuchKey" in message, message
    assert message in runs.failure_message(result)  # the run's failure says it too


def test_per_dataset_config_sets_time_column_dimensions_and_granularity(
    instance, druid, s3, tmp_path
) -> None:
    dataset = unique_dataset("configured")
    config = tmp_path / "datasets.yaml"
    config.write_text(
        f"{dataset}:\n  time_column: moment\n  time_format: '%d/%m/%Y %H:%M'\n"
        "  dimensions: [moment, city, visits]\n  segment_granularity: MONTH\n"
    )
    body = b"moment,city,visits,ignored\n03/02/2024 10:30,Oslo,3,x\n17/02/2024 08:00,Lima,5,y\n"
    key = upload(s3, dataset, "visits.csv", body)
    settings = PipelineSettings(datasets_config_path=str(config))
    assert_success(materialize(instance, key, pipeline_settings=settings))
    assert druid.sql(f'SELECT __time AS t, city, visits FROM "{dataset}" ORDER BY __time') == [
        {"t": "2024-02-03T10:30:00.000Z", "city": "Oslo", "visits": 3},
        {"t": "2024-02-17T08:00:00.000Z", "city": "Lima", "visits": 5},
    ]
    assert "ignored" not in druid.datasource_columns(dataset)
    assert druid.segment_interval(dataset) == (
        datetime(2024, 2, 1, tzinfo=UTC),
        datetime(2024, 3, 1, tzinfo=UTC),
    )
