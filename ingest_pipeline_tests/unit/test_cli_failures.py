"""Every command in a broken environment answers in one or two lines on stderr (what failed and
why, then the fix) with exit code 1 (2 for usage and bad paths), never a traceback; --debug
shows it. Each row runs in this process through `main`; rows marked `person` also run as a
person runs them: a new process whose environment holds only PATH, HOME and the code under test.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from ingest_pipeline.cli import build_parser, main
from ingest_pipeline.console import clients
from ingest_pipeline.stack.settings import REPO_ROOT, StackSettings, free_port

SQL_REFUSED = {
    "error": "Plan validation failed",
    "errorMessage": "org.apache.calcite.runtime.CalciteContextException: From line 1, column "
    "15 to line 1, column 20: Object 'nosuch' not found",
    "errorClass": "org.apache.calcite.tools.ValidationException",
    "host": None,
}
S3_REFUSED = (
    b'<?xml version="1.0" encoding="UTF-8"?><Error><Code>InvalidAccessKeyId</Code><Message>The '
    b"access key ID you provided does not exist in our records.</Message></Error>"
)


class FakeServers(BaseHTTPRequestHandler):
    """Druid refusing SQL as Druid 25 does (HTTP 400, its JSON) and S3 refusing the keys (403).
    HTTP/1.1, as both servers speak: S3 answers boto3's `Expect: 100-continue` at once (an
    HTTP/1.0 server does not, and boto3 waits 1 s for it before each PUT's body)."""

    protocol_version = "HTTP/1.1"

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.startswith("/druid/v2/sql"):
            assert json.loads(body)["query"]
            self.answer(400, json.dumps(SQL_REFUSED).encode(), "application/json")
        else:
            self.answer(403, S3_REFUSED, "application/xml")

    def do_PUT(self) -> None:  # noqa: N802
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.answer(403, S3_REFUSED, "application/xml")

    do_GET = do_HEAD = do_PUT  # noqa: N815

    def answer(self, status: int, body: bytes, kind: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture(scope="module")
def fake_server() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakeServers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def stack_env(folder: Path, set_: dict[str, str], unset: tuple[str, ...] = ()) -> dict[str, str]:
    """A stack folder whose stack.env names closed ports (nothing answers), changed by `set_`."""
    closed = f"http://127.0.0.1:{free_port()}"
    settings = StackSettings(stack_dir=folder, postgres_port=free_port(), s3_port=free_port())
    folder.mkdir(parents=True)
    settings.write_dagster_home()
    env = settings.client_env()
    for name in ("ROUTER", "OVERLORD", "COORDINATOR", "BROKER"):
        env[f"INGEST_DRUID_{name}_URL"] = closed  # the default ports may be a running stack's
    env.update(set_)
    lines = [f"{k}={v}" for k, v in env.items() if k not in unset]
    (folder / "stack.env").write_text("\n".join(lines) + "\n")
    return {"INGEST_STACK_DIR": str(folder)}


def environments(tmp: Path, fake: str) -> dict[str, dict[str, str]]:
    """Broken environment -> the variables a command runs with."""
    return {
        "no stack": {"INGEST_STACK_DIR": str(tmp / "no-stack")},
        "all closed": stack_env(tmp / "closed", {}),
        # every Druid URL (router, overlord, coordinator, broker) is the refusing fake
        "Druid refuses": stack_env(
            tmp / "druid-refuses",
            {
                f"INGEST_DRUID_{name}_URL": fake
                for name in ("ROUTER", "OVERLORD", "COORDINATOR", "BROKER")
            },
        ),
        "S3 refuses": stack_env(tmp / "s3-refuses", {"INGEST_S3_ENDPOINT_URL": fake}),
        # Postgres' port answers (the fake server): Dagster gets as far as DAGSTER_HOME
        "no DAGSTER_HOME": stack_env(
            tmp / "no-home",
            {"DAGSTER_HOME": str(tmp / "nothing"), "DAGSTER_PG_PORT": fake.rsplit(":", 1)[1]},
        ),
        "Dagster env unset": stack_env(
            tmp / "pg-unset", {}, unset=("DAGSTER_PG_HOST", "DAGSTER_PG_PASSWORD")
        ),
    }


@dataclass(frozen=True)
class Row:
    argv: tuple[str, ...]  # {file}, {folder}, {missing}, {a_file_dir} are filled in
    environment: str
    exit_code: int
    says: str | None  # on stderr; None: stderr stays empty (not a failure)
    person: bool = False  # also in a new process


ROWS = {
    # no stack.env where the stack is looked for
    "upload, no stack": Row(("upload", "{file}", "--dataset", "s"), "no stack", 1,
                            "error: no stack found: ", person=True),
    "upload --wait, no stack": Row(("upload", "{file}", "--dataset", "s", "--wait", "5"),
                                   "no stack", 1, "fix: start one: `ingest-pipeline stack up"),
    "ingest, no stack": Row(("ingest", "{file}", "--dataset", "s"), "no stack", 1,
                            "no stack found"),
    "status, no stack": Row(("status",), "no stack", 1, "no stack found"),
    "query, no stack": Row(("query", "SELECT 1"), "no stack", 1, "no stack found"),
    "stack status, no stack": Row(("stack", "status"), "no stack", 3, None, person=True),
    "stack down, no stack": Row(("stack", "down"), "no stack", 0, None),
    "stack logs, no stack": Row(("stack", "logs", "broker"), "no stack", 0, None),
    # Druid: a closed port, a refused query
    "query, Druid closed": Row(("query", "SELECT 1"), "all closed", 1,
                               "error: Druid did not answer POST http://127.0.0.1:"),
    "query, SQL refused": Row(("query", "SELECT * FROM nosuch"), "Druid refuses", 1,
                              "error: Druid refused the query (400): Plan validation failed: "
                              "From line 1, column 15 to line 1, column 20: Object 'nosuch' "
                              "not found", person=True),
    # S3: a closed port, refused keys
    "upload, S3 closed": Row(("upload", "{file}", "--dataset", "s"), "all closed", 1,
                             "error: S3 is unreachable: Could not connect to the endpoint URL"),
    "upload, S3 refuses": Row(("upload", "{file}", "--dataset", "s"), "S3 refuses", 1,
                              "error: S3 refused PutObject: InvalidAccessKeyId", person=True),
    # Dagster's storage: Postgres closed, DAGSTER_HOME missing, its variables unset
    "status, Postgres closed": Row(("status",), "all closed", 1,
                                   "error: Postgres (Dagster's storage) at 127.0.0.1:"),
    "ingest, Postgres closed": Row(("ingest", "{file}", "--dataset", "s"), "all closed", 1,
                                   "is unreachable: Connection refused", person=True),
    "upload --wait, Postgres closed": Row(
        ("upload", "{file}", "--dataset", "s", "--wait", "5"), "all closed", 1,
        "error: Postgres (Dagster's storage)"),
    "status, no DAGSTER_HOME": Row(("status",), "no DAGSTER_HOME", 1,
                                   "is not a directory or does not exist", person=True),
    "status, Dagster env unset": Row(("status", "sales"), "Dagster env unset", 1,
                                     "needs DAGSTER_PG_HOST, DAGSTER_PG_PASSWORD"),
    # bad paths and usage: exit code 2
    "upload, missing file": Row(("upload", "{missing}", "--dataset", "s"), "no stack", 2,
                                "error: {missing}: no such file or folder", person=True),
    "upload, no dataset": Row(("upload", "{file}"), "no stack", 2, "needs --dataset"),
    "ingest, missing file": Row(("ingest", "{missing}", "--dataset", "s"), "no stack", 2,
                                "no such file or folder"),
    "ingest, a folder": Row(("ingest", "{folder}", "--dataset", "s"), "no stack", 2,
                            "holds 2 files; `ingest` takes one file"),
    "stack up, stack folder is a file": Row(
        ("stack", "--stack-dir", "{file}", "up"), "no stack", 2,
        "the stack folder is a file", person=True),
    "status, stack folder is a file": Row(("status", "--stack-dir", "{file}"), "no stack", 2,
                                          "the stack folder is a file"),
    # check needs no stack: without one, or with Druid closed, it says so on stdout and goes on
    "check, no stack": Row(("check", "{file}", "--dataset", "s"), "no stack", 0, None,
                           person=True),
    "check, Druid closed": Row(("check", "{file}", "--dataset", "s"), "all closed", 0, None),
    "check, missing file": Row(("check", "{missing}"), "no stack", 2,
                               "error: {missing}: no such file", person=True),
    "an unknown command": Row(("uplaod", "{file}"), "no stack", 2,
                              "fix: `ingest-pipeline --help` shows the usage", person=True),
    "query without SQL": Row(("query",), "no stack", 2,
                             "error: ingest-pipeline query: the following arguments are required"),
}  # fmt: skip


@dataclass(frozen=True)
class Setting:
    env: dict[str, str]
    paths: dict[str, str]


@pytest.fixture
def setting(tmp_path: Path, fake_server: str) -> Setting:
    data = tmp_path / "data.csv"
    data.write_text("ts,n\n2024-01-01,1\n")
    for name in ("a.csv", "b.csv"):
        (tmp_path / "two" / name).parent.mkdir(exist_ok=True)
        (tmp_path / "two" / name).write_text("ts,n\n2024-01-01,1\n")
    paths = {"file": str(data), "folder": str(tmp_path / "two"), "missing": str(tmp_path / "x")}
    return Setting(environments(tmp_path / "envs", fake_server), paths)


@pytest.fixture
def own_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """No stack variable of the machine's; whatever a command puts in os.environ is undone."""
    saved = dict(os.environ)
    for name in list(os.environ):
        if name.startswith(("INGEST_", "DAGSTER_", "AWS_")):
            monkeypatch.delenv(name)
    yield
    os.environ.clear()
    os.environ.update(saved)


@pytest.fixture
def druid_without_pauses(monkeypatch: pytest.MonkeyPatch) -> None:
    """The CLI's 3 Druid attempts without the 1 s and 2 s between them: the rows are about
    what is said, not how long the CLI waits before saying it."""
    patience = {**clients.DRUID_PATIENCE, "retry_base_delay_seconds": 0.0}
    monkeypatch.setattr(clients, "DRUID_PATIENCE", patience)


def check_answer(row: Row, code: int, err: str, paths: dict[str, str]) -> None:
    lines = err.strip().splitlines()
    assert code == row.exit_code, err
    assert "Traceback" not in err
    if row.says is None:
        assert lines == []
        return
    assert 1 <= len(lines) <= 2, err
    assert lines[0].startswith("error: ") and all(len(line) <= 420 for line in lines)
    assert len(lines) == 1 or lines[1].startswith("fix: ")
    assert row.says.format(**paths) in err


@pytest.mark.parametrize("name", ROWS)
def test_a_failure_is_one_or_two_lines_on_stderr(
    name: str,
    setting: Setting,
    own_environment: None,
    druid_without_pauses: None,
    monkeypatch: pytest.MonkeyPatch,
    capsys,
) -> None:
    row = ROWS[name]
    for key, value in setting.env[row.environment].items():
        monkeypatch.setenv(key, value)
    try:
        code = main([arg.format(**setting.paths) for arg in row.argv])
    except SystemExit as exit:  # argparse's usage errors
        code = int(exit.code or 0)
    check_answer(row, code, capsys.readouterr().err, setting.paths)


@pytest.mark.parametrize("name", [name for name, row in ROWS.items() if row.person])
def test_a_person_sees_the_same_in_a_new_shell(name: str, setting: Setting, tmp_path: Path) -> None:
    row = ROWS[name]
    env = {
        "PATH": str(Path(sys.executable).parent),
        "HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(REPO_ROOT),  # the code under test, whichever checkout the venv holds
        **setting.env[row.environment],
    }
    argv = [arg.format(**setting.paths) for arg in row.argv]
    result = subprocess.run(
        [sys.executable, "-m", "ingest_pipeline.cli", *argv],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    check_answer(row, result.returncode, result.stderr, setting.paths)


def test_debug_shows_the_traceback(setting: Setting, tmp_path: Path) -> None:
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path / "home")}
    env |= {"PYTHONPATH": str(REPO_ROOT), **setting.env["Druid refuses"]}
    for argv in (["--debug", "query", "SELECT * FROM nosuch"], ["query", "x", "--debug"]):
        result = subprocess.run(
            [sys.executable, "-m", "ingest_pipeline.cli", *argv],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert result.returncode == 1
        assert result.stderr.startswith("Traceback (most recent call last):")
        assert "DruidRefused: Druid answered 400" in result.stderr


def test_the_cli_starts_without_dagster(tmp_path: Path) -> None:
    """Dagster (~0.6 s of CPU) and Polars load only with the commands that need them: a usage
    error, a missing file or `stack status` answers at once (the new-process rows above too)."""
    env = {"PATH": str(Path(sys.executable).parent), "HOME": str(tmp_path / "home")}
    env["PYTHONPATH"] = str(REPO_ROOT)
    code = "import sys, ingest_pipeline.cli; print(sorted({'dagster', 'polars'} & {*sys.modules}))"
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "[]\n", "")


def command_of(argv: tuple[str, ...]) -> str:
    if argv[0] != "stack":
        return argv[0]
    rest = argv[3:] if argv[1] == "--stack-dir" else argv[1:]
    return f"stack {rest[0]}"


def test_every_command_has_a_row() -> None:
    """compose-env reads only druid/conf and writes druid/docker: no environment to break."""
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    stack = commands["stack"]._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    every = {name for name in commands if name != "stack"}
    every |= {f"stack {name}" for name in stack if name != "compose-env"}
    assert every <= {command_of(row.argv) for row in ROWS.values()}
