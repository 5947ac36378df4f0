"""The failure a person reads for each exception a command may meet, one by one (those a broken
environment in test_cli_failures.py cannot provoke in a unit test)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest_pipeline.console.failures import Context, explain


def raised_from(error: BaseException, cause: BaseException) -> BaseException:
    error.__cause__ = cause
    return error


def explained(error: BaseException, command: str = "status") -> tuple[list[str], int]:
    failure = explain(error, Context(command, Path("/s/stack.env")))
    return failure.lines(), failure.exit_code


def test_http_timeouts_and_unreachable_servers_name_the_url() -> None:
    import httpx

    request = httpx.Request("GET", "http://127.0.0.1:8888/status")
    lines, code = explained(httpx.ReadTimeout("timed out", request=request))
    assert lines[0] == "error: no answer in time from http://127.0.0.1:8888/status (ReadTimeout)"
    assert lines[1].startswith("fix: check the stack: `ingest-pipeline stack status`")
    lines, _ = explained(httpx.ConnectError("[Errno 111] Connection refused", request=request))
    assert lines[0] == (
        "error: cannot reach http://127.0.0.1:8888/status: [Errno 111] Connection refused"
    )
    assert code == 1


def test_s3_answers_become_what_to_check() -> None:
    from botocore.exceptions import ClientError, NoCredentialsError

    no_bucket = ClientError(
        {"Error": {"Code": "NoSuchBucket", "Message": "The specified bucket does not exist"}},
        "PutObject",
    )
    lines, _ = explained(no_bucket)
    assert lines == [
        "error: S3 refused PutObject: NoSuchBucket (The specified bucket does not exist)",
        "fix: `ingest-pipeline stack up` makes the stack's buckets, else check "
        "INGEST_UPLOADS_BUCKET",
    ]
    lines, _ = explained(NoCredentialsError())
    assert lines[0] == "error: S3: Unable to locate credentials"
    assert "AWS_ACCESS_KEY_ID" in lines[1] and "/s/stack.env" in lines[1]


def test_a_postgres_error_wrapped_by_dagster_reads_as_postgres() -> None:
    import psycopg2
    from dagster_postgres.utils import DagsterPostgresException

    refused = psycopg2.OperationalError(
        'connection to server at "127.0.0.1", port 5999 failed: Connection refused\n\tIs the '
        "server running on that host and accepting TCP/IP connections?\n"
    )
    wrapped = raised_from(DagsterPostgresException("too many retries for DB connection"), refused)
    lines, code = explained(wrapped)
    assert lines[0] == (
        "error: Postgres (Dagster's storage) is unreachable: connection to server at "
        '"127.0.0.1", port 5999 failed: Connection refused'
    )
    assert code == 1


def test_druid_refusals_other_than_a_query_and_failed_tasks() -> None:
    from ingest_pipeline.resources.druid_wire import DruidRefused, DruidTaskFailed

    lines, _ = explained(DruidRefused("Druid refused GET x (401): check", 401), "query")
    assert lines == [
        "error: Druid refused the credentials (401)",
        "fix: set Druid's user and password",
    ]
    lines, _ = explained(DruidRefused("Druid answered 404 ...", 404, "Not Found"), "status")
    assert lines == [
        "error: Druid refused a request (404): Not Found",
        "fix: re-run with --debug for the traceback",
    ]
    lines, _ = explained(DruidTaskFailed("Druid task t1 FAILED: disk full"), "ingest")
    assert lines[0] == "error: Druid task t1 FAILED: disk full"


def test_stack_errors_paths_interrupts_and_the_unexpected() -> None:
    from ingest_pipeline.stack.base import StackError

    lines, code = explained(StackError("zookeeper: port 2181 (http) is taken ... (log: z.log)"))
    assert (lines, code) == (["error: zookeeper: port 2181 (http) is taken ... (log: z.log)"], 1)
    lines, code = explained(PermissionError(13, "Permission denied", "/s/logs/broker.log"))
    assert lines == [
        "error: /s/logs/broker.log: Permission denied",
        "fix: check the path and its permissions",
    ]
    assert explained(KeyboardInterrupt()) == (["error: interrupted"], 130)
    lines, code = explained(ValueError("bad\nthing"))
    assert lines == [
        "error: ValueError: bad thing",
        "fix: re-run with --debug for the traceback, and report it",
    ]


def test_a_stack_from_before_in_the_home_folder_is_pointed_at(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from ingest_pipeline.console import failures
    from ingest_pipeline.stack.settings import StackNotFound

    old = tmp_path / "home-stack"
    old.mkdir()
    (old / "stack.env").write_text("INGEST_S3_ENDPOINT_URL=http://x\n")
    monkeypatch.setattr(failures, "HOME_STACK_DIR", old)
    lines, _ = explained(StackNotFound(Path("/repo/.stack/stack.env")))
    assert lines[0] == "error: no stack found: /repo/.stack/stack.env does not exist"
    assert lines[1].endswith(f"a stack from before lives in {old}: INGEST_STACK_DIR={old}")


def test_a_long_druid_answer_is_cut_to_one_line() -> None:
    from ingest_pipeline.resources.druid_wire import DruidRefused

    lines, _ = explained(DruidRefused("x", 400, "Encountered\n" + "word " * 500), "query")
    assert len(lines) == 2 and len(lines[0]) == len("error: ") + 400 and lines[0].endswith("…")
