"""The Dagster UI a person opens, driven by a real browser after a real ingestion.

Debian's chromium (headless, through Playwright's sync API) against the webserver of the
`automation` fixture, whose daemon's sensor ingested one good and one rejected upload. Each
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
import pytest
from playwright.sync_api import Browser, Locator, Page, Response, expect, sync_playwright

from ingest_pipeline.stack.settings import REPO_ROOT
from ingest_pipeline_tests.integration.automation import Automation, csv, put, wait_for_runs

pytestmark = pytest.mark.integration

CHROMIUM = os.environ.get("INGEST_CHROMIUM", "/usr/bin/chromium")
DOCS_SCREENSHOTS = REPO_ROOT / "docs" / "screenshots"
#: The screenshots the README shows (the others are test artifacts only).
DOC_SHOTS = ("ingested-partition.png", "rejected-check.png")
STEPS = ("raw_file", "validated_frame", "druid_spec", "druid_datasource")
UI_TIMEOUT_MS = 60_000
expect.set_options(timeout=UI_TIMEOUT_MS)  # a 2-core machine renders slowly


@dataclass(frozen=True)
class Ingested:
    base_url: str
    good: str  # partition keys
    rejected: str
    good_run: dg.DagsterRun
    rejected_run: dg.DagsterRun
    druid_metadata: dict  # druid_datasource's materialization metadata of the good file


@pytest.fixture(scope="module")
def ingested(automation: Automation, s3) -> Ingested:
    dataset = f"ui_{uuid.uuid4().hex[:6]}"
    # Two datasets: each file its own run (files of one dataset found together would share one)
    good, rejected = f"{dataset}/orders.csv", f"{dataset}_bad/header_only.csv"
    put(s3, automation, good, csv(40))
    put(s3, automation, rejected, b"ts,team,points\n")
    runs = wait_for_runs(automation, {good: 1, rejected: 1})
    (good_run,), (rejected_run,) = runs[good], runs[rejected]
    assert good_run.status == dg.DagsterRunStatus.SUCCESS, automation.logs()
    assert rejected_run.status == dg.DagsterRunStatus.FAILURE, automation.logs()
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
        f"http://127.0.0.1:{automation.web_port}", good, rejected, good_run, rejected_run, metadata
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
    expect(page.get_by_text(ingested.good_run.run_id[:8], exact=True).first).to_be_visible()
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
    # validated_frame of the rejected file: materialized, with the problem it found.
    open_page(page, partition_url(ingested, "validated_frame", ingested.rejected))
    expect(page.get_by_text(ingested.rejected, exact=True).first).to_be_visible()
    assert metadata_value(page, "accepted") == "false"
    assert reason.search(metadata_value(page, "problem"))

    # druid_datasource of the rejected file: never materialized; its run's logs say why.
    run_id = ingested.rejected_run.run_id
    open_page(page, partition_url(ingested, "druid_datasource", ingested.rejected))
    expect(
        page.get_by_text(f"Run {run_id[:8]} failed, and did not materialize this asset.")
    ).to_be_visible()
    page.get_by_role("button", name="View logs").click()
    logs = page.get_by_role("dialog")
    expect(logs.get_by_text(f"View Run {run_id[:8]}")).to_be_visible()
    show_check_evaluations(logs, reason)
    logs.get_by_role("button", name="Done").click()

    # The run's own page: which partition, and the same failed check.
    open_page(page, f"{ingested.base_url}/runs/{run_id}")
    expect(page.get_by_text(f"partition: {ingested.rejected}")).to_be_visible()
    show_check_evaluations(page, reason)
    shoot(page, screenshots, "rejected-check.png")


def show_check_evaluations(scope: Page | Locator, reason: re.Pattern) -> None:
    """Filter a run's event log to check evaluations: only the blocking check, failed, and why."""
    scope.get_by_placeholder("Filter…").fill("type:ASSET_CHECK_EVALUATION")
    scope.get_by_placeholder("Filter…").press("Enter")
    expect(
        scope.get_by_text("Check file_is_ingestible failed for materialization of validated_frame.")
    ).to_be_visible()
    expect(scope.get_by_text(reason).first).to_be_visible()
    # The file stopped at the blocking check: no other check was evaluated.
    expect(scope.get_by_text(re.compile(r"^Check \w+ (failed|succeeded)"))).to_have_count(1)
