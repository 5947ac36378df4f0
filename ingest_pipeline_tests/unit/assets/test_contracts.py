"""A dataset's schema contract through the real graph (against the fakes): a frozen dataset
rejects a file with a new column, red on its partition; discard_row leaves out exactly the bad
rows; every file's drift reaches its verdict and `status DATASET`."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console

from ingest_pipeline.console.status import collect_status, drift_table
from ingest_pipeline.resources.settings import PipelineSettings
from ingest_pipeline.verdict import Outcome
from ingest_pipeline_tests.unit.assets.helpers import csv, new_world


def with_referee(rows: int, bad: dict[int, str]) -> bytes:
    """A later export: a new column, and some points that are not numbers."""
    lines = ["ts,team,points,referee"]
    lines += [
        f"2024-07-02T{i // 60:02d}:{i % 60:02d}:00Z,t{i % 4},{bad.get(i, i)},r{i % 3}"
        for i in range(rows)
    ]
    return ("\n".join(lines) + "\n").encode()


def test_contracts_decide_what_a_later_file_may_change(tmp_path: Path) -> None:
    config = tmp_path / "datasets.yaml"
    config.write_text(
        "frozen:\n  columns: freeze\ntidy:\n  columns: discard\n  types: discard_row\n"
    )
    world = new_world()
    world.settings = PipelineSettings(datasets_config_path=str(config))
    for dataset in ("frozen", "tidy"):
        world.upload(f"{dataset}/first.csv", csv(30))
        world.run([f"{dataset}/first.csv"])  # the datasource: ts, team, points BIGINT

    world.upload("frozen/later.csv", with_referee(40, {}))
    world.upload("tidy/later.csv", with_referee(240, {7: "tbd", 150: "12.5"}))
    run = world.run(["frozen/later.csv", "tidy/later.csv"])

    verdicts = world.verdicts(run.run_id)
    frozen, tidy = verdicts["frozen/later.csv"], verdicts["tidy/later.csv"]
    assert frozen.outcome is Outcome.REJECTED and frozen.problem is not None
    assert frozen.problem.column == "referee" and "columns: freeze" in frozen.problem.what
    _, failed = world.statuses("validated_frame")
    assert failed == {"frozen/later.csv"}  # red where it stopped
    assert tidy.outcome is Outcome.INGESTED and tidy.rows == 238
    assert world.druid.row_count("tidy") == 30 + 238
    assert "referee" not in world.druid.known_columns("tidy")
    assert tidy.schema_drift == (
        "new column(s) left out (columns: discard): 'referee'",
        "2 row(s) left out (types: discard_row), the first at line 9: column 'points': 'tbd' "
        "is not a long as in Druid",
    )
    assert any(
        w.startswith("schema_matches_datasource: new column(s) left out") for w in tidy.warnings
    )

    (status,) = collect_status(world.instance, None, "tidy")
    table = drift_table([status])
    assert table is not None
    console = Console(width=200, record=True)
    console.print(table)
    shown = console.export_text()
    assert "tidy/later.csv" in shown and "2 row(s) left out (types: discard_row)" in shown
    assert "tidy/first.csv" not in shown  # the first file defined the schema: no drift
