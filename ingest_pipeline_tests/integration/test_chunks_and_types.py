"""Through Druid: an overwrite that moves a file to another time chunk, and a column whose type
changes between files of one datasource.

Expected figures are counted by plain Python from the rows these tests generate.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from pathlib import Path

import dagster as dg
import pytest

from ingest_pipeline.resources import build_resources
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.stack.settings import UPLOADS_BUCKET
from ingest_pipeline_tests import runs

pytestmark = pytest.mark.integration

Row = tuple[str, str, int]  # ts, team, points


def rows_on(day: str, count: int, first_points: int) -> list[Row]:
    return [
        (f"{day}T{i // 60:02d}:{i % 60:02d}:00Z", f"t{i % 3}", first_points + i)
        for i in range(count)
    ]


def csv_of(rows: list[Row]) -> bytes:
    return ("ts,team,points\n" + "".join(f"{t},{team},{p}\n" for t, team, p in rows)).encode()


def ingest(
    instance: dg.DagsterInstance,
    s3,
    config: Path,
    dataset: str,
    name: str,
    body: bytes,
) -> dg.ExecuteInProcessResult:
    key = f"{dataset}/{name}"
    s3.put_object(Bucket=UPLOADS_BUCKET, Key=f"uploads/{key}", Body=body)
    settings = PipelineSettings(datasets_config_path=str(config))
    resources = {**build_resources(dg.EnvVar), "pipeline_settings": settings}
    result = runs.materialize(instance, key, resources)
    runs.assert_success(result)
    return result


def day_config(tmp_path: Path, dataset: str) -> Path:
    config = tmp_path / "datasets.yaml"
    config.write_text(f"{dataset}:\n  time_column: ts\n  segment_granularity: DAY\n")
    return config


def per_file_and_day(druid: DruidResource, dataset: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(file name, day) -> (rows, sum of points), as Druid answers."""
    rows = druid.sql(
        "SELECT \"__source_key\" AS k, TIME_FORMAT(TIME_FLOOR(__time, 'P1D'), 'yyyy-MM-dd') AS d, "
        f'COUNT(*) AS n, SUM(points) AS s FROM "{dataset}" GROUP BY 1, 2'
    )
    return {(r["k"].rsplit("/", 1)[1], r["d"]): (r["n"], r["s"]) for r in rows}


def expected_per_file_and_day(
    files: dict[str, list[Row]],
) -> dict[tuple[str, str], tuple[int, int]]:
    counts: Counter[tuple[str, str]] = Counter()
    sums: Counter[tuple[str, str]] = Counter()
    for name, rows in files.items():
        for ts, _, points in rows:
            counts[(name, ts[:10])] += 1
            sums[(name, ts[:10])] += points
    return {key: (counts[key], sums[key]) for key in counts}


def test_an_overwrite_that_moves_a_file_to_another_chunk_leaves_its_neighbour(
    instance, druid, s3, tmp_path
) -> None:
    dataset = f"moved_{uuid.uuid4().hex[:8]}"
    config = day_config(tmp_path, dataset)
    old = rows_on("2024-06-01", 30, first_points=0)
    neighbour = rows_on("2024-06-01", 20, first_points=1000)
    ingest(instance, s3, config, dataset, "moving.csv", csv_of(old))
    ingest(instance, s3, config, dataset, "neighbour.csv", csv_of(neighbour))
    assert per_file_and_day(druid, dataset) == {
        ("moving.csv", "2024-06-01"): (30, sum(range(30))),
        ("neighbour.csv", "2024-06-01"): (20, sum(range(1000, 1020))),
    }

    # New content under the same key, two days later: a replace over both days' chunks.
    new = rows_on("2024-06-03", 25, first_points=5000)
    result = ingest(instance, s3, config, dataset, "moving.csv", csv_of(new))
    spec = runs.metadata_of(result, "druid_spec", f"{dataset}/moving.csv")
    assert spec["previous_rows_of_this_file"] == 30
    assert spec["mode"].startswith("replace")

    expected = expected_per_file_and_day({"moving.csv": new, "neighbour.csv": neighbour})
    assert expected == {
        ("moving.csv", "2024-06-03"): (25, sum(range(5000, 5025))),
        ("neighbour.csv", "2024-06-01"): (20, sum(range(1000, 1020))),
    }
    assert per_file_and_day(druid, dataset) == expected  # nothing of the old file on June 1st
    # the neighbour's rows are exactly as uploaded, row by row
    stored = druid.sql(
        f"SELECT TIME_FORMAT(__time, 'yyyy-MM-dd''T''HH:mm:ss''Z''') AS ts, team, points "
        f'FROM "{dataset}" WHERE "__source_key" = ? ORDER BY __time',
        [f"uploads/{dataset}/neighbour.csv"],
    )
    assert [(r["ts"], r["team"], r["points"]) for r in stored] == neighbour
    # the old chunk holds only the neighbour; the file's new chunk only the file
    days = druid.sql(
        "SELECT TIME_FORMAT(TIME_FLOOR(__time, 'P1D'), 'yyyy-MM-dd') AS d, COUNT(*) AS n "
        f'FROM "{dataset}" GROUP BY 1 ORDER BY 1'
    )
    assert days == [{"d": "2024-06-01", "n": 20}, {"d": "2024-06-03", "n": 25}]


def test_a_long_column_that_becomes_text_in_a_later_file(instance, druid, s3, tmp_path) -> None:
    """Druid 25 keeps the type the datasource had: the run succeeds, both WARN checks say so,
    and SQL reads the later file's text values of the column as NULL (they are stored, as the
    native scan shows, but not readable through the BIGINT column)."""
    dataset = f"clash_{uuid.uuid4().hex[:8]}"
    config = day_config(tmp_path, dataset)
    numbers = [(f"2024-07-01T00:{i:02d}:00Z", f"t{i % 3}", i * 10) for i in range(12)]
    ingest(instance, s3, config, dataset, "numbers.csv", csv_of(numbers))
    assert druid.datasource_columns(dataset)["points"] == "BIGINT"

    # the same chunk (July 1st), the same column, text this time
    words = [(f"2024-07-01T01:{i:02d}:00Z", f"t{i % 3}", f"p{i}") for i in range(8)]
    body = ("ts,team,points\n" + "".join(f"{t},{team},{p}\n" for t, team, p in words)).encode()
    result = ingest(instance, s3, config, dataset, "words.csv", body)

    verdicts = {
        e.check_name: (e.passed, e.description) for e in result.get_asset_check_evaluations()
    }
    assert verdicts == {
        "file_is_ingestible": (True, None),
        "null_ratios_within_threshold": (True, None),
        "no_duplicate_rows": (True, None),
        "schema_matches_datasource": (False, "column 'points' is string here, BIGINT in Druid"),
        "time_like_columns_used": (True, None),
        "rows_have_their_own_time": (True, None),
        "rows_in_druid_match_validated": (True, None),
        "no_unparseable_or_thrown_away_rows": (True, None),
        "segments_loaded": (True, None),
        "columns_as_specified": (
            False,
            "columns differ: {'points': {'specified': 'VARCHAR', 'in_druid': 'BIGINT'}}",
        ),
    }
    severities = {e.check_name: e.severity for e in result.get_asset_check_evaluations()}
    assert severities["schema_matches_datasource"] == dg.AssetCheckSeverity.WARN
    assert severities["columns_as_specified"] == dg.AssetCheckSeverity.WARN

    assert druid.datasource_columns(dataset)["points"] == "BIGINT"  # the datasource's type stays
    stored = druid.sql(f'SELECT "__source_key" AS k, points FROM "{dataset}" ORDER BY __time')
    key = f"uploads/{dataset}/"
    assert [(r["k"], r["points"]) for r in stored] == [
        (key + "numbers.csv", p) for _, _, p in numbers
    ] + [(key + "words.csv", None) for _ in words]
    # two segments in the one chunk: the appended file's beside the first one's
    # sys.segments learns num_rows from the broker's segment metadata refresh, a moment after a
    # segment is queryable (0 until then): wait for it, bounded, then assert exactly.
    deadline = time.monotonic() + 60
    while True:
        segments = druid.sql(
            "SELECT num_rows FROM sys.segments WHERE datasource = ? ORDER BY segment_id",
            [dataset],
        )
        if all(s["num_rows"] for s in segments) or time.monotonic() > deadline:
            break
        time.sleep(1)
    assert [s["num_rows"] for s in segments] == [len(numbers), len(words)]
    # the text is stored as text: a native scan of the second segment's rows returns it
    scan = druid.request(
        "POST",
        f"{druid.router_url}/druid/v2",
        json={
            "queryType": "scan",
            "dataSource": dataset,
            "intervals": ["2024-07-01/2024-07-02"],
            "columns": ["points"],
            "filter": {"type": "selector", "dimension": "__source_key", "value": key + "words.csv"},
            "resultFormat": "compactedList",
        },
        ok_status=(200,),
    ).json()
    assert sorted(row[0] for batch in scan for row in batch["events"]) == sorted(
        p for _, _, p in words
    )
