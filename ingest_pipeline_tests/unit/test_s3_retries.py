"""An S3 call rides out a store restart: seen in the soak, a SIGKILLed and restarted store
(back in 6 s) failed two runs' files for good, with 5 retries."""

from __future__ import annotations

import http.server
import socket
import threading
from collections.abc import Iterator

import pytest
from botocore import endpoint as botocore_endpoint
from botocore.exceptions import EndpointConnectionError

from ingest_pipeline.resources.s3 import S3_RETRIES, S3Storage


class AnsweringHead(http.server.BaseHTTPRequestHandler):
    def do_HEAD(self) -> None:  # noqa: N802 (the http.server API)
        self.send_response(200)
        self.send_header("ETag", '"abc"')
        self.send_header("Content-Length", "3")
        self.send_header("Last-Modified", "Sun, 06 Dec 2026 09:00:00 GMT")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def port() -> Iterator[int]:
    yield free_port()


def store_at(port: int) -> S3Storage:
    return S3Storage(
        endpoint_url=f"http://127.0.0.1:{port}", access_key_id="key", secret_access_key="secret"
    )


def test_a_call_waits_for_a_store_that_comes_back(
    monkeypatch: pytest.MonkeyPatch, port: int
) -> None:
    servers: list[http.server.HTTPServer] = []
    slept: list[float] = []

    def sleep(seconds: float) -> None:  # no real waiting; the store is back after 8 tries
        slept.append(seconds)
        if len(slept) == 8:  # more than the old 5 retries allowed
            server = http.server.HTTPServer(("127.0.0.1", port), AnsweringHead)
            threading.Thread(target=server.serve_forever, daemon=True).start()
            servers.append(server)

    monkeypatch.setattr(botocore_endpoint.time, "sleep", sleep)
    try:
        info = store_at(port).head("uploads", "s/a.csv")
    finally:
        for server in servers:
            server.shutdown()
    assert info.etag == "abc" and len(slept) == 8


def test_a_store_that_never_comes_back_fails_after_every_attempt(
    monkeypatch: pytest.MonkeyPatch, port: int
) -> None:
    slept: list[float] = []
    monkeypatch.setattr(botocore_endpoint.time, "sleep", slept.append)
    with pytest.raises(EndpointConnectionError):
        store_at(port).head("uploads", "s/a.csv")
    assert len(slept) == S3_RETRIES >= 10  # one backoff before each retry
    assert all(0 <= seconds <= 20 for seconds in slept)


def test_a_command_gives_up_after_three_attempts_not_the_pipelines_minute(
    monkeypatch: pytest.MonkeyPatch, port: int
) -> None:
    # `ingest-pipeline upload` with the store down: an error in seconds (the CLI failure
    # table's 'upload, S3 closed' took 33.5 s with the pipeline's 10 retries, 4.8 s after)
    from ingest_pipeline.console.clients import s3_client

    monkeypatch.setenv("INGEST_S3_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("INGEST_DRUID_ROUTER_URL", f"http://127.0.0.1:{port}")  # never asked
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "key")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    slept: list[float] = []
    monkeypatch.setattr(botocore_endpoint.time, "sleep", slept.append)
    with pytest.raises(EndpointConnectionError):
        s3_client().head("uploads", "s/a.csv")
    assert len(slept) == 2
