"""Bad and odd files through S3, the sensor and a real daemon: each gets a clear verdict.

Either it is ingested with exact row counts and types in Druid, or its blocking check fails
with a message naming the file and the problem, and nothing of it reaches Druid.
"""

from __future__ import annotations

import gzip
import io
import time
import uuid

import dagster as dg
import polars as pl
import pytest
from botocore.exceptions import ClientError

from ingest_pipeline.assets.verdicts import latest_verdict
from ingest_pipeline.resources.druid import DruidResource
from ingest_pipeline.stack.settings import UPLOADS_BUCKET
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.integration.automation import (
    check_results,
    put,
    runs_for,
    wait_for_runs,
)
from ingest_pipeline_tests.integration.oracles import rows_in_druid

pytestmark = pytest.mark.integration


def parquet_bytes() -> bytes:
    buffer = io.BytesIO()
    pl.DataFrame({"ts": ["2024-01-01T00:00:00Z"], "v": [1]}).write_parquet(buffer)
    return buffer.getvalue()


# name -> (body, expected rows in Druid, {column: Druid SQL type}, extra SQL check)
INGESTED = {
    "bom_crlf.csv": (
        b"\xef\xbb\xbfts,v\r\n2024-01-01T00:00:00Z,1\r\n2024-01-02,2\r\n",
        2,
        {"v": "BIGINT"},
    ),
    "semicolon.csv": (b"ts;v\n2024-01-01;1\n2024-01-02;2\n", 2, {"v": "BIGINT"}),
    "tab.tsv": (b"ts\tv\n2024-01-01\t1\n2024-01-02\t2\n", 2, {"v": "BIGINT"}),
    "pipe.csv": (b"ts|v\n2024-01-01|1\n2024-01-02|2\n", 2, {"v": "BIGINT"}),
    "quoted_newline.csv": (
        b'ts,note\n2024-01-01,"line one\nline two"\n2024-01-02,plain\n',
        2,
        {"note": "VARCHAR"},
    ),
    "dup_headers.csv": (b"ts,v,v,\n2024-01-01,1,2,3\n", 1, {"v": "BIGINT", "v_2": "BIGINT"}),
    "latin1.csv": (
        "ts,city\n2024-01-01,S\u00e3o Paulo\n".encode("latin-1"),
        1,
        {"city": "VARCHAR"},
    ),
    "utf16.csv": ("ts,city\n2024-01-01,K\u00f6ln\n".encode("utf-16"), 1, {"city": "VARCHAR"}),
    "with_ext.csv.gz": (gzip.compress(b"ts,v\n2024-01-01,1\n"), 1, {"v": "BIGINT"}),
    "gzip_no_ext.csv": (gzip.compress(b"ts,v\n2024-01-01,1\n"), 1, {"v": "BIGINT"}),
    "nested.json": (b'{"ts": "2024-01-01", "v": {"a": 1, "b": [1, 2]}}\n', 1, {"v": "VARCHAR"}),
    # an API dump: one pretty-printed JSON array, times with an offset
    "array.json": (
        b'[\n  {"ts": "2024-01-01T02:00:00+02:00", "v": {"a": 1}},\n'
        b'  {"ts": "2024-01-02T00:00:00Z", "v": null}\n]\n',
        2,
        {"v": "VARCHAR"},
    ),
    # spreadsheet exports: the day/month order decided by the values (31 > 12)
    "german_dates.csv": (b"Datum;Umsatz\n31.01.2024;1\n01.02.2024;2\n", 2, {"Umsatz": "BIGINT"}),
    "us_dates.csv": (b"created,v\n1/31/2024 1:05 PM,1\n2/1/2024 12:00 AM,2\n", 2, {"v": "BIGINT"}),
    "mixed_types.csv": (
        b"ts,v\n2024-01-01,1\n2024-01-02,abc\n2024-01-03,2.5\n",
        3,
        {"v": "VARCHAR"},
    ),
    "date_formats.csv": (
        b"ts,v\n2024-01-01,1\n2024/01/02,2\n2024-01-03T10:00:00+02:00,3\n",
        3,
        {"v": "BIGINT"},
    ),
    "epoch_s.csv": (b"ts,v\n1704067200,1\n1704153600,2\n", 2, {"v": "BIGINT"}),
    # a public stock-price table's shape: month-name dates (were ingested at a constant time)
    "stocks.csv": (
        b"symbol,date,price\nMSFT,Jan 1 2000,39.81\nMSFT,Feb 1 2000,36.35\nIBM,Mar 1 2000,102.73\n",
        3,
        {"price": "DOUBLE", "symbol": "VARCHAR"},
    ),
    # RFC 2822 times hold a comma: quoted, as a CSV writer quotes them
    "rfc2822.csv": (
        b'sent,v\n"Fri, 05 Jan 2024 13:45:00 +0100",1\n"Sat, 06 Jan 2024 00:00:00 +0000",2\n',
        2,
        {"v": "BIGINT"},
    ),
    # a German export: ";" and decimal commas, the amounts are numbers
    "decimal_comma.csv": (
        b"Datum;Betrag\n31.01.2024;1639,68\n01.02.2024;-12,5\n",
        2,
        {"Betrag": "DOUBLE"},
    ),
    "epoch_ms.csv": (b"ts,v\n1704067200000,1\n1704153600000,2\n", 2, {"v": "BIGINT"}),
    "zoned_naive.csv": (b"ts,v\n2024-01-01T10:00:00+02:00,1\n2024-01-01T10:00:00,2\n", 2, {}),
    "years_1900_2200.csv": (b"ts,v\n1900-01-01,1\n2200-12-31,2\n", 2, {"v": "BIGINT"}),
    "columnar.parquet": (parquet_bytes(), 1, {"v": "BIGINT"}),
    "spaces \u00fc %41.csv": (b"ts,v\n2024-01-01,1\n", 1, {"v": "BIGINT"}),
    "two..dots.csv": (b"ts,v\n2024-01-01,1\n", 1, {"v": "BIGINT"}),
    # Hostile names: SQL and JSON metacharacters in the key and the header. Column names become
    # identifiers; the key reaches Druid SQL only as a parameter (source_rows below).
    'quote\'s "dq";--.csv': (
        b'ts,"a""b","\'; DROP TABLE x; --","{""json"":1}"\n2024-01-01,1,2,3\n',
        1,
        {"a_b": "BIGINT", "DROP_TABLE_x": "BIGINT", "json_1": "BIGINT"},
    ),
    # a user column named like Druid's own time column becomes time_original (and the time)
    "dunder_time.csv": (
        b"__time,v\n2024-01-01T05:00:00Z,1\n",
        1,
        {"time_original": "VARCHAR", "v": "BIGINT"},
    ),
    # a report export: a title above the table
    "titled_report.csv": (
        b"Sales report\nGenerated: 2024-03-05\n\nts,v\n2024-01-01,1\n2024-01-02,2\n",
        2,
        {"v": "BIGINT"},
    ),
    # Excel's first line names the delimiter
    "excel_sep.csv": (b"sep=;\nts;v\n2024-01-01;1\n2024-01-02;2\n", 2, {"v": "BIGINT"}),
    # a spreadsheet's thousands separators in a "," file: numbers, not text
    "thousands.csv": (
        b'ts,amount\n2024-01-01,"1,037"\n2024-01-02,"12,345.50"\n',
        2,
        {"amount": "DOUBLE"},
    ),
    # an API dump: one pretty-printed object wrapping the records
    "api_dump.json": (
        b'{\n  "meta": {"count": 2},\n  "data": [\n    {"ts": "2024-01-01T00:00:00Z", "v": 1},\n'
        b'    {"ts": "2024-01-02T00:00:00Z", "v": 2}\n  ]\n}\n',
        2,
        {"v": "BIGINT"},
    ),
    # the date and its time of day in columns of their own
    "date_and_time.csv": (
        b"Datum;Uhrzeit;v\n31.01.2024;13:45;1\n01.02.2024;00:05;2\n",
        2,
        {"Uhrzeit": "VARCHAR", "v": "BIGINT"},
    ),
    # local times with a zone's name
    "zone_names.csv": (
        b"ts,v\n2024-01-01 10:00:00 CET,1\n2024-01-02 10:00:00 EST,2\n",
        2,
        {"v": "BIGINT"},
    ),
    # monthly figures: a month alone is its first day
    "monthly.csv": (b"month,v\n2024-01,1\n2024/02,2\n", 2, {"v": "BIGINT"}),
    # quarterly figures: a quarter is its first day
    "quarterly.csv": (b"quarter,v\n2024-Q1,1\nQ2 2024,2\n", 2, {"v": "BIGINT"}),
    # a yearly panel: no column holds a date, the year makes one
    "yearly_panel.csv": (b"year,country,v\n2019,FR,1\n2020,FR,2\n", 2, {"year": "BIGINT"}),
    # the date's parts in columns of their own (German names), to the hour
    "date_parts.csv": (
        b"Jahr,Monat,Tag,Stunde,v\n2024,1,31,13,1\n2024,2,1,0,2\n",
        2,
        {"Monat": "BIGINT", "Stunde": "BIGINT"},
    ),
    # Excel's US short date: a year in 2 digits
    "us_short_dates.csv": (b"when,v\n1/31/24 1:05 PM,1\n2/1/24,2\n", 2, {"when": "VARCHAR"}),
    # German dates no part above 12 decides: dotted, so day first
    "dotted_early_dates.csv": (b"Datum;v\n01.02.2024;1\n03.02.2024;2\n", 2, {"v": "BIGINT"}),
    # a spreadsheet's date column in the General format: Excel's day numbers
    "excel_days.csv": (b"order_date,v\n45292,1\n45293.5,2\n", 2, {"order_date": "DOUBLE"}),
    # NASA POWER's hourly weather: the date's parts abbreviated
    "nasa_power.csv": (
        b"YEAR,MO,DY,HR,T2M\n2024,1,31,13,-1.5\n2024,2,1,0,2\n",
        2,
        {"T2M": "DOUBLE", "HR": "BIGINT"},
    ),
    # UCI's Air Quality: an Italian clock beside the date, decimal commas among integers
    "air_quality.csv": (
        b"Date;Time;CO(GT);;\n31/01/2024;13.00.00;2,6;;\n01/02/2024;00.00.00;-200;;\n",
        2,
        {"CO_GT": "DOUBLE"},
    ),
    # FRED's monthly series: US dates, all on the 1st
    "fred_monthly.csv": (b"DATE,v\n1/1/2024,1\n3/1/2024,2\n", 2, {"v": "BIGINT"}),
    # two exports joined with cat: the second header is no row
    "joined.csv": (b"ts,v\n2024-01-01,1\nts,v\n2024-01-02,2\n", 2, {"v": "BIGINT"}),
    # a report export's totals row and note below the table: no rows
    "totals_footer.csv": (
        b"ts,region,v\n2024-01-01,A,1\n2024-01-02,B,2\nTotal,,3\n\nGenerated by ReportTool\n",
        2,
        {"region": "VARCHAR"},
    ),
}
#: Exact times Druid must hold for the time-handling cases.
TIMES = {
    "epoch_s.csv": ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    "stocks.csv": [
        "2000-01-01T00:00:00.000Z",
        "2000-02-01T00:00:00.000Z",
        "2000-03-01T00:00:00.000Z",
    ],
    "rfc2822.csv": ["2024-01-05T12:45:00.000Z", "2024-01-06T00:00:00.000Z"],
    "epoch_ms.csv": ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    "zoned_naive.csv": ["2024-01-01T08:00:00.000Z", "2024-01-01T10:00:00.000Z"],
    "years_1900_2200.csv": ["1900-01-01T00:00:00.000Z", "2200-12-31T00:00:00.000Z"],
    "dunder_time.csv": ["2024-01-01T05:00:00.000Z"],
    "array.json": ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    "german_dates.csv": ["2024-01-31T00:00:00.000Z", "2024-02-01T00:00:00.000Z"],
    "us_dates.csv": ["2024-01-31T13:05:00.000Z", "2024-02-01T00:00:00.000Z"],
    "date_formats.csv": [
        "2024-01-01T00:00:00.000Z",
        "2024-01-02T00:00:00.000Z",
        "2024-01-03T08:00:00.000Z",
    ],
    "titled_report.csv": ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    "api_dump.json": ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    "date_and_time.csv": ["2024-01-31T13:45:00.000Z", "2024-02-01T00:05:00.000Z"],
    "zone_names.csv": ["2024-01-01T09:00:00.000Z", "2024-01-02T15:00:00.000Z"],
    "monthly.csv": ["2024-01-01T00:00:00.000Z", "2024-02-01T00:00:00.000Z"],
    "quarterly.csv": ["2024-01-01T00:00:00.000Z", "2024-04-01T00:00:00.000Z"],
    "yearly_panel.csv": ["2019-01-01T00:00:00.000Z", "2020-01-01T00:00:00.000Z"],
    "date_parts.csv": ["2024-01-31T13:00:00.000Z", "2024-02-01T00:00:00.000Z"],
    "us_short_dates.csv": ["2024-01-31T13:05:00.000Z", "2024-02-01T00:00:00.000Z"],
    "totals_footer.csv": ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    "joined.csv": ["2024-01-01T00:00:00.000Z", "2024-01-02T00:00:00.000Z"],
    "dotted_early_dates.csv": ["2024-02-01T00:00:00.000Z", "2024-02-03T00:00:00.000Z"],
    "excel_days.csv": ["2024-01-01T00:00:00.000Z", "2024-01-02T12:00:00.000Z"],
    "nasa_power.csv": ["2024-01-31T13:00:00.000Z", "2024-02-01T00:00:00.000Z"],
    "air_quality.csv": ["2024-01-31T13:00:00.000Z", "2024-02-01T00:00:00.000Z"],
    "fred_monthly.csv": ["2024-01-01T00:00:00.000Z", "2024-03-01T00:00:00.000Z"],
}
#: Ingested files share a datasource, appended together as the sensor batches a dataset's new
#: files (one Druid task per run, not one per file), unless a column of theirs has another type
#: than in the rest ("text") or their 300 years need a coarser segment granularity than a
#: datasource of 2024 days may already have ("centuries").
DATASOURCE_OF = {
    "nested.json": "text",
    "array.json": "text",
    "mixed_types.csv": "text",
    "years_1900_2200.csv": "centuries",
}
# name -> (body, words the check failure must contain besides the file name)
REJECTED = {
    "header_only.csv": (b"ts,v\n", "no data rows"),
    "ragged.csv": (b"ts,v\n2024-01-01,1\n2024-01-02,2,extra\n", "line 3"),
    "binary.csv": (bytes(range(256)) * 8, "binary"),
    "broken_array.json": (b'[{"ts": "2024-01-01", "v": 1},\n {"ts": "2024-01-02"', "not closed"),
    "ambiguous_dates.csv": (b"when,v\n03/01/2024,1\n04/02/2024,2\n", "day and month order"),
    # one 50 MB line: a single 50 MiB value (an unclosed quote would look the same)
    "giant_line.csv": (
        b"ts,blob\n2024-01-01," + b"x" * (50 << 20) + b"\n",
        "52,428,800 bytes is longer than the 1,048,576",
    ),
}
#: A key with a '.'/'..' segment: AWS keeps it literally (and the pipeline rejects it, see
#: unit/test_naming.py), the local store refuses it at upload, so nothing can reach a run.
DOT_SEGMENT_KEY = "../escape.csv"


def of_file(
    druid: DruidResource, column: str, datasets: dict[str, str], name: str, prefix: str
) -> list[dict[str, object]]:
    """One column of one uploaded file's rows in time order, by its `__source_key`."""
    return druid.sql(
        f'SELECT "{column}" FROM "{datasets[name]}" WHERE "__source_key" = ? ORDER BY __time',
        [f"{prefix}{datasets[name]}/{name}"],
    )


def test_every_odd_file_is_ingested_exactly_or_rejected_clearly(automation, s3, druid) -> None:
    run_id = uuid.uuid4().hex[:6]
    datasets = {name: f"odd_{run_id}_{DATASOURCE_OF.get(name, 'ingested')}" for name in INGESTED}
    # each rejected file in a dataset of its own: nothing of it may reach Druid
    datasets.update({name: f"odd_{run_id}_rejected_{i}" for i, name in enumerate(REJECTED)})
    for name, (body, *_) in [*INGESTED.items(), *REJECTED.items()]:
        put(s3, automation, f"{datasets[name]}/{name}", body)
    put(s3, automation, f"odd_{run_id}_empty/empty.csv", b"")
    put(s3, automation, f"odd_{run_id}_noext/README", b"ts,v\n2024-01-01,1\n")
    bad_name = f"odd {run_id}!"
    put(s3, automation, f"{bad_name}/fine.csv", b"ts,v\n2024-01-01,1\n")

    expected = {f"{datasets[name]}/{name}": 1 for name in datasets}
    expected[f"{bad_name}/fine.csv"] = 1
    runs = wait_for_runs(automation, expected, timeout=900)
    instance = automation.instance()

    for name, (_, rows, types) in INGESTED.items():
        dataset = datasets[name]
        (run,) = runs[f"{dataset}/{name}"]
        assert run.status == dg.DagsterRunStatus.SUCCESS, (name, automation.logs())
        source = f"{automation.prefix}{dataset}/{name}"
        assert rows_in_druid(druid, dataset, source) == rows, name
        columns = druid.datasource_columns(dataset)
        for column, sql_type in types.items():
            assert columns.get(column) == sql_type, (name, columns)
        if name in TIMES:
            times = of_file(druid, "__time", datasets, name, automation.prefix)
            assert [r["__time"] for r in times] == TIMES[name], name
    latin1 = of_file(druid, "city", datasets, "latin1.csv", automation.prefix)
    assert latin1 == [{"city": "S\u00e3o Paulo"}]
    utf16 = of_file(druid, "city", datasets, "utf16.csv", automation.prefix)
    assert utf16 == [{"city": "K\u00f6ln"}]
    amounts = of_file(druid, "Betrag", datasets, "decimal_comma.csv", automation.prefix)
    assert sum(r["Betrag"] for r in amounts) == pytest.approx(1639.68 - 12.5)
    grouped = of_file(druid, "amount", datasets, "thousands.csv", automation.prefix)
    assert [r["amount"] for r in grouped] == [1037.0, 12345.5]

    rejected = dict(REJECTED)
    rejected_runs = {name: runs[f"{datasets[name]}/{name}"][0] for name in rejected}
    rejected_runs["fine.csv"] = runs[f"{bad_name}/fine.csv"][0]
    rejected["fine.csv"] = (b"", "dataset name")
    for name, run in rejected_runs.items():
        assert run.status == dg.DagsterRunStatus.FAILURE, name
        partition = f"{bad_name}/fine.csv" if name == "fine.csv" else f"{datasets[name]}/{name}"
        assert check_results(instance, run, partition) == {"file_is_ingestible": False}, name
        events = instance.all_logs(run.run_id, of_type=dg.DagsterEventType.ASSET_CHECK_EVALUATION)
        message = events[0].dagster_event.event_specific_data.description
        assert name in message and rejected[name][1] in message and "Fix:" in message, message
    for name in REJECTED:
        assert not druid.broker_sees(datasets[name]), name
        # the upload itself is left as it was
        s3.head_object(Bucket=UPLOADS_BUCKET, Key=f"{automation.prefix}{datasets[name]}/{name}")
    # A zero-byte object and one without an extension are not files to ingest: no run, but a
    # verdict on their own partition that the UI (and Dagster's API) shows.
    for partition, reason in [
        (f"odd_{run_id}_empty/empty.csv", "zero bytes"),
        (f"odd_{run_id}_noext/README", "unknown extension"),
    ]:
        assert runs_for(instance, partition) == []
        assert partition in instance.get_dynamic_partitions("uploads")
        verdict = latest_verdict(instance, partition)
        assert verdict is not None, partition
        assert verdict.outcome is Outcome.SKIPPED, verdict
        assert verdict.problem is not None and verdict.problem.what.startswith(reason), verdict


def test_the_local_store_refuses_keys_with_dot_segments(automation, s3) -> None:
    key = f"{automation.prefix}odd_dots/{DOT_SEGMENT_KEY}"
    with pytest.raises(ClientError) as refused:
        s3.put_object(Bucket=UPLOADS_BUCKET, Key=key, Body=b"ts,v\n2024-01-01,1\n")
    assert refused.value.response["Error"]["Code"] == "InvalidRequest"
    listed = s3.list_objects_v2(Bucket=UPLOADS_BUCKET, Prefix=f"{automation.prefix}odd_dots")
    assert listed.get("KeyCount", 0) == 0


def test_an_object_deleted_between_the_tick_and_the_run_fails_clearly(
    automation, s3, druid
) -> None:
    dataset = f"gone_{uuid.uuid4().hex[:6]}"
    partition = f"{dataset}/soon_gone.csv"
    put(s3, automation, partition, b"ts,v\n2024-01-01,1\n")
    instance = automation.instance()
    deadline = time.monotonic() + 120
    while not runs_for(instance, partition):  # the tick requested it: delete before it runs
        assert time.monotonic() < deadline, automation.logs()
        time.sleep(0.05)
    s3.delete_object(Bucket=UPLOADS_BUCKET, Key=automation.prefix + partition)
    (run,) = wait_for_runs(automation, {partition: 1})[partition]
    assert run.status == dg.DagsterRunStatus.FAILURE
    texts = [
        str(getattr(e.dagster_event.event_specific_data, attribute, "") or "")
        for e in instance.all_logs(run.run_id)
        if e.dagster_event is not None
        for attribute in ("description", "error")
    ]
    said = [t for t in texts if "deleted" in t and "soon_gone.csv" in t]
    assert said and "upload it again" in said[0], texts
    assert not druid.broker_sees(dataset)
