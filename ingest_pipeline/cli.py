"""`ingest-pipeline`: the local stack and everyday actions from a terminal."""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ingest_pipeline.stack import druid_conf
from ingest_pipeline.stack.base import StackError
from ingest_pipeline.stack.settings import load_settings
from ingest_pipeline.stack.stack import Stack


def cmd_stack_up(args: argparse.Namespace) -> int:
    settings = load_settings(args.stack_dir)
    stack = Stack(settings)
    stack.up(service_timeout=args.timeout, with_dagster=args.dagster)
    print_status(stack)
    print(f"\nenv file: {settings.env_file}")
    print(f"  load it with: set -a; . {settings.env_file}; set +a")
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
        from ingest_pipeline.stack.processes import tail

        print(tail(path, args.lines))
    return 0


def cmd_stack_compose_env(args: argparse.Namespace) -> int:
    for path in druid_conf.write_compose_env_files():
        print(f"wrote {path}")
    return 0


def use_stack_env(stack_dir: Path | None) -> None:
    """Endpoints from the stack's env file, unless the environment already names them."""
    env_file = load_settings(stack_dir).env_file
    if not env_file.exists():
        return
    for line in env_file.read_text().splitlines():
        key, _, value = line.partition("=")
        if key and key not in os.environ:
            os.environ[key] = value


def cmd_upload(args: argparse.Namespace) -> int:
    use_stack_env(args.stack_dir)
    from ingest_pipeline.resources import build_resources, resolved_env

    s3 = build_resources(resolved_env)["s3"]
    name = args.name or args.file.name
    key = s3.upload_key(f"{args.dataset}/{name}")
    uri = s3.upload_file(args.file, s3.uploads_bucket, key)
    print(f"uploaded {args.file} -> {uri}")
    if getattr(args, "wait", None):
        etag = s3.head(s3.uploads_bucket, key).etag
        return wait_for_sensor_run(f"{args.dataset}/{name}", etag, args.wait)
    return 0


def wait_for_sensor_run(partition: str, etag: str, timeout: float) -> int:
    """Follow the run the upload sensor starts for this version of the file."""
    import time

    import dagster as dg

    instance = dg.DagsterInstance.get()
    deadline = time.monotonic() + timeout
    announced = False
    while time.monotonic() < deadline:
        records = instance.get_run_records(
            filters=dg.RunsFilter(tags={"dagster/partition": partition, "ingest/etag": etag}),
            limit=1,
        )
        if records:
            run = records[0].dagster_run
            if not announced:
                print(f"sensor started run {run.run_id} for {partition}")
                announced = True
            if run.is_finished:
                print(f"run {run.run_id}: {run.status.value}")
                return 0 if run.status == dg.DagsterRunStatus.SUCCESS else 1
        time.sleep(2)
    print(f"error: no finished run for {partition} within {timeout:.0f}s", file=sys.stderr)
    return 1


def cmd_ingest(args: argparse.Namespace) -> int:
    """Upload a file and run its partition now, in this process, recorded in Dagster."""
    use_stack_env(args.stack_dir)
    import dagster as dg

    from ingest_pipeline.definitions import defs
    from ingest_pipeline.partitions import upload_partitions

    cmd_upload(args)
    partition = f"{args.dataset}/{args.name or args.file.name}"
    instance = dg.DagsterInstance.get()
    instance.add_dynamic_partitions(upload_partitions.name, [partition])
    job = defs.resolve_job_def("ingest_upload")
    quiet = {"loggers": {"console": {"config": {"log_level": "WARNING"}}}}
    result = job.execute_in_process(
        partition_key=partition, instance=instance, run_config=quiet, raise_on_error=False
    )
    for step in ("raw_file", "validated_frame", "druid_spec", "druid_datasource"):
        materializations = result.asset_materializations_for_node(step)
        status = "materialized" if materializations else "not materialized"
        print(f"  {step:<18} {status}")
    for evaluation in result.get_asset_check_evaluations():
        verdict = "passed" if evaluation.passed else f"FAILED ({evaluation.severity.value})"
        print(f"  check {evaluation.check_name:<36} {verdict}")
        if not evaluation.passed and evaluation.description:
            print(f"      {evaluation.description}")
    failures = [e for e in result.all_events if e.is_step_failure]
    for failure in failures:
        print(f"error: {failure.event_specific_data.error.message.strip()}", file=sys.stderr)
    print(f"run {result.run_id}: {'success' if result.success else 'failed'}")
    return 0 if result.success else 1


def cmd_query(args: argparse.Namespace) -> int:
    use_stack_env(args.stack_dir)
    from ingest_pipeline.resources import build_resources, resolved_env

    rows = build_resources(resolved_env)["druid"].sql(args.sql, [typed(p) for p in args.param])
    if not rows:
        print("(no rows)")
        return 0
    columns = list(rows[0])
    widths = [max(len(c), *(len(str(r[c])) for r in rows)) for c in columns]
    print("  ".join(c.ljust(w) for c, w in zip(columns, widths, strict=True)))
    for row in rows:
        print("  ".join(str(row[c]).ljust(w) for c, w in zip(columns, widths, strict=True)))
    return 0


def typed(value: str) -> int | float | str:
    """A command-line SQL parameter as the type it reads as."""
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            pass
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ingest-pipeline", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    stack = commands.add_parser("stack", help="the local Postgres + S3 + Druid stack")
    stack.add_argument(
        "--stack-dir",
        type=Path,
        default=None,
        help="stack folder (default $INGEST_STACK_DIR or ~/.ingest-pipeline/stack)",
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
    for command, help_text, func in (
        ("upload", "upload a file to the uploads prefix (the sensor picks it up)", cmd_upload),
        ("ingest", "upload a file and ingest it now (in this process)", cmd_ingest),
    ):
        sub = commands.add_parser(command, help=help_text)
        sub.add_argument("file", type=Path)
        sub.add_argument("--dataset", required=True, help="dataset = Druid datasource name")
        sub.add_argument("--name", help="object name (default: the file's name)")
        sub.add_argument("--stack-dir", type=Path, default=None)
        sub.set_defaults(func=func)
        if command == "upload":
            sub.add_argument(
                "--wait",
                type=float,
                metavar="SECONDS",
                help="wait for the sensor's run of this upload to finish",
            )
    query = commands.add_parser("query", help="run Druid SQL (values as ? parameters)")
    query.add_argument("sql")
    query.add_argument("--param", action="append", default=[], help="a ? parameter, in order")
    query.add_argument("--stack-dir", type=Path, default=None)
    query.set_defaults(func=cmd_query)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except StackError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
