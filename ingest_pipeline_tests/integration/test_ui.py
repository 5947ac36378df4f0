"""The Dagster UI a person opens, driven by a real browser after a real ingestion.

Debian's chromium (headless, through Playwright's sync API) against the webserver of the
`automation` fixture, whose daemon's sensor ingested one batch of four uploads: two good, one
with no data rows, one binary. A rejected file is red (failed) on every asset after raw_file,
the good ones green, in the partition list and in Dagster's GraphQL; a fixed upload of a
rejected file turns it green. Each
test saves a screenshot under a pytest tmp folder (printed; INGEST_SCREENSHOT_DIR chooses
another); with INGEST_UPDATE_SCREENSHOTS=1
the README's screenshots in docs/screenshots/ are refreshed from them:

    INGEST_UPDATE_SCREENSHOTS=1 pytest ingest_pipeline_tests/integration/test_ui.py
"""

from __future__ import annotations

import os
import re
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import dagster as dg
import httpx
import pytest
from playwright.sync_api import Browser, Locator, Page, Response, expect, sync_playwright

from ingest_pipeline.stack.settings import REPO_ROOT
from ingest_pipeline_tests.integration.automation import Automation, csv, put, wait_for_runs

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("INGEST_CHROMIUM", "/usr/bin/chromium")
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
#: The screenshots the README shows (the others are test artifacts only).
DOC_SHOTS = ("ingested-partition.png", "rejected-check.png", "partition-statuses.png")
STEPS = ("raw_file", "validated_frame", "druid_spec", "druid_datasource")
UI_TIMEOUT_MS = 60_000
expect.set_options(timeout=UI_TIMEOUT_MS)  # a 2-core machine renders slowly


@dataclass(frozen=True)
class Ingested:
    base_url: str
    good: str  # partition keys
    rejected: str  # no data rows
    binary: str  # rejected too; fixed by the last test
    run: dg.DagsterRun  # the batch's one run
    druid_metadata: dict  # druid_datasource's materialization metadata of the good file

    @property
    def good_ones(self) -> set[str]:
        return {self.good, self.good.replace("orders", "returns")}

    @property
    def bad_ones(self) -> set[str]:
        return {self.rejected, self.binary}


@pytest.fixture(scope="module")
def ingested(automation: Automation, s3) -> Ingested:
    dataset = f"ui_{uuid.uuid4().hex[:6]}"
    files = {
        f"{dataset}/orders.csv": csv(40),
        f"{dataset}/header_only.csv": b"ts,team,points\n",
        f"{dataset}/photo.csv": bytes(range(256)) * 16,
        f"{dataset}/returns.csv": csv(12, offset=100),
    }
    automation.stop_daemon()  # all four in S3 before the next tick: one batch run
    for partition, body in files.items():
        put(s3, automation, partition, body)
    automation.start_daemon()
    runs = wait_for_runs(automation, {p: 1 for p in files})
    (run,) = {r.run_id: r for (r,) in runs.values()}.values()
    # two files rejected: the run says so (after ingesting the other two)
    assert run.status == dg.DagsterRunStatus.FAILURE, automation.logs()
    good = f"{dataset}/orders.csv"
    records = automation.instance().fetch_materializations(
        dg.AssetRecordsFilter(asset_key=dg.AssetKey("druid_datasource"), asset_partitions=[good]),
        limit=1,
    )
    (record,) = records.records
    metadata = {
        key: getattr(value, "value", value)
        for key, value in record.asset_materialization.metadata.items()
    }
    return Ingested(
        f"http://127.0.0.1:{automation.web_port}",
        good,
        f"{dataset}/header_only.csv",
        f"{dataset}/photo.csv",
        run,
        metadata,
    )


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True)
        yield browser
        browser.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context(viewport={"width": 1400, "height": 860})
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    yield page
    context.close()


@pytest.fixture(scope="module")
def screenshots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where the screenshots go: $INGEST_SCREENSHOT_DIR (e.g. kept by CI), else a tmp folder."""
    chosen = os.environ.get("INGEST_SCREENSHOT_DIR")
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    print(f"\nscreenshots: {folder}")
    return folder


def shoot(page: Page, folder: Path, name: str) -> Path:
    dismiss_community_modal(page)
    path = folder / name
    page.screenshot(path=str(path))
    assert path.stat().st_size > 10_000  # a rendered page, not a blank one
    if os.environ.get("INGEST_UPDATE_SCREENSHOTS") == "1" and name in DOC_SHOTS:
        DOCS_SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, DOCS_SCREENSHOTS / name)
    return path


def open_page(page: Page, url: str) -> None:
    """Go to `url`; skip Dagster's "Join the Dagster community" modal if this visit shows it.

    On a loopback URL the UI asks the server whether to show it (`ShouldShowNux`: once per
    instance, until someone skips it) and opens it a second later.
    """
    with page.expect_response(is_nux_query) as nux:
        page.goto(url)
    if nux.value.json()["data"]["shouldShowNux"]:
        dismiss_community_modal(page, wait=True)
    page.wait_for_load_state("networkidle")


def is_nux_query(response: Response) -> bool:
    return "/graphql" in response.url and '"operationName":"ShouldShowNux"' in (
        response.request.post_data or ""
    )


def dismiss_community_modal(page: Page, wait: bool = False) -> None:
    skip = page.get_by_role("button", name="Skip", exact=True)
    if wait or skip.is_visible():
        skip.click()  # waits until the modal has opened
        expect(page.get_by_text("Join the Dagster community")).to_have_count(0)


def partition_url(ingested: Ingested, asset: str, partition: str) -> str:
    return f"{ingested.base_url}/assets/{asset}?view=partitions&partition={quote(partition, '')}"


def metadata_value(page: Page, key: str) -> str:
    """The value cell of the metadata table row whose key cell is exactly `key`."""
    row = page.locator("tr").filter(has=page.get_by_text(key, exact=True)).first
    expect(row).to_be_visible()
    return row.locator("td").nth(1).inner_text().strip()


def test_the_lineage_page_shows_the_four_assets_in_order(
    page: Page, ingested: Ingested, screenshots: Path
) -> None:
    open_page(page, f"{ingested.base_url}/asset-groups/ingest")
    nodes = page.locator("foreignObject")
    expect(nodes).to_have_count(len(STEPS))
    for step in STEPS:
        expect(nodes.filter(has_text=re.compile(f"^{step}$"))).to_have_count(1)
    # Laid out left to right in lineage order: raw_file -> ... -> druid_datasource.
    lefts = [nodes.filter(has_text=re.compile(f"^{step}$")).bounding_box()["x"] for step in STEPS]
    assert lefts == sorted(lefts) and len(set(lefts)) == len(STEPS), lefts
    shoot(page, screenshots, "lineage.png")


def test_an_ingested_files_partition_shows_rows_task_and_seconds_to_queryable(
    page: Page, ingested: Ingested, screenshots: Path
) -> None:
    open_page(page, partition_url(ingested, "druid_datasource", ingested.good))
    expect(page.get_by_text(ingested.good, exact=True).first).to_be_visible()
    expect(page.get_by_text("Materialized", exact=True).first).to_be_visible()
    expect(page.get_by_text(ingested.run.run_id[:8], exact=True).first).to_be_visible()
    assert metadata_value(page, "dagster/row_count") == "40"
    task_id = ingested.druid_metadata["druid_task_id"]
    assert task_id.startswith("ingest_")
    assert metadata_value(page, "druid_task_id") == task_id
    seconds = float(metadata_value(page, "seconds_submit_to_queryable"))
    assert seconds == ingested.druid_metadata["seconds_submit_to_queryable"] and seconds > 0
    shoot(page, screenshots, "ingested-partition.png")


def test_a_rejected_files_partition_shows_its_failed_check_and_why(
    page: Page, ingested: Ingested, screenshots: Path
) -> None:
    reason = re.compile(r"header_only\.csv: the file has no data rows\. Fix: ")
    run_id = ingested.run.run_id
    # validated_frame of the rejected file: not materialized; its run's logs say why.
    open_page(page, partition_url(ingested, "validated_frame", ingested.rejected))
    expect(page.get_by_text(ingested.rejected, exact=True).first).to_be_visible()
    expect(
        page.get_by_text(f"Run {run_id[:8]} failed, and did not materialize this asset.")
    ).to_be_visible()
    page.get_by_role("button", name="View logs").click()
    logs = page.get_by_role("dialog")
    expect(logs.get_by_text(f"View Run {run_id[:8]}")).to_be_visible()
    show_check_evaluations(logs, reason)
    logs.get_by_role("button", name="Done").click()

    # The run's own page: the same failed check on this file, among the others' passed ones.
    open_page(page, f"{ingested.base_url}/runs/{run_id}")
    show_check_evaluations(page, reason)
    shoot(page, screenshots, "rejected-check.png")


def partition_statuses(base_url: str, asset: str) -> dict[str, set[str]]:
    """What Dagster's GraphQL (the API behind the UI) says of the asset's partitions."""
    query = """query($key: AssetKeyInput!) { assetNodeOrError(assetKey: $key) { ... on AssetNode {
        assetPartitionStatuses { ... on DefaultPartitionStatuses {
            materializedPartitions failedPartitions materializingPartitions } } } } }"""
    answer = httpx.post(
        f"{base_url}/graphql",
        json={"query": query, "variables": {"key": {"path": [asset]}}},
        timeout=60,
    ).json()
    statuses = answer["data"]["assetNodeOrError"]["assetPartitionStatuses"]
    return {name: set(keys) for name, keys in statuses.items()}


def listed_partitions(page: Page, asset: str, base_url: str, status: str) -> set[str]:
    """The partitions the asset's partition list shows with only `status` ticked in the
    status filter (Failed / Materialized / Materializing / Missing)."""
    open_page(page, f"{base_url}/assets/{asset}?view=partitions")
    shown: set[str] = set()
    for box in ("Failed", "Materialized", "Materializing", "Missing"):
        name = re.compile(rf"^{box} \(\d+\)$")
        # Dagster draws its own box: the input is hidden, a person clicks the label
        if page.get_by_role("checkbox", name=name).is_checked() != (box == status):
            page.locator("label").filter(has_text=name).click()
    page.wait_for_load_state("networkidle")
    for row in page.locator("[data-tooltip]").all():
        key = row.get_attribute("data-tooltip") or ""
        if "/" in key:
            shown.add(key)
    return shown


def test_rejected_files_are_red_and_ingested_ones_green_on_every_asset_after_raw_file(
    page: Page, ingested: Ingested, screenshots: Path
) -> None:
    for asset in ("validated_frame", "druid_spec", "druid_datasource"):
        statuses = partition_statuses(ingested.base_url, asset)
        assert statuses["failedPartitions"] == ingested.bad_ones, (asset, statuses)
        assert statuses["materializedPartitions"] == ingested.good_ones, (asset, statuses)
    raw = partition_statuses(ingested.base_url, "raw_file")  # the objects are there
    assert raw["materializedPartitions"] == ingested.good_ones | ingested.bad_ones, raw

    for asset in ("validated_frame", "druid_datasource"):
        assert listed_partitions(page, asset, ingested.base_url, "Failed") == ingested.bad_ones
        assert listed_partitions(page, asset, ingested.base_url, "Materialized") == (
            ingested.good_ones
        )
    open_page(page, f"{ingested.base_url}/assets/validated_frame?view=partitions")
    expect(page.get_by_text("Failed (2)", exact=True)).to_be_visible()
    expect(page.get_by_text("Materialized (2)", exact=True)).to_be_visible()
    shoot(page, screenshots, "partition-statuses.png")


def test_a_fixed_upload_of_a_rejected_file_turns_its_partition_green(
    page: Page, ingested: Ingested, automation: Automation, s3, screenshots: Path
) -> None:
    put(s3, automation, ingested.binary, csv(9, offset=500))  # the binary file, as text now
    runs = wait_for_runs(automation, {ingested.binary: 2})
    assert runs[ingested.binary][0].status == dg.DagsterRunStatus.SUCCESS, automation.logs()
    for asset in ("validated_frame", "druid_spec", "druid_datasource"):
        statuses = partition_statuses(ingested.base_url, asset)
        assert statuses["failedPartitions"] == {ingested.rejected}, (asset, statuses)
        assert statuses["materializedPartitions"] == ingested.good_ones | {ingested.binary}
    assert listed_partitions(page, "validated_frame", ingested.base_url, "Failed") == {
        ingested.rejected
    }
    open_page(page, f"{ingested.base_url}/assets/validated_frame?view=partitions")
    expect(page.get_by_text("Failed (1)", exact=True)).to_be_visible()
    expect(page.get_by_text("Materialized (3)", exact=True)).to_be_visible()
    shoot(page, screenshots, "partition-fixed.png")


def show_check_evaluations(scope: Page | Locator, reason: re.Pattern) -> None:
    """Filter a run's event log to check evaluations: only the blocking check, failed, and why."""
    scope.get_by_placeholder("Filter…").fill("type:ASSET_CHECK_EVALUATION")
    scope.get_by_placeholder("Filter…").press("Enter")
    failed = "Check file_is_ingestible failed for materialization of validated_frame."
    expect(scope.get_by_text(failed).first).to_be_attached()
    scope.get_by_text(reason).first.scroll_into_view_if_needed()  # what a person looks for
    expect(scope.get_by_text(reason).first).to_be_visible()
    # Each rejected file (2 in the batch) stopped at the blocking check: nothing else failed.
    expect(scope.get_by_text(re.compile(r"^Check \w+ failed"))).to_have_count(2)
