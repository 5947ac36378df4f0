"""Reading why a Druid task failed out of its log and report (no servers)."""

from __future__ import annotations

from ingest_pipeline.resources.druid_wire import extract_row_stats, report_error, root_cause

OOM_LOG = """\
2024-01-01T00:00:01,000 INFO [task-runner-0] o.a.d.indexing.common.task.IndexTask - starting
java.lang.RuntimeException: wrapper
Caused by: java.io.IOException: an earlier, unrelated cause
Terminating due to java.lang.OutOfMemoryError: Java heap space
"""

TRACE_LOG = """\
org.apache.druid.java.util.common.ISE: Failed to publish segments
\tat org.apache.druid.indexing...
Caused by: com.amazonaws.SdkClientException: Unable to execute HTTP request
Caused by: java.net.ConnectException: Connection refused
"""


def test_a_dying_jvm_is_the_root_cause() -> None:
    assert root_cause(OOM_LOG) == "Terminating due to java.lang.OutOfMemoryError: Java heap space"


def test_the_innermost_cause_of_the_last_trace_otherwise() -> None:
    assert root_cause(TRACE_LOG) == "java.net.ConnectException: Connection refused"
    assert root_cause("all fine\n") == ""


def test_row_stats_and_errors_from_a_native_batch_report() -> None:
    reports = {
        "ingestionStatsAndErrors": {
            "payload": {
                "rowStats": {"buildSegments": {"processed": 10, "unparseable": 1}},
                "unparseableEvents": {"buildSegments": ["bad row at line 3"]},
                "errorMsg": "Max parse exceptions[0] exceeded\nat ...",
            }
        }
    }
    stats, exceptions = extract_row_stats(reports)
    assert stats == {"processed": 10, "unparseable": 1}
    assert exceptions == ["bad row at line 3"]
    assert report_error(reports) == "Max parse exceptions[0] exceeded\nat ..."
    assert extract_row_stats({}) == ({}, [])
