"""What the CLI says when a command fails: the exception -> what failed and why, the fix, and the
exit code; at most two lines, no traceback (`--debug` shows it).

One table of rules, tried in order against the exception and its causes (the first rule that
matches any of them wins, so a Postgres error wrapped by Dagster reads as a Postgres error).
A rule names its class by module: a library that is not imported cannot have raised it, so
explaining a failure imports nothing (the stack commands never load Dagster).
"""

from __future__ import annotations

import logging
import re
import sys
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from ingest_pipeline.stack.settings import HOME_STACK_DIR

#: Longest problem or fix shown; Druid and Dagster messages can be pages long.
MAX_LINE = 400
CHECK_STACK = (
    "check the stack: `ingest-pipeline stack status` (start it: `ingest-pipeline stack up`)"
)
DEBUG = "re-run with --debug for the traceback"


class CommandError(Exception):
    """A command refuses for a reason of its own (an unknown dataset, a folder for `ingest`)."""

    def __init__(self, problem: str, fix: str | None = None, exit_code: int = 1) -> None:
        super().__init__(problem)
        self.problem, self.fix, self.exit_code = problem, fix, exit_code


@dataclass(frozen=True)
class Failure:
    problem: str  # what failed and why
    fix: str | None = None
    exit_code: int = 1

    def lines(self) -> list[str]:
        shown = [f"error: {one_line(self.problem)}"]
        return shown + ([f"fix: {one_line(self.fix)}"] if self.fix else [])


@dataclass(frozen=True)
class Context:
    """What a message may name: the command and where the stack's env is looked for."""

    command: str
    env_file: Path


def one_line(text: str, limit: int = MAX_LINE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def causes(error: BaseException) -> Iterator[BaseException]:
    """The exception, then what it was raised from or while handling, outermost first."""
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or (
            None if current.__suppress_context__ else current.__context__
        )


Explain = Callable[[BaseException, Context], Failure | None]


def stack_not_found(error: BaseException, context: Context) -> Failure:
    fix = (
        "start one: `ingest-pipeline stack up --dagster` (or export INGEST_STACK_DIR=<its folder>)"
    )
    home_env = HOME_STACK_DIR / "stack.env"
    if home_env.exists() and home_env != context.env_file:
        fix += f"; a stack from before lives in {HOME_STACK_DIR}: INGEST_STACK_DIR={HOME_STACK_DIR}"
    return Failure(str(error), fix)


def setting_missing(error: BaseException, context: Context) -> Failure:
    name = getattr(error, "name", "a setting")
    return Failure(
        f"{name} is not set, and {context.env_file} does not give it",
        f"start the stack (`ingest-pipeline stack up`) or export {name}",
    )


def druid_refused(error: BaseException, context: Context) -> Failure:
    status = getattr(error, "status_code", None)
    if status in (401, 403):
        return Failure(f"Druid refused the credentials ({status})", "set Druid's user and password")
    reason = getattr(error, "reason", None) or str(error)
    if context.command == "query":
        return Failure(
            f"Druid refused the query ({status}): {reason}",
            'correct the SQL: names in double quotes ("my data"), values as ? with --param; '
            "`ingest-pipeline status` lists the datasets",
        )
    return Failure(f"Druid refused a request ({status}): {reason}", DEBUG)


def druid_unavailable(error: BaseException, context: Context) -> Failure:
    problem = str(error).replace(" Is Druid running and reachable from this process?", "")
    return Failure(problem, CHECK_STACK)


def s3_unreachable(error: BaseException, context: Context) -> Failure:
    return Failure(f"S3 is unreachable: {error}", CHECK_STACK)


def s3_no_credentials(error: BaseException, context: Context) -> Failure:
    return Failure(
        f"S3: {error}",
        f"set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (the stack's are in {context.env_file})",
    )


def s3_refused(error: BaseException, context: Context) -> Failure:
    answer = getattr(error, "response", {}).get("Error", {})
    code, message = answer.get("Code", "?"), answer.get("Message", "")
    operation = getattr(error, "operation_name", "a request")
    problem = f"S3 refused {operation}: {code}" + (f" ({message})" if message else "")
    if code in ("InvalidAccessKeyId", "SignatureDoesNotMatch", "AccessDenied", "403"):
        fix = (
            "check AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY: set in the environment they win "
            f"over the stack's ({context.env_file})"
        )
    elif code == "NoSuchBucket":
        fix = (
            "`ingest-pipeline stack up` makes the stack's buckets, else check INGEST_UPLOADS_BUCKET"
        )
    else:
        fix = DEBUG
    return Failure(problem, fix)


def postgres_unreachable(error: BaseException, context: Context) -> Failure:
    why = next(
        (str(e).strip().splitlines()[0] for e in causes(error) if "psycopg2" in type(e).__module__),
        str(error),
    )
    return Failure(f"Postgres (Dagster's storage) is unreachable: {why}", CHECK_STACK)


def dagster_home_not_set(error: BaseException, context: Context) -> Failure:
    return Failure(
        "DAGSTER_HOME is not set",
        f"the stack's env sets it ({context.env_file}): start the stack "
        "(`ingest-pipeline stack up`) or export DAGSTER_HOME=<a folder with dagster.yaml>",
    )


def dagster_home_missing(error: BaseException, context: Context) -> Failure | None:
    text = str(error)
    if "DAGSTER_HOME" not in text:
        return None
    return Failure(
        text.split(". ")[0],
        "`ingest-pipeline stack up` makes the stack's; or export DAGSTER_HOME=<an existing folder>",
    )


def dagster_config_unset(error: BaseException, context: Context) -> Failure | None:
    names = sorted(set(re.findall(r'environment variable "(\w+)" which is not set', str(error))))
    if not names:
        return None
    return Failure(
        f"Dagster's instance config (DAGSTER_HOME/dagster.yaml) needs {', '.join(names)}, "
        "which are not set",
        f"they are in the stack's env ({context.env_file}): start the stack "
        "(`ingest-pipeline stack up`) or export them",
    )


def http_timeout(error: BaseException, context: Context) -> Failure:
    return Failure(
        f"no answer in time from {request_url(error)} ({type(error).__name__})", CHECK_STACK
    )


def http_unreachable(error: BaseException, context: Context) -> Failure:
    return Failure(f"cannot reach {request_url(error)}: {error}", CHECK_STACK)


def request_url(error: BaseException) -> str:
    try:
        return str(error.request.url)  # type: ignore[attr-defined]
    except (AttributeError, RuntimeError):  # httpx raises RuntimeError without a request
        return "the server"


def os_error(error: BaseException, context: Context) -> Failure:
    assert isinstance(error, OSError)
    if error.filename is None:
        return Failure(str(error), DEBUG)
    return Failure(f"{error.filename}: {error.strerror}", "check the path and its permissions")


def bad_path(error: BaseException, context: Context) -> Failure:
    """A path on the command line: a usage error; the message says what to do instead."""
    return Failure(str(error), None, 2)


def stack_error(error: BaseException, context: Context) -> Failure:
    """The message names the service, what failed and its log."""
    return Failure(str(error))


def druid_error(error: BaseException, context: Context) -> Failure:
    return Failure(str(error), DEBUG)


def command_error(error: BaseException, context: Context) -> Failure:
    assert isinstance(error, CommandError)
    return Failure(error.problem, error.fix, error.exit_code)


#: (module, class, explain), tried in this order; the first that explains a cause wins.
RULES: list[tuple[str, str, Explain]] = [
    (__name__, "CommandError", command_error),
    ("ingest_pipeline.stack.settings", "StackNotFound", stack_not_found),
    ("ingest_pipeline.console.paths", "PathError", bad_path),
    ("ingest_pipeline.resources", "SettingMissing", setting_missing),
    ("ingest_pipeline.resources.druid_wire", "DruidRefused", druid_refused),
    ("ingest_pipeline.resources.druid_wire", "DruidUnavailable", druid_unavailable),
    ("ingest_pipeline.resources.druid_wire", "DruidError", druid_error),
    ("ingest_pipeline.stack.base", "StackError", stack_error),
    ("botocore.exceptions", "NoCredentialsError", s3_no_credentials),
    ("botocore.exceptions", "ConnectionError", s3_unreachable),
    ("botocore.exceptions", "ClientError", s3_refused),
    ("psycopg2", "OperationalError", postgres_unreachable),
    ("sqlalchemy.exc", "OperationalError", postgres_unreachable),
    ("dagster_postgres.utils", "DagsterPostgresException", postgres_unreachable),
    ("dagster._core.errors", "DagsterHomeNotSetError", dagster_home_not_set),
    ("dagster._core.errors", "DagsterInvariantViolationError", dagster_home_missing),
    ("dagster._core.errors", "DagsterInvalidConfigError", dagster_config_unset),
    ("httpx", "TimeoutException", http_timeout),
    ("httpx", "TransportError", http_unreachable),
    ("builtins", "OSError", os_error),
]


def explain(error: BaseException, context: Context) -> Failure:
    """The failure a person reads for `error` (see RULES); anything else: its type and text."""
    if isinstance(error, KeyboardInterrupt):
        return Failure("interrupted", None, 130)
    chain = list(causes(error))
    for module, name, rule in RULES:
        cls = getattr(sys.modules.get(module), name, None)
        if not isinstance(cls, type):
            continue
        for cause in chain:
            if isinstance(cause, cls) and (failure := rule(cause, context)) is not None:
                return failure
    return Failure(f"{type(error).__name__}: {error}", f"{DEBUG}, and report it")


def quiet_libraries() -> None:
    """stderr is for a failure's two lines: unconfigured library logging (Dagster's Postgres
    retry warnings, pages each, through logging's last resort) and warnings (Dagster's
    BetaWarning, four lines each time `ingest` loads the definitions) stay off it."""
    root = logging.getLogger()
    if not root.handlers:
        root.addHandler(logging.NullHandler())
    warnings.simplefilter("ignore")
