"""What the integration tests read from Druid to judge the pipeline, by SQL written here: never
through `DruidResource.source_rows`, the query behind the rows-match check under test."""

from __future__ import annotations

from ingest_pipeline.resources.druid import DruidResource


def rows_in_druid(druid: DruidResource, datasource: str, source_key: str) -> int:
    """Rows of the uploaded object `source_key` (its S3 key) in `datasource`."""
    found = druid.sql(
        f'SELECT COUNT(*) AS n FROM "{datasource}" WHERE "__source_key" = ?', [source_key]
    )
    return int(found[0]["n"]) if found else 0
