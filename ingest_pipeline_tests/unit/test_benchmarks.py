"""The benchmarks keep up with the code they measure (bench_sensor_tick once uploaded for three
minutes, then died on a TickPlan field the sensor no longer had) and start from a plain
`python benchmarks/x.py`."""

from __future__ import annotations

import importlib
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType

import pytest

from ingest_pipeline.records import ObjectInfo
from ingest_pipeline.stack.settings import REPO_ROOT

BENCHMARKS = REPO_ROOT / "benchmarks"


def benchmark(name: str, monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    monkeypatch.syspath_prepend(str(BENCHMARKS))  # as `python benchmarks/<name>.py` has it
    return importlib.import_module(name)


def test_the_sensor_tick_benchmark_plans_with_the_current_sensor(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    bench = benchmark("bench_sensor_tick", monkeypatch)
    listed = [
        ObjectInfo("b", f"p/ds{n % 2}/f{n:03d}.csv", 10, f"e{n}", datetime(2024, 1, 1, tzinfo=UTC))
        for n in range(30)
    ]
    seconds, note = bench.sensor_cpu(listed, "", lambda key: key.removeprefix("p/"), 500)
    assert seconds >= 0 and note == "30 objects, 2 runs"  # one batch per dataset


def test_the_queue_tick_benchmark_ticks_without_a_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    bench = benchmark("bench_queue_tick", monkeypatch)
    # asserts the tick requested its new keys and took no listed key for deleted
    cpu, wall, cursor = bench.measure_tick(50, 1, events=10, postgres=False)
    assert len(cpu) == len(wall) == 1 and 0 < cursor < 64 * 1024


STACK_BENCHMARKS = ("bench_burst.py", "bench_latency.py", "bench_sensor_tick.py", "soak.py")


def test_a_benchmark_without_a_stack_says_so_in_one_line(tmp_path: Path) -> None:
    """A plain `python benchmarks/x.py` gets past its imports (the burst uses the tests' daemon
    helper) and the stack's env, then names what is missing. The scripts start together: each
    is seconds of imports, mostly waiting on one core."""
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path),
        "INGEST_STACK_DIR": str(tmp_path / "no-stack"),
    }
    started = {
        script: subprocess.Popen(
            [sys.executable, str(BENCHMARKS / script)],
            env=env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for script in STACK_BENCHMARKS
    }
    expected = [
        f"error: no stack found: {tmp_path / 'no-stack' / 'stack.env'} does not exist, and this "
        "benchmark needs the running stack. Fix: `ingest-pipeline stack up` (or export "
        "INGEST_STACK_DIR=<its folder>)"
    ]
    for script, process in started.items():
        _, stderr = process.communicate(timeout=120)
        assert (script, process.returncode, stderr.splitlines()) == (script, 1, expected)


def test_the_soaks_files_say_their_own_rows_and_sum(monkeypatch: pytest.MonkeyPatch) -> None:
    """The soak's checker compares Druid with what the generator says it wrote."""
    import io
    import random

    import polars as pl

    soak = benchmark("soak", monkeypatch)
    rng = random.Random(3)
    sizes = []
    for version in range(20):
        body, rows, points = soak.good_csv(rng, 64, version)
        frame = pl.read_csv(io.BytesIO(body))
        assert (frame.height, frame["points"].sum()) == (rows, points)
        assert frame["comment"].unique().to_list() == [f"v{version}"]
        sizes.append(len(body))
    assert 1024 <= min(sizes) and max(sizes) <= 64 * 1024 + 100


def test_the_soak_expects_a_deleted_file_gone_only_where_its_dataset_retracts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import random

    soak = benchmark("soak", monkeypatch)
    check = benchmark("soak_check", monkeypatch)
    from ingest_pipeline.verdict import FileVerdict, Outcome, Stage

    class Bucket:
        def __init__(self) -> None:
            self.keys: dict[str, bytes] = {}

        def put_object(self, Bucket: str, Key: str, Body: bytes) -> dict[str, str]:  # noqa: N803
            self.keys[Key] = Body
            return {"ETag": f'"{len(Body)}"'}

        def delete_object(self, Bucket: str, Key: str) -> None:  # noqa: N803
            del self.keys[Key]

    bucket = Bucket()
    # nothing decided yet: the workload's own deletes turn into new files
    workload = soak.Workload(bucket, "p/", random.Random(1), 4, "t", lambda wanted: set())
    history: list[dict] = []
    while len({k.split("/")[0] for k in workload.good}) < soak.DATASETS:
        workload.act(history)
    retracting, keeping = (
        next(k for k in workload.good if k.startswith(workload.datasets[d])) for d in (0, 4)
    )
    kept_expectation = workload.expected[keeping]
    for key in (retracting, keeping):
        workload.delete(key, history)
        assert "p/" + key not in bucket.keys and key not in workload.good
    assert workload.expected[retracting].outcome is Outcome.RETRACTED
    assert workload.expected[keeping] == kept_expectation  # under keep its rows stay
    assert workload.actions["delete_retract"] == workload.actions["delete_keep"] == 1
    # the report and --min-uploads count PUTs only: a delete is an action, not an upload
    puts = sum(1 for entry in history if not entry["action"].startswith("delete"))
    assert (workload.uploads, workload.deletes) == (puts, 2)

    # a delete takes only a file whose latest version has its verdict
    (chosen,) = [k for k in workload.deletable if k.startswith(workload.datasets[4])][:1]
    workload.decided = lambda wanted: {chosen} & set(wanted)
    while workload.actions["delete_keep"] + workload.actions["delete_retract"] == 2:
        workload.act(history)
    assert history[-1] == {"at": history[-1]["at"], "action": "delete_keep", "key": chosen}
    retracted = FileVerdict(retracting, Outcome.RETRACTED, Stage.DRUID_DATASOURCE)
    assert check.is_for(retracted, workload.expected[retracting])
    assert not check.is_for(retracted, kept_expectation)


def test_the_soak_tells_a_backlog_from_a_wrong_row(monkeypatch: pytest.MonkeyPatch) -> None:
    """Thousands of 'not yet' must not bury one wrong row: rows are judged by kind."""
    check = benchmark("soak_check", monkeypatch)
    from ingest_pipeline.verdict import Outcome

    class Druid:
        def broker_sees(self, dataset: str) -> bool:
            return True

        def sql(self, query: str) -> list[dict[str, object]]:
            return [{"k": "p/ds/done.csv", "n": 9, "p": 10}]  # one row short

    expected = {
        "ds/done.csv": check.Expected("e1", Outcome.INGESTED, 10, 10),
        "ds/late.csv": check.Expected("e2", Outcome.INGESTED, 5, 5),
    }
    report = check.Report()
    report.undecided.add("ds/late.csv")
    check.check_rows(Druid(), "p/", expected, report)
    assert {kind: len(texts) for kind, texts in report.by_kind().items()} == {
        "WRONG ROWS": 1,
        "rows of an undecided key": 1,
    }
    assert report.by_kind()["WRONG ROWS"] == [
        "ds/done.csv: Druid holds (rows, sum) (9, 10), expected (10, 10)"
    ]


def test_a_soak_that_uploaded_or_injected_too_little_fails(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """CI's soak must prove its load, not only find no violation in whatever ran."""
    soak = benchmark("soak", monkeypatch)
    assert soak.shortfalls(120, 6, 100, 5) == []
    short = soak.shortfalls(99, 4, 100, 5)
    assert short == [
        "only 99 uploads, at least 100 wanted: raise --rate",
        "only 4 faults, at least 5 wanted: see --fault-gap",
    ]
    assert soak.shortfalls(0, 0, 0, 0) == []  # a benchmark run by hand asks nothing
