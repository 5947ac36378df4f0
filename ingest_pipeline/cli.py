"""`ingest-pipeline`: the local stack and everyday actions from a terminal."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn

from rich.console import Console
from rich.markup import escape
from rich.table import Table
from rich.text import Text

from ingest_pipeline.console.check import add_check_command
from ingest_pipeline.console.clients import dagster_instance, druid_client, s3_client
from ingest_pipeline.console.failures import CommandError, Context, explain, quiet_libraries
from ingest_pipeline.resources.environment import setting, terminal_width_given
from ingest_pipeline.stack import druid_conf
from ingest_pipeline.stack.processes import tail
from ingest_pipeline.stack.settings import default_stack_dir, load_settings, use_stack_env
from ingest_pipeline.stack.stack import Stack

if TYPE_CHECKING:  # dagster loads in a second: only commands that need it import it
    import dagster as dg

    from ingest_pipeline.console.upload import Uploaded


def cmd_stack_up(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack_dir)
    stack = Stack(settings)
    stack.up(service_timeout=args.timeout, with_dagster=args.dagster)
    print_status(stack)
    print(f"\nenv file: {settings.env_file} (every ingest-pipeline command reads it)")
    print(f"  for other tools (dagster, psql): set -a; . {settings.env_file}; set +a")
    return 0


def cmd_stack_down(args: argparse.Namespace) -> int:
    stack = Stack(load_settings(args.stack_dir))
    stopped = stack.down(wipe=args.wipe)
    print("stopped: " + (", ".join(stopped) if stopped else "nothing was running"))
    if args.wipe:
        print(f"wiped {stack.settings.stack_dir}")
    return 0


def cmd_stack_status(args: argparse.Namespace) -> int:
    stack = Stack(load_settings(args.stack_dir))
    statuses = print_status(stack)
    return 0 if all(s.state in ("up", "external") for s in statuses) else 3


def print_status(stack: Stack) -> list:
    statuses = stack.status()
    print(f"{'service':<22}{'state':<11}{'pid':<9}endpoint")
    for status in statuses:
        print(f"{status.name:<22}{status.state:<11}{status.pid or '-'!s:<9}{status.url}")
    return statuses


def cmd_stack_logs(args: argparse.Namespace) -> int:
    stack = Stack(load_settings(args.stack_dir))
    names = [args.service] if args.service else ["postgres", "s3", *stack.java]
    for name in names:
        path = stack.service_log(name)
        print(f"==> {path} <==")
        print(tail(path, args.lines))
    return 0


def cmd_stack_compose_env(args: argparse.Namespace) -> int:
    for path in druid_conf.write_compose_env_files():
        print(f"wrote {path}")
    return 0


def make_console() -> Console:
    """Rich console; piped output keeps long messages on one line unless COLUMNS says otherwise."""
    wide = not sys.stdout.isatty() and not terminal_width_given()
    return Console(highlight=False, width=200 if wide else None)


def dagster_ui_url(stack_dir: Path | None) -> str:
    """The Dagster webserver a person opens: $INGEST_DAGSTER_UI_URL, else the stack's port."""
    return setting("INGEST_DAGSTER_UI_URL") or (
        f"http://127.0.0.1:{load_settings(stack_dir).dagster_port}"
    )


def cmd_upload(args: argparse.Namespace) -> int:
    """Upload files, folders and globs; with --wait follow each file's run to its verdict."""
    from ingest_pipeline.console.paths import expand_upload_paths

    console = make_console()
    items = expand_upload_paths(args.paths, args.dataset, args.name)
    use_stack_env(args.stack_dir)
    from ingest_pipeline.console.upload import upload_items

    s3 = s3_client()
    if args.wait is not None:
        warn_when_no_daemon_ticks(args.stack_dir)
    uploaded = upload_items(s3, items, console)
    skipped = [u for u in uploaded if u.skipped]
    if args.wait is None:
        for upload, reason in ((u, u.skipped) for u in skipped if u.skipped):
            name = escape(upload.item.partition)
            console.print(f"[yellow]skipped by the sensor:[/] {name}: {reason.message}")
        console.print(f"{len(uploaded) - len(skipped)} file(s) for the sensor to ingest")
        return 0
    return report_verdicts(dagster_instance(), uploaded, args.wait, console, args.stack_dir)


def warn_when_no_daemon_ticks(stack_dir: Path | None) -> None:
    """`upload --wait` waits for the sensor's runs: say so at once when no daemon ticks it
    (unless the stack's own Dagster runs: just started, its daemon may not have ticked yet)."""
    from ingest_pipeline.console.ingest_now import upload_sensor_activity
    from ingest_pipeline.stack.dagster import DagsterService

    if DagsterService(load_settings(stack_dir)).pid():
        return
    activity = upload_sensor_activity(dagster_instance())
    if not activity.ticking:
        print(
            f"warning: {activity.reason}: the sensor ingests these files once Dagster runs "
            "(`ingest-pipeline stack up --dagster`)",
            file=sys.stderr,
        )


def report_verdicts(
    instance: dg.DagsterInstance,
    uploaded: list[Uploaded],
    wait: float,
    console: Console,
    stack_dir: Path | None,
) -> int:
    """Follow each upload's sensor run to its verdict; a table of verdicts; exit status."""
    from ingest_pipeline.console.upload import follow_runs
    from ingest_pipeline.console.verdicts import run_links, summary_line, verdict_table

    verdicts = follow_runs(instance, uploaded, wait, console, dagster_ui_url(stack_dir))
    console.print(verdict_table(verdicts))
    links = run_links((v.partition, v.url) for v in verdicts)
    if links:
        console.print(
            "runs in the Dagster UI:\n  " + "\n  ".join(links), soft_wrap=True, markup=False
        )
    console.print(summary_line(verdicts))
    return 1 if any(v.bad for v in verdicts) else 0


def cmd_status(args: argparse.Namespace) -> int:
    """Per dataset: files seen, ingested, rejected, failed, pending; rows and time in Druid."""
    use_stack_env(args.stack_dir)
    from ingest_pipeline.console.status import collect_status, print_status_report

    statuses = collect_status(
        dagster_instance(), druid_client(), args.dataset, dagster_ui_url(args.stack_dir)
    )
    if not statuses:
        make_console().print("no uploads seen yet")
        return 0
    known = statuses[0].files or statuses[0].druid is not None or statuses[0].druid_error
    if args.dataset and not known:
        raise CommandError(
            f"no dataset {args.dataset!r}: no uploads and not in Druid",
            "`ingest-pipeline status` lists every dataset",
        )
    print_status_report(make_console(), statuses, args.dataset is not None, args.failures)
    return 0


def cmd_ingest(args: argparse.Namespace) -> int:
    """Upload one file and ingest it now: followed through the upload sensor's run when a
    daemon ticks the sensor (so it never runs twice), else run in this process."""
    from ingest_pipeline.console.paths import PathError, expand_upload_paths

    console = make_console()
    items = expand_upload_paths([args.file], args.dataset, args.name)
    if len(items) != 1:
        raise PathError(
            f"{args.file} holds {len(items)} files; `ingest` takes one file. Fix: "
            "`ingest-pipeline upload <folder> --wait 600` for a folder"
        )
    use_stack_env(args.stack_dir)
    from ingest_pipeline.console.ingest_now import (
        ingest_here,
        ran_here_verdict,
        upload_sensor_activity,
    )
    from ingest_pipeline.console.upload import upload_items
    from ingest_pipeline.console.verdicts import run_links, summary_line, verdict_table

    s3 = s3_client()
    instance = dagster_instance()
    activity = upload_sensor_activity(instance)
    if activity.ticking:
        console.print(f"{activity.reason}: its run ingests the file; following it", markup=False)
        uploaded = upload_items(s3, items, console)
        return report_verdicts(instance, uploaded, args.wait, console, args.stack_dir)
    console.print(f"{activity.reason}: running the file here", markup=False)
    result = ingest_here(instance, s3, items[0], console)
    verdict = ran_here_verdict(instance, result, items[0], dagster_ui_url(args.stack_dir))
    console.print(verdict_table([verdict]))
    for link in run_links([(verdict.partition, verdict.url)]):
        console.print(f"run in the Dagster UI:\n  {link}", soft_wrap=True, markup=False)
    console.print(summary_line([verdict]))
    return 1 if verdict.bad else 0


def cmd_query(args: argparse.Namespace) -> int:
    use_stack_env(args.stack_dir)
    rows = druid_client().sql(args.sql, [typed(p) for p in args.param])
    console = make_console()
    if not rows:
        console.print("(no rows)")
        return 0
    console.print(rows_table(rows))
    return 0


def rows_table(rows: list[dict]) -> Table:
    table = Table()
    for column in rows[0]:
        numeric = all(isinstance(r[column], int | float) for r in rows if r[column] is not None)
        table.add_column(column, justify="right" if numeric else "left", overflow="fold")
    for row in rows:
        table.add_row(*(Text("" if v is None else str(v)) for v in row.values()))
    return table


def typed(value: str) -> int | float | str:
    """A command-line SQL parameter as the type it reads as."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


class Parser(argparse.ArgumentParser):
    """A usage error in two lines on stderr like every failure, exit code 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"error: {self.prog}: {message}\nfix: `{self.prog} --help` shows the usage\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(prog="ingest-pipeline", description=__doc__)
    parser.add_argument("--debug", action="store_true", help="a failure shows its traceback")
    commands = parser.add_subparsers(dest="command", required=True)
    stack_commands = add_stack_commands(commands)
    add_upload_and_ingest(commands)
    add_check_command(commands)
    status = commands.add_parser(
        "status", help="per dataset: files seen, ingested, rejected, failed; rows in Druid"
    )
    status.add_argument("dataset", nargs="?", help="one dataset (default: all)")
    status.add_argument(
        "--failures", type=int, default=5, metavar="N", help="failures listed per dataset"
    )
    status.add_argument("--stack-dir", type=Path, default=None)
    status.set_defaults(func=cmd_status)
    query = commands.add_parser("query", help="run Druid SQL (values as ? parameters)")
    query.add_argument("sql")
    query.add_argument("--param", action="append", default=[], help="a ? parameter, in order")
    query.add_argument("--stack-dir", type=Path, default=None)
    query.set_defaults(func=cmd_query)
    for command in [*commands.choices.values(), *stack_commands.choices.values()]:
        # also after the command; SUPPRESS keeps a --debug given before it
        command.add_argument("--debug", action="store_true", default=argparse.SUPPRESS)
    return parser


Commands = argparse._SubParsersAction  # argparse's type of `add_subparsers()`


def add_stack_commands(commands: Commands) -> Commands:
    stack = commands.add_parser("stack", help="the local Postgres + S3 + Druid stack")
    stack.add_argument(
        "--stack-dir",
        type=Path,
        default=None,
        help="stack folder (default $INGEST_STACK_DIR, else the checkout's .stack)",
    )
    stack_commands = stack.add_subparsers(dest="stack_command", required=True)
    up = stack_commands.add_parser("up", help="start every service and wait until healthy")
    up.add_argument("--timeout", type=float, default=300.0, help="seconds per service")
    up.add_argument(
        "--dagster", action="store_true", help="also start Dagster (webserver + daemon)"
    )
    up.set_defaults(func=cmd_stack_up)
    down = stack_commands.add_parser("down", help="stop the stack's own processes")
    down.add_argument("--wipe", action="store_true", help="also delete the stack's data")
    down.set_defaults(func=cmd_stack_down)
    stack_commands.add_parser("status", help="state of each service").set_defaults(
        func=cmd_stack_status
    )
    logs = stack_commands.add_parser("logs", help="tail service logs")
    logs.add_argument("service", nargs="?", help="one service (default: all)")
    logs.add_argument("-n", "--lines", type=int, default=40)
    logs.set_defaults(func=cmd_stack_logs)
    stack_commands.add_parser(
        "compose-env", help="regenerate druid/docker/*.env from druid/conf"
    ).set_defaults(func=cmd_stack_compose_env)
    return stack_commands


def add_upload_and_ingest(commands: Commands) -> None:
    upload = commands.add_parser(
        "upload",
        help="upload files, folders or globs to the uploads prefix (the sensor ingests them)",
    )
    upload.add_argument(
        "paths", nargs="+", metavar="PATH", help="files, folders (recursively) or globs"
    )
    upload.add_argument(
        "--dataset", help="dataset = Druid datasource name (default for a folder: its name)"
    )
    upload.add_argument("--name", help="object name of a single file (default: its name)")
    upload.add_argument(
        "--wait",
        type=float,
        metavar="SECONDS",
        help="follow each file's sensor run and print a verdict per file (exit 1 if any "
        "file was rejected, failed or did not finish in time)",
    )
    upload.add_argument("--stack-dir", type=Path, default=None)
    upload.set_defaults(func=cmd_upload)
    ingest = commands.add_parser(
        "ingest",
        help="upload a file and ingest it now (through the sensor's run when a daemon ticks "
        "it, else in this process)",
    )
    ingest.add_argument("file", type=Path)
    ingest.add_argument(
        "--wait",
        type=float,
        default=600.0,
        metavar="SECONDS",
        help="how long to follow the sensor's run (default 600)",
    )
    ingest.add_argument("--dataset", required=True, help="dataset = Druid datasource name")
    ingest.add_argument("--name", help="object name (default: the file's name)")
    ingest.add_argument("--stack-dir", type=Path, default=None)
    ingest.set_defaults(func=cmd_ingest)


def check_stack_dir(folder: Path) -> None:
    from ingest_pipeline.console.paths import PathError

    if folder.exists() and not folder.is_dir():
        raise PathError(
            f"{folder}: the stack folder is a file. Fix: --stack-dir or INGEST_STACK_DIR names "
            "a folder"
        )


def main(argv: list[str] | None = None) -> int:
    """Run a command; a failure is one or two lines on stderr (what failed and why, the fix)
    and exit code 1 (2 for usage), its traceback only with --debug."""
    args = build_parser().parse_args(argv)
    if not args.debug:
        quiet_libraries()
    try:
        check_stack_dir(getattr(args, "stack_dir", None) or default_stack_dir())
        return int(args.func(args))
    except (Exception, KeyboardInterrupt) as error:
        if args.debug:
            raise
        env_file = (getattr(args, "stack_dir", None) or default_stack_dir()) / "stack.env"
        failure = explain(error, Context(args.command, env_file))
        print("\n".join(failure.lines()), file=sys.stderr)
        return failure.exit_code


if __name__ == "__main__":
    sys.exit(main())
