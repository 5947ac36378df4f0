"""The streaming path (`read_frame` + `validate_to_files`) against independent oracles.

Expected values come from the generated data itself (plain Python), never from the code under
test: row and duplicate counts, distinct counts, nulls, min/max, rejected lines, the rows in
both output files. Distinct and duplicate counts are also checked with their hashes forced to
spill to disk, with a known number of duplicates.
"""

from __future__ import annotations

import csv
import gzip
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import polars as pl
import pytest

from ingest_pipeline.datasets import DatasetConfig
from ingest_pipeline.reading import read_frame
from ingest_pipeline.validation import distinct, time_text, validate_to_files
from ingest_pipeline.vocabulary import SOURCE_KEY_COLUMN, TIME_COLUMN

KEY = "uploads/ds/upload.csv"
START = datetime(2024, 3, 1, tzinfo=UTC)


def distinct_rows(n: int) -> list[dict[str, object]]:
    """`n` rows, pairwise different (`id`), with nulls, repeats and quotes in the text."""
    rng = random.Random(7)
    rows = []
    for i in range(n):
        rows.append(
            {
                "ts": (START + timedelta(seconds=37 * i)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3]
                + "Z",
                "id": i,
                "city": None if i % 11 == 0 else f"city {i % 23}",
                "amount": None if i % 13 == 0 else round(rng.uniform(-1e6, 1e6), 3),
                "note": f'said "hi, {i % 401}"',
            }
        )
    return rows


def write_csv(path: Path, rows: list[dict[str, object]], terminator: str = "\n") -> None:
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator=terminator)
        writer.writerow(list(rows[0]))
        for row in rows:
            writer.writerow(["" if v is None else v for v in row.values()])


def run(tmp_path: Path, path: Path, batch_rows: int, config: DatasetConfig | None = None):
    parsed = read_frame(path, KEY, workdir=tmp_path)
    return validate_to_files(
        parsed,
        KEY,
        "ds",
        config,
        ndjson_path=tmp_path / "rows.ndjson.gz",
        parquet_path=tmp_path / "rows.parquet",
        batch_rows=batch_rows,
        preview_rows=5,
    )


@pytest.mark.parametrize("spill", [False, True])
def test_known_duplicates_and_report(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, spill: bool
) -> None:
    spilled: list[int] = []
    if spill:  # a few hundred hashes in memory: every counter spills to disk early
        monkeypatch.setattr(distinct, "DISTINCT_MEMORY_HASHES", 300)
        real_spill = distinct.DistinctCount._spill

        def spy(self: distinct.DistinctCount, hashes: pl.Series) -> None:
            spilled.append(len(hashes))
            real_spill(self, hashes)

        monkeypatch.setattr(distinct.DistinctCount, "_spill", spy)
    unique = distinct_rows(5_000)
    repeated = random.Random(3).sample(unique, 700)
    rows = unique + repeated  # exactly 700 rows repeat an earlier one
    random.Random(5).shuffle(rows)
    path = tmp_path / "upload.csv"
    write_csv(path, rows)

    summary = run(tmp_path, path, batch_rows=433)

    assert summary.row_count == 5_700
    assert summary.rejected == []
    assert summary.duplicate_rows == 700
    assert summary.time_column == "ts"
    report = summary.report
    cities = [r["city"] for r in rows]
    assert report["city"]["nulls"] == cities.count(None)
    assert report["city"]["distinct"] == len({c for c in cities if c is not None})
    assert report["note"]["distinct"] == len({r["note"] for r in rows})
    assert report["id"]["min"] == 0 and report["id"]["max"] == 4_999
    amounts = [r["amount"] for r in rows if r["amount"] is not None]
    assert report["amount"]["min"] == min(amounts) and report["amount"]["max"] == max(amounts)
    assert report["amount"]["nulls"] == len(rows) - len(amounts)
    times = sorted(r["ts"] for r in rows)
    assert report[TIME_COLUMN]["min"] == times[0] and report[TIME_COLUMN]["max"] == times[-1]
    assert not list(tmp_path.glob("distinct-*")), "spill files are removed"
    assert bool(spilled) == spill

    # both files hold every row, in file order, as the oracle has them
    with gzip.open(tmp_path / "rows.ndjson.gz", "rt", encoding="utf-8") as handle:
        written = [json.loads(line) for line in handle]
    assert [w["id"] for w in written] == [r["id"] for r in rows]
    assert [w["__time"] for w in written] == [r["ts"] for r in rows]
    assert [w["city"] for w in written] == cities
    assert [w["amount"] for w in written] == [r["amount"] for r in rows]
    assert {w[SOURCE_KEY_COLUMN] for w in written} == {KEY}
    parquet = pl.read_parquet(tmp_path / "rows.parquet")
    assert parquet["id"].to_list() == [r["id"] for r in rows]
    assert parquet["note"].to_list() == [r["note"] for r in rows]


@pytest.mark.parametrize("plain", [True, False])
def test_rejected_rows_by_source_line(tmp_path: Path, plain: bool) -> None:
    """Bad times at known lines; with quoted newlines (careful path) lines and rows differ."""
    rows = distinct_rows(3_000)
    bad = set(random.Random(11).sample(range(3_000), 40))
    for i in bad:
        rows[i]["ts"] = "not a time" if i % 2 else None
    if not plain:
        for i in range(0, 3_000, 97):
            rows[i]["note"] = f"two\nlines {i}"
    path = tmp_path / "upload.csv"
    write_csv(path, rows, terminator="\r\n")
    # the oracle's line of each record: 1 + the line feeds before it
    line, expected = 2, []
    for i, row in enumerate(rows):
        if i in bad:
            what = "missing time value" if row["ts"] is None else f"unparseable time {row['ts']!r}"
            expected.append((line, f"{what} in column 'ts'"))
        line += 1 + str(row["note"]).count("\n")

    summary = run(tmp_path, path, batch_rows=250, config=DatasetConfig(max_rejected_share=0.05))

    assert [(r.line, r.reason) for r in summary.rejected] == expected
    assert summary.row_count == 3_000 - 40


def test_text_times_parse_as_the_first_matching_format() -> None:
    """The sequential parse gives what coalescing every format gives (the plain definition)."""
    values = pl.Series(
        [
            "2024-01-02T03:04:05.678Z",
            " 2024/01/02 03:04 ",
            "2024-01-02 03:04:05+02:00",
            "2024-01-02",
            "1700000000",
            "1700000000.5",
            "2024-01-02T03:04",
            "2024-01-02T03:04:05 UTC",
            "garbage",
            None,
            "",
            "2024-13-45",
            "2024-01-02T03:04:05.123456789",
            "2024-01-02T03:04:05Z",
            " 2024-01-02T03:04:05.1Z ",
            "2024-01-02T03:04:05.123456789Z",
            "2024-01-02T03:04:05.1234567891Z",
            "2024-01-02T03:04:05.Z",
            "2024-01-02T3:4:5Z",
            "2024-01-02T03:04:05z",
            "2024-01-02T03:04:05 Z",
            "2024-01-02T03:04Z",
            "2024-02-30T03:04:05Z",
            "2024-01-02T24:00:00Z",
            "2024-01-02T23:59:60Z",
            "+2024-01-02T03:04:05Z",
            "02024-01-02T03:04:05Z",
            "2024-01-02T03:04:05+01:00Z",
            "2024-02-30T03:04:05.000Z",
            "2024-01-02T24:00:00.000Z",
            "2024-01-02T23:59:60.000Z",
            "2024-01-02T03:04:05.12Z",
            "2024-01-02T03:04:05.1234Z",
            "2024-1-2T03:04:05.123Z",
            "2024-01-02T03:04:05.123 Z",
            "2024-01-02 03:04:05.123Z",
            "2024-01-02T03:04:05,123Z",
            "-001-01-02T03:04:05.123Z",
            "9999-12-31T23:59:59.999Z",
            "0001-01-01T00:00:00.000Z",
            "Jan 1 2000",
            "01-Jan-2024",
            "January 5, 2024",
            "5 Jan 2024 13:45",
            "Fri, 05 Jan 2024 13:45:00 +0000",
            "Fri, 5 Jan 2024 08:45:00 -0500",
            "Sat, 06 Jan 2024 13:45:00 GMT",
            "Sept 9th, 2024 1:05 PM",
            "2024-Jan-05 13:45:00.250+01",
            "Feb 30 2024",
            "Jan 5 2024 EST",
            "2024-01-05 13:45:00.5+01",
        ]
        * 50
    )
    coalesced = pl.DataFrame({"t": values}).select(
        pl.coalesce(time_text.text_time_candidates(pl.col("t").str.strip_chars(), "s")).cast(
            time_text.UTC_MS
        )
    )
    # (then no year from fewer than 4 digits: "-001-01-02..." is no time, "0001-01-01" is)
    coalesced = coalesced.select(
        time_text.four_digit_years(coalesced.to_series(), values.str.strip_chars())
    )
    parsed = pl.DataFrame({"t": values}).select(time_text.text_time_expr(pl.col("t"), None, "s"))
    # as epoch milliseconds: year -1 has no Python datetime
    got, want = (f.to_series().cast(pl.Int64).to_list() for f in (parsed, coalesced))
    assert got == want
    expected_first = datetime(2024, 1, 2, 3, 4, 5, 678_000, tzinfo=UTC)
    assert parsed.to_series()[0] == expected_first
    assert parsed.to_series()[13] == datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)
